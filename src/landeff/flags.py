"""Findings: idle land, contract supervision, low efficiency, enterprises, remainders.

:func:`find` applies every rule of docs/findings.md to measured parcels (or to a contracts table
with no geometry) and returns one row per finding, each with its reason code, the rule's source, the
measured value, the threshold, the unit and a Chinese evidence sentence a planner can read out in a
meeting. Periods are calendar periods (:mod:`landeff.periods`); ``as_of`` is inclusive.

The undeveloped remainders are geometry work that needs only the joined parcels and buildings:
:func:`remainder_pieces` computes them on its own (a pipeline can run it in a background thread while
enterprises are measured and graded) and ``find(remainders=...)`` takes its result or a Future of it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import CRS

from . import parallel
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
#: Keys :func:`remainder_pieces` reads from ``thresholds``.
REMAINDER_THRESHOLD_KEYS = ("remainder_margin_m", "remainder_min_mu", "remainder_inward_buffer_m")
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

#: Characters that separate ids in a list of parcel ids.
_SEPARATORS = "[;,，；、]"
_SPLIT_IDS = re.compile(_SEPARATORS + r"\s*")


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


@dataclass(frozen=True)
class Remainders:
    """Undeveloped remainder pieces of a parcels frame: what :func:`remainder_pieces` returns.

    Give it to ``find(remainders=...)`` (itself or a Future of it) with the same parcels frame and
    thresholds; ``find`` then reports the pieces instead of computing them.

    Attributes
    ----------
    pieces : GeoDataFrame
        The pieces (``parcel_id, area_m2, area_mu, geometry``, :data:`REMAINDER_COLUMNS`), in the
        parcels' CRS, parcel by parcel in the frame's order.
    positions : ndarray of int64
        Row position, in the parcels frame, of each piece's parcel.
    index : Index
        The parcels frame's index (``find`` checks that it gets the same parcels).
    margin_m, min_m2, inward_m : float
        The thresholds used: margin around buildings, smallest piece, inward buffer.
    diagnostics : Diagnostics
        Where the warnings of the computation were recorded. ``find`` copies them into its own
        diagnostics at the place where it records them when it computes the pieces itself (after
        the parcel rules), unless they are the same object.
    """

    pieces: gpd.GeoDataFrame
    positions: np.ndarray
    index: pd.Index
    margin_m: float
    min_m2: float
    inward_m: float
    diagnostics: Diagnostics


# --------------------------------------------------------------------------------------------------
# small vectorised helpers
#
# The rules compute masks and measures on whole columns (Series aligned with the parcels or the
# enterprises). The text of the reported rows (evidence, sources) is then built for those rows only,
# as pyarrow text arrays: numbers and dates are formatted once per distinct value, and
# :func:`_cat` joins the pieces of each row in one pass of pyarrow's C code. The findings' text
# columns are pandas ``str`` columns, which pyarrow holds, so they are made without converting
# each text to a Python object and back.

#: Arrow type of pandas' ``str`` columns.
_TEXT = pa.large_string()

#: Takes a full-length column (Series or array) and returns its values on the rows being reported
#: (see :func:`_rows`).
Sub = Callable[[Any], Any]

#: A text piece: one str for every row, or a text array (pyarrow, or numpy of objects).
Piece = str | pa.Array | np.ndarray


def _text(values: Piece) -> pa.Array | pa.Scalar:
    """Return text as pyarrow.

    A str becomes a scalar, an object array (None or NaN where missing) an array; pyarrow text is
    returned as it is.
    """
    if isinstance(values, str):
        return pa.scalar(values, _TEXT)
    if isinstance(values, np.ndarray):
        return pa.array(values, type=_TEXT, from_pandas=True)
    return values


def _cat(*pieces: Piece) -> pa.Array:
    """Return the pieces joined row by row (a missing piece makes the row's text missing)."""
    return pc.binary_join_element_wise(*(_text(piece) for piece in pieces), _text(""))


def _distinct_text(keys: np.ndarray, fmt: Callable[[np.ndarray], np.ndarray]) -> pa.Array:
    """Return ``fmt`` of each value as text, calling ``fmt`` once on the distinct ``keys``.

    ``keys`` are integers standing for the values (their bits); ``fmt`` takes the distinct keys
    and returns their texts as an object array.
    """
    distinct, inverse = np.unique(keys, return_inverse=True)
    return _text(fmt(distinct)).take(inverse.reshape(-1))


def _fmt(values: Any, digits: int = 2) -> pa.Array:
    """Return numbers as text, rounded, without a trailing ``.0`` (missing -> ``—``).

    The text is made once per distinct number (compared by its bits, so ``-0.0`` stays ``-0``
    beside ``0``) by :func:`_number_texts`.
    """
    rounded = np.round(np.asarray(values, dtype=float), digits)
    return _distinct_text(rounded.view(np.int64), lambda bits: _number_texts(bits.view(np.float64)))


def _number_texts(numbers: np.ndarray) -> np.ndarray:
    """Return floats as text without a trailing ``.0`` (NaN -> ``—``), as an object array.

    Python's ``str`` of a float (the shortest text that reads back as the same number) is what
    pandas' ``astype("str")`` writes; it ends in ``.0`` only for a whole number, and never in
    more zeros after the point. (tests/test_flags.py compares it with the pandas way.)
    """
    texts = [str(x) for x in numbers.tolist()]
    return np.array(
        ["—" if t == "nan" else t[:-2] if t.endswith(".0") else t for t in texts], dtype=object
    )


def _pct(values: Any, digits: int = 1) -> pa.Array:
    return _cat(_fmt(np.asarray(values, dtype=float) * 100.0, digits), "%")


def _day(values: Any) -> pa.Array:
    """Return dates as ``YYYY-MM-DD`` (missing -> ``—``), formatted once per distinct date."""
    days = np.asarray(values, dtype="datetime64[ns]")

    def fmt(ints: np.ndarray) -> np.ndarray:
        text = pd.Series(ints.view("datetime64[ns]")).dt.strftime("%Y-%m-%d")
        return text.fillna("—").to_numpy(dtype=object)

    return _distinct_text(days.view(np.int64), fmt)


def _if(mask: Any, yes: Piece, no: Piece) -> pa.Array:
    """Return ``yes`` where ``mask`` holds, else ``no``."""
    return pc.if_else(np.asarray(mask, dtype=bool), _text(yes), _text(no))


def _where(mask: Any, text: Piece) -> pa.Array:
    """Return ``text`` where ``mask`` holds and the text is not missing, else ``""``."""
    return _if(mask, _fill(text), "")


def _fill(text: Piece, value: str = "") -> pa.Array:
    """Return the text with ``value`` where it is missing."""
    return pc.fill_null(_text(text), _text(value))


def _no_text(index: pd.Index) -> pd.Series:
    """Return a text Series of missing values."""
    return pd.Series(np.nan, index=index, dtype="str")


def _take(values: Any, positions: np.ndarray) -> Any:
    """Return a full-length column (Series, numpy or pyarrow array) at ``positions``.

    Text Series come as pyarrow text; other Series as numpy arrays, nullable extension types as
    bool (missing -> False) or float (missing -> NaN).
    """
    if isinstance(values, pa.Array):
        return values.take(positions)
    if not isinstance(values, pd.Series):
        return np.asarray(values)[positions]
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind != "O":
        return values.to_numpy()[positions]
    if isinstance(dtype, pd.StringDtype):
        return _series_text(values).take(positions)
    if isinstance(dtype, np.dtype):  # objects: text or missing
        return _text(values.iloc[positions].to_numpy(dtype=object, na_value=None))
    if pd.api.types.is_bool_dtype(dtype):
        return values.iloc[positions].to_numpy(dtype=bool, na_value=False)
    if pd.api.types.is_numeric_dtype(dtype):
        return values.iloc[positions].to_numpy(dtype=float, na_value=np.nan)
    return values.iloc[positions].to_numpy()


def _series_text(values: pd.Series) -> pa.Array:
    """Return a text (``str``) Series as one pyarrow array.

    pyarrow holds pandas' text, so this copies nothing unless it is held in several chunks.
    """
    arrow = pa.array(values.array, type=_TEXT)
    return arrow.combine_chunks() if isinstance(arrow, pa.ChunkedArray) else arrow


def _known(text: pa.Array) -> np.ndarray:
    """Return where the text is not missing."""
    return text.is_valid().to_numpy(zero_copy_only=False)


def _th(thresholds: Mapping[str, Threshold], key: str) -> float | None:
    value = thresholds[key].value
    return None if value is None else float(value)


def _check_thresholds(
    thresholds: Mapping[str, Any],
    keys: tuple[str, ...] | list[str] = tuple(THRESHOLD_KEYS),
    where: str = "flags.find",
) -> None:
    missing = [k for k in keys if k not in thresholds]
    wrong = [k for k in keys if k in thresholds and not isinstance(thresholds[k], Threshold)]
    problems = []
    if missing:
        problems.append(f"missing key(s) {', '.join(missing)}")
    if wrong:
        problems.append(f"key(s) {', '.join(wrong)} are not landeff.policy.Threshold objects")
    required_on = [
        k
        for k in keys
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
            f"{where}(thresholds=...): " + "; ".join(problems) + ". Pass the policy's thresholds "
            f"(keys: {', '.join(keys)}), each a Threshold(value, unit, source)."
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
    split = values.str.contains(_SEPARATORS, regex=True).fillna(False).to_numpy(dtype=bool)
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
    text = _joined_id_array(_split_all(values), len(values))
    return pd.Series(text, index=values.index, dtype="str")


def _joined_id_array(split: tuple[np.ndarray, np.ndarray], n: int) -> np.ndarray:
    """Return :func:`_joined_ids` as an object array (None where none) from ``_split_all``."""
    rows, ids = split  # rows ascending
    text = np.full(n, None, dtype=object)
    counts = np.bincount(rows, minlength=n)
    one = np.flatnonzero(counts == 1)
    text[one] = ids[np.searchsorted(rows, one)]
    several = np.flatnonzero(counts > 1)
    starts = np.searchsorted(rows, several)
    text[several] = [";".join(ids[a : a + k]) for a, k in zip(starts, counts[several], strict=True)]
    return text


def _first_slots(ids: Piece, lookup: Piece) -> np.ndarray:
    """Return, for each text of ``lookup``, its first position in ``ids`` (-1 where none).

    Missing ids are never found, nor are missing lookups.
    """
    encoded = pc.dictionary_encode(_text(ids))  # missing ids stay missing, out of the dictionary
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    valid = np.flatnonzero(codes >= 0)
    # dictionary entries are numbered in order of first appearance: 0, 1, ...
    first = valid[np.unique(codes[valid], return_index=True)[1]]
    found = pc.index_in(_text(lookup), value_set=encoded.dictionary)
    found = pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    out = np.full(len(found), -1, dtype=np.int64)
    hit = found >= 0
    out[hit] = first[found[hit]]
    return out


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
    _arrays: dict[str, pa.Array] = field(default_factory=dict)

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

    def arrow(self, name: str) -> pa.Array:
        """Return ``key``, ``parcel_id`` or a text column as pyarrow text.

        Every parcel rule reports these columns; pyarrow holds them already (no copy).
        """
        if name not in self._arrays:
            values = {"key": self.key, "parcel_id": self.parcel_id}.get(name)
            if values is None:
                values = self.text(name)
            self._arrays[name] = _series_text(values)
        return self._arrays[name]

    def _text(self, name: str) -> pd.Series:
        if name not in self.frame and self.frame.index.name == name:
            values = pd.Series(self.frame.index.astype("str"), index=self.frame.index, dtype="str")
            return values.where(values.str.strip() != "")
        if name in self.frame:
            # astype("str") keeps missing values missing (NaN): only blanks are left to drop
            values = self.frame[name].astype("str").str.strip()
            return values.where(values != "")
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


@dataclass
class _Identity:
    """What both :func:`find` and :func:`remainder_pieces` read first from the parcels frame."""

    parcel_id: pd.Series
    key: pd.Series
    has_geometry: bool
    building_info: bool
    n_buildings: pd.Series


def _identify(frame: pd.DataFrame, buildings: gpd.GeoDataFrame | None) -> _Identity:
    """Return the parcels' ids, keys, whether they have geometry, and their building counts."""
    index = frame.index
    if "parcel_id" in frame.columns:
        parcel_id = frame["parcel_id"].astype("str")
    elif index.name == "parcel_id":
        parcel_id = pd.Series(index.astype("str"), index=index, dtype="str")
    else:
        parcel_id = _no_text(index)
    key = parcel_id.copy()
    if key.isna().any():
        if "supervision_no" in frame.columns:
            key = key.fillna(frame["supervision_no"].astype("str"))
        elif index.name == "supervision_no":
            key = key.fillna(pd.Series(index.astype("str"), index=index, dtype="str"))
        key = key.fillna(pd.Series(index.astype("str"), index=index, dtype="str"))
    has_geometry = (
        isinstance(frame, gpd.GeoDataFrame)
        and frame._geometry_column_name in frame.columns
        and bool((~shapely.is_missing(frame.geometry.values) & ~frame.geometry.is_empty.to_numpy()).any())
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
    return _Identity(parcel_id, key, has_geometry, building_info, n_buildings)


def _prepare(
    parcels: pd.DataFrame,
    buildings: gpd.GeoDataFrame | None,
    enterprises: pd.DataFrame | None,
    stopped: pd.Series | None,
    as_of: pd.Timestamp,
    split: tuple[np.ndarray, np.ndarray] | None = None,
) -> _Parcels:
    """Return the prepared parcels; ``split`` is ``_split_all(enterprises['parcel_ids'])``."""
    frame = parcels
    ident = _identify(frame, buildings)
    n_active: pd.Series | None
    if "n_active" in frame.columns:
        n_active = pd.to_numeric(frame["n_active"], errors="coerce").fillna(0.0)
    elif enterprises is not None and stopped is not None and "parcel_ids" in enterprises.columns:
        rows, ids = split if split is not None else _split_all(enterprises["parcel_ids"])
        active = (~stopped).to_numpy(dtype=bool)[rows]
        per_parcel = pd.Series(ids[active], dtype=object).value_counts()
        n_active = ident.parcel_id.map(per_parcel).astype(float).fillna(0.0)
    else:
        n_active = None
    return _Parcels(
        frame,
        as_of,
        ident.key,
        ident.parcel_id,
        ident.has_geometry,
        ident.building_info,
        ident.n_buildings,
        n_active,
    )


# --------------------------------------------------------------------------------------------------
# row building


@dataclass
class _Part:
    """The finding rows of one rule: column name -> a value per row (array) or one for all."""

    n: int
    columns: dict[str, Any]


def _rows(mask: Any, code: str, p: _Parcels | None = None, **fields: Any) -> _Part:
    """Return the finding rows where ``mask`` holds.

    Each field is a scalar (the same for every row), a full-length Series or array aligned with
    ``mask``, or a callable taking a subsetting function ``s`` (full-length column -> its values on
    the reported rows, see :func:`_take`) and returning the field for those rows only (an array or
    a scalar); evidence text is built that way, so it is only formatted for the rows that are
    reported. The category and labels come from :data:`CODES` unless a field gives the category.
    """
    series = isinstance(mask, pd.Series)
    keep = mask.fillna(False).astype(bool).to_numpy() if series else np.asarray(mask, dtype=bool)
    positions = np.flatnonzero(keep)
    n = len(positions)
    if n == 0:
        return _Part(0, {})
    info = CODES[code]
    columns: dict[str, Any] = {
        "code": code,
        "category": info.category,
        "label_zh": info.label_zh,
        "label_en": info.label_en,
    }
    if p is not None:
        columns.update(
            level="parcel",
            _pos=positions.astype(float),
            key=p.arrow("key").take(positions),
            parcel_id=p.arrow("parcel_id").take(positions),
            supervision_no=p.arrow("supervision_no").take(positions),
            uscc=p.arrow("holder_uscc").take(positions),
        )

    def sub(values: Any) -> np.ndarray:
        return _take(values, positions)

    # evidence divides by figures that may be 0 or missing: inf and NaN are formatted, as pandas
    # did without a warning
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, value in fields.items():
            if callable(value):
                value = value(sub)
            elif isinstance(value, pd.Series | pa.Array) or np.ndim(value) > 0:
                value = sub(value)
            columns[name] = value
    return _Part(n, columns)


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


def _stage_fee(years: pd.Series, price: pd.Series, gov: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Return the idle stage (an object array) and the fee from full idle years (≥ 1)."""
    reclaim = (years >= 2).fillna(False).to_numpy(dtype=bool)
    stage = np.where(gov.to_numpy(dtype=bool), "article8", np.where(reclaim, "reclaim", "fee"))
    stage = stage.astype(object)
    fee = (price * IDLE_FEE_SHARE).where(stage == "fee")
    return stage, fee


def _stage_sentence(stage: np.ndarray, fee: np.ndarray, price: np.ndarray) -> pa.Array:
    """Return the sentence that states the stage and the fee (for the reported rows)."""
    is_fee = stage == "fee"
    known = ~np.isnan(fee)
    return _cat(
        _where(is_fee, "；满 1 年：征缴土地闲置费（土地价款的 20%）"),
        _where(is_fee & known, _cat("：", _fmt(price), " 万元 × 20% = ", _fmt(fee), " 万元")),
        _where(is_fee & ~known, "，土地价款未知，闲置费未计算"),
        _where(stage == "reclaim", "；满 2 年：可无偿收回国有建设用地使用权"),
        _where(
            stage == "article8",
            "；属政府原因（第八条）：不征缴闲置费、不无偿收回，列入清单并注明原因",
        ),
    )


def _idle(
    p: _Parcels,
    state: dict[str, pd.Series],
    includes_land_price: bool,
    diag: Diagnostics,
) -> tuple[list[_Part], np.ndarray, pd.Series]:
    """Return the rows of IDLE_*, GOV_CAUSE and OVERDUE_START, and the idle stage and fee."""
    as_of, index = p.as_of, p.frame.index
    as_of_text = as_of.strftime("%Y-%m-%d")
    agreed_start = p.date("agreed_start")
    actual_start = p.date("actual_start")
    price = p.num("land_price_wan")
    gov = p.flag("gov_cause")
    started, completed = state["started"], state["completed"]
    out: list[_Part] = []
    # the per-parcel idle stage, as an object array (NaN where none), as the output column wants
    idle_stage = np.full(len(index), np.nan, dtype=object)
    idle_fee = pd.Series(np.nan, index=index)

    # not started
    years = full_years_elapsed(agreed_start, as_of)
    future_start = actual_start.notna() & (actual_start > as_of)
    not_started = ~started & agreed_start.notna()
    idle_ns = not_started & (years >= 1).fillna(False).astype(bool)
    years_elapsed = years.astype(float)
    stage, fee = _stage_fee(years_elapsed, price, gov)

    def idle_evidence(s: Sub) -> pa.Array:
        return _cat(
            "约定开工 ",
            _day(s(agreed_start)),
            f"，截至 {as_of_text} 未开工，已满 ",
            _fmt(s(years_elapsed), 0),  # whole years: "3", as years.astype("str") gives
            " 年",
            _where(s(future_start), _cat("（实际开工 ", _day(s(actual_start)), " 在评价日之后）")),
            _stage_sentence(s(stage), s(fee), s(price)),
        )

    out.append(
        _rows(
            idle_ns,
            "IDLE_NOT_STARTED",
            p,
            source=SOURCE_IDLE,
            value=years_elapsed,
            threshold=1.0,
            unit="年",
            stage=stage,
            fee_wan=fee,
            evidence=idle_evidence,
        )
    )
    idle_stage = np.where(idle_ns, stage, idle_stage)
    idle_fee = idle_fee.where(~idle_ns, fee)

    overdue = not_started & (agreed_start < as_of) & (years < 1).fillna(False).astype(bool)
    days = (as_of - agreed_start).dt.days

    def overdue_evidence(s: Sub) -> pa.Array:
        return _cat(
            "约定开工 ",
            _day(s(agreed_start)),
            f"，截至 {as_of_text} 未开工，逾期 ",
            _fmt(s(days)),
            " 天，未满 1 年（",
            _day(add_years(pd.Series(s(agreed_start)), 1)),
            " 起满 1 年，认定为闲置土地）",
            _where(s(future_start), _cat("；实际开工 ", _day(s(actual_start)), " 在评价日之后")),
            _where(s(gov), "；标注政府原因（第八条）"),
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
    area_source = _if(area.notna(), "出让面积", "宗地面积")
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
    susp_elapsed = susp_years.astype(float)
    s_stage, s_fee = _stage_fee(susp_elapsed, price, gov)
    dev_ratio = developed / area
    inv_ratio = done_net / total_net

    def stalled_evidence(s: Sub) -> pa.Array:
        return _cat(
            "已开工；",
            _where(
                s(dev_known),
                _cat(
                    "已开发 ",
                    _fmt(s(developed)),
                    " m²，占",
                    s(area_source),
                    " ",
                    _fmt(s(area)),
                    " m² 的 ",
                    _pct(s(dev_ratio)),
                    _if(s(dev_low), "（不足 1/3）", "（不低于 1/3）"),
                    "；",
                ),
            ),
            _where(
                s(inv_known),
                _cat(
                    "已完成投资 ",
                    _fmt(s(done_net)),
                    " 万元，占总投资 ",
                    _fmt(s(total_net)),
                    " 万元的 ",
                    _pct(s(inv_ratio)),
                    _if(s(inv_low), "（不足 25%）", "（不低于 25%）"),
                    _where(s(netted), _cat("（已扣除地价 ", _fmt(s(price)), " 万元）")),
                    "；",
                ),
            ),
            "自 ",
            _day(s(suspended)),
            f" 停工，截至 {as_of_text} 已满 ",
            _fmt(s(susp_elapsed), 0),
            " 年",
            _stage_sentence(s(s_stage), s(s_fee), s(price)),
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
    idle_stage = np.where(stalled, s_stage, idle_stage)
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
            evidence=lambda s: _cat(
                "标注为政府原因（政府原因字段为“是”）：",
                _if(s(idle_ns), "闲置土地（未动工）", "闲置土地（中止开发）"),
                "按第八条处置，不征缴闲置费、不无偿收回；清单照列并注明原因",
            ),
        )
    )

    # suspected: supplied, nothing built, no start, and no dates for the legal test
    if p.building_info and p.has_geometry:
        geometry = p.frame.geometry
        geom_ok = ~geometry.isna() & ~geometry.is_empty
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

        def suspected_evidence(s: Sub) -> pa.Array:
            h, no = s(holder), s(number)
            has_h, has_no = _known(h), _known(no)
            return _cat(
                "已供地（",
                _where(has_h, _cat("权利人 ", _fill(h))),
                _where(~has_h & has_no, _cat("电子监管号 ", _fill(no))),
                _where(~has_h & ~has_no, "有合同记录"),
                f"），截至 {as_of_text} "
                "宗地上无建筑、无实际开工记录，也无约定开工日期，无法按第二条认定；"
                "仅凭图形（geometry only）判断为疑似闲置，不列入正式闲置土地清单",
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
        idle_stage = np.where(suspected, "suspected", idle_stage)
    return out, idle_stage, idle_fee


def _category(low: np.ndarray) -> pa.Array:
    return _if(low, CATEGORY_LOW, CATEGORY_SUPERVISION)


def _supervision(
    p: _Parcels, state: dict[str, pd.Series], thresholds: Mapping[str, Threshold]
) -> list[_Part]:
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
            source=lambda s: _cat(SOURCE_CONTRACT_COMPLETION, _where(s(very_late), late_note)),
            value=days.astype(float),
            threshold=0.0,
            unit="天",
            evidence=lambda s: _cat(
                "约定竣工 ",
                _day(s(agreed_completion)),
                f"，截至 {as_of_text} 未竣工，逾期 ",
                _fmt(s(days)),
                " 天",
                _where(
                    s(very_late),
                    _cat(f"，超过 {late_years:g} 年（", _day(s(limit)), " 后），列为低效用地"),
                ),
                _where(~s(started), "；尚未开工"),
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
            source=lambda s: _cat(SOURCE_CONTRACT_INVESTMENT, _where(s(very_short), ratio_note)),
            value=done,
            threshold=total,
            unit="万元",
            evidence=lambda s: _cat(
                _if(s(completed), "已竣工", "约定竣工日期已过"),
                "，已完成投资 ",
                _fmt(s(done)),
                " 万元，低于约定投资总额 ",
                _fmt(s(total)),
                " 万元（",
                _pct(s(ratio)),
                "）",
                _where(s(very_short), f"，不足 {ratio_min:.0%}，列为低效用地"),
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
                    source=lambda s, fb=far_below: _cat(
                        SOURCE_CONTRACT_COMMITMENT, _where(s(fb), commitment_note)
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
) -> Callable[[Sub], pa.Array]:
    """Return the evidence builder of a BELOW_COMMITMENT row."""

    def build(s: Sub) -> pa.Array:
        v, c = s(value), s(committed)
        return _cat(
            lead,
            " ",
            _fmt(v),
            " 万元/亩，",
            what,
            " ",
            _fmt(c),
            " 万元/亩（",
            _pct(v / c),
            "）",
            _where(v < 0, "（含退税，为负）"),
            _where(s(far_below), f"，不足 {ratio_min:.0%}，列为低效用地"),
        )

    return build


def _low_efficiency(
    p: _Parcels,
    state: dict[str, pd.Series],
    thresholds: Mapping[str, Threshold],
    far_minimum: Callable[[pd.Series], pd.DataFrame] | None,
) -> list[_Part]:
    """Return the rows of LOW_FAR, LOW_COVERAGE, LOW_TAX and VACANT_BUILDING."""
    index = p.frame.index
    in_use, active, completed = state["in_use"], state["active"], state["completed"]

    def why(s: Sub) -> pa.Array:
        return _if(s(active), "在产", _if(s(completed), "已竣工", "已过约定竣工日期"))

    out = []
    if p.has("far"):
        far = p.num("far")
        far_min = p.num("far_min")
        contract = far_min.notna() & (far_min > 0)
        limit = far_min.where(contract)
        source = np.where(contract, SOURCE_CONTRACT_FAR, "").astype(object)
        industry = p.text("industry_code")
        ask = ~contract & industry.notna() & in_use & far.notna()
        if far_minimum is not None and ask.any():
            # the asked rows have no contract limit (limit is NaN there): fill in the table's
            at = np.flatnonzero(ask.to_numpy(dtype=bool))
            table = _per_distinct(far_minimum, industry.iloc[at]).reindex(index[at])
            table_limit = pd.to_numeric(table["far_min_industry"], errors="coerce")
            limit_m = limit.to_numpy(dtype=float, copy=True)
            limit_m[at] = table_limit.to_numpy(dtype=float)
            limit = pd.Series(limit_m, index=index)
            listed = ~np.isnan(table_limit.to_numpy(dtype=float))
            table_source = table["far_min_source"].astype("str").to_numpy(dtype=object)
            source[at[listed]] = table_source[listed]
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
                evidence=lambda s: _cat(
                    why(s),
                    "，容积率 ",
                    _fmt(s(far), 2),
                    "，低于",
                    _if(
                        s(contract),
                        "合同约定下限",
                        _cat("行业控制指标（行业代码 ", _fill(s(industry)), "）"),
                    ),
                    " ",
                    _fmt(s(limit), 2),
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
                evidence=lambda s: _cat(
                    why(s),
                    "，建筑系数 =（建筑占地 ",
                    _fmt(s(footprint)),
                    " m² + 构筑物及堆场 ",
                    _fmt(s(yards)),
                    " m²）÷ 宗地面积 ",
                    _fmt(s(area)),
                    " m² = ",
                    _pct(s(coefficient)),
                    f"，低于 {coverage_min:.0%}",
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
                evidence=lambda s: _cat(
                    "代理指标：未提供构筑物及堆场面积，以建筑密度代替建筑系数；",
                    why(s),
                    "，建筑密度 ",
                    _pct(s(density)),
                    f"，低于 {density_min:.0%}",
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
                evidence=lambda s: _cat(
                    why(s),
                    "，亩均税收 ",
                    _fmt(s(tax)),
                    f" 万元/亩，低于园区设定的 {low_tax:g} 万元/亩",
                    _where(s(tax) < 0, "（含退税，为负）"),
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
                evidence=lambda s: _cat(
                    "宗地上有 ",
                    _fmt(s(n_buildings), 0),
                    " 栋建筑，无有生产经营活动的企业",
                    f"（有税收或年用电不低于 {stopped_kwh:g} kWh）",
                ),
            )
        )
    return out


def _per_distinct(func: Callable[[pd.Series], pd.DataFrame], values: pd.Series) -> pd.DataFrame:
    """Return ``func(values)`` for a row-by-row ``func``, calling it once per distinct value."""
    at, distinct = pd.factorize(values, use_na_sentinel=False)  # in order of first appearance
    if len(distinct) == len(values):
        return func(values)
    first = np.unique(at, return_index=True)[1]
    table = func(values.iloc[first])
    return pd.DataFrame(
        {column: table[column].to_numpy()[at] for column in table.columns}, index=values.index
    )


# --------------------------------------------------------------------------------------------------
# undeveloped remainders


def remainder_pieces(
    parcels: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None,
    thresholds: Mapping[str, Threshold],
    *,
    diagnostics: Diagnostics | None = None,
) -> Remainders:
    """Return the undeveloped remainder pieces of built parcels (the geometry of the rule).

    A piece is a part of a built parcel outside its buildings and their ``remainder_margin_m``
    margin, of at least ``remainder_min_mu``, that is not empty once buffered inward by
    ``remainder_inward_buffer_m``; all measured in each parcel's GK zone (``area_epsg``, else the
    zone of its longitude). This is the geometric part of UNDEVELOPED_REMAINDER; :func:`find` turns
    the pieces into findings. It reads only what the parcels have after the join, so a pipeline
    can run it in a background thread and hand :func:`find` the result or the Future of it.

    Parameters
    ----------
    parcels : GeoDataFrame
        Joined parcels: geometry, ``parcel_id`` (column or index name), ``area_m2``,
        ``footprint_m2``, ``n_buildings`` (a parcel is built when it is above 0; without the
        column the buildings are counted per ``parcel_id``) and optionally ``area_epsg``.
    buildings : GeoDataFrame, optional
        Building pieces clipped to parcels, with ``parcel_id`` and a CRS.
    thresholds : mapping of str to Threshold
        Keys :data:`REMAINDER_THRESHOLD_KEYS`.
    diagnostics : Diagnostics, optional
        Receives the warnings (no building layer, no CRS). By default a new one, kept in the
        result; leave it out when the result goes to ``find(remainders=...)``, which copies the
        warnings into its own diagnostics in the order it would have recorded them. The function
        touches no other shared state, so it is safe to run in a thread.

    Returns
    -------
    Remainders
    """
    _check_thresholds(thresholds, REMAINDER_THRESHOLD_KEYS, "flags.remainder_pieces")
    diag = diagnostics if diagnostics is not None else Diagnostics()
    ident = _identify(parcels, buildings)
    return _remainder_pieces(
        parcels,
        ident.parcel_id.fillna(ident.key),
        ident.has_geometry,
        ident.n_buildings > 0,
        buildings,
        thresholds,
        diag,
    )


def _remainder_thresholds(thresholds: Mapping[str, Threshold]) -> tuple[float, float, float]:
    """Return the margin (m), the smallest piece (m²) and the inward buffer (m)."""
    margin = float(_th(thresholds, "remainder_margin_m") or 0.0)
    min_m2 = float(_th(thresholds, "remainder_min_mu") or 0.0) * M2_PER_MU
    inward = float(_th(thresholds, "remainder_inward_buffer_m") or 0.0)
    return margin, min_m2, inward


def _remainder_pieces(
    frame: pd.DataFrame,
    ids: pd.Series,
    has_geometry: bool,
    built: pd.Series,
    buildings: gpd.GeoDataFrame | None,
    thresholds: Mapping[str, Threshold],
    diag: Diagnostics,
) -> Remainders:
    """Compute the pieces (see :func:`remainder_pieces`); ``ids`` names each parcel's pieces."""
    margin, min_m2, inward = _remainder_thresholds(thresholds)
    crs = frame.crs if isinstance(frame, gpd.GeoDataFrame) else None
    empty = gpd.GeoDataFrame(
        {c: pd.Series(dtype="str" if c == "parcel_id" else float) for c in REMAINDER_COLUMNS},
        geometry=gpd.GeoSeries([], crs=crs),
    )
    none = Remainders(empty, np.empty(0, dtype=np.int64), frame.index, margin, min_m2, inward, diag)
    if not has_geometry or not built.any():
        return none
    if buildings is None or "parcel_id" not in buildings.columns or buildings.crs is None:
        diag.warn(
            "remainder_no_buildings",
            "undeveloped remainders were not computed: no building layer with parcel_id and a CRS "
            "was given to flags.find(buildings=...)",
        )
        return none
    if crs is None:
        diag.warn(
            "remainder_no_crs", "undeveloped remainders were not computed: parcels have no CRS"
        )
        return none

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
    area_m2 = pd.to_numeric(frame["area_m2"], errors="coerce") if "area_m2" in frame else np.nan
    footprint_m2 = (
        pd.to_numeric(frame["footprint_m2"], errors="coerce").fillna(0.0)
        if "footprint_m2" in frame
        else 0.0
    )
    too_small = pd.Series(area_m2 - footprint_m2 < 0.99 * min_m2, index=frame.index)
    todo = (built & ~too_small & ~geometry.isna() & ~geometry.is_empty & (zones != -1)).to_numpy()
    if not todo.any():
        return none
    sel_geom = np.asarray(geometry.values, dtype=object)[todo]
    sel_zone = zones[todo].to_numpy()
    sel_id = ids[todo]

    # the buildings on these parcels, each with the slot of (the first parcel with) its parcel id
    first = ~sel_id.duplicated().to_numpy()
    found = pd.Index(sel_id.to_numpy()[first]).get_indexer(buildings["parcel_id"].astype("str"))
    on = found >= 0
    b_slot = np.flatnonzero(first)[found[on]]
    b_geom = np.asarray(buildings.geometry.values, dtype=object)[on]
    order = np.argsort(b_slot, kind="stable")
    b_slot, b_geom = b_slot[order], b_geom[order]

    # The parcels are cut into contiguous runs, one per usable CPU, each worked out whole in a
    # thread of its own (landeff.parallel): every step is per parcel, so each piece is the same
    # as from one run, and the runs' pieces, joined in order, are in the same order as one run
    # gives.
    def run(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        b_lo, b_hi = np.searchsorted(b_slot, [lo, hi])
        parts, owner, piece_m2 = _pieces_of(
            sel_geom[lo:hi], sel_zone[lo:hi], b_geom[b_lo:b_hi], b_slot[b_lo:b_hi] - lo,
            crs=crs, building_crs=buildings.crs, margin=margin, min_m2=min_m2, inward=inward,
        )
        return parts, owner + lo, piece_m2

    results = parallel.in_runs(run, len(sel_geom))
    parts = np.concatenate([r[0] for r in results])
    owner = np.concatenate([r[1] for r in results])
    piece_m2 = np.concatenate([r[2] for r in results])
    pieces = gpd.GeoDataFrame(
        {
            "parcel_id": pd.Series(sel_id.to_numpy()[owner], dtype="str"),
            "area_m2": piece_m2,
            "area_mu": piece_m2 / M2_PER_MU,
        },
        geometry=gpd.GeoSeries(parts, crs=crs),
    )
    positions = np.flatnonzero(todo)[owner]
    return Remainders(pieces, positions, frame.index, margin, min_m2, inward, diag)


def _pieces_of(
    plots: np.ndarray,
    zone: np.ndarray,
    houses: np.ndarray,
    slot: np.ndarray,
    *,
    crs: Any,
    building_crs: Any,
    margin: float,
    min_m2: float,
    inward: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the remainder pieces of some parcels: geometry (in ``crs``), parcel, area (m²).

    ``plots`` are the parcels (in ``crs``), ``zone`` the zone each is measured in, ``houses`` the
    buildings (in ``building_crs``) sorted by ``slot``, the position of their parcel in ``plots``.
    """
    planar = np.asarray(
        project_by_zone(gpd.GeoSeries(plots, crs=crs), pd.Series(zone, dtype=object)).values,
        dtype=object,
    )
    b_planar = np.asarray(
        project_by_zone(
            gpd.GeoSeries(houses, crs=building_crs), pd.Series(zone[slot], dtype=object)
        ).values,
        dtype=object,
    )
    # The buildings of a parcel as one collection: buffering a collection unions its parts. A
    # parcel with one building gives its polygon itself (GEOS buffers a collection of one
    # polygon as that polygon: the same vertices, and a collection costs a copy), one without
    # any an empty collection (an empty cover).
    count = np.bincount(slot, minlength=len(plots))
    groups = np.full(len(plots), shapely.GeometryCollection(), dtype=object)
    alone = count[slot] == 1
    groups[slot[alone]] = b_planar[alone]
    if not alone.all():
        several = ~alone
        shapely.geometrycollections(b_planar[several], indices=slot[several], out=groups)
    cover = shapely.buffer(groups, margin)
    del groups, b_planar  # (memory: at 1M parcels these are large)
    # A piece is a part of the rest (parcel minus cover), which lies in the parcel's bounding box
    # outside the cover: a piece's area is at most the box's area minus the area of the cover
    # inside the box. Where that bound is under the minimum, with 1 % slack (the areas are exact
    # to about 1e-9 of their size), no piece can reach the minimum and the difference is not
    # computed. The bound can only be under the minimum where the cover's area is over box area -
    # minimum, so it is computed there only. (This skips 2/3 of the benchmark's built parcels.)
    box = shapely.bounds(planar)
    box_m2 = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
    maybe = np.flatnonzero(shapely.area(cover) > box_m2 - 0.99 * min_m2)
    outside_cover_m2 = box_m2.copy()
    outside_cover_m2[maybe] -= _area_in_boxes(cover[maybe], box[maybe])
    needed = np.flatnonzero(~(outside_cover_m2 < 0.99 * min_m2))  # NaN: needed
    rest = shapely.difference(planar[needed], cover[needed])
    # GEOS measures a multi-part geometry as the sum of its parts' areas (each part measured as
    # get_parts returns it), and a float sum of non-negative terms is never below one of them: a
    # rest under the minimum has no part that reaches it, so only the others are taken apart
    large = np.flatnonzero(shapely.area(rest) >= min_m2)
    parts, owner = shapely.get_parts(rest[large], return_index=True)
    owner = needed[large[owner]]
    del rest, cover
    polygonal = shapely.get_type_id(parts) == 3
    piece_m2 = shapely.area(parts)
    keep = polygonal & (piece_m2 >= min_m2)
    keep[keep] = ~shapely.is_empty(shapely.buffer(parts[keep], -inward))
    parts, owner, piece_m2 = parts[keep], owner[keep], piece_m2[keep]

    piece_zone = zone[owner]
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
    return back, owner, piece_m2


def _clip_takes_array_bounds(clip: Callable[..., Any] | None = None) -> bool:
    """Return whether ``clip`` (default ``shapely.lib.clip_by_rect``) takes a rectangle per row.

    The public ``shapely.clip_by_rect`` takes one rectangle for all geometries (shapely/shapely
    #1331 asks for more); its ufunc broadcasts arrays of bounds (shapely 2.0 to 2.2 at least).
    This is private API, so it is tried once on two squares with known answers, and anything
    else (an error, another answer) falls back to the public path.
    """
    if clip is None:
        clip = getattr(getattr(shapely, "lib", None), "clip_by_rect", None)
    if clip is None:
        return False
    # by hand: the 4 × 4 square inside [0, 1] × [0, 1] is 1 m², inside [1, 3] × [1, 4] 2 × 3 m²
    squares = np.array([shapely.box(0, 0, 4, 4)] * 2, dtype=object)
    try:
        clipped = clip(squares, np.array([0.0, 1.0]), np.array([0.0, 1.0]),
                       np.array([1.0, 3.0]), np.array([1.0, 4.0]))  # fmt: skip
        return shapely.area(clipped).tolist() == [1.0, 6.0]
    except (TypeError, ValueError, shapely.errors.GEOSException):
        return False


#: Whether :func:`_area_in_boxes` clips each geometry to its own box in one GEOS call.
CLIP_TAKES_ARRAY_BOUNDS = _clip_takes_array_bounds()


def _area_in_boxes(
    geometries: np.ndarray, boxes: np.ndarray, *, own_boxes: bool | None = None
) -> np.ndarray:
    """Return the area of each geometry inside its own box (rows ``xmin, ymin, xmax, ymax``).

    Both ways use GEOS's fast rectangle clipping. Where shapely's clipping ufunc takes an array
    of boxes (:data:`CLIP_TAKES_ARRAY_BOUNDS`, the default of ``own_boxes``), each geometry is
    clipped to its box. Otherwise (shapely's public ``clip_by_rect`` clips all to one box) each
    geometry is first mapped by x' = (x - xmin) / width, y' = (y - ymin) / height, which takes
    its box to the unit square and divides every area by width × height; the clipped area is
    multiplied back. A box without width or height gives NaN.
    """
    if own_boxes is None:
        own_boxes = CLIP_TAKES_ARRAY_BOUNDS
    xmin, ymin, xmax, ymax = np.asarray(boxes, dtype=float).reshape(-1, 4).T
    width, height = xmax - xmin, ymax - ymin
    solid = (width > 0) & (height > 0)  # (NaN bounds, of an empty geometry: not solid)
    # other rows are worked with the unit square, and their answer dropped (GEOS refuses a
    # rectangle without area; NaN coordinates make rings that do not close)
    xmin, ymin = np.where(solid, xmin, 0.0), np.where(solid, ymin, 0.0)
    if own_boxes:
        xmax, ymax = np.where(solid, xmax, 1.0), np.where(solid, ymax, 1.0)
        clipped = shapely.lib.clip_by_rect(geometries, xmin, ymin, xmax, ymax)
        return np.where(solid, shapely.area(clipped), np.nan)
    width, height = np.where(solid, width, 1.0), np.where(solid, height, 1.0)
    n_coords = shapely.get_num_coordinates(geometries)
    origin = np.repeat(np.column_stack((xmin, ymin)), n_coords, axis=0)
    size = np.repeat(np.column_stack((width, height)), n_coords, axis=0)
    unit = shapely.transform(geometries, lambda xy: (xy - origin) / size)
    area = shapely.area(shapely.clip_by_rect(unit, 0.0, 0.0, 1.0, 1.0)) * width * height
    return np.where(solid, area, np.nan)


def _resolve_remainders(
    given: Remainders | Future,
    p: _Parcels,
    thresholds: Mapping[str, Threshold],
    diag: Diagnostics,
) -> Remainders:
    """Return the precomputed remainders, waiting for a Future.

    They are checked against ``find``'s parcels and thresholds, and their warnings are copied into
    ``diag``.
    """
    result = given.result() if isinstance(given, Future) else given
    if not isinstance(result, Remainders):
        msg = (
            "flags.find(remainders=...): expected what flags.remainder_pieces returns (or a Future "
            f"of it), got {type(result).__name__}"
        )
        raise TypeError(msg)
    if not result.index.equals(p.frame.index):
        msg = (
            f"flags.find(remainders=...): the remainders were computed for {len(result.index)} "
            f"parcels that are not the {len(p.frame)} given to find (the index differs); pass "
            "remainder_pieces the same parcels frame, in the same order"
        )
        raise ValueError(msg)
    used = (result.margin_m, result.min_m2, result.inward_m)
    if used != _remainder_thresholds(thresholds):
        msg = (
            "flags.find(remainders=...): the remainders were computed with other thresholds "
            f"(margin {used[0]:g} m, minimum {used[1]:g} m², inward {used[2]:g} m); pass "
            "remainder_pieces the thresholds given to find"
        )
        raise ValueError(msg)
    if result.diagnostics is not diag:
        diag.extend(result.diagnostics)
    return result


def _remainder_rows(
    p: _Parcels, remainders: Remainders, thresholds: Mapping[str, Threshold]
) -> list[_Part]:
    """UNDEVELOPED_REMAINDER: one finding per parcel with at least one remainder piece."""
    if not len(remainders.positions):
        return []
    margin, _, inward = _remainder_thresholds(thresholds)
    min_mu = _th(thresholds, "remainder_min_mu")
    positions = remainders.positions
    piece_mu = remainders.pieces["area_m2"].to_numpy(dtype=float) / M2_PER_MU
    n = len(p.frame)
    count = np.bincount(positions, minlength=n)
    total_mu = np.where(count > 0, np.bincount(positions, weights=piece_mu, minlength=n), np.nan)
    largest = np.full(n, np.nan)
    np.fmax.at(largest, positions, piece_mu)
    return [
        _rows(
            count > 0,
            "UNDEVELOPED_REMAINDER",
            p,
            source=thresholds["remainder_min_mu"].source,
            value=total_mu,
            threshold=min_mu,
            unit="亩",
            evidence=lambda s: _cat(
                f"已建宗地上，建筑及其 {margin:g} m 作业范围以外有 ",
                _fmt(s(count), 0),
                f" 块不小于 {min_mu:g} 亩、向内缩 {inward:g} m 后仍不为空的未开发土地，合计 ",
                _fmt(s(total_mu)),
                " 亩（最大一块 ",
                _fmt(s(largest)),
                " 亩）",
            ),
        )
    ]


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
    key: pd.Series,
    split: tuple[np.ndarray, np.ndarray] | None,
) -> list[_Part]:
    """Return the rows of STOPPED, ZOMBIE, GRADE_D and enterprise-level BELOW_COMMITMENT.

    ``key`` is ``_enterprise_key(enterprises)``, ``split`` ``_split_all(enterprises['parcel_ids'])``
    (None without the column).
    """
    index = enterprises.index
    stopped_kwh = _th(thresholds, "stopped_kwh")
    ratio_min = _th(thresholds, "shortfall_ratio")
    assert stopped_kwh is not None and ratio_min is not None  # checked by _check_thresholds
    parcel_text = (
        _joined_id_array(split, len(index))
        if split is not None
        else np.full(len(index), None, dtype=object)
    )
    uscc = enterprises["uscc"].astype("str") if "uscc" in enterprises else _no_text(index)
    # the columns every enterprise finding reports, converted to arrays once; _row is the
    # enterprise's row position (for the per-enterprise flags)
    base = {
        "level": "enterprise",
        "key": _series_text(key),
        "parcel_id": _text(parcel_text),
        "supervision_no": None,
        "uscc": _series_text(uscc),
        "_pos": np.nan,
        "_row": np.arange(len(index), dtype=float),
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
            evidence=lambda s: _cat(
                year_text,
                "税收 ",
                _fmt(s(tax)),
                " 万元（不大于 0",
                _where(s(tax) < 0, "，为退税"),
                "），用电 ",
                _fmt(s(kwh), 0),
                f" kWh（低于 {stopped_kwh:g} kWh）：停产或半停产",
            ),
        )
    ]

    if year is not None:
        # the key, the year (as an integer) and whether it was stopped, of the enterprises of
        # this year and of the history rows of other years
        keys = [key]
        years = [np.full(len(index), year, dtype=np.int64)]
        stops = [stopped.to_numpy(dtype=bool)]
        if history is not None and len(history):
            h = history
            if "year" not in h.columns:
                msg = "flags.find(enterprise_years=...): the frame needs a 'year' column"
                raise ValueError(msg)
            hy = pd.to_numeric(h["year"], errors="coerce")
            other = (hy.notna() & (hy != year)).to_numpy()
            keys.append(_enterprise_key(h)[other])
            years.append(hy.to_numpy()[other].astype("int64"))
            stops.append(_stopped(h, stopped_kwh).to_numpy(dtype=bool)[other])
        every_key = pd.concat(keys, ignore_index=True)
        every_year, every_stopped = np.concatenate(years), np.concatenate(stops)
        streak_years = np.zeros(len(index), dtype=np.int64)
        alive = np.ones(len(index), dtype=bool)
        for back in range(len(np.unique(every_year))):  # a loop over years, not enterprises
            stopped_then = every_key[every_stopped & (every_year == year - back)]
            alive &= key.isin(stopped_then).to_numpy(dtype=bool)
            if not alive.any():
                break
            streak_years += alive
        streak = pd.Series(streak_years, index=index)
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
                evidence=lambda s: _cat(
                    f"截至 {year} 年已连续 ",
                    _fmt(s(streak), 0),
                    " 年停产（",
                    _fmt(year - s(streak) + 1, 0),
                    f"–{year} 年每年税收不大于 0、用电低于 {stopped_kwh:g} kWh）",
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
                # a missing preset makes the bracketed text missing, and _fill drops it
                source=lambda s: _cat("亩均效益综合评价", _fill(_cat("（", s(preset), "）"))),
                value=score,
                threshold=np.nan,
                unit="分",
                evidence=lambda s: _cat(
                    year_text,
                    "综合评价为 D 类",
                    _where(pd.notna(s(score)), _cat("，得分 ", _fmt(s(score)))),
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
                source=lambda s, fb=far_below: _cat(
                    SOURCE_CONTRACT_COMMITMENT, _where(s(fb), commitment_note)
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
    remainders: Remainders | Future | None = None,
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
    remainders : Remainders or Future of it, optional
        The undeveloped remainder pieces, computed beforehand by :func:`remainder_pieces` on the
        same ``parcels`` frame (same index) and ``buildings`` with the same thresholds (checked:
        ValueError otherwise). A Future is waited for only after every other rule has run. Its
        warnings are copied into ``diagnostics`` where ``find`` records them when it computes the
        pieces itself, so the warnings come out the same either way. By default ``find``
        computes the pieces.

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
            other_year = (ey.notna() & (ey != year)).to_numpy()
            if other_year.any():
                other = ent.loc[other_year]
                history = (
                    other if history is None else pd.concat([history, other], ignore_index=True)
                )
                ent = ent.loc[~other_year]
    stopped = _stopped(ent, stopped_kwh) if ent is not None else None
    # the enterprises' parcel ids, split once for the active counts, the text and the flags
    split = (
        _split_all(ent["parcel_ids"]) if ent is not None and "parcel_ids" in ent.columns else None
    )

    p = _prepare(parcels, buildings, ent, stopped, as_of_ts, split)
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
    if remainders is None:
        pieces = _remainder_pieces(
            p.frame,
            p.parcel_id.fillna(p.key),
            p.has_geometry,
            state["built"],
            buildings,
            thresholds,
            diag,
        )
    ent_key = _enterprise_key(ent) if ent is not None else None
    enterprise_parts = (
        _enterprises(ent, history, year, stopped, thresholds, ent_key, split)
        if ent is not None and ent_key is not None and stopped is not None and len(ent)
        else []
    )
    if remainders is not None:
        # the enterprise rules record no warning, so the remainders' warnings still come right
        # after those of the parcel rules, as when find computes the pieces itself
        pieces = _resolve_remainders(remainders, p, thresholds, diag)
    parts += _remainder_rows(p, pieces, thresholds)
    parts += enterprise_parts

    findings, found = _assemble(
        parts, as_of_ts, note=NO_GEOMETRY_NOTE if not p.has_geometry and not p.building_info else ""
    )
    per_parcel = _per_parcel(p, found, ent_key, split, idle_stage, idle_fee)
    per_enterprise = _per_enterprise(found, ent_key)
    return Findings(findings, pieces.pieces, per_parcel, per_enterprise)


@dataclass
class _Found:
    """The columns of the findings that the per-parcel and per-enterprise flags are made from."""

    parcel_level: np.ndarray  # bool: a parcel finding (else an enterprise finding)
    pos: np.ndarray  # float: the parcel's row position (NaN for enterprise findings)
    row: np.ndarray  # float: the enterprise's row position (NaN for parcel findings)
    code: np.ndarray  # int: the reason code's place in CODES


#: Columns of the findings that hold numbers (the others but ``as_of`` hold text).
_NUMBER_COLUMNS = ("value", "threshold", "fee_wan")


@dataclass
class _Text:
    """A text column of the findings, gathered from the parts.

    Where every part gives one value for all its rows (the code, its labels, the unit, ...), the
    column is kept as the list of distinct ``labels`` and each row's place in it (``ids``);
    otherwise as one pyarrow text array (``values``).
    """

    values: pa.Array | None = None
    ids: np.ndarray | None = None
    labels: list[Any] = field(default_factory=list)

    @classmethod
    def gather(cls, parts: list[_Part], name: str) -> _Text:
        given = [part.columns.get(name) for part in parts]
        if all(np.ndim(v) == 0 and not isinstance(v, pa.Array) for v in given):
            labels = list(dict.fromkeys(given))
            at = np.asarray([labels.index(v) for v in given], dtype=np.int64)
            return cls(ids=np.repeat(at, [part.n for part in parts]), labels=labels)
        chunks = []
        for part, value in zip(parts, given, strict=True):
            if isinstance(value, str):
                chunks.append(pa.repeat(_text(value), part.n))
            elif isinstance(value, pa.Array | np.ndarray):
                chunks.append(_text(value).cast(_TEXT))
            else:  # None or NaN: missing
                chunks.append(pa.nulls(part.n, _TEXT))
        return cls(values=pa.concat_arrays(chunks) if chunks else pa.array([], _TEXT))

    def take(self, order: np.ndarray) -> _Text:
        if self.values is not None:
            return _Text(values=self.values.take(order))
        assert self.ids is not None
        return _Text(ids=self.ids[order], labels=self.labels)

    def arrow(self) -> pa.Array:
        if self.values is not None:
            return self.values
        assert self.ids is not None
        return _text(np.array(self.labels, dtype=object)).take(self.ids)

    def to_pandas(self) -> pd.api.extensions.ExtensionArray:
        """Return the column as pandas' ``str`` array."""
        return pd.array(self.arrow(), dtype="str")


def _assemble(parts: list[_Part], as_of: pd.Timestamp, *, note: str) -> tuple[pd.DataFrame, _Found]:
    """Return the findings in report order (parcels, then enterprises; by key; by code order).

    Each column is gathered from the parts once and made a pandas column once.
    """
    parts = [part for part in parts if part.n]
    n = sum(part.n for part in parts)
    sizes = [part.n for part in parts]
    text_columns = [c for c in FINDING_COLUMNS if c not in (*_NUMBER_COLUMNS, "as_of")]
    texts = {c: _Text.gather(parts, c) for c in [*text_columns, "key"] if c != "finding_id"}
    numbers = {}
    for c in (*_NUMBER_COLUMNS, "_pos", "_row"):
        chunks = [np.broadcast_to(part.columns.get(c, np.nan), (part.n,)) for part in parts]
        numbers[c] = np.concatenate(chunks).astype(float) if chunks else np.empty(0)
    parcel_level = np.repeat([part.columns["level"] == "parcel" for part in parts], sizes)
    parcel_level = parcel_level.astype(bool)
    if note:
        evidence = texts["evidence"].arrow()
        texts["evidence"] = _Text(values=_if(parcel_level, _cat(evidence, note), evidence))

    # sort keys as integers: the key's rank among the keys (missing last), the code's place in
    # CODES; the row number last makes the order the stable sort of the rows as built
    rank = {c: i for i, c in enumerate(CODES)}
    code_rank = np.repeat(
        np.asarray([rank[part.columns["code"]] for part in parts], dtype=np.int64), sizes
    )
    key = texts.pop("key").arrow()
    key_rank = pc.rank(key, sort_keys="ascending", tiebreaker="dense").to_numpy()
    key_rank = key_rank.astype(np.int64)
    order = np.lexsort((np.arange(n), code_rank, key_rank, ~parcel_level))
    texts = {c: t.take(order) for c, t in texts.items()}
    numbers = {c: v[order] for c, v in numbers.items()}
    code_rank, key_rank, parcel_level = code_rank[order], key_rank[order], parcel_level[order]

    # finding_id: key:code, with #2, #3, ... on the second and later rows of the same key and code
    seq = _cumcount(key_rank * len(CODES) + code_rank)
    finding_id = _cat(
        key.take(order),
        ":",
        texts["code"].arrow(),
        _distinct_text(
            seq, lambda k: np.array([f"#{x + 1}" if x else "" for x in k], dtype=object)
        ),
    )
    texts["finding_id"] = _Text(values=finding_id)

    data: dict[str, Any] = {}
    for c in FINDING_COLUMNS:
        if c in _NUMBER_COLUMNS:
            data[c] = numbers[c]
        elif c == "as_of":
            data[c] = np.full(n, as_of.to_datetime64(), dtype="datetime64[ns]")
        else:
            data[c] = texts[c].to_pandas()
    frame = pd.DataFrame(data, index=pd.RangeIndex(n), columns=FINDING_COLUMNS)
    return frame, _Found(parcel_level, numbers["_pos"], numbers["_row"], code_rank)


def _cumcount(groups: np.ndarray) -> np.ndarray:
    """Return, for each row, how many earlier rows have the same group (``groupby.cumcount``)."""
    n = len(groups)
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = sorted_groups[1:] != sorted_groups[:-1]
    at = np.arange(n)
    first = np.maximum.accumulate(np.where(starts, at, 0)) if n else at
    out = np.empty(n, dtype=np.int64)
    out[order] = at - first
    return out


def _joined_codes(positions: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    """Return, for positions 0..n-1, the sorted distinct ``codes`` found at them, ';'-joined.

    ``positions`` and ``codes`` (text) are pairs.
    """
    positions = np.asarray(positions, dtype="int64")
    ids, names = pd.factorize(np.asarray(codes, dtype=object), sort=True)
    if len(names) > 62:  # more codes than bits: a loop over codes, not rows
        out = np.full(n, "", dtype=object)
        for i, code in enumerate(names):
            at = np.zeros(n, dtype=bool)
            at[positions[ids == i]] = True
            out = np.where(at, np.where(out == "", code, out + ";" + code), out)
        return out
    texts, inverse = _joined_code_ids(positions, ids, list(names), n)
    return texts[inverse]


def _joined_code_ids(
    positions: np.ndarray, ids: np.ndarray, names: list[str], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return :func:`_joined_codes` as the distinct texts and each position's place among them.

    The codes are given as places in ``names`` (sorted, distinct, at most 62). Each position's set
    of codes is a bit mask; the text is built once per distinct mask.
    """
    mask = np.zeros(n, dtype="int64")
    bits = np.left_shift(np.int64(1), np.asarray(ids, dtype="int64"))
    np.bitwise_or.at(mask, np.asarray(positions, dtype="int64"), bits)
    masks, inverse = np.unique(mask, return_inverse=True)
    texts = [";".join(c for i, c in enumerate(names) if (m >> i) & 1) for m in masks.tolist()]
    return np.array(texts, dtype=object), inverse.reshape(-1)


def _flags_column(texts: np.ndarray, inverse: np.ndarray) -> Any:
    """Return the joined codes (:func:`_joined_code_ids`) as the flags column.

    A frame types a column of text as ``str``, and an empty one as ``object``: the same here,
    without the frame's check of every value (pyarrow takes each distinct text once).
    """
    if not len(inverse):
        return np.empty(0, dtype=object)
    return pd.array(_text(texts).take(inverse), dtype="str")


#: The reason codes in alphabetical order (the order of the joined flags) and, for each code's
#: place in CODES, its place in that order.
_SORTED_CODES = sorted(CODES)
_SORTED_PLACE = np.array([_SORTED_CODES.index(c) for c in CODES], dtype=np.int64)


def _per_parcel(
    p: _Parcels,
    found: _Found,
    ent_key: pd.Series | None,
    split: tuple[np.ndarray, np.ndarray] | None,
    idle_stage: np.ndarray,
    idle_fee: pd.Series,
) -> pd.DataFrame:
    index = p.frame.index
    own = found.parcel_level & ~np.isnan(found.pos)
    positions = [found.pos[own].astype("int64")]
    codes = [found.code[own]]
    if ent_key is not None and split is not None and len(found.code):
        # an enterprise's codes go to every parcel in the parcel_ids of every enterprise row with
        # its key (a missing key matches missing keys, as a merge on the key would)
        group, _ = pd.factorize(ent_key, use_na_sentinel=False)
        ent = ~found.parcel_level
        rows, pid = split
        slot = _first_slots(p.arrow("parcel_id"), pid)
        ok = slot >= 0
        pairs = pd.DataFrame(
            {"g": group[found.row[ent].astype("int64")], "c": found.code[ent]}
        ).merge(pd.DataFrame({"g": group[rows][ok], "pos": slot[ok]}), on="g")
        positions.append(pairs["pos"].to_numpy(dtype="int64"))
        codes.append(pairs["c"].to_numpy(dtype="int64"))
    flags = _joined_code_ids(
        np.concatenate(positions), _SORTED_PLACE[np.concatenate(codes)], _SORTED_CODES, len(index)
    )
    return pd.DataFrame(
        {
            "flags": _flags_column(*flags),
            # an object array with NaN where none: typed by the DataFrame (str, or object when
            # there is no idle stage at all), as the output has always been
            "idle_stage": idle_stage,
            "idle_fee_wan": idle_fee.astype(float).to_numpy(),
        },
        index=index,
    )


def _per_enterprise(found: _Found, ent_key: pd.Series | None) -> pd.DataFrame:
    if ent_key is None:
        return pd.DataFrame({"flags": pd.Series(dtype="str")}, index=pd.Index([], name="uscc"))
    # the flags of every row with the same key go to the first row with it
    group, _ = pd.factorize(ent_key, use_na_sentinel=False)
    _, first_row = np.unique(group, return_index=True)  # group ids are 0..k-1, in order
    ent = ~found.parcel_level
    slot = first_row[group[found.row[ent].astype("int64")]]
    flags = _joined_code_ids(slot, _SORTED_PLACE[found.code[ent]], _SORTED_CODES, len(ent_key))
    # the index as pandas types the keys (str; object when empty or all missing)
    uscc = (
        pd.Index(ent_key, name="uscc")
        if ent_key.notna().any()
        else pd.Index(ent_key.to_numpy(), name="uscc")
    )
    return pd.DataFrame({"flags": _flags_column(*flags)}, index=uscc)
