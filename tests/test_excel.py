"""The idle-land workbook, its CSV files and GeoPackage layers (landeff.outputs.excel)."""

from __future__ import annotations

import csv
import io
import re
import struct
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely

from landeff.crs import M2_PER_MU
from landeff.errors import InputError
from landeff.outputs import excel
from landeff.outputs.excel import write_idle_land_xlsx, write_lists

HOSTILE = '=HYPERLINK("http://x","y")'
AS_OF = pd.Timestamp("2022-06-30")

# Confidential values chosen so that no public figure (area, threshold, id) coincides with them,
# in full or rounded to 2 decimals.
TAX_WAN = 4321.987
TAX_PER_MU = 37.4629
SCORE = 81.2345
PTS = 12.3456
LOW_TAX_VALUE = 2.71828
CONFIDENTIAL = (TAX_WAN, TAX_PER_MU, SCORE, PTS, LOW_TAX_VALUE)


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    """A small park in the shape of docs/architecture.md: 3 parcels, 2 enterprises, 7 findings."""
    parcels = gpd.GeoDataFrame(
        {
            "supervision_no": ["3201002019B00001", "3201002019B00002", "3201002019B00003"],
            "holder_name": [HOSTILE, "乙公司", "@SUM(A1)"],
            "holder_uscc": ["91320200MA1AAAAA1A", "91320200MA1BBBBB2B", None],
            "land_use": ["工业用地", "工业用地", "仓储用地"],
            # 60 m x 100 m, 200 m x 100 m, 40 m x 100 m
            "area_m2": [6000.0, 20000.0, 4000.0],
            "agreed_start": pd.to_datetime(["2019-03-01", "2020-02-29", None]),
            "actual_start": pd.to_datetime([None, "2020-06-01", None]),
            "agreed_completion": pd.to_datetime(["2020-03-01", "2021-02-28", "2019-12-31"]),
            "actual_completion": pd.to_datetime([None, None, None]),
            "suspended_since": pd.to_datetime([None, "2021-01-10", None]),
            "land_price_wan": [300.0, 1000.0, np.nan],
            "investment_total_wan": [5000.0, 8000.0, np.nan],
            "far": [0.0, 0.35, 0.4],
            "tax_wan": [0.0, TAX_WAN, 0.0],
            "tax_wan_per_mu": [np.nan, TAX_PER_MU, np.nan],
        },
        geometry=[
            shapely.box(0, 0, 60, 100),
            shapely.box(100, 0, 300, 100),
            shapely.box(0, 200, 40, 300),
        ],
        crs=4547,
        index=pd.Index(["P1", "P2", "P3"], name="parcel_id"),
    )
    parcels["area_mu"] = parcels["area_m2"] / M2_PER_MU  # 9, 30, 6 亩
    findings = pd.DataFrame(
        {
            "finding_id": ["F1", "F2", "F3", "F4", "F5", "F6", "F7"],
            "level": ["parcel"] * 4 + ["enterprise", "parcel", "parcel"],
            "parcel_id": ["P1", "P2", "P2", "P3", None, "P2", "P3"],
            "supervision_no": ["3201002019B00001", None, None, None, None, None, None],
            "uscc": [None, None, None, None, "91320200MA1BBBBB2B", None, None],
            "code": [
                "IDLE_NOT_STARTED", "GOV_CAUSE", "IDLE_STALLED", "LOW_FAR", "LOW_TAX",
                "OVERDUE_COMPLETION", "NEW_RULE",
            ],
            "category": ["闲置土地", "闲置土地", "闲置土地", "低效用地", "低效用地", "低效用地",
                         "其他"],
            "label_zh": ["闲置土地（未动工）", None, None, "容积率偏低", None, "逾期未竣工",
                         "新规则"],
            "label_en": [None] * 7,
            "source": ["闲置土地处置办法 第二条"] * 3 + ["2008 控制指标", "park setting",
                                                         "合同", "test"],
            "value": [np.nan, np.nan, 0.2, 0.4, LOW_TAX_VALUE, 480.0, np.nan],
            "threshold": [np.nan, np.nan, 0.25, 0.7, 10.0, 0.0, np.nan],
            "unit": ["", "", "", "", "万元/亩", "天", ""],
            "stage": ["reclaim", "article8", "fee", None, None, None, None],
            "fee_wan": [np.nan, np.nan, 200.0, np.nan, np.nan, np.nan, np.nan],
            "evidence": [
                "约定开工后满 3 年未动工", "-政府原因", "投资 20% < 25%", "容积率 0.40 < 0.70",
                f"亩均税收 {LOW_TAX_VALUE} 万元/亩 < 10", "逾期 480 天", "#REF!",
            ],
            "as_of": [AS_OF] * 7,
        }
    )
    enterprises = pd.DataFrame(
        {
            "uscc": ["91320200MA1AAAAA1A", "91320200MA1BBBBB2B"],
            "name": ["甲公司<script>", HOSTILE],
            "year": [2021, 2021],
            "parcel_ids": ["P1", "P2"],
            "land_mu": [9.0, 30.0],
            "role": ["holder", "holder"],
            "grade": ["D", "A"],
            "score": [5.0, SCORE],
            "preset": ["jiangsu-huaian-2024"] * 2,
            "pts_tax_wan_per_mu": [1.0, PTS],
            "tax_wan": [0.0, TAX_WAN],
            "tax_wan_per_mu": [0.0, TAX_PER_MU],
            "tax_wan_per_mu_yoy": [np.nan, 0.1],
        }
    )
    remainders = gpd.GeoDataFrame(
        {"parcel_id": ["P2", "P2"], "area_m2": [4000.0, 6000.0]},
        geometry=[shapely.box(100, 0, 140, 100), shapely.box(240, 0, 300, 100)],
        crs=4547,
    )
    remainders["area_mu"] = remainders["area_m2"] / M2_PER_MU  # 6 and 9 亩
    return {"findings": findings, "parcels": parcels, "enterprises": enterprises,
            "remainders": remainders}


def _args(frames: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, ...]:
    return (frames["findings"], frames["parcels"], frames["enterprises"], frames["remainders"])


def _rows(ws) -> list[dict[str, object]]:  # noqa: ANN001
    values = list(ws.iter_rows(values_only=True))
    head = values[0]
    return [dict(zip(head, r, strict=True)) for r in values[1:]]


def _header_cells(ws) -> dict[str, object]:  # noqa: ANN001
    return {c.value: c for c in next(ws.iter_rows(min_row=1, max_row=1))}


@pytest.fixture
def workbook(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> openpyxl.Workbook:
    path = write_idle_land_xlsx(tmp_path / "idle_land.xlsx", *_args(frames))
    return openpyxl.load_workbook(path)


def test_sheet_names(workbook: openpyxl.Workbook) -> None:
    assert workbook.sheetnames == [
        "闲置土地", "疑似闲置", "项目监管", "低效用地", "剩余未开发土地", "企业评价", "其他问题",
    ]


def test_headers_frozen_filters_and_widths(workbook: openpyxl.Workbook) -> None:
    ws = workbook["闲置土地"]
    head = [c.value for c in next(ws.iter_rows(min_row=1, max_row=1))]
    for h in ("问题代码", "问题类型", "宗地编号", "电子监管号", "土地使用权人", "面积(亩)",
              "测量值", "阈值", "单位", "原因及证据", "依据", "约定开工日期", "实际开工日期",
              "停工日期", "处置阶段", "闲置费(万元)"):
        assert h in head, h
    for sheet in workbook.worksheets:
        n_rows = sheet.max_row
        last = openpyxl.utils.get_column_letter(sheet.max_column)
        assert sheet.freeze_panes == "A2", sheet.title
        assert sheet.auto_filter.ref == f"A1:{last}{n_rows}", sheet.title
    # 土地使用权人 holds the 26-character hostile text: wider than the 6-character minimum
    letter = openpyxl.utils.get_column_letter(head.index("土地使用权人") + 1)
    assert ws.column_dimensions[letter].width >= 26
    # a CJK header counts double: 原因及证据 (5 characters) needs at least 10
    letter = openpyxl.utils.get_column_letter(head.index("依据") + 1)
    assert ws.column_dimensions[letter].width >= 2 * len("闲置土地处置办法 第二条") - 1


def test_idle_row_matches_input(workbook: openpyxl.Workbook) -> None:
    ws = workbook["闲置土地"]
    rows = _rows(ws)
    # sorted by parcel, then IDLE_* before GOV_CAUSE: the article-8 row sits beside its finding
    assert [(r["宗地编号"], r["问题代码"]) for r in rows] == [
        ("P1", "IDLE_NOT_STARTED"), ("P2", "IDLE_STALLED"), ("P2", "GOV_CAUSE"),
    ]
    stalled = rows[1]
    assert stalled["问题编号"] == "F3"
    assert stalled["电子监管号"] == "3201002019B00002"  # none on the finding: the parcel's
    assert stalled["土地使用权人"] == "乙公司"
    assert stalled["面积(亩)"] == pytest.approx(30.0)  # 20000 m² ÷ (10000/15 m²/亩)
    assert stalled["测量值"] == pytest.approx(0.2)
    assert stalled["阈值"] == pytest.approx(0.25)
    assert stalled["闲置费(万元)"] == pytest.approx(200.0)
    assert stalled["出让价款(万元)"] == pytest.approx(1000.0)
    assert stalled["约定开工日期"].date() == pd.Timestamp("2020-02-29").date()
    assert stalled["实际开工日期"].date() == pd.Timestamp("2020-06-01").date()
    assert stalled["停工日期"].date() == pd.Timestamp("2021-01-10").date()
    assert stalled["依据"] == "闲置土地处置办法 第二条"
    assert stalled["处置阶段"] == excel.STAGE_LABELS["fee"][0]
    assert stalled["问题类型"] == excel.FINDING_LABELS["IDLE_STALLED"][0]  # label from flags.CODES
    assert rows[0]["问题类型"] == "闲置土地（未动工）"  # the finding's own label first
    assert rows[0]["面积(亩)"] == pytest.approx(9.0)
    assert rows[2]["处置阶段"] == excel.STAGE_LABELS["article8"][0]


def test_number_formats(workbook: openpyxl.Workbook) -> None:
    ws = workbook["闲置土地"]
    head = [c.value for c in next(ws.iter_rows(min_row=1, max_row=1))]
    row = [c for c in next(ws.iter_rows(min_row=3, max_row=3))]  # F3, IDLE_STALLED
    fmt = {h: c.number_format for h, c in zip(head, row, strict=True)}
    assert fmt["面积(亩)"] == "0.00"
    assert fmt["闲置费(万元)"] == "#,##0.00"
    assert fmt["出让价款(万元)"] == "#,##0.00"
    assert fmt["约定开工日期"] == "yyyy-mm-dd"
    rem = workbook["剩余未开发土地"]
    head = [c.value for c in next(rem.iter_rows(min_row=1, max_row=1))]
    row = [c for c in next(rem.iter_rows(min_row=2, max_row=2))]
    assert {h: c.number_format for h, c in zip(head, row, strict=True)}["剩余面积(亩)"] == "0.00"


def test_text_is_never_a_formula(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    path = write_idle_land_xlsx(tmp_path / "x.xlsx", *_args(frames))
    wb = openpyxl.load_workbook(path)
    idle = wb["闲置土地"]
    cell = _rows(idle)[0]
    assert cell["土地使用权人"] == HOSTILE
    holder = [c for c in next(idle.iter_rows(min_row=2, max_row=2))][6]
    assert holder.value == HOSTILE and holder.data_type == "s"
    ent = wb["企业评价"]
    names = {c.value: c for c in ent["B"]}
    assert names[HOSTILE].data_type == "s"
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str):
                    assert c.data_type == "s", (ws.title, c.coordinate, c.value)
    # and in the file itself there is no formula element at all
    with zipfile.ZipFile(path) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        assert sheets
        for name in sheets:
            assert not re.search(rb"<f[ >]", z.read(name)), name


def test_supervision_low_efficiency_and_other(workbook: openpyxl.Workbook) -> None:
    sup = _rows(workbook["项目监管"])
    assert [r["问题代码"] for r in sup] == ["OVERDUE_COMPLETION"]
    low = _rows(workbook["低效用地"])
    # LOW_FAR, LOW_TAX by code; OVERDUE_COMPLETION of category 低效用地 as well (sheet order)
    assert [r["问题代码"] for r in low] == ["LOW_FAR", "LOW_TAX", "OVERDUE_COMPLETION"]
    tax = low[1]
    assert tax["企业名称"] == HOSTILE
    assert tax["统一社会信用代码"] == "91320200MA1BBBBB2B"
    assert tax["面积(亩)"] == pytest.approx(30.0)  # enterprise finding: the enterprise's land
    assert tax["测量值"] == pytest.approx(LOW_TAX_VALUE)
    assert tax["单位"] == "万元/亩"
    far = low[0]
    assert far["土地使用权人"] == "@SUM(A1)"
    assert far["约定竣工日期"].date() == pd.Timestamp("2019-12-31").date()
    other = _rows(workbook["其他问题"])
    assert [r["问题代码"] for r in other] == ["NEW_RULE"]
    assert other[0]["原因及证据"] == "#REF!"  # a text cell, not an error value
    assert _rows(workbook["疑似闲置"]) == []


def test_remainders_and_enterprises(workbook: openpyxl.Workbook) -> None:
    rem = _rows(workbook["剩余未开发土地"])
    # largest first within a parcel: 6000 m² = 9 亩, then 4000 m² = 6 亩
    assert [(r["序号"], r["宗地编号"]) for r in rem] == [(1, "P2"), (2, "P2")]
    assert [r["剩余面积(亩)"] for r in rem] == [pytest.approx(9.0), pytest.approx(6.0)]
    assert rem[0]["宗地面积(亩)"] == pytest.approx(30.0)
    assert rem[0]["土地使用权人"] == "乙公司"
    ent = _rows(workbook["企业评价"])
    assert [r["评价等级"] for r in ent] == ["A", "D"]  # class order A..D
    assert ent[0]["综合得分"] == pytest.approx(SCORE)
    assert ent[0]["得分:亩均税收"] == pytest.approx(PTS)
    assert ent[0]["亩均税收(万元/亩)"] == pytest.approx(TAX_PER_MU)
    assert ent[0]["用地方式"] == "自有用地"
    assert ent[1]["企业名称"] == "甲公司<script>"


def test_english_headers(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    path = write_idle_land_xlsx(tmp_path / "en.xlsx", *_args(frames), lang="en")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:6] == [
        "Idle land", "Suspected idle", "Supervision", "Low efficiency", "Undeveloped land",
        "Enterprise grades",
    ]
    rows = _rows(wb["Idle land"])
    assert rows[1]["Area (mu)"] == pytest.approx(30.0)
    assert rows[1]["Finding"] == excel.FINDING_LABELS["IDLE_STALLED"][1]
    assert rows[1]["Stage"] == excel.STAGE_LABELS["fee"][1]
    with pytest.raises(InputError, match="lang"):
        write_idle_land_xlsx(tmp_path / "fr.xlsx", *_args(frames), lang="fr")


def test_control_characters_do_not_break_the_workbook(
    tmp_path: Path, frames: dict[str, pd.DataFrame]
) -> None:
    frames["parcels"].loc["P1", "holder_name"] = "甲\x00公\x1b司"
    path = write_idle_land_xlsx(tmp_path / "c.xlsx", *_args(frames))
    rows = _rows(openpyxl.load_workbook(path)["闲置土地"])
    assert rows[0]["土地使用权人"] == "甲\ufffd公\ufffd司"


def test_empty_inputs_still_give_every_sheet(tmp_path: Path) -> None:
    path = write_idle_land_xlsx(tmp_path / "e.xlsx", None, None, None, None)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["闲置土地", "疑似闲置", "项目监管", "低效用地", "剩余未开发土地",
                             "企业评价"]
    assert wb["闲置土地"].max_row == 1
    assert wb["闲置土地"].auto_filter.ref.endswith("1")


# --- write_lists: CSV, GeoPackage, public files, atomicity ---------------------------------------


def _csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(raw[3:].decode("utf-8"), newline="")))


def test_write_lists_files_csv_and_gpkg(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    paths = write_lists(tmp_path, *_args(frames))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([
        "idle_land.xlsx", "idle_land.csv", "suspected_idle.csv", "supervision.csv",
        "low_efficiency.csv", "remainders.csv", "enterprise_grades.csv", "other_findings.csv",
        "idle_land.gpkg",
    ])
    assert paths["xlsx"] == tmp_path / "idle_land.xlsx"
    idle = _csv(paths["idle_land"])
    assert [r["问题代码"] for r in idle] == ["IDLE_NOT_STARTED", "IDLE_STALLED", "GOV_CAUSE"]
    assert idle[0]["土地使用权人"] == "'" + HOSTILE  # formula guard
    assert idle[2]["原因及证据"] == "'-政府原因"
    assert float(idle[1]["面积(亩)"]) == pytest.approx(30.0)
    assert idle[1]["约定开工日期"] == "2020-02-29"
    low = _csv(paths["low_efficiency"])
    assert low[0]["土地使用权人"] == "'@SUM(A1)"
    layers = sorted(str(n) for n, _ in pyogrio.list_layers(paths["gpkg"]))
    assert layers == sorted(["idle_land", "suspected_idle", "supervision", "low_efficiency",
                             "remainders", "enterprise_grades", "other_findings"])
    gdf = gpd.read_file(paths["gpkg"], layer="idle_land")
    assert gdf["宗地编号"].tolist() == ["P1", "P2", "P2"]
    assert gdf.geometry.area.tolist() == pytest.approx([6000.0, 20000.0, 20000.0])
    assert gdf["土地使用权人"].iloc[0] == HOSTILE  # a GIS layer holds the text as it is
    rem = gpd.read_file(paths["gpkg"], layer="remainders")
    assert rem.geometry.area.tolist() == pytest.approx([6000.0, 4000.0])
    assert rem["剩余面积(亩)"].tolist() == pytest.approx([9.0, 6.0])
    low_gdf = gpd.read_file(paths["gpkg"], layer="low_efficiency")
    assert low_gdf.geometry.isna().tolist() == [False, True, False]  # enterprise finding: none


def _public_texts(folder: Path) -> dict[str, str]:
    """Every value of every public file, as text, and the raw bytes of each file."""
    texts: dict[str, str] = {}
    for path in folder.glob("*_public.*"):
        parts: list[str] = []
        if path.suffix == ".xlsx":
            wb = openpyxl.load_workbook(path)
            for ws in wb.worksheets:
                for row in ws.iter_rows(values_only=True):
                    parts.extend(repr(v) for v in row if v is not None)
                    parts.extend(str(v) for v in row if v is not None)
            with zipfile.ZipFile(path) as z:
                parts.extend(z.read(n).decode("utf-8", "replace") for n in z.namelist())
        elif path.suffix == ".csv":
            parts.append(path.read_bytes().decode("utf-8-sig"))
        elif path.suffix == ".gpkg":
            for name, _ in pyogrio.list_layers(path):
                frame = pyogrio.read_dataframe(path, layer=name)
                values = frame.drop(columns="geometry", errors="ignore").to_numpy(dtype=object)
                parts.extend(str(v) for v in values.ravel())
        texts[path.name] = "\n".join(parts)
    return texts


def test_public_lists_hold_no_enterprise_figure(
    tmp_path: Path, frames: dict[str, pd.DataFrame]
) -> None:
    paths = write_lists(tmp_path, *_args(frames), public=True)
    assert all(p.name.split(".")[0].endswith("_public") for p in paths.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths.values())
    texts = _public_texts(tmp_path)
    assert len(texts) == 9
    for value in CONFIDENTIAL:
        forms = {repr(value), str(value), f"{value:.2f}", f"{value:,.2f}", f"{value:.4f}"}
        for name, text in texts.items():
            for form in forms:
                assert form not in text, (name, form)
    packed = [struct.pack("<d", v) for v in CONFIDENTIAL] + [struct.pack(">d", v)
                                                              for v in CONFIDENTIAL]
    gpkg = (tmp_path / "idle_land_public.gpkg").read_bytes()
    assert not any(p in gpkg for p in packed)
    wb = openpyxl.load_workbook(paths["xlsx"])
    ent = _rows(wb["企业评价"])
    assert [r["评价等级"] for r in ent] == ["A", "D"]  # grades stay public
    assert "综合得分" not in ent[0] and "亩均税收(万元/亩)" not in ent[0]
    low = _rows(wb["低效用地"])
    tax = next(r for r in low if r["问题代码"] == "LOW_TAX")
    assert tax["测量值"] is None and tax["阈值"] == pytest.approx(10.0)  # the threshold stays
    assert tax["原因及证据"] == "(公开版不含企业数据)"
    far = next(r for r in low if r["问题代码"] == "LOW_FAR")
    assert far["测量值"] == pytest.approx(0.4)  # FAR is public
    assert far["原因及证据"] == "容积率 0.40 < 0.70"


def test_write_lists_failure_half_way_keeps_previous_outputs(
    tmp_path: Path, frames: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_lists(tmp_path, *_args(frames))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    frames["findings"].loc[0, "evidence"] = "changed"

    def broken(path: Path, layers: object) -> None:
        path.write_bytes(b"half a geopackage")
        raise OSError("No space left on device")

    monkeypatch.setattr(excel, "write_gpkg_layers", broken)
    with pytest.raises(OSError, match="No space"):
        write_lists(tmp_path, *_args(frames))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
