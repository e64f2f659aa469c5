"""Idle-land and low-efficiency lists: a workbook, the same sheets as CSV files and GPKG layers.

The lists are what a park hands in. Each sheet has one row per finding with its reason, rule source,
measured value and threshold, the parcel, the holder, the area and the dates that matter. This
module only lays out what :mod:`landeff.flags` and :mod:`landeff.grading` found; it adds no rule.

Files written by :func:`write_lists` (``*_public`` in public mode):

=====================  ==================  =====================================================
file                   sheet / layer       content
=====================  ==================  =====================================================
idle_land.xlsx         every sheet below   the workbook
idle_land.csv          闲置土地            IDLE_NOT_STARTED, IDLE_STALLED, GOV_CAUSE
suspected_idle.csv     疑似闲置            IDLE_SUSPECTED
supervision.csv        项目监管            OVERDUE_START, OVERDUE_COMPLETION,
                                           INVESTMENT_SHORTFALL, BELOW_COMMITMENT
low_efficiency.csv     低效用地            LOW_FAR, LOW_COVERAGE, LOW_TAX, STOPPED, ZOMBIE,
                                           VACANT_BUILDING, and any finding of category 低效
remainders.csv         剩余未开发土地      remainders with their area in 亩
enterprise_grades.csv  企业评价            class, score and its breakdown per enterprise
other_findings.csv     其他问题            codes none of the sheets above lists (only if any)
idle_land.gpkg         one layer per file  findings with their parcel's geometry
=====================  ==================  =====================================================
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError
from ..flags import CODES
from ..io.write import FORMULA_PREFIXES, atomic_path, write_csv, write_gpkg_layers, write_outputs
from . import confidential_finding_values, is_confidential

LANGS = ("zh", "en")

#: Fallback labels of the finding codes (a finding's own ``label_zh`` / ``label_en`` come first).
FINDING_LABELS: dict[str, tuple[str, str]] = {
    c.code: (c.label_zh, c.label_en) for c in CODES.values()
}

#: Idle-land stages, as the lists name them.
STAGE_LABELS: dict[str, tuple[str, str]] = {
    "fee": ("闲置满一年:征缴闲置费", "idle 1 year: idle-land fee"),
    "reclaim": ("闲置满二年:无偿收回", "idle 2 years: taken back"),
    "article8": ("政府原因(第八条):不征费、不收回", "government cause (art. 8): no penalty"),
}

#: Codes shown elsewhere than in a finding sheet (企业评价, 剩余未开发土地).
_SHOWN_ELSEWHERE = ("GRADE_D", "UNDEVELOPED_REMAINDER")
#: Categories that put a finding on the 低效用地 sheet whatever its code (flags.CATEGORY_LOW).
_LOW_EFFICIENCY_CATEGORIES = ("低效用地", "低效")

_PUBLIC_WITHHELD = {
    "zh": "(公开版不含企业数据)",
    "en": "(withheld: enterprise data)",
}

# Number formats by column kind.
_FORMATS = {
    "mu": "0.00",
    "m2": "#,##0.00",
    "money": "#,##0.00",
    "number": "#,##0.00##",
    "ratio": "0.00",
    "percent": "0.00%",
    "int": "0",
    "date": "yyyy-mm-dd",
    "id": "@",
    "text": None,
}

_MAX_CELL_CHARS = 32767
# Text openpyxl would store as a formula (=...) or an error value (#N/A...) unless told otherwise.
_RISKY_TEXT = (*FORMULA_PREFIXES, "#")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_WIDE = re.compile(
    "[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf"
    "\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\U00020000-\U0003fffd]"
)


@dataclass(frozen=True)
class Column:
    """One column of a list: canonical name, Chinese and English header, and kind (format)."""

    name: str
    zh: str
    en: str
    kind: str = "text"

    def header(self, lang: str) -> str:
        """Return the header in ``lang``."""
        return self.zh if lang == "zh" else self.en


def _c(name: str, zh: str, en: str, kind: str = "text") -> Column:
    return Column(name, zh, en, kind)


_FINDING_HEAD = (
    _c("finding_id", "问题编号", "Finding ID", "id"),
    _c("code", "问题代码", "Code", "id"),
    _c("label", "问题类型", "Finding"),
    _c("category", "类别", "Category"),
    _c("parcel_id", "宗地编号", "Parcel ID", "id"),
    _c("supervision_no", "电子监管号", "Supervision no.", "id"),
    _c("holder_name", "土地使用权人", "Land-use right holder"),
    _c("uscc", "统一社会信用代码", "USCC", "id"),
    _c("name", "企业名称", "Enterprise"),
    _c("area_mu", "面积(亩)", "Area (mu)", "mu"),
    _c("value", "测量值", "Measured value", "number"),
    _c("threshold", "阈值", "Threshold", "number"),
    _c("unit", "单位", "Unit"),
    _c("evidence", "原因及证据", "Reason and evidence"),
    _c("source", "依据", "Rule source"),
)
_AS_OF = _c("as_of", "评价日期", "As of", "date")
_DATES = {
    "contract_date": _c("contract_date", "合同签订日期", "Contract date", "date"),
    "agreed_start": _c("agreed_start", "约定开工日期", "Agreed start", "date"),
    "actual_start": _c("actual_start", "实际开工日期", "Actual start", "date"),
    "agreed_completion": _c("agreed_completion", "约定竣工日期", "Agreed completion", "date"),
    "actual_completion": _c("actual_completion", "实际竣工日期", "Actual completion", "date"),
    "suspended_since": _c("suspended_since", "停工日期", "Suspended since", "date"),
}
_STAGE = _c("stage", "处置阶段", "Stage")
_FEE = _c("fee_wan", "闲置费(万元)", "Idle-land fee (10k yuan)", "money")
_LAND_PRICE = _c("land_price_wan", "出让价款(万元)", "Land price (10k yuan)", "money")
_INVESTMENT = _c(
    "investment_total_wan", "约定投资总额(万元)", "Agreed investment (10k yuan)", "money"
)


@dataclass(frozen=True)
class _SheetSpec:
    key: str
    zh: str
    en: str
    codes: tuple[str, ...]
    extra: tuple[Column, ...]
    sort: tuple[str, ...]


_FINDING_SHEETS = (
    _SheetSpec(
        "idle_land", "闲置土地", "Idle land",
        ("IDLE_NOT_STARTED", "IDLE_STALLED", "GOV_CAUSE"),
        (_DATES["agreed_start"], _DATES["actual_start"], _DATES["suspended_since"], _STAGE,
         _LAND_PRICE, _FEE),
        ("parcel_id", "code_order"),
    ),
    _SheetSpec(
        "suspected_idle", "疑似闲置", "Suspected idle",
        ("IDLE_SUSPECTED",),
        (_DATES["contract_date"], _DATES["agreed_start"], _DATES["actual_start"]),
        ("parcel_id", "code_order"),
    ),
    _SheetSpec(
        "supervision", "项目监管", "Supervision",
        ("OVERDUE_START", "OVERDUE_COMPLETION", "INVESTMENT_SHORTFALL", "BELOW_COMMITMENT"),
        (_DATES["agreed_start"], _DATES["actual_start"], _DATES["agreed_completion"],
         _DATES["actual_completion"], _INVESTMENT, _STAGE),
        ("code_order", "parcel_id"),
    ),
    _SheetSpec(
        "low_efficiency", "低效用地", "Low efficiency",
        ("LOW_FAR", "LOW_COVERAGE", "LOW_TAX", "STOPPED", "ZOMBIE", "VACANT_BUILDING"),
        (_DATES["agreed_completion"], _DATES["actual_completion"], _STAGE),
        ("code_order", "parcel_id"),
    ),
)
_OTHER_SHEET = _SheetSpec(
    "other_findings", "其他问题", "Other findings", (), (_DATES["agreed_start"], _STAGE),
    ("code_order", "parcel_id"),
)

_REMAINDER_COLUMNS = (
    _c("remainder_no", "序号", "No.", "int"),
    _c("parcel_id", "宗地编号", "Parcel ID", "id"),
    _c("supervision_no", "电子监管号", "Supervision no.", "id"),
    _c("holder_name", "土地使用权人", "Land-use right holder"),
    _c("land_use", "土地用途", "Land use"),
    _c("area_mu", "剩余面积(亩)", "Remaining area (mu)", "mu"),
    _c("area_m2", "剩余面积(平方米)", "Remaining area (m²)", "m2"),
    _c("parcel_area_mu", "宗地面积(亩)", "Parcel area (mu)", "mu"),
)

# Enterprise measures: name -> (Chinese label, unit, English label, unit, kind)
_MEASURES: dict[str, tuple[str, str, str, str, str]] = {
    "score": ("综合得分", "", "Score", "", "number"),
    "tax_wan": ("税收", "万元", "Tax", "10k yuan", "money"),
    "revenue_wan": ("营业收入", "万元", "Revenue", "10k yuan", "money"),
    "output_wan": ("工业总产值", "万元", "Gross output", "10k yuan", "money"),
    "value_added_wan": ("工业增加值", "万元", "Value added", "10k yuan", "money"),
    "rd_wan": ("研发经费", "万元", "R&D spend", "10k yuan", "money"),
    "energy_tce": ("综合能耗", "吨标准煤", "Energy use", "tce", "number"),
    "electricity_kwh": ("用电量", "千瓦时", "Electricity", "kWh", "number"),
    "emissions_t": ("主要污染物排放量", "吨", "Emissions", "t", "number"),
    "employees": ("从业人员", "人", "Employees", "persons", "number"),
    "tax_wan_per_mu": ("亩均税收", "万元/亩", "Tax per mu", "10k yuan/mu", "money"),
    "revenue_wan_per_mu": ("亩均营业收入", "万元/亩", "Revenue per mu", "10k yuan/mu", "money"),
    "output_wan_per_mu": ("亩均产值", "万元/亩", "Output per mu", "10k yuan/mu", "money"),
    "value_added_wan_per_mu": (
        "亩均增加值", "万元/亩", "Value added per mu", "10k yuan/mu", "money"),
    "value_added_wan_per_tce": (
        "单位能耗增加值", "万元/吨标准煤", "Value added per tce", "10k yuan/tce", "number"),
    "value_added_wan_per_t": (
        "单位排放增加值", "万元/吨", "Value added per t emitted", "10k yuan/t", "number"),
    "tax_yuan_per_kwh": ("单位电耗税收", "元/千瓦时", "Tax per kWh", "yuan/kWh", "number"),
    "value_added_wan_per_employee": (
        "全员劳动生产率", "万元/人", "Value added per employee", "10k yuan/person", "number"),
    "rd_ratio": ("研发经费投入强度", "", "R&D intensity", "", "percent"),
}

_ENTERPRISE_HEAD = (
    _c("uscc", "统一社会信用代码", "USCC", "id"),
    _c("name", "企业名称", "Enterprise"),
    _c("industry_code", "行业代码", "Industry code", "id"),
    _c("above_scale", "规上企业", "Above scale"),
    _c("role", "用地方式", "Land tenure"),
    _c("parcel_ids", "所在宗地", "Parcels", "id"),
    _c("land_mu", "用地面积(亩)", "Land (mu)", "mu"),
    _c("grade", "评价等级", "Class"),
    _c("preset", "评价方案", "Preset"),
    _c("consecutive_d", "连续D类年数", "Consecutive D years", "int"),
)
_ROLE_LABELS = {"holder": ("自有用地", "own land"), "tenant": ("租赁厂房", "tenant")}
_GRADE_ORDER = {"A": 0, "B": 1, "C": 2, "D": 3, "T": 4}


@dataclass
class ListTable:
    """One list: a sheet of the workbook, a CSV file and a GeoPackage layer.

    Attributes
    ----------
    key : str
        ASCII file stem and layer name (``idle_land``, ``supervision``...).
    sheet : str
        Sheet name in the chosen language.
    columns : list of Column
        The columns, in order.
    frame : DataFrame
        Values by canonical column name, one row per list row, ready to write.
    geometry : GeoSeries or None
        Geometry of each row (the parcel's, or the remainder's), or None for a plain table.
    """

    key: str
    sheet: str
    columns: list[Column]
    frame: pd.DataFrame
    geometry: gpd.GeoSeries | None

    def labelled(self, lang: str) -> pd.DataFrame:
        """Return the frame with the headers of ``lang``."""
        out = self.frame[[c.name for c in self.columns]].copy()
        out.columns = [c.header(lang) for c in self.columns]
        return out


# -------------------------------------------------------------------------------------------------
# Building the tables


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        msg = f"lang={lang!r} is not supported; use 'zh' (Chinese, the default) or 'en'"
        raise InputError(msg)


def _empty_findings() -> pd.DataFrame:
    cols = [
        "finding_id", "level", "parcel_id", "supervision_no", "uscc", "code", "category",
        "label_zh", "label_en", "source", "value", "threshold", "unit", "stage", "fee_wan",
        "evidence", "as_of",
    ]
    return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})


def _parcel_info(parcels: pd.DataFrame | None) -> pd.DataFrame:
    """Return parcel attributes (no geometry) indexed by ``parcel_id`` as text."""
    if parcels is None:
        return pd.DataFrame(index=pd.Index([], name="parcel_id", dtype=object))
    frame = pd.DataFrame(parcels.drop(columns=_geometry_name(parcels) or [], errors="ignore"))
    ids = frame["parcel_id"] if "parcel_id" in frame else pd.Series(frame.index, index=frame.index)
    frame = frame.drop(columns=["parcel_id"], errors="ignore")
    frame.index = pd.Index(ids.astype(str).to_numpy(), name="parcel_id")
    return frame[~frame.index.duplicated()]


def _parcel_geometry(parcels: pd.DataFrame | None) -> gpd.GeoSeries | None:
    """Return the parcels' geometry indexed by ``parcel_id`` (None without geometry)."""
    if not isinstance(parcels, gpd.GeoDataFrame) or _geometry_name(parcels) is None:
        return None
    ids = parcels["parcel_id"] if "parcel_id" in parcels else pd.Series(parcels.index)
    geom = gpd.GeoSeries(
        parcels.geometry.to_numpy(), index=pd.Index(ids.astype(str).to_numpy()), crs=parcels.crs
    )
    return geom[~geom.index.duplicated()]


def _geometry_name(frame: pd.DataFrame) -> str | None:
    if isinstance(frame, gpd.GeoDataFrame):
        try:
            return frame.geometry.name
        except AttributeError:
            return None
    return None


def _text_key(values: pd.Series) -> pd.Series:
    """Return ids as text for joining (missing stays missing)."""
    return values.astype(object).where(values.notna(), None).map(str, na_action="ignore")


def _enterprise_info(enterprises: pd.DataFrame | None) -> pd.DataFrame:
    """Return one enterprise row per ``uscc`` (the latest year when several are given)."""
    if enterprises is None or "uscc" not in enterprises:
        return pd.DataFrame(index=pd.Index([], name="uscc", dtype=object))
    frame = pd.DataFrame(enterprises)
    if "year" in frame:
        frame = frame.sort_values("year", kind="stable")
    frame = frame.assign(uscc=_text_key(frame["uscc"])).dropna(subset=["uscc"])
    return frame.drop_duplicates("uscc", keep="last").set_index("uscc")


def _take(info: pd.DataFrame, keys: pd.Series, column: str) -> pd.Series:
    """Return ``info[column]`` looked up by ``keys`` (missing where absent)."""
    if column not in info:
        return pd.Series(None, index=keys.index, dtype=object)
    return keys.map(info[column])


def _finding_rows(
    findings: pd.DataFrame, parcels: pd.DataFrame | None, enterprises: pd.DataFrame | None,
    lang: str, public: bool,
) -> pd.DataFrame:
    """Return every finding joined with its parcel and enterprise, by canonical column name."""
    f = findings.reset_index(drop=True).copy()
    for col in _empty_findings().columns:
        if col not in f:
            f[col] = None
    pinfo = _parcel_info(parcels)
    einfo = _enterprise_info(enterprises)
    pid = _text_key(f["parcel_id"])
    uscc = _text_key(f["uscc"])
    f["parcel_id"] = pid
    f["uscc"] = uscc
    codes = f["code"].astype(object).where(f["code"].notna(), "").astype(str)
    f["code"] = codes
    own = f["label_zh" if lang == "zh" else "label_en"]
    idx = 0 if lang == "zh" else 1
    fallback = codes.map({k: v[idx] for k, v in FINDING_LABELS.items()}).fillna(codes)
    f["label"] = own.where(own.notna() & (own.astype(str) != ""), fallback)
    f["supervision_no"] = f["supervision_no"].where(
        f["supervision_no"].notna(), _take(pinfo, pid, "supervision_no")
    )
    f["holder_name"] = _take(pinfo, pid, "holder_name")
    f["name"] = _take(einfo, uscc, "name")
    f["area_mu"] = pd.to_numeric(_take(pinfo, pid, "area_mu"), errors="coerce")
    f["area_mu"] = f["area_mu"].where(
        f["area_mu"].notna(), pd.to_numeric(_take(einfo, uscc, "land_mu"), errors="coerce")
    )
    for col in (*_DATES, "land_price_wan", "investment_total_wan"):
        f[col] = _take(pinfo, pid, col)
    stage = f["stage"].astype(object)
    f["stage"] = stage.map({k: v[idx] for k, v in STAGE_LABELS.items()}).where(
        stage.isin(list(STAGE_LABELS)), stage
    )
    if public:
        hidden = confidential_finding_values(f)
        f["value"] = f["value"].astype(object).where(~hidden, None)
        f["evidence"] = f["evidence"].astype(object).where(~hidden, _PUBLIC_WITHHELD[lang])
    return f


def _finding_table(
    rows: pd.DataFrame, mask: pd.Series, spec: _SheetSpec, lang: str,
    geometry: gpd.GeoSeries | None, public: bool,
) -> ListTable:
    columns = [*_FINDING_HEAD, *spec.extra, _AS_OF]
    if public:
        columns = [c for c in columns if not is_confidential(c.name)]
    sel = rows[mask.to_numpy()].copy()
    order = {code: i for i, code in enumerate(spec.codes)}
    sel["code_order"] = sel["code"].map(order).fillna(len(order))
    sel["_pid_sort"] = sel["parcel_id"].fillna("")
    sort = ["_pid_sort" if k == "parcel_id" else k for k in spec.sort]
    sel = sel.sort_values([*sort, "finding_id"], kind="stable").reset_index(drop=True)
    geom = None
    if geometry is not None:
        geom = gpd.GeoSeries(
            sel["parcel_id"].map(geometry).to_numpy(), index=sel.index, crs=geometry.crs
        )
    return ListTable(spec.key, spec.zh if lang == "zh" else spec.en, columns, sel, geom)


def _remainder_table(
    remainders: pd.DataFrame | None, pinfo: pd.DataFrame, lang: str
) -> ListTable:
    columns = list(_REMAINDER_COLUMNS)
    sheet = "剩余未开发土地" if lang == "zh" else "Undeveloped land"
    if remainders is None or len(remainders) == 0:
        frame = pd.DataFrame({c.name: pd.Series(dtype=object) for c in columns})
        return ListTable("remainders", sheet, columns, frame, None)
    keep_index = remainders.index.name == "parcel_id" and "parcel_id" not in remainders
    rem = remainders.reset_index(drop=not keep_index)
    pid = _text_key(rem["parcel_id"]) if "parcel_id" in rem else pd.Series(None, index=rem.index)
    frame = pd.DataFrame(index=rem.index)
    frame["parcel_id"] = pid
    for col in ("supervision_no", "holder_name", "land_use"):
        frame[col] = _take(pinfo, pid, col)
    for col in ("area_m2", "area_mu"):
        frame[col] = pd.to_numeric(rem[col], errors="coerce") if col in rem else np.nan
    frame["parcel_area_mu"] = pd.to_numeric(_take(pinfo, pid, "area_mu"), errors="coerce")
    frame["_pid_sort"] = pid.fillna("")
    frame["_geom_pos"] = np.arange(len(frame))
    frame = frame.sort_values(["_pid_sort", "area_mu"], ascending=[True, False], kind="stable")
    frame["remainder_no"] = np.arange(1, len(frame) + 1)
    geom = None
    if isinstance(rem, gpd.GeoDataFrame) and _geometry_name(rem) is not None:
        values = rem.geometry.to_numpy()[frame["_geom_pos"].to_numpy()]
        geom = gpd.GeoSeries(values, crs=rem.crs)
    return ListTable("remainders", sheet, columns, frame.reset_index(drop=True), geom)


def _measure_column(name: str) -> Column | None:
    """Return the column of an enterprise measure, score part or year-on-year change."""
    if name in _MEASURES:
        zh, zu, en, eu, kind = _MEASURES[name]
        return Column(name, f"{zh}({zu})" if zu else zh, f"{en} ({eu})" if eu else en, kind)
    if name.startswith("pts_"):
        base = name[4:]
        zh, _, en, _, _ = _MEASURES.get(base, (base, "", base, "", ""))
        return Column(name, f"得分:{zh}", f"Points: {en}", "number")
    if name.endswith("_yoy"):
        base = name[:-4]
        zh, _, en, _, _ = _MEASURES.get(base, (base, "", base, "", ""))
        return Column(name, f"{zh}同比", f"{en}, year on year", "number")
    return None


def _enterprise_table(enterprises: pd.DataFrame | None, lang: str, public: bool) -> ListTable:
    sheet = "企业评价" if lang == "zh" else "Enterprise grades"
    frame = pd.DataFrame(enterprises) if enterprises is not None else pd.DataFrame()
    if "year" in frame and frame["year"].nunique() > 1:
        frame = frame[frame["year"] == frame["year"].max()]
    names = list(frame.columns)
    measure_names = [n for n in _MEASURES if n in names]
    pts = [n for n in names if n.startswith("pts_")]
    yoy = [n for n in names if n.endswith("_yoy")]
    score_cols = [_measure_column(n) for n in ("score", *pts) if n in names]
    figure_cols = [_measure_column(n) for n in (*measure_names, *yoy) if n != "score"]
    always = ("uscc", "name", "grade")
    columns = [c for c in _ENTERPRISE_HEAD if c.name in names or c.name in always]
    columns += [c for c in (*score_cols, *figure_cols) if c is not None]
    if public:
        columns = [c for c in columns if not is_confidential(c.name)]
    out = frame.reset_index(drop=True).copy()
    for col in columns:
        if col.name not in out:
            out[col.name] = None
    idx = 0 if lang == "zh" else 1
    if "role" in out:
        role = out["role"].astype(object)
        out["role"] = role.map({k: v[idx] for k, v in _ROLE_LABELS.items()}).where(
            role.isin(list(_ROLE_LABELS)), role
        )
    out["_grade_sort"] = out["grade"].map(_GRADE_ORDER).fillna(len(_GRADE_ORDER))
    keys, asc = ["_grade_sort"], [True]
    if "score" in out:
        out["_score_sort"] = pd.to_numeric(out["score"], errors="coerce")
        keys, asc = [*keys, "_score_sort"], [*asc, False]
    out = out.sort_values(keys, ascending=asc, kind="stable", na_position="last")
    return ListTable("enterprise_grades", sheet, columns, out.reset_index(drop=True), None)


def list_tables(
    findings: pd.DataFrame | None,
    parcels: pd.DataFrame | None,
    enterprises: pd.DataFrame | None,
    remainders: pd.DataFrame | None,
    *,
    lang: str = "zh",
    public: bool = False,
) -> list[ListTable]:
    """Return the lists in sheet order: the finding sheets, remainders, enterprise grades.

    A finding is on exactly one of 闲置土地, 疑似闲置, 项目监管 and 低效用地 by its code,
    except that a finding of category 低效 (e.g. more than 2 years overdue) is also listed on
    低效用地. Codes no sheet lists go to 其他问题 (written only when there are any); GRADE_D
    and UNDEVELOPED_REMAINDER are shown on 企业评价 and 剩余未开发土地.

    Parameters
    ----------
    findings, parcels, enterprises, remainders
        ``result.findings``, ``result.parcels``, ``result.enterprises``, ``result.remainders``
        (see docs/architecture.md); None stands for an empty table.
    lang : {"zh", "en"}
        Language of sheet names, headers and labels.
    public : bool
        Drop every confidential column and measured value
        (see :func:`landeff.outputs.is_confidential`).
    """
    _check_lang(lang)
    data = _empty_findings() if findings is None else findings
    rows = _finding_rows(data, parcels, enterprises, lang, public)
    geometry = _parcel_geometry(parcels)
    tables = []
    listed: set[str] = set(_SHOWN_ELSEWHERE)
    for spec in _FINDING_SHEETS:
        mask = rows["code"].isin(spec.codes)
        if spec.key == "low_efficiency":
            by_category = rows["category"].isin(_LOW_EFFICIENCY_CATEGORIES)
            mask |= by_category & ~rows["code"].isin(_SHOWN_ELSEWHERE)
        listed.update(spec.codes)
        tables.append(_finding_table(rows, mask, spec, lang, geometry, public))
    tables.append(_remainder_table(remainders, _parcel_info(parcels), lang))
    tables.append(_enterprise_table(enterprises, lang, public))
    other = ~rows["code"].isin(listed)
    if other.any():
        tables.append(_finding_table(rows, other, _OTHER_SHEET, lang, geometry, public))
    return tables


# -------------------------------------------------------------------------------------------------
# Cell values, widths and the workbook


def _text_values(values: pd.Series) -> pd.Series:
    """Return text cells: str, lists joined with ';', illegal XML characters replaced, capped."""
    obj = values.astype(object)
    if pd.api.types.infer_dtype(obj, skipna=True) in ("string", "empty"):
        text = obj.where(obj.notna(), None)
    else:
        missing = obj.map(_missing_scalar).astype(bool)
        text = obj.map(_as_text).where(~missing, None)
    present = text.notna()
    if present.any():
        cleaned = text[present].astype(str).str.replace(_ILLEGAL_XML, "\ufffd", regex=True)
        text = text.copy()
        text[present] = cleaned.str.slice(0, _MAX_CELL_CHARS).to_numpy(dtype=object)
    return text


def _is_sequence(value: object) -> bool:
    return isinstance(value, list | tuple | np.ndarray)


def _missing_scalar(value: Any) -> bool:
    if _is_sequence(value):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _as_text(value: Any) -> object:
    if _is_sequence(value):
        return ";".join(str(v) for v in value)
    if isinstance(value, bool | np.bool_):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _cell_values(values: pd.Series, kind: str, lang: str) -> pd.Series:
    """Return the values of one column as Python objects for openpyxl (None = empty)."""
    if kind == "date":
        if pd.api.types.is_datetime64_any_dtype(values):
            dates = values.dt.tz_localize(None) if values.dt.tz is not None else values
            out = pd.Series(dates.dt.date.to_numpy(dtype=object), index=values.index)
            return out.where(dates.notna(), None)
        return _text_values(values)
    if kind in ("mu", "m2", "money", "number", "ratio", "percent", "int"):
        if pd.api.types.is_bool_dtype(values):
            return _bool_text(values, lang)
        if pd.api.types.is_numeric_dtype(values):
            num = values.astype(float)
            obj = num.astype(object).where(np.isfinite(num), None)
            if kind == "int":
                obj = obj.map(int, na_action="ignore")
            return obj
        numeric = pd.to_numeric(values, errors="coerce")
        text = _text_values(values)
        return numeric.astype(object).where(numeric.notna() & np.isfinite(numeric), text)
    if pd.api.types.is_bool_dtype(values):
        return _bool_text(values, lang)
    return _text_values(values)


def _bool_text(values: pd.Series, lang: str) -> pd.Series:
    yes, no = ("是", "否") if lang == "zh" else ("yes", "no")
    obj = values.astype(object)
    return obj.map(lambda v: yes if v else no, na_action="ignore").where(obj.notna(), None)


def _display_width(values: pd.Series) -> pd.Series:
    """Return the display width of text: CJK and full-width characters count double."""
    text = values.astype(str)
    wide: pd.Series = text.str.count(_WIDE.pattern)
    return text.str.len().add(wide)


def _column_width(header: str, cells: pd.Series, kind: str) -> float:
    head = int(_display_width(pd.Series([header])).iloc[0])
    if kind == "date":
        body = 10
    elif len(cells) == 0 or cells.isna().all():
        body = 0
    elif kind in ("mu", "m2", "money", "number", "ratio", "percent", "int"):
        num = pd.to_numeric(cells, errors="coerce")
        body = len(f"{float(num.abs().max()) if num.notna().any() else 0.0:,.2f}") + 1
        text = cells[num.isna() & cells.notna()]
        if len(text):
            body = max(body, int(_display_width(text).max()))
    else:
        body = int(_display_width(cells.dropna()).max())
    cap = 60 if kind == "text" else 30
    return float(min(max(head, body, 6) + 2, cap))


def _column_letter(n: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(n)


def _write_sheet(wb: object, table: ListTable, lang: str) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    ws = wb.create_sheet(table.sheet)  # type: ignore[attr-defined]
    headers = [c.header(lang) for c in table.columns]
    cells = [_cell_values(table.frame[c.name], c.kind, lang) for c in table.columns]
    for j, (col, values) in enumerate(zip(table.columns, cells, strict=True), start=1):
        width = _column_width(headers[j - 1], values, col.kind)
        ws.column_dimensions[_column_letter(j)].width = width
    ws.freeze_panes = "A2"
    last = _column_letter(len(headers))
    ws.auto_filter.ref = f"A1:{last}{len(table.frame) + 1}"
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    wrap = Alignment(wrap_text=True, vertical="center", horizontal="center")
    border = Border(bottom=Side(style="thin"))
    head_row = []
    for text in headers:
        cell = WriteOnlyCell(ws, value=text)
        cell.data_type = "s"
        cell.font, cell.fill, cell.alignment, cell.border = bold, fill, wrap, border
        head_row.append(cell)
    ws.append(head_row)
    formats = [_FORMATS[c.kind] for c in table.columns]
    columns = [v.tolist() for v in cells]
    for row in zip(*columns, strict=True):
        out: list[object] = []
        for value, fmt in zip(row, formats, strict=True):
            if value is None or (
                isinstance(value, str) and fmt is None and not value.startswith(_RISKY_TEXT)
            ):
                out.append(value)  # plain text openpyxl stores as a string anyway (faster)
                continue
            cell = WriteOnlyCell(ws, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text, never a formula or an error value
                if value.startswith(FORMULA_PREFIXES):
                    cell.quotePrefix = True  # Excel keeps it text even when the cell is edited
                if fmt == "@":
                    cell.number_format = fmt
            elif fmt is not None and fmt != "@":
                cell.number_format = fmt
            out.append(cell)
        ws.append(out)


def _write_workbook(path: Path, tables: Sequence[ListTable], lang: str) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    for table in tables:
        _write_sheet(wb, table, lang)
    wb.save(path)


def write_idle_land_xlsx(
    path: str | os.PathLike[str],
    findings: pd.DataFrame | None,
    parcels: pd.DataFrame | None,
    enterprises: pd.DataFrame | None,
    remainders: pd.DataFrame | None,
    *,
    lang: str = "zh",
    public: bool = False,
) -> Path:
    """Write the idle-land workbook, atomically.

    Sheets 闲置土地, 疑似闲置, 项目监管, 低效用地, 剩余未开发土地, 企业评价 (and 其他问题 when
    a code fits none of them): Chinese headers with units, a frozen header row, filters, number
    formats (亩 ``0.00``, money ``#,##0.00``) and column widths that count CJK characters
    double. Every text is a text cell, never a formula.

    Parameters
    ----------
    path : path-like
        The ``.xlsx`` file to write.
    findings, parcels, enterprises, remainders
        The frames of :class:`landeff.pipeline.Result` (see docs/architecture.md).
    lang : {"zh", "en"}
        Language of sheet names, headers and labels.
    public : bool
        Leave out enterprise figures and everything derived from them.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib, openpyxl
    >>> f = pd.DataFrame({"finding_id": ["F1"], "parcel_id": ["P1"], "code": ["LOW_FAR"],
    ...                   "value": [0.4], "threshold": [0.7], "unit": [""]})
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "idle_land.xlsx"
    >>> _ = write_idle_land_xlsx(p, f, None, None, None)
    >>> openpyxl.load_workbook(p).sheetnames[:4]
    ['闲置土地', '疑似闲置', '项目监管', '低效用地']
    """
    tables = list_tables(findings, parcels, enterprises, remainders, lang=lang, public=public)
    with atomic_path(path) as tmp:
        _write_workbook(tmp, tables, lang)
    return Path(path)


def _csv_frame(table: ListTable, lang: str) -> pd.DataFrame:
    """Return the table with headers of ``lang`` and the cell values the workbook shows."""
    data = {
        c.header(lang): _cell_values(table.frame[c.name], c.kind, lang).to_numpy(dtype=object)
        for c in table.columns
    }
    out = pd.DataFrame(data, index=table.frame.index)
    for c in table.columns:
        if c.kind in ("mu", "m2", "money", "number", "ratio", "percent", "int"):
            col = out[c.header(lang)]
            numeric = pd.to_numeric(col, errors="coerce")
            if bool((numeric.notna() | col.isna()).all()):
                out[c.header(lang)] = numeric.astype("Int64") if c.kind == "int" else numeric
    return out


def _gpkg_layer(table: ListTable, lang: str) -> pd.DataFrame:
    frame = _csv_frame(table, lang)
    for c in table.columns:
        if c.kind == "date":
            frame[c.header(lang)] = pd.to_datetime(frame[c.header(lang)], errors="coerce")
    if table.geometry is None:
        return frame
    return gpd.GeoDataFrame(frame, geometry=table.geometry.to_numpy(), crs=table.geometry.crs)


def write_lists(
    directory: str | os.PathLike[str],
    findings: pd.DataFrame | None,
    parcels: pd.DataFrame | None,
    enterprises: pd.DataFrame | None,
    remainders: pd.DataFrame | None,
    *,
    lang: str = "zh",
    public: bool = False,
) -> dict[str, Path]:
    """Write the lists as a workbook, CSV files and GeoPackage layers, all or nothing.

    Files: ``idle_land.xlsx``, ``idle_land.csv``, ``suspected_idle.csv``, ``supervision.csv``,
    ``low_efficiency.csv``, ``remainders.csv``, ``enterprise_grades.csv`` (``other_findings.csv``
    when needed) and ``idle_land.gpkg`` with one layer per list, named like the CSV files; in
    public mode every name ends in ``_public`` (``idle_land_public.xlsx``...). The CSV files are
    UTF-8 with a BOM and carry the formula guard of :func:`landeff.io.write.write_csv`.

    Parameters
    ----------
    directory : path-like
        Output folder.
    findings, parcels, enterprises, remainders, lang, public
        As in :func:`write_idle_land_xlsx`.

    Returns
    -------
    dict of str to Path
        ``{list key or "xlsx"/"gpkg": path written}``.
    """
    tables = list_tables(findings, parcels, enterprises, remainders, lang=lang, public=public)
    suffix = "_public" if public else ""
    writers: dict[str, Callable[[Path], object]] = {}
    keys: dict[str, str] = {}
    name = f"idle_land{suffix}.xlsx"
    writers[name] = lambda p: _write_workbook(p, tables, lang)
    keys["xlsx"] = name
    for table in tables:
        name = f"{table.key}{suffix}.csv"
        writers[name] = _csv_writer(table, lang)
        keys[table.key] = name
    name = f"idle_land{suffix}.gpkg"
    layers = {t.key: _gpkg_layer(t, lang) for t in tables}
    writers[name] = lambda p: write_gpkg_layers(p, layers)
    keys["gpkg"] = name
    written = write_outputs(directory, writers)
    by_name = {p.name: p for p in written}
    return {key: by_name[name] for key, name in keys.items()}


def _csv_writer(table: ListTable, lang: str) -> Callable[[Path], Path]:
    frame = _csv_frame(table, lang)
    return lambda p: write_csv(frame, p)
