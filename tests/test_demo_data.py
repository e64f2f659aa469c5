"""Checks on the committed synthetic demo park (data/parcels/), read with geopandas/pandas directly.

Nothing here goes through landeff: the figures are recomputed from the files by hand-written rules
(FAR with the 8 m rule, 亩均税收, the GB 32100-2015 check character, calendar years), and the
parcel ids of the README's CASES table are checked against the data they claim to show.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "parcels"
SCRIPT = ROOT / "scripts" / "make_demo.py"
AS_OF = date(2025, 6, 30)
M2_PER_MU = 10000.0 / 15.0
GK_EPSG = 4547  # CGCS2000 3-degree GK CM 114E: 3 * round(112.87 / 3) = 114
SEPARATORS = r"[,;，；、]"

# GB 32100-2015, written out from the standard (not computed as 3**i % 31, as the generator does)
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]

ENTERPRISE_HEADERS = [
    "统一社会信用代码",
    "企业名称",
    "年度",
    "所在宗地编号",
    "租用建筑面积(平方米)",
    "实缴税金(万元)",
    "营业收入(万元)",
    "工业总产值(万元)",
    "工业增加值(万元)",
    "综合能耗(吨标准煤)",
    "用电量(千瓦时)",
    "排放量(吨)",
    "研发经费(万元)",
    "从业人员(人)",
    "规上",
    "投产时间",
    "行业代码",
    "评价等级",
]
CONTRACT_HEADERS = [
    "电子监管号",
    "宗地编号",
    "合同签订日期",
    "约定开工时间",
    "约定竣工时间",
    "实际开工时间",
    "实际竣工时间",
    "容积率下限",
    "容积率上限",
    "约定投资总额(万元)",
    "已完成投资(万元)",
    "成交价格(万元)",
    "停工日期",
    "已开发面积(平方米)",
    "政府原因",
    "承诺亩均税收(万元/亩)",
    "承诺亩均产值(万元/亩)",
    "构筑物及堆场面积(平方米)",
]
PARCEL_FIELDS = [
    "宗地编号",
    "电子监管号",
    "权利人统一社会信用代码",
    "土地使用权人",
    "土地用途",
    "行业代码",
    "宗地面积",
]


# ---------------------------------------------------------------------------------------- helpers
def uscc_valid(code: str) -> bool:
    if len(code) != 18 or any(c not in USCC_CHARS for c in code):
        return False
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(code[:17], USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31] == code[17]


def parse_date(text: object) -> date | None:
    if not isinstance(text, str) or not text.strip():
        return None
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})|(\d{4})年(\d{1,2})月(\d{1,2})日", text.strip())
    assert m, f"date {text!r} is neither ISO nor Chinese"
    y, mo, d = (int(v) for v in (m.group(1, 2, 3) if m.group(1) else m.group(4, 5, 6)))
    return date(y, mo, d)


def add_years(d: date, n: int) -> date:
    """Calendar years (民法典 201-202): 2024-02-29 + 1 year = 2025-02-28."""
    try:
        return d.replace(year=d.year + n)
    except ValueError:
        return d.replace(year=d.year + n, day=28)


def num(x: object) -> float:
    return float(x) if isinstance(x, str) and x.strip() else float("nan")


# ---------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def parcels() -> gpd.GeoDataFrame:
    return gpd.read_file(DATA / "parcels.gpkg", layer="parcels")


@pytest.fixture(scope="module")
def buildings() -> gpd.GeoDataFrame:
    return gpd.read_file(DATA / "buildings.gpkg", layer="buildings")


@pytest.fixture(scope="module")
def enterprises() -> pd.DataFrame:
    return pd.read_csv(
        DATA / "enterprises.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False
    )


@pytest.fixture(scope="module")
def contracts() -> pd.DataFrame:
    return pd.read_csv(
        DATA / "contracts.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False
    )


@pytest.fixture(scope="module")
def cases() -> dict[str, list[str]]:
    """The README's CASES table: case label -> parcel ids named in that row."""
    text = (DATA / "README.md").read_text(encoding="utf-8")
    table = text.split("## CASES", 1)[1]
    out = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] not in ("case", "---"):
            out[cells[0]] = re.findall(r"HS-\d{3}", cells[1])
    return out


def case(cases: dict[str, list[str]], start: str) -> list[str]:
    hits = [ids for label, ids in cases.items() if label.startswith(start)]
    assert len(hits) == 1, f"README CASES: no single row starting {start!r}"
    assert hits[0], f"README CASES: row {start!r} names no parcel"
    return hits[0]


@pytest.fixture(scope="module")
def measured(parcels: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per parcel, in EPSG:4547: area, footprint and FAR floor area of the clipped buildings.

    FAR floor area = clipped footprint x 层数, doubled where the storey is over 8 m; storey
    height = 层高, else 高度 / 层数.
    """
    p = parcels.to_crs(GK_EPSG)
    b = buildings.to_crs(GK_EPSG)
    storey_m = b["层高"].fillna(b["高度"] / b["层数"])
    b = b.assign(factor=b["层数"] * np.where(storey_m > 8.0, 2, 1))
    pieces = gpd.overlay(
        p[["宗地编号", "geometry"]],
        b[["建筑编号", "factor", "geometry"]],
        how="intersection",
        keep_geom_type=True,
    )
    pieces = pieces.assign(footprint_m2=pieces.area, far_floor_m2=pieces.area * pieces["factor"])
    per = pieces.groupby("宗地编号")[["footprint_m2", "far_floor_m2"]].sum()
    out = pd.DataFrame({"宗地编号": p["宗地编号"], "area_m2": p.area, "geometry": p.geometry})
    out = out.join(per, on="宗地编号").fillna({"footprint_m2": 0.0, "far_floor_m2": 0.0})
    out["far"] = out["far_floor_m2"] / out["area_m2"]
    out["density"] = out["footprint_m2"] / out["area_m2"]
    return out.set_index("宗地编号")


@pytest.fixture(scope="module")
def links(enterprises: pd.DataFrame, parcels: gpd.GeoDataFrame) -> pd.DataFrame:
    """One row per (enterprise row, parcel): 所在宗地编号 where given, else the holder's parcels."""
    holder = parcels.dropna(subset=["权利人统一社会信用代码"]).groupby("权利人统一社会信用代码")[
        "宗地编号"
    ]
    holder_ids = holder.apply(list).to_dict()
    rows = []
    for k, r in enterprises.iterrows():
        ids = [s.strip() for s in re.split(SEPARATORS, r["所在宗地编号"]) if s.strip()]
        for pid in ids or holder_ids.get(r["统一社会信用代码"], []):
            rows.append(
                {"row": k, "uscc": r["统一社会信用代码"], "year": int(r["年度"]), "pid": pid}
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def contract_by_pid(contracts: pd.DataFrame, parcels: gpd.GeoDataFrame) -> pd.DataFrame:
    """Contracts keyed by 宗地编号, filling an empty 宗地编号 through 电子监管号."""
    by_sup = parcels.dropna(subset=["电子监管号"]).set_index("电子监管号")["宗地编号"]
    pid = contracts["宗地编号"].where(
        contracts["宗地编号"] != "", contracts["电子监管号"].map(by_sup)
    )
    return contracts.assign(宗地编号=pid).set_index("宗地编号")


# ---------------------------------------------------------------------------------------- files
def test_files_present_small_and_csv_have_bom() -> None:
    names = [
        "parcels.gpkg",
        "buildings.gpkg",
        "enterprises.csv",
        "contracts.csv",
        "demo.toml",
        "README.md",
    ]
    assert all((DATA / n).is_file() for n in names)
    assert sum((DATA / n).stat().st_size for n in names) < 1_000_000
    for n in ("enterprises.csv", "contracts.csv"):
        assert (DATA / n).read_bytes()[:3] == b"\xef\xbb\xbf", f"{n} must be UTF-8 with BOM"


def test_readme_says_synthetic() -> None:
    text = (DATA / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in text.splitlines()[0]
    assert "scripts/make_demo.py" in text


def test_demo_toml() -> None:
    cfg = tomllib.loads((DATA / "demo.toml").read_text(encoding="utf-8"))
    assert cfg["as_of"] == AS_OF  # a TOML date, not a string
    assert cfg["year"] == 2024
    assert cfg["name"]
    assert "synthetic" in cfg["note"].lower()


def test_headers(
    parcels: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    enterprises: pd.DataFrame,
    contracts: pd.DataFrame,
) -> None:
    assert [c for c in parcels.columns if c != "geometry"] == PARCEL_FIELDS
    assert {"建筑编号", "层数", "层高", "高度"} <= set(buildings.columns)
    assert list(enterprises.columns) == ENTERPRISE_HEADERS
    assert list(contracts.columns) == CONTRACT_HEADERS


# ---------------------------------------------------------------------------------------- parcels
def test_parcels_count_crs_and_place(
    parcels: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame
) -> None:
    assert 150 <= len(parcels) <= 300
    assert 300 <= len(buildings) <= 1000
    assert parcels.crs.to_epsg() == 4490
    assert buildings.crs.to_epsg() == 4490
    assert parcels["宗地编号"].is_unique and buildings["建筑编号"].is_unique
    lon, lat = parcels.union_all().centroid.coords[0]
    assert abs(lon - 112.87) < 0.02 and abs(lat - 27.23) < 0.02
    assert parcels.geometry.is_valid.all() and buildings.geometry.is_valid.all()
    assert (parcels.geom_type == "Polygon").all()


def test_parcels_do_not_overlap(measured: pd.DataFrame) -> None:
    geoms = measured["geometry"].to_numpy()
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    shared = shapely.area(shapely.intersection(geoms[a[keep]], geoms[b[keep]]))
    assert shared.max(initial=0.0) < 0.01  # m²: neighbours share edges only


def test_parcel_shapes_and_uses(parcels: gpd.GeoDataFrame) -> None:
    vertices = shapely.get_num_coordinates(parcels.geometry.to_numpy()) - 1
    assert (vertices == 4).sum() >= 10  # plain rectangles (mid-block parcels)
    rect_fill = (
        parcels.to_crs(GK_EPSG).area / parcels.to_crs(GK_EPSG).minimum_rotated_rectangle().area
    )
    assert (rect_fill < 0.97).sum() >= 5  # irregular parcels along the river and the hill
    uses = parcels["土地用途"].value_counts()
    assert uses.index[0] == "工业用地" and uses["工业用地"] > 0.8 * len(parcels)
    assert {"仓储用地", "商服用地"} <= set(uses.index)
    codes = parcels["行业代码"].dropna()
    assert codes.str.fullmatch(r"\d{2}|\d{4}").all()
    assert (codes.str.len() == 2).any() and (codes.str.startswith("44")).any()


def test_recorded_area_within_one_percent_except_a_few(
    parcels: gpd.GeoDataFrame, measured: pd.DataFrame, cases: dict[str, list[str]]
) -> None:
    rel = (parcels.set_index("宗地编号")["宗地面积"] / measured["area_m2"] - 1).abs()
    off = set(rel.index[rel > 0.01])
    assert 1 <= len(off) <= 6
    assert off == set(case(cases, "宗地面积 off"))


# ---------------------------------------------------------------------------------------- codes
def test_uscc_check_implementation_on_a_published_example() -> None:
    # the sample code printed in GB 32100-2015 guidance material; and one changed character
    assert uscc_valid("91350100M000100Y43")
    assert not uscc_valid("91350100M000100Y44")


def test_every_uscc_but_one_is_valid(
    parcels: gpd.GeoDataFrame, enterprises: pd.DataFrame, cases: dict[str, list[str]]
) -> None:
    codes = set(enterprises["统一社会信用代码"]) | set(parcels["权利人统一社会信用代码"].dropna())
    bad = sorted(c for c in codes if not uscc_valid(c))
    assert len(bad) == 1
    text = (DATA / "README.md").read_text(encoding="utf-8")
    assert bad[0] in text
    holder = parcels.loc[parcels["权利人统一社会信用代码"] == bad[0], "宗地编号"].tolist()
    assert holder == case(cases, "USCC with a bad check character")


def test_supervision_numbers(parcels: gpd.GeoDataFrame, contracts: pd.DataFrame) -> None:
    sup = parcels["电子监管号"].dropna()
    assert sup.is_unique and sup.str.fullmatch(r"430423(20[012]\d)B\d{5}").all()
    assert set(contracts["电子监管号"]) <= set(sup)


# ---------------------------------------------------------------------------------------- links
def test_enterprise_parcel_ids_exist(enterprises: pd.DataFrame, parcels: gpd.GeoDataFrame) -> None:
    given = enterprises["所在宗地编号"][enterprises["所在宗地编号"] != ""]
    ids = {s.strip() for v in given for s in re.split(SEPARATORS, v) if s.strip()}
    assert ids and ids <= set(parcels["宗地编号"])
    assert given.str.contains(SEPARATORS).sum() >= 2  # firms on several parcels
    assert (enterprises["所在宗地编号"] == "").mean() > 0.5  # most holders leave it empty


def test_every_enterprise_row_links(enterprises: pd.DataFrame, links: pd.DataFrame) -> None:
    assert set(links["row"]) == set(enterprises.index)


def test_two_years_and_figures(enterprises: pd.DataFrame) -> None:
    years = enterprises.groupby("统一社会信用代码")["年度"].apply(set)
    assert set(enterprises["年度"]) == {"2023", "2024"}
    assert (years.map(len) == 2).mean() > 0.9
    assert not enterprises.duplicated(["统一社会信用代码", "年度"]).any()
    assert set(enterprises["规上"]) == {"是", "否"}
    e24 = enterprises[enterprises["年度"] == "2024"]
    assert (e24["用电量(千瓦时)"].astype(float) > 0).all()
    active_refund = (e24["实缴税金(万元)"].astype(float) < 0) & (
        e24["用电量(千瓦时)"].astype(float) >= 10_000
    )
    assert active_refund.sum() == 1  # a tax refund on a firm that is not stopped
    assert (enterprises["评价等级"].str.contains("2022:D;2023:D")).sum() >= 2
    for s in enterprises["投产时间"]:
        parse_date(s)


def test_multi_tenant_standard_factory(
    enterprises: pd.DataFrame,
    measured: pd.DataFrame,
    buildings: gpd.GeoDataFrame,
    cases: dict[str, list[str]],
) -> None:
    e24 = enterprises[(enterprises["年度"] == "2024") & (enterprises["租用建筑面积(平方米)"] != "")]
    rented = e24.groupby("所在宗地编号")["租用建筑面积(平方米)"].apply(
        lambda s: s.astype(float).sum()
    )
    tenants = e24.groupby("所在宗地编号").size()
    assert tenants.max() >= 3
    std = case(cases, "工业上楼 standard factories")
    assert set(tenants.index) <= set(std)
    # actual floor area (no double counting) from the buildings: tenants rent less than is built
    b = buildings.to_crs(GK_EPSG)
    on = gpd.sjoin(
        b,
        gpd.GeoDataFrame(geometry=measured["geometry"], crs=GK_EPSG).reset_index(),
        predicate="within",
    )
    floor = (on.area * on["层数"]).groupby(on["宗地编号"]).sum()
    assert (rented <= floor[rented.index]).all()
    assert on[on["宗地编号"].isin(std)]["层数"].between(4, 6).all()


def test_below_scale_firms_on_three_mu_or_more(
    enterprises: pd.DataFrame, links: pd.DataFrame, measured: pd.DataFrame
) -> None:
    e24 = enterprises[(enterprises["年度"] == "2024") & (enterprises["租用建筑面积(平方米)"] == "")]
    small = e24[e24["规上"] == "否"]
    land_mu = (
        links[links["row"].isin(small.index)]
        .assign(mu=lambda d: d["pid"].map(measured["area_m2"]) / M2_PER_MU)
        .groupby("row")["mu"]
        .sum()
    )
    assert (land_mu >= 3).sum() >= 3


# ---------------------------------------------------------------- headline figures
def test_far_standard_factories_and_old_plots(
    measured: pd.DataFrame,
    parcels: gpd.GeoDataFrame,
    contracts: pd.DataFrame,
    cases: dict[str, list[str]],
) -> None:
    std = case(cases, "工业上楼 standard factories") + case(
        cases, "工业上楼 standard factory, completed"
    )
    assert len(std) >= 3
    assert (measured.loc[std, "far"] >= 1.37).all()
    # old plots: industrial, no contract row (by 宗地编号 or 电子监管号), with buildings
    in_contract = parcels["宗地编号"].isin(contracts["宗地编号"]) | parcels["电子监管号"].isin(
        contracts["电子监管号"]
    )
    old = parcels.loc[(parcels["土地用途"] == "工业用地") & ~in_contract, "宗地编号"]
    m = measured.loc[old]
    m = m[m["footprint_m2"] > 0]
    assert len(m) >= 80
    far_old = m["far_floor_m2"].sum() / m["area_m2"].sum()
    assert 0.45 <= far_old <= 0.55
    assert 0.45 <= m["far"].median() <= 0.55


def test_single_storey_halls_over_8m_and_the_8m_edge(
    buildings: gpd.GeoDataFrame, measured: pd.DataFrame, cases: dict[str, list[str]]
) -> None:
    storey = buildings["层高"].fillna(buildings["高度"] / buildings["层数"])
    assert storey.notna().all()
    tall = (buildings["层数"] == 1) & (storey > 8)
    assert tall.sum() >= 5
    assert (tall & buildings["层高"].isna()).sum() >= 1  # known only from 高度
    assert buildings["高度"].notna().sum() >= 50 and buildings["层高"].isna().sum() >= 10
    exact8 = buildings[(buildings["层高"] == 8.0) & (buildings["层数"] == 1)]
    assert len(exact8) == 1
    (pid,) = case(cases, "a single-storey workshop exactly 8.0 m")
    geom = exact8.to_crs(GK_EPSG).geometry.iloc[0]
    assert measured.at[pid, "geometry"].contains(geom)


def test_straddling_and_overlapping_buildings(
    buildings: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame, cases: dict[str, list[str]]
) -> None:
    b = buildings.to_crs(GK_EPSG)
    p = parcels.to_crs(GK_EPSG)
    pieces = gpd.overlay(
        b[["建筑编号", "geometry"]],
        p[["宗地编号", "geometry"]],
        how="intersection",
        keep_geom_type=True,
    )
    pieces = pieces[pieces.area > 1.0]
    straddling = pieces.groupby("建筑编号")["宗地编号"].apply(sorted)
    straddling = straddling[straddling.map(len) > 1]
    assert len(straddling) >= 2
    listed = case(cases, "building straddling two parcels")
    assert {pid for pair in straddling for pid in pair} == set(listed)
    own = b.sjoin(p[["宗地编号", "geometry"]], predicate="within")
    a, c = shapely.STRtree(own.geometry.to_numpy()).query(
        own.geometry.to_numpy(), predicate="overlaps"
    )
    same = own["宗地编号"].to_numpy()
    overl = {same[i] for i, j in zip(a, c, strict=True) if i < j and same[i] == same[j]}
    assert overl == set(case(cases, "overlapping footprints"))


def test_park_tax_per_mu(
    enterprises: pd.DataFrame, links: pd.DataFrame, measured: pd.DataFrame
) -> None:
    e24 = enterprises[enterprises["年度"] == "2024"]
    pids = set(links.loc[links["year"] == 2024, "pid"])
    land_mu = measured.loc[sorted(pids), "area_m2"].sum() / M2_PER_MU
    tax_wan = e24["实缴税金(万元)"].astype(float).sum()
    assert 11.0 <= tax_wan / land_mu <= 14.5


# ---------------------------------------------------------------- the CASES table
def contract_row(contract_by_pid: pd.DataFrame, pid: str) -> pd.Series:
    assert pid in contract_by_pid.index, f"{pid} has no contract row"
    return contract_by_pid.loc[pid]


def test_idle_not_started_stages(
    cases: dict[str, list[str]], contract_by_pid: pd.DataFrame, measured: pd.DataFrame
) -> None:
    for label, stage_years, priced in (
        ("IDLE_NOT_STARTED, stage fee, with", 1, True),
        ("IDLE_NOT_STARTED, stage fee, no", 1, False),
        ("IDLE_NOT_STARTED, exactly 1 year", 1, True),
        ("IDLE_NOT_STARTED, stage reclaim, with", 2, True),
        ("IDLE_NOT_STARTED, stage reclaim, no", 2, False),
        ("IDLE_NOT_STARTED, exactly 2 years", 2, True),
    ):
        for pid in case(cases, label):
            c = contract_row(contract_by_pid, pid)
            start = parse_date(c["约定开工时间"])
            assert parse_date(c["实际开工时间"]) is None and measured.at[pid, "footprint_m2"] == 0
            assert add_years(start, stage_years) <= AS_OF
            assert stage_years == 2 or add_years(start, 2) > AS_OF
            assert (c["成交价格(万元)"] != "") == priced
            assert c["政府原因"] != "是"
    assert parse_date(
        contract_row(contract_by_pid, case(cases, "IDLE_NOT_STARTED, exactly 1 year")[0])[
            "约定开工时间"
        ]
    ) == date(2024, 6, 30)
    assert parse_date(
        contract_row(contract_by_pid, case(cases, "IDLE_NOT_STARTED, exactly 2 years")[0])[
            "约定开工时间"
        ]
    ) == date(2023, 6, 30)
    leap = contract_row(contract_by_pid, case(cases, "IDLE_NOT_STARTED, stage fee, no")[0])
    assert parse_date(leap["约定开工时间"]) == date(2024, 2, 29)


def test_gov_cause_and_overdue_start(
    cases: dict[str, list[str]], contract_by_pid: pd.DataFrame
) -> None:
    (gov,) = case(cases, "IDLE_NOT_STARTED + GOV_CAUSE")
    c = contract_row(contract_by_pid, gov)
    assert c["政府原因"] == "是" and c["实际开工时间"] == ""
    assert add_years(parse_date(c["约定开工时间"]), 1) <= AS_OF
    assert (contract_by_pid["政府原因"] == "是").sum() == 1
    for label in ("OVERDUE_START (", "OVERDUE_START, one day short"):
        for pid in case(cases, label):
            c = contract_row(contract_by_pid, pid)
            start = parse_date(c["约定开工时间"])
            assert c["实际开工时间"] == "" and start <= AS_OF < add_years(start, 1)


def test_stalled(
    cases: dict[str, list[str]], contract_by_pid: pd.DataFrame, measured: pd.DataFrame
) -> None:
    for label, idle in (
        ("IDLE_STALLED, fee", True),
        ("IDLE_STALLED, reclaim", True),
        ("suspended < 1 year", False),
    ):
        (pid,) = case(cases, label)
        c = contract_row(contract_by_pid, pid)
        assert parse_date(c["实际开工时间"]) is not None and c["实际竣工时间"] == ""
        assert 3 * num(c["已开发面积(平方米)"]) < measured.at[pid, "area_m2"]
        assert (add_years(parse_date(c["停工日期"]), 1) <= AS_OF) == idle
    (reclaim,) = case(cases, "IDLE_STALLED, reclaim")
    assert add_years(parse_date(contract_row(contract_by_pid, reclaim)["停工日期"]), 2) <= AS_OF


def test_idle_suspected_and_vacant(
    cases: dict[str, list[str]],
    parcels: gpd.GeoDataFrame,
    contract_by_pid: pd.DataFrame,
    measured: pd.DataFrame,
    links: pd.DataFrame,
) -> None:
    holders = parcels.set_index("宗地编号")["权利人统一社会信用代码"]
    for pid in case(cases, "IDLE_SUSPECTED"):
        assert pd.notna(holders[pid]) and pid not in contract_by_pid.index
        assert measured.at[pid, "footprint_m2"] == 0 and pid not in set(links["pid"])
    for pid in case(cases, "VACANT_BUILDING"):
        assert measured.at[pid, "footprint_m2"] > 0 and pid not in set(links["pid"])


def test_overdue_completion_and_investment(
    cases: dict[str, list[str]], contract_by_pid: pd.DataFrame
) -> None:
    for label, years_late in (("OVERDUE_COMPLETION (", 0), ("OVERDUE_COMPLETION > 2 years", 2)):
        (pid,) = case(cases, label)
        c = contract_row(contract_by_pid, pid)
        assert c["实际开工时间"] != "" and c["实际竣工时间"] == ""
        assert add_years(parse_date(c["约定竣工时间"]), years_late) < AS_OF
    for label, lo, hi in (
        ("INVESTMENT_SHORTFALL (", 0.5, 1.0),
        ("INVESTMENT_SHORTFALL < 50", 0.0, 0.5),
    ):
        (pid,) = case(cases, label)
        c = contract_row(contract_by_pid, pid)
        assert parse_date(c["实际竣工时间"]) is not None
        assert lo <= num(c["已完成投资(万元)"]) / num(c["约定投资总额(万元)"]) < hi


def test_below_commitment(
    cases: dict[str, list[str]],
    contract_by_pid: pd.DataFrame,
    enterprises: pd.DataFrame,
    links: pd.DataFrame,
    measured: pd.DataFrame,
) -> None:
    (pid,) = case(cases, "BELOW_COMMITMENT, tax")
    rows = links[(links["pid"] == pid) & (links["year"] == 2024)]["row"]
    tax = enterprises.loc[rows, "实缴税金(万元)"].astype(float).sum()
    per_mu = tax / (measured.at[pid, "area_m2"] / M2_PER_MU)
    assert 0 < per_mu < num(contract_row(contract_by_pid, pid)["承诺亩均税收(万元/亩)"])
    (pid,) = case(cases, "BELOW_COMMITMENT, output")
    rows = links[(links["pid"] == pid) & (links["year"] == 2024)]["row"]
    out = enterprises.loc[rows, "工业总产值(万元)"].astype(float).sum()
    per_mu = out / (measured.at[pid, "area_m2"] / M2_PER_MU)
    assert 0 < per_mu < num(contract_row(contract_by_pid, pid)["承诺亩均产值(万元/亩)"])


def test_low_far_and_coverage(
    cases: dict[str, list[str]], contract_by_pid: pd.DataFrame, measured: pd.DataFrame
) -> None:
    (pid,) = case(cases, "LOW_FAR below 容积率下限")
    assert 0 < measured.at[pid, "far"] < num(contract_row(contract_by_pid, pid)["容积率下限"])
    for label, low in (("LOW_COVERAGE with", True), ("density < 30 % but", False)):
        (pid,) = case(cases, label)
        yard = num(contract_row(contract_by_pid, pid)["构筑物及堆场面积(平方米)"])
        m = measured.loc[pid]
        assert m["density"] < 0.30
        assert ((m["footprint_m2"] + yard) / m["area_m2"] < 0.30) == low
    for pid in case(cases, "LOW_COVERAGE, density only"):
        assert pid not in contract_by_pid.index and 0 < measured.at[pid, "density"] < 0.30


def test_stopped_and_zombie(
    cases: dict[str, list[str]], enterprises: pd.DataFrame, links: pd.DataFrame
) -> None:
    e = enterprises.assign(
        tax=enterprises["实缴税金(万元)"].astype(float),
        kwh=enterprises["用电量(千瓦时)"].astype(float),
    )
    e["stopped"] = (e["tax"] <= 0) & (e["kwh"] < 10_000)
    for label, years in (("STOPPED in 2024 only", {2024}), ("ZOMBIE", {2023, 2024})):
        for pid in case(cases, label):
            rows = links[links["pid"] == pid]["row"]
            stopped_years = {int(y) for y in e.loc[rows][e.loc[rows, "stopped"]]["年度"]}
            assert stopped_years == years


def test_undeveloped_remainder(
    cases: dict[str, list[str]], measured: pd.DataFrame, buildings: gpd.GeoDataFrame
) -> None:
    b = buildings.to_crs(GK_EPSG)
    for pid in case(cases, "UNDEVELOPED_REMAINDER (large parcel"):
        geom = measured.at[pid, "geometry"]
        mine = b[b.intersects(geom)]
        assert len(mine) > 0
        left = geom.difference(mine.buffer(10.0).union_all())
        pieces = [
            g
            for g in getattr(left, "geoms", [left])
            if g.area >= 5 * M2_PER_MU and not g.buffer(-15.0).is_empty
        ]
        assert pieces, f"{pid}: no undeveloped piece of 5 亩 or more"


def test_class_t(
    cases: dict[str, list[str]], enterprises: pd.DataFrame, links: pd.DataFrame
) -> None:
    for pid in case(cases, "class T: utility"):
        rows = links[links["pid"] == pid]["row"]
        assert enterprises.loc[rows, "行业代码"].str[:2].isin(["44", "45", "46"]).all()
    starts = enterprises["投产时间"].map(parse_date)
    recent = enterprises[starts.map(lambda d: add_years(d, 2) > AS_OF)]
    assert recent["统一社会信用代码"].nunique() >= 1
    assert (recent["年度"] == "2024").all()


def test_grade_history_and_firms_on_several_parcels(
    cases: dict[str, list[str]],
    parcels: gpd.GeoDataFrame,
    enterprises: pd.DataFrame,
    links: pd.DataFrame,
) -> None:
    e24 = enterprises[enterprises["年度"] == "2024"]
    for pid in case(cases, "GRADE history 2022:D;2023:D"):
        rows = links[(links["pid"] == pid) & (links["year"] == 2024)]["row"]
        assert (e24.loc[rows, "评价等级"] == "2022:D;2023:D").all() and len(rows) == 1
    holder = parcels.set_index("宗地编号")["权利人统一社会信用代码"]
    for label, listed in (
        ("enterprise on several parcels, 所在宗地编号", True),
        ("enterprise on several parcels, linked by holder", False),
    ):
        ids = case(cases, label)
        assert len(ids) >= 2
        for a, b in zip(ids[::2], ids[1::2], strict=True):
            assert holder[a] == holder[b]
            row = e24[e24["统一社会信用代码"] == holder[a]]
            assert len(row) == 1
            named = set(re.split(SEPARATORS, row["所在宗地编号"].iloc[0])) - {""}
            assert named == ({a, b} if listed else set())


# ---------------------------------------------------------------------------------------- generator
def test_contract_dates_mixed_forms(contracts: pd.DataFrame) -> None:
    cols = [c for c in CONTRACT_HEADERS if "日期" in c or "时间" in c]
    values = pd.Series(contracts[cols].to_numpy().ravel())
    values = values[values != ""]
    assert values.str.contains("年").any() and values.str.fullmatch(r"\d{4}-\d{2}-\d{2}").any()
    signed = values.map(parse_date)
    assert signed.notna().all()
    years = contracts["合同签订日期"].map(parse_date).map(lambda d: d.year)
    assert years.between(2019, 2024).all()


def test_generator_is_deterministic(
    tmp_path: Path, parcels: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame
) -> None:
    subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    for name in ("enterprises.csv", "contracts.csv", "demo.toml", "README.md"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name
    for name, layer, committed in (
        ("parcels.gpkg", "parcels", parcels),
        ("buildings.gpkg", "buildings", buildings),
    ):
        again = gpd.read_file(tmp_path / name, layer=layer)
        pd.testing.assert_frame_equal(
            again.drop(columns="geometry"), committed.drop(columns="geometry")
        )
        assert again.geometry.geom_equals_exact(committed.geometry, tolerance=1e-9).all()
