"""Map data: field tables, labels, and the compact JSON a map is drawn from (no folium here).

Geometry is quantised to 1e-6 degree (about 0.1 m) and delta-encoded; properties are columnar
(numbers as scaled integers, repeated text as a dictionary). Public maps leave out every column
:func:`landeff.outputs.is_confidential` names and the measured values of confidential findings.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import CRSError, InputError
from ..gcj02 import shift_geometries
from . import confidential_finding_values, is_confidential

#: Coordinates are stored as integers of 1e-6 degree (about 0.11 m of latitude).
COORD_SCALE = 1_000_000


@dataclass(frozen=True)
class Field:
    name: str
    zh: str
    en: str
    unit_zh: str = ""
    unit_en: str = ""
    kind: str = "n"  # n number, s text, d date, pct fraction shown in %, b yes/no
    decimals: int = 2


_W = ("万元", "10k yuan")
_WM = ("万元/亩", "10k yuan/mu")
PARCEL_FIELDS: tuple[Field, ...] = (
    Field("holder_name", "土地使用权人", "Land-use right holder", kind="s"),
    Field("supervision_no", "电子监管号", "Supervision no.", kind="s"),
    Field("land_use", "土地用途", "Land use", kind="s"),
    Field("industry_code", "行业代码", "Industry code", kind="s"),
    Field("grade", "评价等级", "Grade", kind="s"),
    Field("score", "综合得分", "Score", decimals=2),
    Field("area_mu", "面积", "Area", "亩", "mu", decimals=2),
    Field("area_m2", "面积", "Area", "m²", "m²", decimals=0),
    Field("floor_area_m2", "建筑面积", "Floor area", "m²", "m²", decimals=0),
    Field("far", "容积率", "FAR", decimals=2),
    Field("building_density", "建筑密度", "Building density", "%", "%", kind="pct", decimals=1),
    Field("n_buildings", "建筑数", "Buildings", decimals=0),
    Field("n_enterprises", "企业数", "Enterprises", decimals=0),
    Field("tax_wan", "税收", "Tax", *_W),
    Field("tax_wan_per_mu", "亩均税收", "Tax per mu", *_WM),
    Field("revenue_wan", "营业收入", "Revenue", *_W),
    Field("revenue_wan_per_mu", "亩均营业收入", "Revenue per mu", *_WM),
    Field("output_wan", "工业总产值", "Output", *_W),
    Field("output_wan_per_mu", "亩均产值", "Output per mu", *_WM),
    Field("value_added_wan", "工业增加值", "Value added", *_W),
    Field("value_added_wan_per_mu", "亩均增加值", "Value added per mu", *_WM),
    Field("energy_tce", "综合能耗", "Energy use", "吨标准煤", "tce"),
    Field("electricity_kwh", "用电量", "Electricity", "kWh", "kWh", decimals=0),
    Field("emissions_t", "排放量", "Emissions", "吨", "t"),
    Field("rd_wan", "研发经费", "R&D spend", *_W),
    Field("employees", "从业人员", "Employees", "人", "people", decimals=0),
    Field("contract_date", "合同签订日期", "Contract date", kind="d"),
    Field("agreed_start", "约定动工日期", "Agreed start", kind="d"),
    Field("actual_start", "实际动工日期", "Actual start", kind="d"),
    Field("agreed_completion", "约定竣工日期", "Agreed completion", kind="d"),
    Field("actual_completion", "实际竣工日期", "Actual completion", kind="d"),
    Field("far_min", "容积率下限", "FAR minimum", decimals=2),
    Field("far_max", "容积率上限", "FAR maximum", decimals=2),
    Field("land_price_wan", "出让价款", "Land price", *_W),
    Field("investment_total_wan", "约定投资总额", "Agreed investment", *_W),
    Field("investment_done_wan", "已完成投资", "Investment made", *_W),
    Field("committed_tax_wan_per_mu", "承诺亩均税收", "Committed tax per mu", *_WM),
    Field("committed_output_wan_per_mu", "承诺亩均产值", "Committed output per mu", *_WM),
    Field("gov_cause", "政府原因", "Government cause", kind="b"),
    Field("idle_stage", "闲置阶段", "Idle stage", kind="s"),
    Field("idle_fee_wan", "闲置费", "Idle-land fee", *_W),
    Field("flags", "问题代码", "Finding codes", kind="s"),
)
ENTERPRISE_FIELDS: tuple[Field, ...] = (
    Field("name", "企业名称", "Enterprise", kind="s"),
    Field("grade", "等级", "grade", kind="s"),
    Field("score", "得分", "score", decimals=2),
    Field("tax_wan_per_mu", "亩均税收", "tax per mu", *_WM),
)
BUILDING_FIELDS: tuple[Field, ...] = (
    Field("parcel_id", "宗地编号", "Parcel", kind="s"),
    Field("floors", "层数", "Floors", decimals=0),
    Field("footprint_m2", "基底面积", "Footprint", "m²", "m²", decimals=0),
    Field("floor_area_m2", "建筑面积", "Floor area", "m²", "m²", decimals=0),
    Field("height_m", "高度", "Height", "m", "m", decimals=1),
)
REMAINDER_FIELDS: tuple[Field, ...] = (
    Field("area_mu", "面积", "Area", "亩", "mu", decimals=2),
    Field("area_m2", "面积", "Area", "m²", "m²", decimals=0),
)
FIELD_BY_NAME = {f.name: f for f in PARCEL_FIELDS}

TEXT: dict[str, dict[str, Any]] = {
    "zh": {
        "parcel": "宗地", "parcels": "宗地", "building": "建筑", "buildings": "建筑",
        "remainder": "剩余未开发土地", "remainders": "剩余未开发土地",
        "enterprises": "企业", "findings": "问题", "grade": "等级",
        "measured": "实测", "threshold": "阈值", "source": "依据", "stage": "阶段",
        "fee": "闲置费", "wan": "万元", "mu": "亩", "floorsUnit": "层",
        "searchPlaceholder": "搜索企业名称、信用代码或宗地编号", "noResults": "无结果",
        "roles": {"holder": "土地使用权人", "tenant": "承租企业"},
        "legendGrade": "评价等级", "legendFindings": "问题", "legendFloors": "建筑层数",
        "noGrade": "未评价", "noData": "无数据", "gradeSuffix": " 类", "yes": "是", "no": "否",
        "fullscreen": "全屏", "exitFullscreen": "退出全屏",
    },
    "en": {
        "parcel": "Parcel", "parcels": "Parcels", "building": "Building", "buildings": "Buildings",
        "remainder": "Undeveloped remainder", "remainders": "Undeveloped remainders",
        "enterprises": "Enterprises", "findings": "Findings", "grade": "Grade",
        "measured": "measured", "threshold": "threshold", "source": "Source", "stage": "Stage",
        "fee": "Idle-land fee", "wan": "10k yuan", "mu": "mu", "floorsUnit": "floors",
        "searchPlaceholder": "Search enterprise, credit code or parcel id", "noResults": "No match",
        "roles": {"holder": "holder", "tenant": "tenant"},
        "legendGrade": "Grade", "legendFindings": "Findings", "legendFloors": "Floors",
        "noGrade": "Not graded", "noData": "No data", "gradeSuffix": "", "yes": "yes", "no": "no",
        "fullscreen": "Full screen", "exitFullscreen": "Exit full screen",
    },
}



# --------------------------------------------------------------------------------------------
# frames
# --------------------------------------------------------------------------------------------
def with_id(frame: pd.DataFrame, id_col: str, *, use_index: bool) -> pd.DataFrame:
    """Return ``frame`` with a string column ``id_col`` (from the index when it is not a column)."""
    if id_col in frame.columns:
        out = frame.reset_index(drop=True)
    elif frame.index.name == id_col or use_index:
        out = frame.reset_index(names=id_col)
    else:
        out = frame.reset_index(drop=True)
        out[id_col] = pd.NA
    out[id_col] = out[id_col].astype("string")
    return out


def lonlat(frame: gpd.GeoDataFrame, what: str, gaode: bool) -> np.ndarray:
    """Return the geometries in longitude/latitude (GCJ-02 for Gaode) as a shapely array."""
    if not isinstance(frame, gpd.GeoDataFrame):
        msg = f"{what}: expected a GeoDataFrame with geometries, got {type(frame).__name__}."
        raise InputError(msg)
    if frame.crs is None:
        msg = (
            f"{what}: the layer has no coordinate reference system, so it cannot be placed on a "
            "map. "
            "Set one (GeoDataFrame.set_crs, or --crs on the command line), e.g. 4490 for CGCS2000 "
            "longitude/latitude or 4549 for CGCS2000 GK zone CM 120E."
        )
        raise CRSError(msg)
    geo = frame.geometry if frame.crs.to_epsg() == 4326 else frame.geometry.to_crs(4326)
    geoms = np.asarray(geo.values, dtype=object)
    if gaode:
        geoms = shift_geometries(geoms, to="gcj02")
    return geoms


def polygons(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the polygon parts of each geometry and the index of the geometry each came from."""
    geoms = np.where(shapely.is_missing(geoms), shapely.Polygon(), geoms)
    parts, idx = shapely.get_parts(geoms, return_index=True)
    for _ in range(3):  # collections inside collections (after repairs)
        nested = np.isin(shapely.get_type_id(parts), (4, 5, 6, 7))
        if not nested.any():
            break
        sub, sub_idx = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate([parts[~nested], sub])
        idx = np.concatenate([idx[~nested], idx[nested][sub_idx]])
        order = np.argsort(idx, kind="stable")
        parts, idx = parts[order], idx[order]
    keep = (shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)
    return parts[keep], idx[keep]


def encode_geometry(geoms: np.ndarray) -> dict[str, list[int]]:
    """Encode polygons as quantised, delta-encoded rings.

    ``pf`` parts per feature, ``rp`` rings per part (exterior first), ``nv`` vertices per ring
    (closing vertex dropped, repeated vertices after rounding dropped), ``c`` interleaved
    x, y deltas in units of 1e-6 degree, running over the whole layer.
    """
    n = len(geoms)
    parts, part_idx = polygons(geoms)
    pf = np.bincount(part_idx, minlength=n)
    rings, ring_idx = shapely.get_rings(parts, return_index=True)
    rp = np.bincount(ring_idx, minlength=len(parts))
    coords, coord_idx = shapely.get_coordinates(rings, return_index=True)
    q = np.round(coords * COORD_SCALE).astype(np.int64)
    keep = np.ones(len(q), dtype=bool)
    if len(q):
        counts = np.bincount(coord_idx, minlength=len(rings))
        last = np.cumsum(counts) - 1
        keep[last[counts > 0]] = False
        same = np.zeros(len(q), dtype=bool)
        same[1:] = (coord_idx[1:] == coord_idx[:-1]) & (q[1:] == q[:-1]).all(axis=1)
        keep &= ~same
    q, coord_idx = q[keep], coord_idx[keep]
    nv = np.bincount(coord_idx, minlength=len(rings))
    deltas = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)).ravel()
    return {"pf": pf.tolist(), "rp": rp.tolist(), "nv": nv.tolist(), "c": deltas.tolist()}


def as_text(values: pd.Series, kind: str, lang: str) -> pd.Series:
    """Return display strings (``<NA>`` where missing) of a column of any type."""
    if kind == "d" or pd.api.types.is_datetime64_any_dtype(values):
        dates = pd.to_datetime(values, errors="coerce")
        return dates.dt.strftime("%Y-%m-%d").astype("string")
    if kind == "b":
        t = TEXT[lang]
        flags = values.astype("boolean")
        return flags.map({True: t["yes"], False: t["no"]}).astype("string")
    if values.dtype == object:
        is_list = values.map(lambda v: isinstance(v, list | tuple | set | np.ndarray))
        if is_list.any():
            joined = values[is_list].map(lambda v: "、".join(str(x) for x in v))
            values = values.where(~is_list, joined)
    out = values.astype("string")
    return out.where(out.str.len() > 0)


def encode_column(values: pd.Series, field: Field, lang: str) -> dict[str, Any]:
    """Encode one column: scaled integers for numbers, a dictionary for repeated text."""
    if field.kind in ("n", "pct"):
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        if field.kind == "pct":
            x = x * 100.0
        ok = np.isfinite(x)
        scaled = np.zeros(len(x), dtype=np.int64)
        scaled[ok] = np.round(x[ok] * 10**field.decimals).astype(np.int64)
        out = scaled.astype(object)
        out[~ok] = None
        return {"k": field.name, "t": "n", "s": field.decimals, "v": out.tolist()}
    text = as_text(values, field.kind, lang)
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    if len(uniques) * 2 > len(text):
        plain = text.astype(object).where(text.notna(), None)
        return {"k": field.name, "t": "s", "v": plain.tolist()}
    return {"k": field.name, "t": "s", "u": [str(u) for u in uniques], "c": codes.tolist()}


def field_spec(field: Field, lang: str) -> dict[str, Any]:
    return {
        "k": field.name,
        "label": field.zh if lang == "zh" else field.en,
        "unit": field.unit_zh if lang == "zh" else field.unit_en,
        "t": "n" if field.kind in ("n", "pct") else "s",
    }


def columns(
    frame: pd.DataFrame,
    fields: tuple[Field, ...],
    lang: str,
    public: bool,
    always: tuple[str, ...] = (),
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return (encoded columns, popup field specs) for the fields present in ``frame``."""
    cols, specs = [], []
    for name in always:
        if name in frame.columns:
            cols.append(encode_column(frame[name], Field(name, name, name, kind="s"), lang))
    for field in fields:
        if field.name not in frame.columns or field.name in always:
            continue
        if public and is_confidential(field.name):
            continue
        cols.append(encode_column(frame[field.name], field, lang))
        specs.append(field_spec(field, lang))
    return cols, specs


def split_ids(values: pd.Series) -> pd.Series:
    """Return a long Series of single ids from lists or ';'-joined strings (index repeated)."""
    is_list = values.map(lambda v: isinstance(v, list | tuple | set | np.ndarray))
    listy = values.where(is_list, None)
    texty = values.where(~is_list & values.notna(), None).astype("string")
    split = texty.str.split(r"\s*[;,，；、]\s*", regex=True)
    merged = split.astype(object).where(~is_list, listy)
    long = merged.explode().dropna().astype("string").str.strip()
    return long[long.str.len() > 0]


def normalise_grades(values: pd.Series) -> np.ndarray:
    """Return 'A'..'D', 'T' or '' (not graded) for each grade value (NFKC, case, '类' folded)."""
    text = values.astype("string").fillna("")
    text = text.map(lambda s: unicodedata.normalize("NFKC", s)).astype("string")
    text = text.str.strip().str.upper().str.replace(r"\s*类$", "", regex=True)
    ok = text.isin(["A", "B", "C", "D", "T"])
    return np.where(ok.to_numpy(dtype=bool), text.to_numpy(dtype=object), "")



# --------------------------------------------------------------------------------------------
# enterprises, links and findings
# --------------------------------------------------------------------------------------------
def parcel_links(
    pid_index: pd.Index, enterprises: pd.DataFrame | None, links: pd.DataFrame | None
) -> pd.DataFrame:
    """Return links ``uscc, p`` (parcel position) and ``role`` from ``links`` or ``parcel_ids``."""
    if links is not None and len(links):
        if "uscc" not in links.columns or "parcel_id" not in links.columns:
            msg = f"links: needs columns 'uscc' and 'parcel_id' (has {list(links.columns)})."
            raise InputError(msg)
        out = pd.DataFrame(
            {
                "uscc": links["uscc"].astype("string").to_numpy(),
                "parcel_id": links["parcel_id"].astype("string").to_numpy(),
                "role": links["role"].astype("string").to_numpy() if "role" in links else pd.NA,
            }
        )
    elif enterprises is not None and "parcel_ids" in enterprises.columns and "uscc" in enterprises:
        long = split_ids(enterprises["parcel_ids"].reset_index(drop=True))
        out = pd.DataFrame(
            {
                "uscc": enterprises["uscc"].astype("string").reset_index(drop=True)[long.index]
                .to_numpy(),
                "parcel_id": long.to_numpy(),
                "role": pd.NA,
            }
        )
    else:
        return pd.DataFrame({"uscc": pd.Series(dtype="string"), "p": pd.Series(dtype="int64"),
                             "role": pd.Series(dtype="string")})
    out["p"] = pid_index.get_indexer(pd.Index(out["parcel_id"].fillna("")))
    out = out[(out["p"] >= 0) & out["uscc"].notna()].drop_duplicates(["uscc", "p"])
    return out[["uscc", "p", "role"]].reset_index(drop=True)


def enterprise_block(
    enterprises: pd.DataFrame | None, links: pd.DataFrame, lang: str, public: bool
) -> dict[str, Any] | None:
    if enterprises is None and not len(links):
        return None
    ent = (
        enterprises.copy()
        if enterprises is not None
        else pd.DataFrame({"uscc": pd.Series(dtype="string")})
    )
    if "uscc" not in ent.columns:
        msg = f"enterprises: needs a 'uscc' column (has {list(ent.columns)})."
        raise InputError(msg)
    ent["uscc"] = ent["uscc"].astype("string")
    if "year" in ent.columns:  # one row per enterprise: its latest year
        ent = ent.sort_values("year", kind="stable")
    ent = ent.drop_duplicates("uscc", keep="last")
    missing = pd.Index(links["uscc"].unique()).difference(pd.Index(ent["uscc"].dropna()))
    if len(missing):
        ent = pd.concat([ent, pd.DataFrame({"uscc": pd.array(missing, dtype="string")})],
                        ignore_index=True)
    ent = ent.reset_index(drop=True)
    cols, specs = columns(ent, ENTERPRISE_FIELDS, lang, public, always=("uscc",))
    e_idx = pd.Index(ent["uscc"]).get_indexer(links["uscc"])
    roles = links["role"].astype("string")
    return {
        "n": len(ent),
        "cols": cols,
        "fields": specs,
        "links": {
            "e": e_idx.tolist(),
            "p": links["p"].astype(np.int64).tolist(),
            "role": roles.astype(object).where(roles.notna(), None).tolist(),
        },
    }


def finding_numbers(values: pd.Series) -> list[Any]:
    """Return JSON-safe values: numbers rounded to 6 decimals, other text as it is, NaN as None."""
    num = pd.to_numeric(values, errors="coerce")
    out = np.round(num.to_numpy(dtype=float), 6).astype(object)
    out[~np.isfinite(num.to_numpy(dtype=float))] = None
    text = values.astype("string")
    is_text = num.isna() & text.notna() & (text.str.len() > 0)
    out[is_text.to_numpy(dtype=bool)] = text[is_text].astype(object).to_numpy()
    return out.tolist()


def findings_block(
    findings: pd.DataFrame | None, pid_index: pd.Index, links: pd.DataFrame, lang: str, public: bool
) -> tuple[dict[str, Any] | None, np.ndarray, pd.Series, pd.Series]:
    no_text = pd.Series(dtype="string")
    empty = (None, np.zeros(0, dtype=np.int64), no_text, no_text)
    if findings is None or not len(findings):
        return empty
    if "code" not in findings.columns:
        msg = f"findings: needs a 'code' column (has {list(findings.columns)})."
        raise InputError(msg)
    f = findings.reset_index(drop=True).copy()
    pids = f["parcel_id"].astype("string") if "parcel_id" in f else pd.Series(pd.NA, index=f.index)
    f["p"] = pid_index.get_indexer(pd.Index(pids.fillna("")))
    # enterprise-level findings without a parcel: shown on every parcel of the enterprise
    if "uscc" in f.columns and len(links):
        orphan = f[(f["p"] < 0) & f["uscc"].notna()].drop(columns="p")
        orphan = orphan.assign(uscc=orphan["uscc"].astype("string"))
        spread = orphan.merge(links[["uscc", "p"]], on="uscc", how="inner")
        f = pd.concat([f[f["p"] >= 0], spread], ignore_index=True)
    else:
        f = f[f["p"] >= 0].reset_index(drop=True)
    if not len(f):
        return empty
    hide = confidential_finding_values(f).to_numpy(dtype=bool) if public else np.zeros(len(f), bool)
    label_main, label_alt = ("label_zh", "label_en") if lang == "zh" else ("label_en", "label_zh")
    label = f[label_main].astype("string") if label_main in f else pd.Series(pd.NA, index=f.index,
                                                                                dtype="string")
    if label_alt in f:
        label = label.fillna(f[label_alt].astype("string"))
    f["label"] = label

    def text(name: str, mask: np.ndarray | None = None) -> dict[str, Any]:
        series = f[name] if name in f else pd.Series(pd.NA, index=f.index, dtype="string")
        if mask is not None:
            series = series.astype("string").where(~mask)
        return encode_column(series, Field(name, name, name, kind="s"), lang)

    cols = [text("code"), text("label"), text("unit"), text("source"), text("stage"),
            text("evidence", hide)]
    value = f["value"] if "value" in f else pd.Series(np.nan, index=f.index)
    value = value.astype(object).where(~hide, None)
    cols.append({"k": "value", "t": "x", "v": finding_numbers(value)})
    if "threshold" in f:
        cols.append({"k": "threshold", "t": "x", "v": finding_numbers(f["threshold"])})
    if "fee_wan" in f:
        cols.append({"k": "fee_wan", "t": "x", "v": finding_numbers(f["fee_wan"])})
    block = {"p": f["p"].astype(np.int64).tolist(), "cols": cols}
    cats = f["category"] if "category" in f else pd.Series(pd.NA, index=f.index, dtype="string")
    return block, f["p"].to_numpy(dtype=np.int64), f["code"], cats



def json_for_html(payload: dict[str, Any]) -> str:
    """Serialise for a ``<script type="application/json">`` element: nothing can close it."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def bounds_of(*blocks: np.ndarray) -> list[list[float]] | None:
    geoms = [g for g in blocks if g is not None and len(g)]
    if not geoms:
        return None
    allg = np.concatenate(geoms)
    allg = allg[~(shapely.is_missing(allg) | shapely.is_empty(allg))]
    if not len(allg):
        return None
    west, south, east, north = shapely.total_bounds(allg)
    return [[float(south), float(west)], [float(north), float(east)]]
