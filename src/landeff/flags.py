"""Findings: idle land, contract supervision, low efficiency, enterprises, remainders.

:func:`find` applies every rule of docs/findings.md to measured parcels (or to a contracts table
with no geometry) and returns one row per finding, each with its reason code, the rule's source, the
measured value, the threshold, the unit and a Chinese evidence sentence a planner can read out in a
meeting. Periods are calendar periods (:mod:`landeff.periods`); ``as_of`` is inclusive.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from .crs import M2_PER_MU, area_zones, project_by_zone
from .errors import Diagnostics, PolicyError
from .periods import add_years, full_years_elapsed
from .policy import FLAG_THRESHOLDS, Threshold

CATEGORY_IDLE = "闲置土地"
CATEGORY_SUSPECTED = "疑似闲置"
CATEGORY_SUPERVISION = "项目监管"
CATEGORY_LOW = "低效用地"
CATEGORY_ENTERPRISE = "企业"


@dataclass(frozen=True)
class Code:
    """One reason code: its default category and its labels."""

    code: str
    category: str
    label_zh: str
    label_en: str


#: Every reason code, in report order.
CODES: Mapping[str, Code] = MappingProxyType(
    {
        c.code: c
        for c in (
            Code("IDLE_NOT_STARTED", CATEGORY_IDLE, "闲置土地（未动工）", "Idle land: not started"),
            Code(
                "IDLE_STALLED",
                CATEGORY_IDLE,
                "闲置土地（中止开发）",
                "Idle land: development stalled",
            ),
            Code(
                "IDLE_SUSPECTED",
                CATEGORY_SUSPECTED,
                "疑似闲置（仅凭图形）",
                "Suspected idle land (geometry only)",
            ),
            Code(
                "GOV_CAUSE",
                CATEGORY_IDLE,
                "政府原因造成闲置（第八条）",
                "Idle through government cause (article 8)",
            ),
            Code("OVERDUE_START", CATEGORY_SUPERVISION, "签约逾期未动工", "Start overdue"),
            Code("OVERDUE_COMPLETION", CATEGORY_SUPERVISION, "逾期未竣工", "Completion overdue"),
            Code(
                "INVESTMENT_SHORTFALL",
                CATEGORY_SUPERVISION,
                "投资未达约定",
                "Investment below the contract",
            ),
            Code(
                "BELOW_COMMITMENT",
                CATEGORY_SUPERVISION,
                "投产后效益未达承诺",
                "In production, below the committed per-mu figure",
            ),
            Code("LOW_FAR", CATEGORY_LOW, "容积率偏低", "FAR below the minimum"),
            Code(
                "LOW_COVERAGE", CATEGORY_LOW, "建筑系数偏低", "Building coverage below the minimum"
            ),
            Code("LOW_TAX", CATEGORY_LOW, "亩均税收偏低", "Tax per mu below the park threshold"),
            Code(
                "VACANT_BUILDING",
                CATEGORY_LOW,
                "闲置厂房",
                "Buildings without an active enterprise",
            ),
            Code("UNDEVELOPED_REMAINDER", CATEGORY_LOW, "剩余未开发土地", "Undeveloped remainder"),
            Code("STOPPED", CATEGORY_ENTERPRISE, "停产或半停产", "Stopped or half-stopped"),
            Code(
                "ZOMBIE",
                CATEGORY_ENTERPRISE,
                "僵尸企业（连续停产）",
                "Zombie enterprise (stopped in consecutive years)",
            ),
            Code("GRADE_D", CATEGORY_ENTERPRISE, "综合评价D类", "Graded D"),
        )
    }
)

#: Columns of :attr:`Findings.findings`, in order.
FINDING_COLUMNS = [
    "finding_id",
    "level",
    "parcel_id",
    "supervision_no",
    "uscc",
    "code",
    "category",
    "label_zh",
    "label_en",
    "source",
    "value",
    "threshold",
    "unit",
    "stage",
    "fee_wan",
    "evidence",
    "as_of",
]
#: Columns of :attr:`Findings.remainders` (besides the geometry).
REMAINDER_COLUMNS = ["parcel_id", "area_m2", "area_mu"]
#: Keys :func:`find` reads from ``thresholds``.
THRESHOLD_KEYS = FLAG_THRESHOLDS
#: Geometry operations on at least this many geometries run in threads (see :func:`_in_threads`).
PARALLEL_MIN_GEOMETRIES = 2000
#: Share of the land price charged as the idle-land fee (闲置土地处置办法 article 14).
IDLE_FEE_SHARE = 0.20

SOURCE_IDLE = "闲置土地处置办法（国土资源部令第53号）第二条、第十四条；城市房地产管理法第二十六条"
SOURCE_STALLED = "闲置土地处置办法（国土资源部令第53号）第二条、第十四条、第三十条"
SOURCE_SUSPECTED = "闲置土地处置办法第二条（疑似：仅有图形证据，不作认定）"
SOURCE_GOV = "闲置土地处置办法（国土资源部令第53号）第八条"
SOURCE_CONTRACT_START = "国有建设用地使用权出让合同（约定动工开发日期）"
SOURCE_CONTRACT_COMPLETION = "国有建设用地使用权出让合同（约定竣工日期）"
SOURCE_CONTRACT_INVESTMENT = "国有建设用地使用权出让合同（约定投资总额）"
SOURCE_CONTRACT_COMMITMENT = "出让合同或投资协议（承诺亩均效益）"
SOURCE_CONTRACT_FAR = "国有建设用地使用权出让合同（约定容积率下限）"
SOURCE_VACANT = "园区闲置厂房清理（有建筑、无生产经营活动的企业）"
NO_GEOMETRY_NOTE = (
    "（无宗地图形和建筑数据：容积率、建筑系数、亩均税收、闲置厂房、剩余未开发土地"
    "等按图形的规则未检查）"
)

_SPLIT_IDS = re.compile(r"[;,，；、]\s*")


@dataclass
class Findings:
    """What :func:`find` returns.

    Attributes
    ----------
    findings : DataFrame
        One row per finding with :data:`FINDING_COLUMNS`.
    remainders : GeoDataFrame
        Undeveloped remainder pieces (``parcel_id, area_m2, area_mu, geometry``), in the
        parcels' CRS.
    per_parcel : DataFrame
        Indexed like the parcels: ``flags`` (the parcel's codes and those of the enterprises on it,
        sorted, ';'-joined, ``""`` when none), ``idle_stage`` (``fee``, ``reclaim``, ``article8``,
        ``suspected`` or missing) and ``idle_fee_wan``.
    per_enterprise : DataFrame
        Indexed by ``uscc`` (or the name where the code is missing): ``flags``.
    """

    findings: pd.DataFrame
    remainders: gpd.GeoDataFrame
    per_parcel: pd.DataFrame
    per_enterprise: pd.DataFrame

    def counts(self) -> pd.Series:
        """Return the number of findings per code, in :data:`CODES` order (zeros left out)."""
        counts = self.findings["code"].value_counts()
        order = [c for c in CODES if c in counts.index]
        return counts.reindex(order).astype("int64")


# --------------------------------------------------------------------------------------------------
# small vectorised helpers


#: Takes a full-length Series and returns the rows being reported (see :func:`_rows`).
Sub = Callable[[pd.Series], pd.Series]


def _fmt(values: pd.Series, digits: int = 2) -> pd.Series:
    """Return numbers as text, rounded, without a trailing ``.0`` (missing -> ``—``)."""
    text = pd.to_numeric(values, errors="coerce").astype(float).round(digits).astype("str")
    return text.str.replace(r"\.0+$", "", regex=True).fillna("—")


def _pct(values: pd.Series, digits: int = 1) -> pd.Series:
    return _fmt(values * 100.0, digits) + "%"


def _day(values: pd.Series) -> pd.Series:
    return values.dt.strftime("%Y-%m-%d").fillna("—")


def _pick(mask: pd.Series, yes: str, no: str) -> pd.Series:
    """Return ``yes`` where ``mask`` holds, else ``no``, as text."""
    return pd.Series(np.where(mask.to_numpy(dtype=bool), yes, no), index=mask.index, dtype="str")


def _no_text(index: pd.Index) -> pd.Series:
    """Return a text Series of missing values."""
    return pd.Series(np.nan, index=index, dtype="str")


def _where(mask: pd.Series, text: str | pd.Series) -> pd.Series:
    """Return ``text`` where ``mask`` holds, else an empty string."""
    if isinstance(text, str):
        text = pd.Series(text, index=mask.index, dtype="str")
    return text.where(mask, "").fillna("")


def _th(thresholds: Mapping[str, Threshold], key: str) -> float | None:
    value = thresholds[key].value
    return None if value is None else float(value)


def _check_thresholds(thresholds: Mapping[str, Any]) -> None:
    missing = [k for k in THRESHOLD_KEYS if k not in thresholds]
    wrong = [
        k for k in THRESHOLD_KEYS if k in thresholds and not isinstance(thresholds[k], Threshold)
    ]
    problems = []
    if missing:
        problems.append(f"missing key(s) {', '.join(missing)}")
    if wrong:
        problems.append(f"key(s) {', '.join(wrong)} are not landeff.policy.Threshold objects")
    required_on = [
        k
        for k in THRESHOLD_KEYS
        if k != "low_tax_wan_per_mu"
        and k in thresholds
        and isinstance(thresholds[k], Threshold)
        and thresholds[k].value is None
    ]
    if required_on:
        problems.append(
            f"key(s) {', '.join(required_on)} have no value (only low_tax_wan_per_mu may)"
        )
    if problems:
        msg = (
            "flags.find(thresholds=...): " + "; ".join(problems) + ". Pass the policy's thresholds "
            f"(keys: {', '.join(THRESHOLD_KEYS)}), each a Threshold(value, unit, source)."
        )
        raise PolicyError(msg)


def _as_of(value: Any) -> pd.Timestamp:
    if value is None:
        msg = "flags.find(as_of=...): give the evaluation date, e.g. as_of='2025-06-30'"
        raise ValueError(msg)
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts.normalize().as_unit("ns")


def _split_ids(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    return [v for v in _SPLIT_IDS.split(str(value).strip()) if v]


def _split_all(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return the ids of every row, flat: row positions and ids, as ``values.map(_split_ids)``.

    A text without a separator is stripped in place; only texts with one are split.
    """
    dtype = values.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.na_value is np.nan):
        lists = values.map(_split_ids).tolist()
        counts = np.fromiter((len(x) for x in lists), dtype="int64", count=len(lists))
        ids = np.empty(int(counts.sum()), dtype=object)
        ids[:] = [i for x in lists for i in x]
        return np.repeat(np.arange(len(lists)), counts), ids
    text = values.to_numpy(dtype=object, na_value=None)
    split = values.str.contains(_SPLIT_IDS.pattern, regex=True).fillna(False).to_numpy(dtype=bool)
    one = np.flatnonzero(pd.notna(values).to_numpy() & ~split)
    one_ids = np.array([t.strip() for t in text[one]] + [None], dtype=object)[:-1]
    keep = one_ids != ""
    many = np.flatnonzero(split)
    many_lists = [_split_ids(t) for t in text[many]]
    counts = np.fromiter((len(x) for x in many_lists), dtype="int64", count=len(many_lists))
    many_ids = np.array([i for x in many_lists for i in x] + [None], dtype=object)[:-1]
    pos = np.concatenate([one[keep], np.repeat(many, counts)])
    ids = np.concatenate([one_ids[keep], many_ids])
    order = np.argsort(pos, kind="stable")
    return pos[order], ids[order]


def _joined_ids(values: pd.Series) -> pd.Series:
    """Return each row's ids (:func:`_split_ids`) joined by ';' (missing where it has none)."""
    rows, ids = _split_all(values)  # rows ascending
    text = np.full(len(values), None, dtype=object)
    counts = np.bincount(rows, minlength=len(values))
    one = np.flatnonzero(counts == 1)
    text[one] = ids[np.searchsorted(rows, one)]
    several = np.flatnonzero(counts > 1)
    starts = np.searchsorted(rows, several)
    text[several] = [";".join(ids[a : a + k]) for a, k in zip(starts, counts[several], strict=True)]
    return pd.Series(text, index=values.index, dtype="str")


# --------------------------------------------------------------------------------------------------
# the prepared inputs


@dataclass
class _Parcels:
    """The parcels (or contracts) frame; columns the rules read that it lacks come as NaN/NaT."""

    frame: pd.DataFrame
    as_of: pd.Timestamp
    key: pd.Series
    parcel_id: pd.Series
    has_geometry: bool
    building_info: bool
    n_buildings: pd.Series
    n_active: pd.Series | None
    _texts: dict[str, pd.Series] = field(default_factory=dict)

    def num(self, name: str) -> pd.Series:
        if name in self.frame:
            return pd.to_numeric(self.frame[name], errors="coerce").astype(float)
        return pd.Series(np.nan, index=self.frame.index)

    def date(self, name: str) -> pd.Series:
        if name in self.frame:
            values = pd.to_datetime(self.frame[name], errors="coerce")
            if getattr(values.dt, "tz", None) is not None:
                values = values.dt.tz_localize(None)
            return values.dt.normalize().astype("datetime64[ns]")
        return pd.Series(pd.NaT, index=self.frame.index, dtype="datetime64[ns]")

    def text(self, name: str) -> pd.Series:
        if name not in self._texts:
            self._texts[name] = self._text(name)
        return self._texts[name]

    def _text(self, name: str) -> pd.Series:
        if name not in self.frame and self.frame.index.name == name:
            values = pd.Series(self.frame.index.astype("str"), index=self.frame.index, dtype="str")
            return values.where(values.str.strip() != "")
        if name in self.frame:
            values = self.frame[name].astype("str").str.strip()
            return values.where(self.frame[name].notna() & (values != ""))
        return _no_text(self.frame.index)

    def flag(self, name: str) -> pd.Series:
        if name not in self.frame:
            return pd.Series(False, index=self.frame.index)
        values = self.frame[name]
        if pd.api.types.is_bool_dtype(values.dtype):
            return values.fillna(False).astype(bool)
        text = values.astype("str").str.strip().str.lower()
        return text.isin(["是", "true", "1", "1.0", "y", "yes", "t"]).fillna(False).astype(bool)

    def has(self, name: str) -> bool:
        return name in self.frame.columns


def _prepare(
    parcels: pd.DataFrame,
    buildings: gpd.GeoDataFrame | None,
    enterprises: pd.DataFrame | None,
    stopped: pd.Series | None,
    as_of: pd.Timestamp,
) -> _Parcels:
    frame = parcels
    index = frame.index
    if "parcel_id" in frame.columns:
        parcel_id = frame["parcel_id"].astype("str")
    elif index.name == "parcel_id":
        parcel_id = pd.Series(index.astype("str"), index=index, dtype="str")
    else:
        parcel_id = _no_text(index)
    key = parcel_id.copy()
    if "supervision_no" in frame.columns:
        key = key.fillna(frame["supervision_no"].astype("str"))
    elif index.name == "supervision_no":
        key = key.fillna(pd.Series(index.astype("str"), index=index, dtype="str"))
    key = key.fillna(pd.Series(index.astype("str"), index=index, dtype="str"))
    has_geometry = (
        isinstance(frame, gpd.GeoDataFrame)
        and frame._geometry_column_name in frame.columns
        and bool((frame.geometry.notna() & ~frame.geometry.is_empty).any())
    )
    if "n_buildings" in frame.columns:
        n_buildings = pd.to_numeric(frame["n_buildings"], errors="coerce").fillna(0.0)
        building_info = True
    elif buildings is not None and "parcel_id" in buildings.columns:
        counts = buildings["parcel_id"].astype("str").value_counts()
        n_buildings = parcel_id.map(counts).astype(float).fillna(0.0)
        building_info = True
    else:
        n_buildings = pd.Series(0.0, index=index)
        building_info = False
    n_active: pd.Series | None
    if "n_active" in frame.columns:
        n_active = pd.to_numeric(frame["n_active"], errors="coerce").fillna(0.0)
    elif enterprises is not None and stopped is not None and "parcel_ids" in enterprises.columns:
        rows, ids = _split_all(enterprises["parcel_ids"])
        active = (~stopped).to_numpy(dtype=bool)[rows]
        per_parcel = pd.Series(ids[active], dtype=object).value_counts()
        n_active = parcel_id.map(per_parcel).astype(float).fillna(0.0)
    else:
        n_active = None
    return _Parcels(
        frame, as_of, key, parcel_id, has_geometry, building_info, n_buildings, n_active
    )


# --------------------------------------------------------------------------------------------------
# row building


def _rows(mask: pd.Series, code: str, p: _Parcels | None = None, **fields: Any) -> pd.DataFrame:
    """Return the finding rows where ``mask`` holds.

    Each field is a scalar, a Series aligned with ``mask``, or a callable taking a subsetting
    function ``s`` (full Series -> the reported rows) and returning the field for those rows only;
    evidence text is built that way, so it is only formatted for the rows that are reported.
    """
    keep = mask.fillna(False).astype(bool).to_numpy()
    positions = np.flatnonzero(keep)

    def sub(series: pd.Series) -> pd.Series:
        return series.iloc[positions]

    data: dict[str, Any] = {"code": code}
    if p is not None:
        data.update(
            level="parcel",
            _pos=pd.Series(np.arange(len(keep)), index=mask.index),
            key=p.key,
            parcel_id=p.parcel_id,
            supervision_no=p.text("supervision_no"),
            uscc=p.text("holder_uscc"),
        )
    data.update(fields)
    n = len(positions)
    columns: dict[str, Any] = {}
    for name, value in data.items():
        if callable(value):
            value = value(sub)
        elif isinstance(value, pd.Series):
            value = sub(value)
        columns[name] = (
            value.reset_index(drop=True)
            if isinstance(value, pd.Series)
            else np.full(n, value, dtype=object)
        )
    return pd.DataFrame(columns, index=pd.RangeIndex(n))


# --------------------------------------------------------------------------------------------------
# parcel rules


def _state(p: _Parcels) -> dict[str, pd.Series]:
    """Return the started / completed / in-use state of every parcel as of ``p.as_of``."""
    as_of = p.as_of
    actual_start = p.date("actual_start")
    actual_completion = p.date("actual_completion")
    agreed_completion = p.date("agreed_completion")
    completed = actual_completion.notna() & (actual_completion <= as_of)
    recorded_start = actual_start.notna() & (actual_start <= as_of)
    built = p.n_buildings > 0
    from_buildings = actual_start.isna() & ~completed & built
    started = recorded_start | completed | from_buildings
    active = p.n_active > 0 if p.n_active is not None else pd.Series(False, index=p.frame.index)
    in_use = active | completed | (agreed_completion.notna() & (agreed_completion < as_of))
    return {
        "completed": completed,
        "started": started,
        "from_buildings": from_buildings,
        "built": built,
        "active": active,
        "in_use": in_use,
    }


def _stage_fee(years: pd.Series, price: pd.Series, gov: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return the idle stage and the fee from full idle years (≥ 1)."""
    reclaim = (years >= 2).fillna(False).astype(bool)
    stage = _pick(reclaim, "reclaim", "fee").where(~gov, "article8")
    fee = (price * IDLE_FEE_SHARE).where(stage == "fee")
    return stage, fee


def _stage_sentence(stage: pd.Series, fee: pd.Series, price: pd.Series) -> pd.Series:
    """Return the sentence that states the stage and the fee (for the reported rows)."""
    is_fee = stage == "fee"
    return (
        _where(is_fee, "；满 1 年：征缴土地闲置费（土地价款的 20%）")
        + _where(is_fee & fee.notna(), "：" + _fmt(price) + " 万元 × 20% = " + _fmt(fee) + " 万元")
        + _where(is_fee & fee.isna(), "，土地价款未知，闲置费未计算")
        + _where(stage == "reclaim", "；满 2 年：可无偿收回国有建设用地使用权")
        + _where(
            stage == "article8",
            "；属政府原因（第八条）：不征缴闲置费、不无偿收回，列入清单并注明原因",
        )
    )


def _idle(
    p: _Parcels,
    state: dict[str, pd.Series],
    includes_land_price: bool,
    diag: Diagnostics,
) -> tuple[list[pd.DataFrame], pd.Series, pd.Series]:
    """Return the rows of IDLE_*, GOV_CAUSE and OVERDUE_START, and the idle stage and fee."""
    as_of, index = p.as_of, p.frame.index
    as_of_text = as_of.strftime("%Y-%m-%d")
    agreed_start = p.date("agreed_start")
    actual_start = p.date("actual_start")
    price = p.num("land_price_wan")
    gov = p.flag("gov_cause")
    started, completed = state["started"], state["completed"]
    out: list[pd.DataFrame] = []
    idle_stage = _no_text(index)
    idle_fee = pd.Series(np.nan, index=index)

    # not started
    years = full_years_elapsed(agreed_start, as_of)
    future_start = actual_start.notna() & (actual_start > as_of)
    not_started = ~started & agreed_start.notna()
    idle_ns = not_started & (years >= 1).fillna(False).astype(bool)
    stage, fee = _stage_fee(years.astype(float), price, gov)

    def idle_evidence(s: Sub) -> pd.Series:
        return (
            "约定开工 "
            + _day(s(agreed_start))
            + "，截至 "
            + as_of_text
            + " 未开工，已满 "
            + s(years).astype("str").fillna("—")
            + " 年"
            + _where(s(future_start), "（实际开工 " + _day(s(actual_start)) + " 在评价日之后）")
            + _stage_sentence(s(stage), s(fee), s(price))
        )

    out.append(
        _rows(
            idle_ns,
            "IDLE_NOT_STARTED",
            p,
            source=SOURCE_IDLE,
            value=years.astype(float),
            threshold=1.0,
            unit="年",
            stage=stage,
            fee_wan=fee,
            evidence=idle_evidence,
        )
    )
    idle_stage = idle_stage.where(~idle_ns, stage)
    idle_fee = idle_fee.where(~idle_ns, fee)

    overdue = not_started & (agreed_start < as_of) & (years < 1).fillna(False).astype(bool)
    days = (as_of - agreed_start).dt.days

    def overdue_evidence(s: Sub) -> pd.Series:
        return (
            "约定开工 "
            + _day(s(agreed_start))
            + "，截至 "
            + as_of_text
            + " 未开工，逾期 "
            + _fmt(s(days))
            + " 天，未满 1 年（"
            + _day(add_years(s(agreed_start), 1))
            + " 起满 1 年，认定为闲置土地）"
            + _where(s(future_start), "；实际开工 " + _day(s(actual_start)) + " 在评价日之后")
            + _where(s(gov), "；标注政府原因（第八条）")
        )

    out.append(
        _rows(
            overdue,
            "OVERDUE_START",
            p,
            source=SOURCE_CONTRACT_START + "；" + SOURCE_IDLE,
            value=days.astype(float),
            threshold=0.0,
            unit="天",
            evidence=overdue_evidence,
        )
    )
    if state["from_buildings"].any():
        _warn_parcels(
            diag,
            p,
            state["from_buildings"] & agreed_start.notna() & (agreed_start < as_of),
            "start_from_buildings",
            "no actual start date (实际开工时间) is recorded but buildings stand on the "
            "parcel: counted as started, so the idle-land test was not applied; record "
            "the start date to confirm",
            column="actual_start",
        )

    # stalled (started, suspended for a full year, < 1/3 developed or < 25 % invested)
    suspended = p.date("suspended_since")
    susp_years = full_years_elapsed(suspended, as_of)
    area = p.num("recorded_area_m2")
    area_source = _pick(area.notna(), "出让面积", "宗地面积")
    area = area.fillna(p.num("area_m2"))
    developed = p.num("developed_area_m2")
    total = p.num("investment_total_wan")
    done = p.num("investment_done_wan")
    if includes_land_price:
        netted = price.notna()
        total_net = (total - price).fillna(total)
        done_net = (done - price).fillna(done)
    else:
        netted = pd.Series(False, index=index)
        total_net, done_net = total, done
    dev_known = developed.notna() & area.notna() & (area > 0)
    inv_known = done_net.notna() & total_net.notna() & (total_net > 0)
    dev_low = dev_known & (3.0 * developed < area)
    inv_low = inv_known & (4.0 * done_net < total_net)
    suspended_year = (
        started & ~completed & suspended.notna() & (susp_years >= 1).fillna(False).astype(bool)
    )
    stalled = suspended_year & (dev_low | inv_low)
    _warn_parcels(
        diag,
        p,
        suspended_year & ~dev_known & ~inv_known,
        "stalled_untestable",
        "work suspended for a full year, but neither the developed area (已开发面积) nor "
        "the investment made and agreed (已完成投资, 投资总额) is recorded, so the "
        "stalled-land test (1/3, 25 %) cannot be applied; add them",
        column="suspended_since",
    )
    if includes_land_price:
        _warn_parcels(
            diag,
            p,
            stalled & ~netted & inv_low,
            "land_price_unknown",
            "the policy says the investment totals include the land price, but no land "
            "price (成交价格) is recorded: the 25 % test used the totals as given",
            column="land_price_wan",
        )
    s_stage, s_fee = _stage_fee(susp_years.astype(float), price, gov)
    dev_ratio = developed / area
    inv_ratio = done_net / total_net

    def stalled_evidence(s: Sub) -> pd.Series:
        return (
            "已开工；"
            + _where(
                s(dev_known),
                "已开发 "
                + _fmt(s(developed))
                + " m²，占"
                + s(area_source)
                + " "
                + _fmt(s(area))
                + " m² 的 "
                + _pct(s(dev_ratio))
                + _pick(s(dev_low), "（不足 1/3）", "（不低于 1/3）")
                + "；",
            )
            + _where(
                s(inv_known),
                "已完成投资 "
                + _fmt(s(done_net))
                + " 万元，占总投资 "
                + _fmt(s(total_net))
                + " 万元的 "
                + _pct(s(inv_ratio))
                + _pick(s(inv_low), "（不足 25%）", "（不低于 25%）")
                + _where(s(netted), "（已扣除地价 " + _fmt(s(price)) + " 万元）")
                + "；",
            )
            + "自 "
            + _day(s(suspended))
            + " 停工，截至 "
            + as_of_text
            + " 已满 "
            + s(susp_years).astype("str").fillna("—")
            + " 年"
            + _stage_sentence(s(s_stage), s(s_fee), s(price))
        )

    out.append(
        _rows(
            stalled,
            "IDLE_STALLED",
            p,
            source=SOURCE_STALLED,
            value=dev_ratio.where(dev_low, inv_ratio),
            threshold=pd.Series(np.where(dev_low, 1.0 / 3.0, 0.25), index=index),
            unit="",
            stage=s_stage,
            fee_wan=s_fee,
            evidence=stalled_evidence,
        )
    )
    idle_stage = idle_stage.where(~stalled, s_stage)
    idle_fee = idle_fee.where(~stalled, s_fee)

    # government cause: an extra row beside the idle finding
    out.append(
        _rows(
            gov & (idle_ns | stalled),
            "GOV_CAUSE",
            p,
            source=SOURCE_GOV,
            value=np.nan,
            threshold=np.nan,
            unit="",
            stage="article8",
            fee_wan=np.nan,
            evidence=lambda s: (
                "标注为政府原因（政府原因字段为“是”）："
                + _pick(s(idle_ns), "闲置土地（未动工）", "闲置土地（中止开发）")
                + "按第八条处置，不征缴闲置费、不无偿收回；清单照列并注明原因"
            ),
        )
    )

    # suspected: supplied, nothing built, no start, and no dates for the legal test
    if p.building_info and p.has_geometry:
        geometry = p.frame.geometry
        geom_ok = geometry.notna() & ~geometry.is_empty
        number = p.text("supervision_no")
        holder = p.text("holder_name").fillna(p.text("holder_uscc"))
        supplied = holder.notna() | number.notna() | p.date("contract_date").notna()
        suspected = (
            geom_ok
            & supplied
            & ~state["built"]
            & actual_start.isna()
            & ~completed
            & agreed_start.isna()
        )

        def suspected_evidence(s: Sub) -> pd.Series:
            h, no = s(holder), s(number)
            return (
                "已供地（"
                + _where(h.notna(), "权利人 " + h.fillna(""))
                + _where(h.isna() & no.notna(), "电子监管号 " + no.fillna(""))
                + _where(h.isna() & no.isna(), "有合同记录")
                + "），截至 "
                + as_of_text
                + " 宗地上无建筑、无实际开工记录，也无约定开工日期，无法按第二条认定；"
                "仅凭图形（geometry only）判断为疑似闲置，不列入正式闲置土地清单"
            )

        out.append(
            _rows(
                suspected,
                "IDLE_SUSPECTED",
                p,
                source=SOURCE_SUSPECTED,
                value=0.0,
                threshold=np.nan,
                unit="栋",
                stage="suspected",
                fee_wan=np.nan,
                evidence=suspected_evidence,
            )
        )
        idle_stage = idle_stage.where(~suspected, "suspected")
    return out, idle_stage, idle_fee


def _category(low: pd.Series) -> pd.Series:
    return _pick(low, CATEGORY_LOW, CATEGORY_SUPERVISION)


def _supervision(
    p: _Parcels, state: dict[str, pd.Series], thresholds: Mapping[str, Threshold]
) -> list[pd.DataFrame]:
    """Return the rows of OVERDUE_COMPLETION, INVESTMENT_SHORTFALL and BELOW_COMMITMENT."""
    as_of = p.as_of
    as_of_text = as_of.strftime("%Y-%m-%d")
    late_years = _th(thresholds, "late_years")
    ratio_min = _th(thresholds, "shortfall_ratio")
    assert late_years is not None and ratio_min is not None  # checked by _check_thresholds
    late_note = (
        f"；低效用地：超过约定竣工日期 {late_years:g} 年未竣工（{thresholds['late_years'].source}）"
    )
    ratio_note = f"；低效用地：低于约定的 {ratio_min:.0%}（{thresholds['shortfall_ratio'].source}）"
    out = []

    agreed_completion = p.date("agreed_completion")
    overdue = agreed_completion.notna() & (agreed_completion < as_of) & ~state["completed"]
    days = (as_of - agreed_completion).dt.days
    limit = add_years(agreed_completion, int(late_years))
    very_late = overdue & (as_of > limit)
    started = state["started"]
    out.append(
        _rows(
            overdue,
            "OVERDUE_COMPLETION",
            p,
            category=lambda s: _category(s(very_late)),
            source=lambda s: SOURCE_CONTRACT_COMPLETION + _where(s(very_late), late_note),
            value=days.astype(float),
            threshold=0.0,
            unit="天",
            evidence=lambda s: (
                "约定竣工 "
                + _day(s(agreed_completion))
                + "，截至 "
                + as_of_text
                + " 未竣工，逾期 "
                + _fmt(s(days))
                + " 天"
                + _where(
                    s(very_late),
                    f"，超过 {late_years:g} 年（" + _day(s(limit)) + " 后），列为低效用地",
                )
                + _where(~s(started), "；尚未开工")
            ),
        )
    )

    total = p.num("investment_total_wan")
    done = p.num("investment_done_wan")
    completed = state["completed"]
    due = completed | (agreed_completion.notna() & (agreed_completion < as_of))
    short = due & total.notna() & done.notna() & (total > 0) & (done < total)
    ratio = done / total
    very_short = short & (ratio < ratio_min)
    out.append(
        _rows(
            short,
            "INVESTMENT_SHORTFALL",
            p,
            category=lambda s: _category(s(very_short)),
            source=lambda s: SOURCE_CONTRACT_INVESTMENT + _where(s(very_short), ratio_note),
            value=done,
            threshold=total,
            unit="万元",
            evidence=lambda s: (
                _pick(s(completed), "已竣工", "约定竣工日期已过")
                + "，已完成投资 "
                + _fmt(s(done))
                + " 万元，低于约定投资总额 "
                + _fmt(s(total))
                + " 万元（"
                + _pct(s(ratio))
                + "）"
                + _where(s(very_short), f"，不足 {ratio_min:.0%}，列为低效用地")
            ),
        )
    )

    if p.n_active is not None:
        commitment_note = (
            f"；低效用地：低于承诺的 {ratio_min:.0%}（{thresholds['shortfall_ratio'].source}）"
        )
        for measure, name, committed_col in (
            ("tax_wan_per_mu", "亩均税收", "committed_tax_wan_per_mu"),
            ("output_wan_per_mu", "亩均产值", "committed_output_wan_per_mu"),
        ):
            value = p.num(measure)
            committed = p.num(committed_col)
            below = state["active"] & value.notna() & committed.notna() & (value < committed)
            far_below = below & (committed > 0) & (value < ratio_min * committed)
            out.append(
                _rows(
                    below,
                    "BELOW_COMMITMENT",
                    p,
                    category=lambda s, fb=far_below: _category(s(fb)),
                    source=lambda s, fb=far_below: (
                        SOURCE_CONTRACT_COMMITMENT + _where(s(fb), commitment_note)
                    ),
                    value=value,
                    threshold=committed,
                    unit="万元/亩",
                    evidence=_commitment_evidence(
                        "已投产，" + name, "低于承诺", value, committed, far_below, ratio_min
                    ),
                )
            )
    return out


def _commitment_evidence(
    lead: str,
    what: str,
    value: pd.Series,
    committed: pd.Series,
    far_below: pd.Series,
    ratio_min: float,
) -> Callable[[Sub], pd.Series]:
    """Return the evidence builder of a BELOW_COMMITMENT row."""

    def build(s: Sub) -> pd.Series:
        v, c = s(value), s(committed)
        return (
            lead
            + " "
            + _fmt(v)
            + " 万元/亩，"
            + what
            + " "
            + _fmt(c)
            + " 万元/亩（"
            + _pct(v / c)
            + "）"
            + _where(v < 0, "（含退税，为负）")
            + _where(s(far_below), f"，不足 {ratio_min:.0%}，列为低效用地")
        )

    return build


def _low_efficiency(
    p: _Parcels,
    state: dict[str, pd.Series],
    thresholds: Mapping[str, Threshold],
    far_minimum: Callable[[pd.Series], pd.DataFrame] | None,
) -> list[pd.DataFrame]:
    """Return the rows of LOW_FAR, LOW_COVERAGE, LOW_TAX and VACANT_BUILDING."""
    index = p.frame.index
    in_use, active, completed = state["in_use"], state["active"], state["completed"]

    def why(s: Sub) -> pd.Series:
        return _pick(s(completed), "已竣工", "已过约定竣工日期").where(~s(active), "在产")

    out = []
    if p.has("far"):
        far = p.num("far")
        far_min = p.num("far_min")
        contract = far_min.notna() & (far_min > 0)
        limit = far_min.where(contract)
        source = _pick(contract, SOURCE_CONTRACT_FAR, "")
        industry = p.text("industry_code")
        ask = ~contract & industry.notna() & in_use & far.notna()
        if far_minimum is not None and ask.any():
            table = _per_distinct(far_minimum, industry[ask])
            limit = limit.fillna(
                pd.to_numeric(table["far_min_industry"], errors="coerce").reindex(index)
            )
            from_table = ask & limit.notna()
            source = source.where(~from_table, table["far_min_source"].astype("str").reindex(index))
        low = in_use & far.notna() & limit.notna() & (far < limit)
        out.append(
            _rows(
                low,
                "LOW_FAR",
                p,
                source=source,
                value=far,
                threshold=limit,
                unit="",
                evidence=lambda s: (
                    why(s)
                    + "，容积率 "
                    + _fmt(s(far), 2)
                    + "，低于"
                    + ("行业控制指标（行业代码 " + s(industry).fillna("") + "）").where(
                        ~s(contract), "合同约定下限"
                    )
                    + " "
                    + _fmt(s(limit), 2)
                ),
            )
        )

    area = p.num("area_m2")
    if p.has("area_m2") and (p.has("footprint_m2") or p.has("building_density")):
        coverage_min = _th(thresholds, "coverage_min")
        density_min = _th(thresholds, "density_min")
        assert coverage_min is not None and density_min is not None
        footprint = p.num("footprint_m2").fillna(0.0)
        yards = p.num("structure_yard_area_m2")
        coefficient = (footprint + yards) / area.where(area > 0)
        true_low = in_use & yards.notna() & coefficient.notna() & (coefficient < coverage_min)
        density = p.num("building_density")
        if not p.has("building_density"):
            density = footprint / area.where(area > 0)
        proxy_low = in_use & yards.isna() & density.notna() & (density < density_min)
        out.append(
            _rows(
                true_low,
                "LOW_COVERAGE",
                p,
                source=thresholds["coverage_min"].source,
                value=coefficient,
                threshold=coverage_min,
                unit="",
                evidence=lambda s: (
                    why(s)
                    + "，建筑系数 =（建筑占地 "
                    + _fmt(s(footprint))
                    + " m² + 构筑物及堆场 "
                    + _fmt(s(yards))
                    + " m²）÷ 宗地面积 "
                    + _fmt(s(area))
                    + " m² = "
                    + _pct(s(coefficient))
                    + f"，低于 {coverage_min:.0%}"
                ),
            )
        )
        out.append(
            _rows(
                proxy_low,
                "LOW_COVERAGE",
                p,
                source=thresholds["density_min"].source + "（建筑密度代替建筑系数）",
                value=density,
                threshold=density_min,
                unit="",
                evidence=lambda s: (
                    "代理指标：未提供构筑物及堆场面积，以建筑密度代替建筑系数；"
                    + why(s)
                    + "，建筑密度 "
                    + _pct(s(density))
                    + f"，低于 {density_min:.0%}"
                ),
            )
        )

    low_tax = _th(thresholds, "low_tax_wan_per_mu")
    if low_tax is not None and p.has("tax_wan_per_mu"):
        tax = p.num("tax_wan_per_mu")
        out.append(
            _rows(
                in_use & tax.notna() & (tax < low_tax),
                "LOW_TAX",
                p,
                source=thresholds["low_tax_wan_per_mu"].source,
                value=tax,
                threshold=low_tax,
                unit="万元/亩",
                evidence=lambda s: (
                    why(s)
                    + "，亩均税收 "
                    + _fmt(s(tax))
                    + f" 万元/亩，低于园区设定的 {low_tax:g} 万元/亩"
                    + _where(s(tax) < 0, "（含退税，为负）")
                ),
            )
        )

    if p.building_info and p.n_active is not None:
        n_buildings = p.n_buildings
        stopped_kwh = _th(thresholds, "stopped_kwh")
        out.append(
            _rows(
                state["built"] & (p.n_active == 0),
                "VACANT_BUILDING",
                p,
                source=SOURCE_VACANT,
                value=n_buildings,
                threshold=np.nan,
                unit="栋",
                evidence=lambda s: (
                    "宗地上有 "
                    + _fmt(s(n_buildings), 0)
                    + " 栋建筑，无有生产经营活动的企业"
                    + f"（有税收或年用电不低于 {stopped_kwh:g} kWh）"
                ),
            )
        )
    return out


def _in_threads(func: Callable[..., np.ndarray], *args: Any) -> np.ndarray:
    """Return ``func(*args)`` for a vectorised shapely function, computed in threads.

    Array arguments (the first, and any of the same length) are cut into one chunk per usable
    CPU; GEOS releases the GIL, and each geometry's result is the same as in one call.
    """
    n = len(args[0])
    usable = (
        os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    )
    workers = min(len(usable), 8)
    if workers < 2 or n < PARALLEL_MIN_GEOMETRIES:
        return func(*args)
    cuts = np.linspace(0, n, workers + 1).astype("int64")

    def chunk(i: int) -> np.ndarray:
        part = [
            a[cuts[i] : cuts[i + 1]] if isinstance(a, np.ndarray) and len(a) == n else a
            for a in args
        ]
        return func(*part)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return np.concatenate(list(pool.map(chunk, range(workers))))


def _per_distinct(func: Callable[[pd.Series], pd.DataFrame], values: pd.Series) -> pd.DataFrame:
    """Return ``func(values)`` for a row-by-row ``func``, calling it once per distinct value."""
    distinct = values.drop_duplicates()
    if len(distinct) == len(values):
        return func(values)
    table = func(distinct)
    at = pd.Index(distinct.to_numpy()).get_indexer(values.to_numpy())
    return pd.DataFrame(
        {column: table[column].to_numpy()[at] for column in table.columns}, index=values.index
    )


def _remainders(
    p: _Parcels,
    state: dict[str, pd.Series],
    buildings: gpd.GeoDataFrame | None,
    thresholds: Mapping[str, Threshold],
    diag: Diagnostics,
) -> tuple[list[pd.DataFrame], gpd.GeoDataFrame]:
    """UNDEVELOPED_REMAINDER: land outside buildings and their margin, in each parcel's GK zone."""
    frame = p.frame
    crs = frame.crs if isinstance(frame, gpd.GeoDataFrame) else None
    empty = gpd.GeoDataFrame(
        {c: pd.Series(dtype="str" if c == "parcel_id" else float) for c in REMAINDER_COLUMNS},
        geometry=gpd.GeoSeries([], crs=crs),
    )
    if not p.has_geometry or not state["built"].any():
        return [], empty
    if buildings is None or "parcel_id" not in buildings.columns or buildings.crs is None:
        diag.warn(
            "remainder_no_buildings",
            "undeveloped remainders were not computed: no building layer with parcel_id and a CRS "
            "was given to flags.find(buildings=...)",
        )
        return [], empty
    if crs is None:
        diag.warn(
            "remainder_no_crs", "undeveloped remainders were not computed: parcels have no CRS"
        )
        return [], empty
    margin = float(_th(thresholds, "remainder_margin_m") or 0.0)
    min_m2 = float(_th(thresholds, "remainder_min_mu") or 0.0) * M2_PER_MU
    inward = float(_th(thresholds, "remainder_inward_buffer_m") or 0.0)

    geometry = frame.geometry
    if "area_epsg" in frame.columns:
        raw = frame["area_epsg"]
        code = pd.to_numeric(raw, errors="coerce")
        zones = pd.Series(
            np.where(
                code.notna(),
                code.fillna(-1).astype("int64").astype(object),
                raw.where(raw.notna(), -1).astype(object),
            ),
            index=frame.index,
            dtype=object,
        )
    else:
        zones = area_zones(geometry)
    # a remainder lies inside the parcel and outside its buildings, so a parcel whose unbuilt
    # area is under the minimum (1 % slack for measuring differences) cannot have one
    unbuilt_m2 = p.num("area_m2") - p.num("footprint_m2").fillna(0.0)
    too_small = (unbuilt_m2 < 0.99 * min_m2).fillna(False)
    todo = (
        state["built"] & ~too_small & geometry.notna() & ~geometry.is_empty & (zones != -1)
    ).to_numpy()
    if not todo.any():
        return [], empty
    sel_geom = geometry[todo]
    sel_zone = zones[todo]
    sel_id = p.parcel_id[todo].fillna(p.key[todo])
    planar = project_by_zone(
        gpd.GeoSeries(sel_geom.values, crs=crs), sel_zone.reset_index(drop=True)
    )

    # the buildings on these parcels, each with the slot of (the first parcel with) its parcel id
    first = ~sel_id.duplicated().to_numpy()
    found = pd.Index(sel_id.to_numpy()[first]).get_indexer(buildings["parcel_id"].astype("str"))
    on = found >= 0
    b_slot = np.flatnonzero(first)[found[on]]
    b_zone = pd.Series(sel_zone.to_numpy()[b_slot], dtype=object)
    b_planar = project_by_zone(
        gpd.GeoSeries(np.asarray(buildings.geometry.values, dtype=object)[on], crs=buildings.crs),
        b_zone,
    )
    # buildings grouped per parcel as one collection; buffering a collection unions its parts
    order = np.argsort(b_slot, kind="stable")
    groups = shapely.geometrycollections(
        np.asarray(b_planar.values, dtype=object)[order],
        indices=b_slot[order],
        out=np.full(len(sel_id), shapely.GeometryCollection(), dtype=object),
    )
    cover = _in_threads(shapely.buffer, groups, margin)
    rest = _in_threads(shapely.difference, np.asarray(planar.values, dtype=object), cover)
    parts, owner = shapely.get_parts(rest, return_index=True)
    polygonal = shapely.get_type_id(parts) == 3
    area_m2 = shapely.area(parts)
    keep = polygonal & (area_m2 >= min_m2)
    keep[keep] = ~shapely.is_empty(_in_threads(shapely.buffer, parts[keep], -inward))
    parts, owner, area_m2 = parts[keep], owner[keep], area_m2[keep]

    piece_zone = sel_zone.to_numpy()[owner]
    back = np.empty(len(parts), dtype=object)
    for code in pd.unique(piece_zone):
        at = piece_zone == code
        zone_crs = (
            CRS.from_epsg(int(code))
            if isinstance(code, int | np.integer)
            else CRS.from_user_input(code)
        )
        back[at] = np.asarray(
            gpd.GeoSeries(parts[at], crs=zone_crs).to_crs(crs).values, dtype=object
        )
    pieces = gpd.GeoDataFrame(
        {
            "parcel_id": pd.Series(sel_id.to_numpy()[owner], dtype="str"),
            "area_m2": area_m2,
            "area_mu": area_m2 / M2_PER_MU,
        },
        geometry=gpd.GeoSeries(back, crs=crs),
    )

    positions = np.flatnonzero(todo)[owner]
    n = len(frame)
    count = pd.Series(np.bincount(positions, minlength=n), index=frame.index)
    total_mu = pd.Series(
        np.bincount(positions, weights=area_m2 / M2_PER_MU, minlength=n), index=frame.index
    ).where(count > 0)
    largest_mu = np.full(n, np.nan)
    np.fmax.at(largest_mu, positions, area_m2 / M2_PER_MU)
    largest = pd.Series(largest_mu, index=frame.index)
    min_mu = _th(thresholds, "remainder_min_mu")
    rows = _rows(
        count > 0,
        "UNDEVELOPED_REMAINDER",
        p,
        source=thresholds["remainder_min_mu"].source,
        value=total_mu,
        threshold=min_mu,
        unit="亩",
        evidence=lambda s: (
            f"已建宗地上，建筑及其 {margin:g} m 作业范围以外有 "
            + _fmt(s(count), 0)
            + f" 块不小于 {min_mu:g} 亩、向内缩 {inward:g} m 后仍不为空的未开发土地，合计 "
            + _fmt(s(total_mu))
            + " 亩（最大一块 "
            + _fmt(s(largest))
            + " 亩）"
        ),
    )
    return [rows], pieces


# --------------------------------------------------------------------------------------------------
# enterprise rules


def _enterprise_key(frame: pd.DataFrame) -> pd.Series:
    """Return each enterprise's key: its uscc, else its name, else its index label (as text)."""
    key = frame["uscc"].astype("str") if "uscc" in frame else _no_text(frame.index)
    if key.isna().any():
        name = frame["name"].astype("str") if "name" in frame else _no_text(frame.index)
        key = key.where(key.notna(), name)
    if key.isna().any():
        position = pd.Series(frame.index.astype("str"), index=frame.index, dtype="str")
        key = key.where(key.notna(), position)
    return key


def _stopped(frame: pd.DataFrame, stopped_kwh: float) -> pd.Series:
    """Return whether each enterprise paid no tax (≤ 0) and used less than ``stopped_kwh``."""
    if "tax_wan" not in frame or "electricity_kwh" not in frame:
        return pd.Series(False, index=frame.index)
    tax = pd.to_numeric(frame["tax_wan"], errors="coerce")
    kwh = pd.to_numeric(frame["electricity_kwh"], errors="coerce")
    return (tax.notna() & kwh.notna() & (tax <= 0) & (kwh < stopped_kwh)).astype(bool)


def _enterprises(
    enterprises: pd.DataFrame,
    history: pd.DataFrame | None,
    year: int | None,
    stopped: pd.Series,
    thresholds: Mapping[str, Threshold],
) -> list[pd.DataFrame]:
    """Return the rows of STOPPED, ZOMBIE, GRADE_D and enterprise-level BELOW_COMMITMENT."""
    index = enterprises.index
    key = _enterprise_key(enterprises)
    stopped_kwh = _th(thresholds, "stopped_kwh")
    ratio_min = _th(thresholds, "shortfall_ratio")
    assert stopped_kwh is not None and ratio_min is not None  # checked by _check_thresholds
    parcel_text = (
        _joined_ids(enterprises["parcel_ids"]) if "parcel_ids" in enterprises else _no_text(index)
    )
    base = {
        "level": "enterprise",
        "key": key,
        "parcel_id": parcel_text,
        "supervision_no": _no_text(index),
        "uscc": enterprises["uscc"].astype("str") if "uscc" in enterprises else _no_text(index),
        "_pos": pd.Series(np.nan, index=index),
    }
    nan = pd.Series(np.nan, index=index)
    tax = (
        pd.to_numeric(enterprises["tax_wan"], errors="coerce") if "tax_wan" in enterprises else nan
    )
    kwh = (
        pd.to_numeric(enterprises["electricity_kwh"], errors="coerce")
        if "electricity_kwh" in enterprises
        else nan
    )
    year_text = f"{year} 年" if year is not None else "当年"
    out = [
        _rows(
            stopped,
            "STOPPED",
            None,
            **base,
            source=thresholds["stopped_kwh"].source,
            value=kwh,
            threshold=stopped_kwh,
            unit="kWh",
            evidence=lambda s: (
                year_text
                + "税收 "
                + _fmt(s(tax))
                + " 万元（不大于 0"
                + _where(s(tax) < 0, "，为退税")
                + "），用电 "
                + _fmt(s(kwh), 0)
                + f" kWh（低于 {stopped_kwh:g} kWh）：停产或半停产"
            ),
        )
    ]

    if year is not None:
        frames = [
            pd.DataFrame(
                {"_key": key.to_numpy(), "_year": year, "_stopped": stopped.to_numpy(dtype=bool)}
            )
        ]
        if history is not None and len(history):
            h = history
            if "year" not in h.columns:
                msg = "flags.find(enterprise_years=...): the frame needs a 'year' column"
                raise ValueError(msg)
            hy = pd.to_numeric(h["year"], errors="coerce")
            other = (hy.notna() & (hy != year)).to_numpy()
            frames.append(
                pd.DataFrame(
                    {
                        "_key": _enterprise_key(h).to_numpy()[other],
                        "_year": hy.to_numpy()[other],
                        "_stopped": _stopped(h, stopped_kwh).to_numpy(dtype=bool)[other],
                    }
                )
            )
        every = pd.concat(frames, ignore_index=True)
        every["_year"] = every["_year"].astype("int64")
        stopped_rows = every.loc[every["_stopped"]]
        keys = pd.Index(key.to_numpy(dtype=object), dtype=object)
        streak = pd.Series(0, index=index)
        alive = pd.Series(True, index=index)
        for back in range(int(every["_year"].nunique())):  # a loop over years, not enterprises
            stopped_then = stopped_rows.loc[stopped_rows["_year"] == year - back, "_key"]
            alive &= pd.Series(keys.isin(stopped_then.to_numpy(dtype=object)), index=index)
            if not alive.any():
                break
            streak += alive.astype(int)
        out.append(
            _rows(
                streak >= 2,
                "ZOMBIE",
                None,
                **base,
                source=thresholds["stopped_kwh"].source + "；连续 2 年及以上停产",
                value=streak.astype(float),
                threshold=2.0,
                unit="年",
                evidence=lambda s: (
                    "截至 "
                    + str(year)
                    + " 年已连续 "
                    + _fmt(s(streak), 0)
                    + " 年停产（"
                    + (year - s(streak) + 1).astype("str")
                    + "–"
                    + str(year)
                    + f" 年每年税收不大于 0、用电低于 {stopped_kwh:g} kWh）"
                ),
            )
        )

    if "grade" in enterprises:
        grade = enterprises["grade"].astype("str").str.strip().str.upper()
        preset = enterprises["preset"].astype("str") if "preset" in enterprises else _no_text(index)
        score = (
            pd.to_numeric(enterprises["score"], errors="coerce") if "score" in enterprises else nan
        )
        out.append(
            _rows(
                grade == "D",
                "GRADE_D",
                None,
                **base,
                source=lambda s: (
                    "亩均效益综合评价"
                    + _where(s(preset).notna(), "（" + s(preset).fillna("") + "）")
                ),
                value=score,
                threshold=np.nan,
                unit="分",
                evidence=lambda s: (
                    year_text
                    + "综合评价为 D 类"
                    + _where(s(score).notna(), "，得分 " + _fmt(s(score)))
                ),
            )
        )

    active = ~stopped
    commitment_note = (
        f"；低效用地：低于承诺的 {ratio_min:.0%}（{thresholds['shortfall_ratio'].source}）"
    )
    for measure, name, committed_col in (
        ("tax_wan_per_mu", "亩均税收", "committed_tax_wan_per_mu"),
        ("output_wan_per_mu", "亩均产值", "committed_output_wan_per_mu"),
    ):
        if measure not in enterprises or committed_col not in enterprises:
            continue
        value = pd.to_numeric(enterprises[measure], errors="coerce")
        committed = pd.to_numeric(enterprises[committed_col], errors="coerce")
        below = active & value.notna() & committed.notna() & (value < committed)
        far_below = below & (committed > 0) & (value < ratio_min * committed)
        out.append(
            _rows(
                below,
                "BELOW_COMMITMENT",
                None,
                **base,
                category=lambda s, fb=far_below: _category(s(fb)),
                source=lambda s, fb=far_below: (
                    SOURCE_CONTRACT_COMMITMENT + _where(s(fb), commitment_note)
                ),
                value=value,
                threshold=committed,
                unit="万元/亩",
                evidence=_commitment_evidence(
                    year_text + name, "低于企业承诺", value, committed, far_below, ratio_min
                ),
            )
        )
    return out


# --------------------------------------------------------------------------------------------------
# diagnostics


def _warn_parcels(
    diag: Diagnostics, p: _Parcels, mask: pd.Series, code: str, message: str, *, column: str
) -> None:
    mask = mask.fillna(False).astype(bool)
    if not mask.any():
        return
    rows = p.frame.loc[mask.to_numpy()]
    keys = p.key[mask.to_numpy()]
    files = rows["_file"] if "_file" in rows else pd.Series(None, index=rows.index)
    sheets = rows["_sheet"] if "_sheet" in rows else pd.Series(None, index=rows.index)
    positions = rows["_row"] if "_row" in rows else pd.Series(None, index=rows.index)
    values = rows[column] if column in rows else pd.Series(None, index=rows.index)
    for k, f, s, r, v in zip(keys, files, sheets, positions, values, strict=True):
        diag.warn(code, f"parcel {k}: {message}", file=f, sheet=s, row=r, column=column, value=v)


# --------------------------------------------------------------------------------------------------
# the entry point


def find(
    parcels: pd.DataFrame,
    enterprises: pd.DataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    *,
    as_of: pd.Timestamp | dt.date | str,
    year: int | None = None,
    thresholds: Mapping[str, Threshold],
    far_minimum: Callable[[pd.Series], pd.DataFrame] | None = None,
    investment_includes_land_price: bool = False,
    enterprise_years: pd.DataFrame | None = None,
    diagnostics: Diagnostics | None = None,
) -> Findings:
    """Apply every finding rule and return the findings, the remainders and per-parcel flags.

    Parameters
    ----------
    parcels : DataFrame or GeoDataFrame
        Measured parcels (docs/architecture.md), or a contracts table without geometry: rules whose
        columns are missing are skipped, and findings on a table without geometry or buildings say
        so in their evidence. Rows are keyed by ``parcel_id`` (column or index name), else by
        ``supervision_no``.
    enterprises : DataFrame, optional
        Enterprises for ``year``: ``uscc, name, parcel_ids, tax_wan, electricity_kwh`` and,
        where the evaluation ran, ``grade, score, preset``; optional ``tax_wan_per_mu,
        output_wan_per_mu, committed_*`` for enterprise-level commitments. Rows of other years
        in it serve as history.
    buildings : GeoDataFrame, optional
        Building pieces clipped to parcels, with ``parcel_id`` (for remainders and building counts).
    as_of : date-like
        Evaluation date, inclusive (on the anniversary the full year has passed).
    year : int, optional
        Year of the enterprise figures; by default the latest in ``enterprises['year']``.
    thresholds : mapping of str to Threshold
        Keys :data:`THRESHOLD_KEYS`; ``low_tax_wan_per_mu`` may have value None (rule off).
    far_minimum : callable, optional
        Takes a Series of industry codes and returns a frame ``far_min_industry, far_min_source``
        with the same index (the FAR minimum used where the contract gives none).
    investment_includes_land_price : bool
        Whether contract investment totals include the land price (then it is subtracted from both
        figures before the 25 % stalled-land test, 闲置土地处置办法 article 30).
    enterprise_years : DataFrame, optional
        Enterprise figures of other years (``uscc, year, tax_wan, electricity_kwh``) for ZOMBIE.
    diagnostics : Diagnostics, optional
        Receives warnings (start inferred from buildings, untestable stalled land, ...).

    Returns
    -------
    Findings

    Examples
    --------
    >>> from landeff.policy import Threshold
    >>> values = dict(stopped_kwh=10000, low_tax_wan_per_mu=None, coverage_min=0.3,
    ...               density_min=0.3, remainder_margin_m=10, remainder_min_mu=5,
    ...               remainder_inward_buffer_m=15, late_years=2, shortfall_ratio=0.5)
    >>> th = {k: Threshold(v, "", "park setting") for k, v in values.items()}
    >>> contracts = pd.DataFrame({"supervision_no": ["A1", "A2"], "land_price_wan": [500.0, 80.0],
    ...     "agreed_start": pd.to_datetime(["2022-03-01", "2024-09-30"])})
    >>> contracts = contracts.set_index("supervision_no")
    >>> f = find(contracts, as_of="2025-03-01", thresholds=th)
    >>> f.findings[["supervision_no", "code", "stage", "fee_wan"]].values.tolist()
    [['A1', 'IDLE_NOT_STARTED', 'reclaim', nan], ['A2', 'OVERDUE_START', nan, nan]]
    """
    diag = diagnostics if diagnostics is not None else Diagnostics()
    as_of_ts = _as_of(as_of)
    _check_thresholds(thresholds)
    stopped_kwh = _th(thresholds, "stopped_kwh")
    assert stopped_kwh is not None

    ent = enterprises
    history = enterprise_years
    if ent is not None:
        if year is None and "year" in ent.columns:
            years = pd.to_numeric(ent["year"], errors="coerce").dropna().unique()
            year = int(years.max()) if len(years) else None
        if year is not None and "year" in ent.columns:
            ey = pd.to_numeric(ent["year"], errors="coerce")
            other = ent.loc[ey.notna() & (ey != year)]
            if len(other):
                history = (
                    other if history is None else pd.concat([history, other], ignore_index=True)
                )
            ent = ent.loc[~(ey.notna() & (ey != year))]
    stopped = _stopped(ent, stopped_kwh) if ent is not None else None

    p = _prepare(parcels, buildings, ent, stopped, as_of_ts)
    state = _state(p)
    if not p.has_geometry and not p.building_info:
        diag.warn(
            "no_geometry_rules_skipped",
            "the parcels table has no geometry and no building counts: FAR, coverage, tax per mu, "
            "vacant buildings, undeveloped remainders and suspected idle land were not checked",
        )
    elif not p.building_info:
        diag.warn(
            "no_building_info",
            "no building counts (n_buildings) and no building layer were given: suspected idle "
            "land, vacant buildings and undeveloped remainders were not checked, and starts "
            "cannot be inferred from buildings",
        )
    parts, idle_stage, idle_fee = _idle(p, state, investment_includes_land_price, diag)
    parts += _supervision(p, state, thresholds)
    parts += _low_efficiency(p, state, thresholds, far_minimum)
    remainder_rows, remainders = _remainders(p, state, buildings, thresholds, diag)
    parts += remainder_rows
    if ent is not None and stopped is not None and len(ent):
        parts += _enterprises(ent, history, year, stopped, thresholds)

    findings = _assemble(
        parts, as_of_ts, note=NO_GEOMETRY_NOTE if not p.has_geometry and not p.building_info else ""
    )
    per_parcel = _per_parcel(p, findings, ent, idle_stage, idle_fee)
    per_enterprise = _per_enterprise(findings, ent)
    return Findings(findings.drop(columns=["_pos", "key"]), remainders, per_parcel, per_enterprise)


def _assemble(parts: list[pd.DataFrame], as_of: pd.Timestamp, *, note: str) -> pd.DataFrame:
    columns = [*FINDING_COLUMNS, "_pos", "key"]
    parts = [part for part in parts if len(part)]
    if not parts:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    else:
        frame = pd.concat(parts, ignore_index=True)
    code = frame["code"].astype("str")
    info = pd.DataFrame(
        [(c.category, c.label_zh, c.label_en) for c in CODES.values()],
        index=list(CODES),
        columns=["category", "label_zh", "label_en"],
    )
    if "category" not in frame:
        frame["category"] = np.nan
    frame["category"] = frame["category"].where(
        frame["category"].notna(), code.map(info["category"])
    )
    frame["label_zh"] = code.map(info["label_zh"])
    frame["label_en"] = code.map(info["label_en"])
    for column in ("stage", "fee_wan", "value", "threshold", "unit", "source", "evidence"):
        if column not in frame:
            frame[column] = np.nan
    if note:
        parcel_level = frame["level"] == "parcel"
        frame["evidence"] = frame["evidence"].where(~parcel_level, frame["evidence"] + note)
    frame["as_of"] = as_of
    order = pd.Series({c: i for i, c in enumerate(CODES)})
    frame = (
        frame.assign(_level=(frame["level"] != "parcel").astype(int), _code=code.map(order))
        .sort_values(["_level", "key", "_code"], kind="stable")
        .drop(columns=["_level", "_code"])
        .reset_index(drop=True)
    )
    base = frame["key"].astype("str") + ":" + frame["code"].astype("str")
    seq = base.groupby(base).cumcount()
    frame["finding_id"] = base + _where(seq > 0, "#" + (seq + 1).astype("str"))
    for column in ("value", "threshold", "fee_wan", "_pos"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column in (
        "finding_id",
        "level",
        "parcel_id",
        "supervision_no",
        "uscc",
        "code",
        "category",
        "label_zh",
        "label_en",
        "source",
        "unit",
        "stage",
        "evidence",
        "key",
    ):
        frame[column] = frame[column].astype("str")
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[ns]")
    return frame[columns]


def _joined_codes(pairs: pd.DataFrame, n: int) -> np.ndarray:
    """Return, for positions 0..n-1, the sorted distinct codes in ``pairs`` (``_pos, code``).

    Each position's set of codes is a bit mask; the text is built once per distinct mask.
    """
    out = np.full(n, "", dtype=object)
    if pairs.empty:
        return out
    codes = sorted(pairs["code"].unique())
    if len(codes) > 62:  # more codes than bits: a loop over codes, not rows
        for code in codes:
            at = np.zeros(n, dtype=bool)
            at[pairs.loc[pairs["code"] == code, "_pos"].to_numpy(dtype="int64")] = True
            out = np.where(at, np.where(out == "", code, out + ";" + code), out)
        return out
    bit = np.left_shift(np.int64(1), pd.Index(codes).get_indexer(pairs["code"]).astype("int64"))
    mask = np.zeros(n, dtype="int64")
    np.bitwise_or.at(mask, pairs["_pos"].to_numpy(dtype="int64"), bit)
    masks, inverse = np.unique(mask, return_inverse=True)
    text = [";".join(c for i, c in enumerate(codes) if (m >> i) & 1) for m in masks.tolist()]
    return np.array(text, dtype=object)[inverse.reshape(-1)]


def _per_parcel(
    p: _Parcels,
    findings: pd.DataFrame,
    enterprises: pd.DataFrame | None,
    idle_stage: pd.Series,
    idle_fee: pd.Series,
) -> pd.DataFrame:
    index = p.frame.index
    own = findings.loc[findings["level"] == "parcel", ["_pos", "code"]].dropna()
    pairs = [own]
    if enterprises is not None and "parcel_ids" in enterprises and len(findings):
        codes = findings.loc[findings["level"] == "enterprise", ["key", "code"]]
        rows, pid = _split_all(enterprises["parcel_ids"])
        ids = pd.DataFrame(
            {
                "key": _enterprise_key(enterprises).to_numpy()[rows],
                "pid": pd.Series(pid, dtype=object),
            }
        )
        position = pd.Series(np.arange(len(index)), index=p.parcel_id.to_numpy())
        position = position[position.index.notna() & ~position.index.duplicated()]
        ids["_pos"] = ids["pid"].map(position)
        pairs.append(codes.merge(ids.dropna(subset=["_pos"]), on="key")[["_pos", "code"]])
    flags = _joined_codes(pd.concat(pairs, ignore_index=True), len(index))
    return pd.DataFrame(
        {
            "flags": pd.Series(flags, dtype="str").to_numpy(),
            "idle_stage": idle_stage.to_numpy(),
            "idle_fee_wan": idle_fee.astype(float).to_numpy(),
        },
        index=index,
    )


def _per_enterprise(findings: pd.DataFrame, enterprises: pd.DataFrame | None) -> pd.DataFrame:
    if enterprises is None:
        return pd.DataFrame({"flags": pd.Series(dtype="str")}, index=pd.Index([], name="uscc"))
    key = _enterprise_key(enterprises)
    position = pd.Series(np.arange(len(key)), index=key.to_numpy())
    position = position[~position.index.duplicated()]
    codes = findings.loc[findings["level"] == "enterprise", ["key", "code"]]
    pairs = pd.DataFrame({"_pos": codes["key"].map(position), "code": codes["code"]}).dropna()
    flags = _joined_codes(pairs, len(key))
    return pd.DataFrame(
        {"flags": pd.Series(flags, dtype="str").to_numpy()},
        index=pd.Index(key.to_numpy(), name="uscc"),
    )
