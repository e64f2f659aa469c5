"""Validate raw tables: header aliases and units, value parsing, row accounting.

Every row that is not used goes to :class:`landeff.errors.Diagnostics` as rejected, with its reason;
every value that was changed or assumed is a recorded warning with the row.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Callable
from functools import partial
from itertools import repeat
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pandas.api.types import infer_dtype

from . import checks
from .errors import Diagnostics, InputError
from .io.tables import PY_WHITESPACE
from .parallel import rowwise
from .schema import FIELDS_BY_NAME, UNITS, Field, alias_table, split_unit, unit_factor

#: Columns landeff writes; input columns with these names are kept as ``input_<name>``.
OUTPUT_COLUMNS = frozenset(
    {
        "area_m2", "area_mu", "area_epsg", "footprint_m2", "far_floor_area_m2", "far",
        "building_density", "n_buildings", "n_enterprises", "n_active", "holder_land_m2",
        "tenant_land_m2", "land_m2", "land_mu", "role", "share", "tax_wan_per_mu",
        "revenue_wan_per_mu", "output_wan_per_mu", "value_added_wan_per_mu",
        "value_added_wan_per_tce", "value_added_wan_per_t", "tax_yuan_per_kwh",
        "value_added_wan_per_employee", "rd_ratio", "grade", "score", "flags", "idle_stage",
        "idle_fee_wan",
    }
)
POSITION_COLUMNS = ("_file", "_sheet", "_row")
NON_DATA_WORDS = ("合计", "总计", "小计", "累计", "total")
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
#: Value of each ASCII character in a credit code (-1 outside the alphabet).
_USCC_LOOKUP = np.full(128, -1, dtype=np.int64)
_USCC_LOOKUP[[ord(c) for c in USCC_ALPHABET]] = np.arange(len(USCC_ALPHABET))
_CODE_FIELDS = frozenset({"uscc", "holder_uscc"})
_ID_SPLIT = re.compile(r"[,;，；、\s]+")
# Excel's display of a long number: 9.13E+17 (a sign after E, or a decimal point). A real code may
# hold an E between digits (910939660001E53999), so "digits E digits" alone is not enough.
_SCI_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]\d+$|^[+-]?\d+\.\d+[eE]\d+$")
_has_space = re.compile(r"\s").search
_nfkc = partial(unicodedata.normalize, "NFKC")


def uscc_valid(code: str) -> bool:
    """Return whether a unified social credit code passes the GB 32100-2015 check.

    Examples
    --------
    >>> uscc_valid("91350100M000100Y43")
    True
    >>> uscc_valid("91350100M000100Y44")
    False
    """
    if len(code) != 18 or any(c not in _USCC_VALUE for c in code):
        return False
    total = sum(_USCC_VALUE[c] * w for c, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31] == code[17]


def normalise_name(name: Any) -> str | None:
    """Fold an enterprise name for exact matching (NFKC, no spaces or brackets' width differences)."""
    if name is None or (isinstance(name, float) and np.isnan(name)) or name is pd.NA:
        return None
    text = unicodedata.normalize("NFKC", str(name))
    text = re.sub(r"\s+", "", text)
    return text or None


#: Names made only of printable ASCII other than the space and of CJK Unified Ideographs
#: (U+4E00-U+9FFF). Each of these characters is its own NFKC form with combining class 0 (NFKC
#: quick check Yes), so such a string is already NFKC-normalised (UAX #15); and none is
#: whitespace. :func:`normalise_name` returns such a name unchanged.
_FOLDED_ALREADY = "^[!-~\u4e00-\u9fff]+$"


def normalise_names(values: pd.Series | np.ndarray) -> np.ndarray:
    """Return :func:`normalise_name` of each value, as an object array.

    Each distinct text is folded once. Texts that are already folded (:data:`_FOLDED_ALREADY`,
    matched by Arrow's vectorised regex) are kept as they are; only the others (full-width
    brackets, spaces, compatibility characters) go through ``normalise_name``. Missing values
    give None.
    """
    codes, uniques = pd.factorize(values)
    uniq = np.asarray(uniques, dtype=object)
    if not all(type(u) is str for u in uniq):  # numbers in a name column: the plain way
        return np.array([normalise_name(v) for v in np.asarray(values, dtype=object)], dtype=object)
    folded = uniq.copy()
    try:
        plain = pc.match_substring_regex(pa.array(uniq, type=pa.large_string()), _FOLDED_ALREADY)
        kept = plain.to_numpy(zero_copy_only=False)
    except (pa.ArrowException, UnicodeEncodeError):  # e.g. a lone surrogate: no fast path
        kept = np.zeros(len(uniq), dtype=bool)
    redo = np.flatnonzero(~kept)
    folded[redo] = [normalise_name(u) for u in uniq[redo]]
    return np.append(folded, None)[codes]  # a missing value has code -1: the None at the end


def map_headers(
    columns: list[str], kind: str, *, file: str, diagnostics: Diagnostics
) -> dict[str, tuple[str, str | None]]:
    """Map raw headers to canonical names.

    Returns ``{raw header: (canonical name, unit or None)}`` for every header that names a field.
    An exact alias wins; else a unique alias that starts with the header (DBF names cut to 10 bytes).
    """
    aliases = alias_table(kind)
    found: dict[str, tuple[str, str | None]] = {}
    claimed: dict[str, str] = {}
    for raw in columns:
        if raw in POSITION_COLUMNS or raw == "geometry":
            continue
        base, unit = split_unit(raw)
        name = aliases.get(base)
        if name is None and len(base) >= 2:
            starts = {aliases[a] for a in aliases if a.startswith(base)}
            if len(starts) == 1 and len(base.encode("gbk", errors="ignore")) >= 4:
                name = starts.pop()
        if name is None:
            continue
        if name in claimed:
            diagnostics.warn(
                "duplicate_column",
                f"{file}: columns {claimed[name]!r} and {raw!r} both mean {name}; "
                f"{claimed[name]!r} is used and {raw!r} is kept as an extra column.",
                file=file,
                column=raw,
            )
            continue
        claimed[name] = raw
        found[raw] = (name, unit)
    return found


# ----------------------------------------------------------------------------------------------
# Cell parsing. Each parser reads a whole column at once: the common forms (plain numbers, ISO
# dates, yes/no words, ASCII text) in bulk with pyarrow, numpy or C-level ``map``; every other
# text once per distinct value (``_per_unique``) by the rules for one cell (the ``_*_text`` and
# ``_*_cell`` functions), which say what each parser means.
# ----------------------------------------------------------------------------------------------

#: Plain ASCII numbers, which pyarrow converts exactly as ``float()`` does.
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
#: Cells looked at to tell whether a text column repeats a few values.
_SAMPLE = 2000
_NULL_WORDS = frozenset({"", "-", "—", "--", "/", "无", "null", "None", "nan", "NaN"})


def _kinds(cells: np.ndarray, missing: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return which cells are text (``str``), and which are neither text nor missing."""
    if missing is None:
        missing = pd.isna(cells)
    if infer_dtype(cells, skipna=True) == "string":
        return ~missing, np.zeros(len(cells), dtype=bool)
    text = np.fromiter(map(isinstance, cells, repeat(str)), dtype=bool, count=len(cells))
    return text, ~text & ~missing


def _text_cells(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the cells as objects (None when missing), which are text, and which are neither."""
    if isinstance(values.dtype, pd.StringDtype):
        cells = values.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
        return cells, ~np.asarray(values.isna()), np.zeros(len(cells), dtype=bool)
    cells = values.to_numpy(dtype=object)
    missing = pd.isna(cells)
    if missing.any():
        cells = cells.copy()
        cells[missing] = None
    return (cells, *_kinds(cells, missing))


def _split_cells(values: pd.Series) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray | None]:
    """Split a column into its text cells and the rest.

    Returns the text cells as a pyarrow string array, their positions, the positions of the
    cells that are neither text nor missing, and the cells as objects (None for a pyarrow-backed
    column, whose cells are all text or missing).
    """
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        arr = pa.array(values)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        valid = np.asarray(arr.is_valid())
        if valid.all():
            return arr, np.arange(len(arr)), np.empty(0, dtype=np.int64), None
        return (arr.filter(pa.array(valid)), np.flatnonzero(valid), np.empty(0, dtype=np.int64),
                None)
    cells, text, other = _text_cells(values)
    return pa.array(cells[text], type=pa.string()), np.flatnonzero(text), np.flatnonzero(other), cells


def _arrow_text(values: pd.Series) -> pa.Array | None:
    """Return a column as a pyarrow string array (null where missing) if every cell is text or missing.

    None when some cell is something else (a number, a list, bytes): the caller then looks at the
    cells one by one. For an object column, pandas' ``infer_dtype`` vouches that every cell it
    does not skip as missing (None, NaN, NA) is a ``str``, which pyarrow converts as it is.
    """
    if isinstance(values.dtype, pd.StringDtype):
        if values.dtype.storage == "pyarrow":
            arr = pa.array(values)
            return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        return pa.array(values.to_numpy(dtype=object, na_value=None), type=pa.string())
    if values.dtype != object:
        return None
    cells = values.to_numpy()
    if infer_dtype(cells, skipna=True) not in ("string", "empty"):
        return None
    try:
        return pa.array(cells, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _all_ascii(arr: pa.Array) -> bool:
    """Whether every text of a pyarrow string (or dictionary) array is ASCII (nulls do not count)."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary
    return pc.all(pc.string_is_ascii(arr)).as_py() is not False


def _data_bytes(arr: pa.Array) -> np.ndarray:
    """Return the UTF-8 bytes of all texts of a pyarrow string array, one after the other."""
    if not len(arr) or arr.buffers()[2] is None:
        return np.empty(0, dtype=np.uint8)
    offsets = np.frombuffer(
        arr.buffers()[1], dtype=np.int64 if pa.types.is_large_string(arr.type) else np.int32
    )
    start, end = int(offsets[arr.offset]), int(offsets[arr.offset + len(arr)])
    return np.frombuffer(arr.buffers()[2], dtype=np.uint8, count=end - start, offset=start)


def _may_hold_white_space(arr: pa.Array) -> bool:
    """Whether some text of ``arr`` may hold a white-space character (False: certainly none).

    A white-space character (``str.isspace``) is in UTF-8 either one byte up to 0x20 or starts
    with a byte from 0xC2 to 0xE3 (U+0085, U+00A0, U+1680, U+2000–U+205F, U+3000), so text with
    neither kind of byte has none. Looking at the bytes is cheaper than a regular expression.
    """
    data = _data_bytes(arr)
    return bool(((data <= 0x20) | ((data >= 0xC2) & (data <= 0xE3))).any())


def _per_unique(texts: np.ndarray, func: Any) -> tuple[np.ndarray, list[Any]]:
    """Apply ``func`` to each distinct text once: (code of each text, results by code)."""
    codes, uniques = pd.factorize(texts)
    return codes, [func(u) for u in uniques]


def _take(codes: np.ndarray, results: list[Any], dtype: Any = object) -> np.ndarray:
    """Spread results by code back to the cells (``results[codes]`` as an array of ``dtype``)."""
    if dtype is object:
        arr = np.fromiter(results, dtype=object, count=len(results))
    else:
        arr = np.asarray(results, dtype=dtype)
    return arr[codes]


def _number_text(text: str) -> tuple[float, bool]:
    """Parse one text cell as a number: (value, not understood)."""
    text = unicodedata.normalize("NFKC", text).strip().replace(",", "").replace(" ", "")
    if text in _NULL_WORDS:
        return np.nan, False
    try:
        return (float(text[:-1]) / 100.0, False) if text.endswith("%") else (float(text), False)
    except ValueError:
        return np.nan, True


def _number_texts(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Parse text cells (a pyarrow string array without nulls) as numbers: (values, bad).

    Plain numbers (ASCII digits, sign, point, exponent, with white space around) are converted by
    pyarrow, which reads them and rounds them exactly as ``float()`` does; every other text
    (separators, full-width digits, percentages, words) by :func:`_number_text`, once per distinct
    text.
    """
    n = len(arr)
    bad = np.zeros(n, dtype=bool)
    trimmed = pc.utf8_trim(arr, characters=PY_WHITESPACE)
    empty = np.asarray(pc.equal(pc.binary_length(trimmed), 0))
    if empty.any():  # blank cells are missing values (NaN), as float() would not have them
        trimmed = pc.if_else(pa.array(empty), pa.scalar(None, pa.string()), trimmed)
    try:  # the usual case, a column of plain numbers and blanks: one conversion
        out = np.asarray(pc.cast(trimmed, pa.float64()), dtype=float).copy()
        plain = np.isfinite(out) | empty  # nan, inf and the like: as float() reads them, below
    except pa.ArrowInvalid:
        out = np.full(n, np.nan)
        plain = np.asarray(pc.fill_null(pc.match_substring_regex(trimmed, _PLAIN_NUMBER), False))
        plain_or_blank = plain | empty
        if plain.any():
            try:
                out[plain] = np.asarray(pc.cast(trimmed.filter(pa.array(plain)), pa.float64()))
            except pa.ArrowInvalid:  # e.g. an exponent too large for pyarrow: float() decides
                plain_or_blank = empty
        plain = plain_or_blank
    rest = ~plain
    if rest.any():
        codes, parsed = _per_unique(_texts(arr, rest), _number_text)
        out[rest] = _take(codes, [p[0] for p in parsed], float)
        bad[rest] = _take(codes, [p[1] for p in parsed], bool)
    return out, bad


def _texts(arr: pa.Array, mask: np.ndarray) -> np.ndarray:
    """Return the texts of ``arr`` where ``mask`` holds, as an object array of ``str``."""
    return arr.filter(pa.array(mask)).to_numpy(zero_copy_only=False)


def _number_cell(v: Any) -> tuple[float, bool]:
    """Parse one cell that is not text (a number, a flag or another object)."""
    if isinstance(v, bool):
        return float(v), False
    if isinstance(v, int | float | np.integer | np.floating):
        return float(v), False
    return _number_text(str(v))


def parse_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse cells into floats: numbers as they are, text with thousands separators or full-width digits.

    Returns the floats and a boolean mask of cells that were not empty but could not be parsed.

    Examples
    --------
    >>> v, bad = parse_numbers(pd.Series(["1,234.5", "１２", 3, "", "abc"]))
    >>> v.tolist()[:3], bad.tolist()
    ([1234.5, 12.0, 3.0], [False, False, False, False, True])
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.astype(float), pd.Series(False, index=values.index)
    arr, text_at, other_at, cells = _split_cells(values)
    out = np.full(len(values), np.nan)
    bad = np.zeros(len(values), dtype=bool)
    if len(text_at):
        out[text_at], bad[text_at] = _number_texts(arr)
    for i in other_at:
        assert cells is not None
        out[i], bad[i] = _number_cell(cells[i])
    # (the arrays are new: the Series need no copies of them)
    return (pd.Series(out, index=values.index, copy=False),
            pd.Series(bad, index=values.index, copy=False))


_CN_DATE = re.compile(r"^(\d{4})年(\d{1,2})月(?:(\d{1,2})日?)?$")
_SEP_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})(?:[-/.](\d{1,2}))?(?:[ T].*)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_NAT = pd.NaT
_NS_MIN = pd.Timestamp.min.ceil("D").to_datetime64().astype("datetime64[s]")
_NS_MAX = pd.Timestamp.max.floor("D").to_datetime64().astype("datetime64[s]")


def _in_ns_range(ts: pd.Timestamp) -> bool:
    return pd.Timestamp.min <= ts <= pd.Timestamp.max


def _date_text(v: str) -> tuple[Any, bool]:
    """Parse one text cell as a date: (Timestamp or NaT, not understood)."""
    text = unicodedata.normalize("NFKC", v).strip()
    if not text:
        return _NAT, False
    m = _CN_DATE.match(text) or _SEP_DATE.match(text) or _COMPACT_DATE.match(text)
    if m is None and re.fullmatch(r"\d{5}(\.0)?", text):
        return _EXCEL_EPOCH + pd.Timedelta(days=int(float(text))), False
    if m is None:
        return _NAT, True
    try:
        ts = pd.Timestamp(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1))
    except ValueError:
        return _NAT, True
    return (ts, False) if _in_ns_range(ts) else (_NAT, True)


def _date_cell(v: Any) -> tuple[Any, bool]:
    """Parse one cell that is not text: a date or time object, or an Excel serial number."""
    if isinstance(v, pd.Timestamp | np.datetime64) or hasattr(v, "year"):
        ts = pd.Timestamp(v)
        if ts.tzinfo is not None:
            ts = ts.tz_localize(None)
        ts = ts.normalize()
        return (ts, False) if _in_ns_range(ts) else (_NAT, True)
    if isinstance(v, int | float | np.integer | np.floating):
        serial = float(v)
        if 1 <= serial < 200000:
            return _EXCEL_EPOCH + pd.Timedelta(days=int(serial)), False
        return _NAT, True
    return _date_text(str(v))


def _date_texts(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Parse text cells (a pyarrow string array without nulls) as dates: (datetime64[ns], bad).

    ISO dates (2019-12-31) are converted by pyarrow; every other text by :func:`_date_text`, once
    per distinct text.
    """
    n = len(arr)
    trimmed = pc.utf8_trim(arr, characters=PY_WHITESPACE)
    blank = pc.equal(pc.binary_length(trimmed), 0)
    try:  # the usual case, a column of ISO dates and blanks: one conversion
        # pyarrow reads exactly YYYY-MM-DD as a date, and refuses a day the month lacks.
        days = pc.cast(pc.if_else(blank, pa.scalar(None, trimmed.type), trimmed), pa.date32())
    except pa.ArrowInvalid:
        pass
    else:
        stamps = pc.cast(days, pa.timestamp("s")).to_numpy(zero_copy_only=False)
        if ((stamps >= _NS_MIN) & (stamps <= _NS_MAX) | np.isnat(stamps)).all():
            return stamps.astype("datetime64[ns]"), np.zeros(n, dtype=bool)  # blank: NaT, fine
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    bad = np.zeros(n, dtype=bool)
    iso = np.asarray(pc.match_substring_regex(trimmed, r"^\d{4}-\d{2}-\d{2}$"))
    if iso.any():
        texts = trimmed.filter(pa.array(iso))
        parsed = pc.strptime(texts, format="%Y-%m-%d", unit="s", error_is_null=True)
        # pyarrow rolls days over (2019-02-30 -> 2019-03-02): a real date prints as it was written.
        printed = pc.cast(pc.cast(parsed, pa.date32()), pa.string())  # (strftime is slow)
        same = pc.fill_null(pc.equal(printed, texts), False)
        stamps = parsed.to_numpy(zero_copy_only=False)
        ok = ~np.isnat(stamps) & np.asarray(same)
        ok[ok] = (stamps[ok] >= _NS_MIN) & (stamps[ok] <= _NS_MAX)
        at = np.flatnonzero(iso)[ok]
        out[at] = stamps[ok].astype("datetime64[ns]")
        iso[np.flatnonzero(iso)[~ok]] = False  # not a date, or out of range: said below
    rest = ~iso
    if rest.any():
        codes, parsed = _per_unique(_texts(arr, rest), _date_text)
        stamps_rest = [p[0].to_datetime64() if p[0] is not _NAT else np.datetime64("NaT")
                       for p in parsed]
        out[rest] = _take(codes, stamps_rest, "datetime64[ns]")
        bad[rest] = _take(codes, [p[1] for p in parsed], bool)
    return out, bad


def parse_dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse cells into dates: ISO, 2019/12/31, 2019年12月31日, 20191231, Excel serial numbers.

    A month without a day (2019年12月) is the first of that month. A date that pandas cannot hold
    (before 1677 or after 2262) is not understood.

    Examples
    --------
    >>> d, bad = parse_dates(pd.Series(["2019年12月31日", "2020-02-29", 43831, "x"]))
    >>> [str(x.date()) for x in d[:3]], bad.tolist()
    (['2019-12-31', '2020-02-29', '2020-01-01'], [False, False, False, True])
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.dt.tz_localize(None).dt.normalize().astype("datetime64[ns]") if getattr(
            values.dt, "tz", None) else values.dt.normalize().astype("datetime64[ns]"), pd.Series(
            False, index=values.index)
    arr, text_at, other, cells = _split_cells(values)
    n = len(values)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    bad = np.zeros(n, dtype=bool)
    if len(text_at):
        out[text_at], bad[text_at] = _date_texts(arr)
    if len(other):
        assert cells is not None
        kinds = cells[other]
        numeric = np.fromiter(
            (isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
             for v in kinds), dtype=bool, count=len(kinds),
        )
        if numeric.any():  # Excel serial numbers, in bulk
            serial = kinds[numeric].astype(float)
            ok = (serial >= 1) & (serial < 200000)
            days = np.where(ok, serial, 0).astype(np.int64)
            stamps = (_EXCEL_EPOCH.to_datetime64().astype("datetime64[ns]")
                      + days.astype("timedelta64[D]"))
            out[other[numeric]] = np.where(ok, stamps, np.datetime64("NaT"))
            bad[other[numeric]] = ~ok
        for i in other[~numeric]:
            ts, bad[i] = _date_cell(cells[i])
            out[i] = ts.to_datetime64() if ts is not _NAT else np.datetime64("NaT")
    # (the arrays are new: the Series need no copies of them)
    return (pd.Series(out, index=values.index, copy=False),
            pd.Series(bad, index=values.index, copy=False))


_TRUE = {"是", "y", "yes", "true", "1", "√", "✓", "规上", "t"}
_FALSE = {"否", "n", "no", "false", "0", "×", "规下", "f"}


def _bool_cell(v: Any) -> tuple[Any, bool]:
    """Parse one cell as a flag: (True, False or NA, not understood)."""
    text = unicodedata.normalize("NFKC", str(v)).strip().lower()
    if isinstance(v, int | float) and not isinstance(v, bool):
        text = str(int(v)) if float(v).is_integer() else text
    if text in _TRUE:
        return True, False
    if text in _FALSE:
        return False, False
    return pd.NA, bool(text)


def parse_bools(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse 是/否, Y/N, true/false, 1/0 into a nullable boolean Series (and a bad-cell mask).

    Examples
    --------
    >>> v, bad = parse_bools(pd.Series(["是", "否", 1, None, "也许"]))
    >>> v.tolist(), bad.tolist()
    ([True, False, True, <NA>, <NA>], [False, False, False, False, True])
    """
    arr, text_at, other, cells = _split_cells(values)
    n = len(values)
    flag = np.zeros(n, dtype=bool)
    unknown = np.ones(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    if len(text_at):
        # Cells that read as a flag once trimmed and lower-cased (ASCII) need no NFKC.
        key = pc.ascii_lower(pc.utf8_trim(arr, characters=PY_WHITESPACE))
        yes = np.asarray(pc.is_in(key, value_set=pa.array(sorted(_TRUE))))
        no = np.asarray(pc.is_in(key, value_set=pa.array(sorted(_FALSE))))
        empty = np.asarray(pc.equal(pc.binary_length(key), 0))
        flag[text_at[yes]] = True
        unknown[text_at[yes | no]] = False
        rest = ~(yes | no | empty)
        if rest.any():
            codes, parsed = _per_unique(_texts(arr, rest), _bool_cell)
            at = text_at[rest]
            flag[at] = _take(codes, [p[0] is True for p in parsed], bool)
            unknown[at] = _take(codes, [p[0] is pd.NA for p in parsed], bool)
            bad[at] = _take(codes, [p[1] for p in parsed], bool)
    for i in other:
        assert cells is not None
        value, bad[i] = _bool_cell(cells[i])
        flag[i], unknown[i] = value is True, value is pd.NA
    return (
        pd.Series(pd.arrays.BooleanArray(flag, unknown), index=values.index),
        pd.Series(bad, index=values.index, dtype=bool, copy=False),
    )


def _fold_text(text: str) -> str | None:
    """NFKC-normalise and strip one text (None when nothing is left)."""
    text = text.strip() if text.isascii() else unicodedata.normalize("NFKC", text).strip()
    return text or None


def _fold_upper(text: str) -> str | None:
    folded = _fold_text(text)
    return folded.upper() or None if folded is not None else None


def _text_cell(v: Any, upper: bool) -> str | None:
    """Text of one cell that is not a string (whole floats lose their ``.0``)."""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return (_fold_upper if upper else _fold_text)(str(v))


def _fold_all(texts: np.ndarray, *, upper: bool = False) -> list[str | None]:
    """Return :func:`_fold_text` (or :func:`_fold_upper`) of every text, by C-level ``map``."""
    items: list[str] = texts.tolist()
    if not all(map(str.isascii, items)):  # NFKC leaves ASCII as it is
        items = list(map(_nfkc, items))
    out: list[str | None] = list(map(str.strip, items))
    if upper:
        out = list(map(str.upper, out))  # type: ignore[arg-type]
    return out if all(out) else [t or None for t in out]


def _fold_repeated(values: pd.Series, *, upper: bool = False) -> tuple[np.ndarray, pa.Array] | None:
    """Fold a pyarrow-backed text column of few distinct values once per value (else None).

    Returns the folded cells and the same texts as a pyarrow dictionary array.
    """
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
        return None
    if len(values) < 4 * _SAMPLE:
        return None
    arr = pa.array(values)
    if pc.count_distinct(arr.slice(0, _SAMPLE)).as_py() > _SAMPLE // 5:
        return None
    encoded = pc.dictionary_encode(arr)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    folded = _fold_all(encoded.dictionary.to_numpy(zero_copy_only=False), upper=upper)
    lookup = np.fromiter([*folded, None], dtype=object, count=len(folded) + 1)
    cells = lookup[np.asarray(pc.fill_null(encoded.indices, -1))]  # -1 (missing): None
    return cells, pa.DictionaryArray.from_arrays(encoded.indices, pa.array(folded, pa.string()))


def _fold_ascii(values: pd.Series, *, upper: bool = False) -> tuple[np.ndarray, pa.Array] | None:
    """Fold a pyarrow-backed text column whose text is all ASCII, in pyarrow (else None).

    Gives :func:`_fold_all`'s result: for ASCII text NFKC changes nothing, ``str.strip()``
    removes the characters of ``PY_WHITESPACE`` at either end, ``str.upper()`` is
    ``ascii_upper``, and a text left empty is missing (None). Returns the folded cells and the
    same texts as a pyarrow array.
    """
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
        return None
    arr = _arrow_text(values)
    if arr is None or not _all_ascii(arr):
        return None
    folded = pc.utf8_trim(arr, characters=PY_WHITESPACE)
    if upper:
        folded = pc.ascii_upper(folded)
    empty = pc.equal(pc.binary_length(folded), 0)
    if pc.any(empty).as_py():
        folded = pc.if_else(empty, pa.scalar(None, folded.type), folded)
    return folded.to_numpy(zero_copy_only=False), folded


def _text(values: pd.Series, *, upper: bool = False) -> pd.Series:
    return _text_and_arrow(values, upper=upper)[0]


def _text_and_arrow(values: pd.Series, *, upper: bool = False) -> tuple[pd.Series, pa.Array | None]:
    """:func:`_text`, and its texts as a pyarrow array when they were folded in pyarrow (else None)."""
    if pd.api.types.is_float_dtype(values.dtype) or pd.api.types.is_integer_dtype(values.dtype):
        as_int = values.dropna()
        if (as_int == np.floor(as_int)).all():
            values = values.astype("Int64")
        text = values.astype("string")
        return text.astype(object).where(text.notna(), None), None
    return _fold_column(values, upper=upper, other=lambda v: _text_cell(v, upper))


def _fold_column(
    values: pd.Series, *, upper: bool, other: Callable[[Any], Any]
) -> tuple[pd.Series, pa.Array | None]:
    """Fold a column's text cells in bulk (NFKC, stripped); ``other`` handles non-text cells.

    Returns the folded column, and the same texts as a pyarrow array when they were folded in
    pyarrow (else None).
    """
    fast = _fold_repeated(values, upper=upper) or _fold_ascii(values, upper=upper)
    if fast is not None:
        return pd.Series(fast[0], index=values.index, dtype=object, copy=False), fast[1]
    cells, is_text, rest = _text_cells(values)
    out = np.full(len(cells), None, dtype=object)
    if is_text.any():
        out[is_text] = _fold_all(cells[is_text], upper=upper)
    for i in np.flatnonzero(rest):
        out[i] = other(cells[i])
    return pd.Series(out, index=values.index, dtype=object, copy=False), None


def _id_list_text(text: str) -> list[str]:
    return [p for p in _ID_SPLIT.split(unicodedata.normalize("NFKC", text).strip()) if p]


def _id_lists(values: pd.Series) -> pd.Series:
    """Split cells such as ``P1;P2`` or ``P1，P2`` into lists of ids (an empty list when missing)."""
    arr = _arrow_text(values)
    if arr is not None:  # text or missing: as below, with the plain ids found by pyarrow
        texts = arr.to_numpy(zero_copy_only=False).tolist()  # None where missing
        plain = np.asarray(pc.fill_null(pc.ascii_is_alnum(arr), False))
        with checks.gc_paused():
            if plain.all():  # the usual case: one id in each cell
                lists = [[t] for t in texts]
            else:
                lists = [[t] if p else _id_list_text(t) if t else []
                         for t, p in zip(texts, plain.tolist(), strict=True)]
            out = np.fromiter(lists, dtype=object, count=len(lists))
        return pd.Series(out, index=values.index, dtype=object, copy=False)
    cells, is_text, other = _text_cells(values)
    at = np.flatnonzero(is_text)
    texts = cells[at].tolist()
    # An ASCII letters-and-digits id has no separator and no NFKC form: a list of itself.
    plain = np.fromiter(map(str.isalnum, texts), dtype=bool, count=len(texts))
    plain &= np.fromiter(map(str.isascii, texts), dtype=bool, count=len(texts))
    with checks.gc_paused():  # one new list per row: the cyclic collector would run thousands of times
        parsed = [[t] if p else _id_list_text(t) if t else []
                  for t, p in zip(texts, plain.tolist(), strict=True)]
        if len(at) == len(cells):
            lists = parsed
        else:
            lists = [[] for _ in range(len(cells))]
            for i, ids in zip(at.tolist(), parsed, strict=True):
                lists[i] = ids
            for i in np.flatnonzero(other).tolist():
                lists[i] = _id_list_text(str(cells[i]))
        out = np.fromiter(lists, dtype=object, count=len(lists))
    return pd.Series(out, index=values.index, dtype=object, copy=False)


def _code_cell(v: Any) -> Any:
    """Return a credit-code cell folded and upper-cased; a float stays a float (digits lost)."""
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float | np.floating):
        return float(v)
    if isinstance(v, int | np.integer):
        return str(int(v))
    text = unicodedata.normalize("NFKC", str(v)).strip().upper()
    return text or None


def _codes(values: pd.Series) -> pd.Series:
    """:func:`_code_cell` over a column (text cells in bulk)."""
    return _fold_column(values, upper=True, other=_code_cell)[0]


def standardise(
    raw: pd.DataFrame,
    kind: str,
    *,
    diagnostics: Diagnostics,
) -> pd.DataFrame:
    """Rename headers to canonical fields, convert units and parse values.

    Parameters
    ----------
    raw : DataFrame
        A frame from :func:`landeff.io.tables.read_table` or a vector layer, with ``_file``,
        ``_sheet`` and ``_row``.
    kind : str
        ``parcels``, ``buildings``, ``enterprises`` or ``contracts``.
    diagnostics : Diagnostics
        Receives warnings (units assumed, values not understood) and rejected rows.

    Returns
    -------
    DataFrame
        Canonical columns in canonical units; other input columns kept (``input_<name>`` where they
        clash with an output column). ``attrs["units"]`` gives ``{field: (header, unit)}``.
        Warnings the reader kept in ``raw.attrs["read_warnings"]`` are recorded first.
        The code columns ``uscc`` and ``holder_uscc`` keep cells that were numbers as floats, for
        :func:`check_uscc` to catch.
    """
    return _standardise(raw, kind, diagnostics=diagnostics)[0]


def _standardise(
    raw: pd.DataFrame, kind: str, *, diagnostics: Diagnostics
) -> tuple[pd.DataFrame, dict[str, pa.Array | None]]:
    """:func:`standardise`, and the texts of the fields it folded in pyarrow, for the checks after.

    The dict maps a text or code field to its folded texts as a pyarrow array (aligned with the
    rows), when they were folded in pyarrow; and a field whose cells are lists of ids to None
    (no cell is text).
    """
    for note in raw.attrs.get("read_warnings", []):
        diagnostics.warn(**note)
    file = str(raw["_file"].iloc[0]) if len(raw) and "_file" in raw else "<input>"
    mapping = map_headers(list(raw.columns), kind, file=file, diagnostics=diagnostics)
    out = raw.copy()
    # pandas deep-copies ``attrs`` into every column taken from a frame: set them aside meanwhile.
    attrs, out.attrs = out.attrs, {}
    renames: dict[str, str] = {}
    for col in raw.columns:
        if col in mapping:
            renames[col] = mapping[col][0]
        elif col in OUTPUT_COLUMNS or col in FIELDS_BY_NAME:
            renames[col] = f"input_{col}"
    out = out.rename(columns=renames)
    geometry_name = raw.geometry.name if isinstance(raw, gpd.GeoDataFrame) else None
    texts: dict[str, pa.Array | None] = {}
    for raw_col, (name, unit) in mapping.items():
        field = FIELDS_BY_NAME[name]
        if field.name in _CODE_FIELDS:
            out[name], arr = _fold_column(out[name], upper=True, other=_code_cell)
        elif field.dtype in {"id", "text"}:
            out[name], arr = _text_and_arrow(out[name])
        else:
            out[name] = _parse_field(out[name], field, unit, raw_col, out, file, diagnostics)
            if field.dtype == "id_list":
                texts[name] = None
            continue
        if arr is not None:
            texts[name] = arr
    if geometry_name is not None and isinstance(out, gpd.GeoDataFrame):
        out = out.set_geometry(geometry_name)
    out.attrs = attrs
    out.attrs["read_warnings"] = []
    out.attrs["column_map"] = {raw_col: name for raw_col, (name, _) in mapping.items()}
    out.attrs["units"] = {name: (raw_col, unit) for raw_col, (name, unit) in mapping.items()}
    return out, texts


def _parse_field(
    values: pd.Series,
    field: Field,
    unit: str | None,
    raw_col: str,
    frame: pd.DataFrame,
    file: str,
    diagnostics: Diagnostics,
) -> pd.Series:
    """Parse a field that is not text or a code (those :func:`_standardise` folds itself)."""
    if field.dtype == "id_list":
        return _id_lists(values)
    if field.dtype == "date":
        parsed, bad = parse_dates(values)
        _warn_bad(frame, bad, raw_col, values, field, "date_not_understood",
                  "is not a date landeff understands (use 2021-03-15 or 2021年3月15日); left empty",
                  diagnostics)
        return parsed
    if field.dtype == "bool":
        parsed_b, bad = parse_bools(values)
        _warn_bad(frame, bad, raw_col, values, field, "flag_not_understood",
                  "is not 是/否 (yes/no); left empty", diagnostics)
        return parsed_b
    parsed_n, bad = parse_numbers(values)
    _warn_bad(frame, bad, raw_col, values, field, "number_not_understood",
              "is not a number; left empty", diagnostics)
    if field.dtype == "year":
        return parsed_n
    if field.unit and UNITS[field.unit][1]:
        factor = unit_factor(field, unit)
        canonical = UNITS[field.unit][0]
        if unit is None:
            # A canonical header (tax_wan, recorded_area_m2) names its unit: nothing is assumed.
            if parsed_n.notna().any() and canonical and split_unit(raw_col)[0] != field.name:
                diagnostics.warn(
                    "unit_assumed",
                    f"{file}: column {raw_col!r} gives no unit; values are taken as {canonical} "
                    f"({field.name}). Put the unit in the header, e.g. '{raw_col}({canonical})'.",
                    file=file,
                    column=raw_col,
                )
        elif factor is None:
            known = "、".join(UNITS[field.unit][1])
            msg = (
                f"{file}: column {raw_col!r} has the unit {unit!r}, which landeff does not know for "
                f"{field.name}. Use one of: {known}."
            )
            raise InputError(msg)
        else:
            parsed_n = parsed_n * factor
    return parsed_n


def _warn_bad(
    frame: pd.DataFrame,
    bad: pd.Series,
    raw_col: str,
    values: pd.Series,
    field: Field,
    code: str,
    what: str,
    diagnostics: Diagnostics,
) -> None:
    if not bad.any():
        return
    rows = frame.loc[bad]
    cells = values.loc[rows.index].to_numpy(dtype=object)
    files = rows["_file"].to_numpy(dtype=object) if "_file" in rows else [None] * len(rows)
    row_numbers = rows["_row"].to_numpy(dtype=object) if "_row" in rows else [None] * len(rows)
    messages = [
        f"{f}: row {r}, column {raw_col!r}: {v!r} {what}."
        for f, r, v in zip(files, row_numbers, cells, strict=True)
    ]
    diagnostics.warn_rows(rows, code, messages, column=raw_col, values=[str(v) for v in cells])


_TOTALS = re.compile(rf"^({'|'.join(NON_DATA_WORDS)})[:：]?$", re.IGNORECASE)
#: The longest totals label (``total:``), in characters other than white space.
_TOTALS_MAX = max(len(w) for w in NON_DATA_WORDS) + 1


def _is_total(text: str) -> bool:
    """Whether a cell says 合计/总计/小计/累计/total (NFKC, white space ignored).

    NFKC maps each character that is not white space to at least one that is not, and nothing in a
    label composes, so a cell with more such characters than the longest label is not one: the
    callers skip those.
    """
    return bool(_TOTALS.match(re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))))


#: A regular expression (RE2, for pyarrow) for one white-space character (``str.isspace``).
_WHITE_SPACE = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in PY_WHITESPACE) + "]"


def _total_cells(values: pd.Series) -> np.ndarray:
    """Return which cells of a column say 合计/总计/小计/累计/total (:func:`_is_total`).

    Only a text with at most ``_TOTALS_MAX`` characters other than white space can be a label;
    each distinct one of those is looked at once. A column of text is measured in pyarrow, any
    other column cell by cell.
    """
    arr = _arrow_text(values)
    if arr is None:
        return _total_cells_one_by_one(values)
    return _total_texts(arr)


def _by_entry(arr: pa.Array, func: Callable[[pa.Array], np.ndarray]) -> np.ndarray:
    """Apply ``func`` (texts to one bool each) to a string array.

    For a dictionary array, ``func`` sees each entry of the dictionary once; rows with a null
    index get False.
    """
    if not pa.types.is_dictionary(arr.type):
        return func(arr)
    per_entry = np.append(func(arr.dictionary), False)
    return per_entry[np.asarray(pc.fill_null(arr.indices, -1))]  # -1 (missing): False


def _total_texts(arr: pa.Array) -> np.ndarray:
    """:func:`_total_cells` of a pyarrow string (or dictionary) array (False where null)."""
    if pa.types.is_dictionary(arr.type):
        return _by_entry(arr, _total_texts)
    chars = pc.utf8_length(arr)
    if _may_hold_white_space(arr):
        chars = pc.subtract(chars, pc.count_substring_regex(arr, _WHITE_SPACE))
    maybe = np.asarray(pc.fill_null(pc.less_equal(chars, _TOTALS_MAX), False))
    hit = np.zeros(len(arr), dtype=bool)
    if maybe.any():
        words = pc.dictionary_encode(arr.filter(pa.array(maybe)))  # each distinct text once
        said = [_is_total(w) for w in words.dictionary.to_pylist()]
        hit[maybe] = np.asarray(said, dtype=bool)[np.asarray(words.indices)]
    return hit


def _total_cells_one_by_one(values: pd.Series) -> np.ndarray:
    """:func:`_total_cells` for a column with cells that are neither text nor missing."""
    cells = values.to_numpy(dtype=object)
    is_text = np.fromiter(map(isinstance, cells, repeat(str)), dtype=bool, count=len(cells))
    hit = np.zeros(len(cells), dtype=bool)
    at = np.flatnonzero(is_text)
    texts = cells[at].tolist()
    # A label is short, or holds white space (between its characters); most columns have none.
    maybe = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) <= _TOTALS_MAX
    joined = "\x00".join(texts)
    if len(joined.split(maxsplit=1)[0] if joined.strip() else "") != len(joined):
        maybe |= np.fromiter(map(_has_space, texts), dtype=bool, count=len(texts))
    if maybe.any():
        hit[at[maybe]] = _take(*_per_unique(cells[at[maybe]], _is_total), dtype=bool)
    return hit


def reject_non_data(frame: pd.DataFrame, *, diagnostics: Diagnostics) -> pd.DataFrame:
    """Reject totals rows (合计, 总计, 小计) and return the rest."""
    hit = _non_data_rows(frame, diagnostics=diagnostics)
    return frame.loc[~hit] if hit.any() else frame


def _non_data_rows(
    frame: pd.DataFrame,
    *,
    diagnostics: Diagnostics,
    rows: np.ndarray | None = None,
    texts: dict[str, pa.Array | None] | None = None,
) -> np.ndarray:
    """Record totals rows (among ``rows``, default all) as rejected; return which rows they are.

    ``texts`` is what :func:`_standardise` gives with ``frame``: columns it holds are looked at
    there (a column mapped to None holds no text).
    """
    texts = texts or {}
    hit = np.zeros(len(frame), dtype=bool)
    text_cols = [c for c in frame.columns if c not in POSITION_COLUMNS and (
        frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c].dtype))]
    if not text_cols or frame.empty:
        return hit
    for col in text_cols:
        if col not in texts:
            hit |= _total_cells(frame[col])
        elif texts[col] is not None:
            hit |= _total_texts(texts[col])  # type: ignore[arg-type]
    if rows is not None:
        hit &= rows
    if hit.any():
        diagnostics.reject(
            frame.loc[hit], "non_data", "a totals row (合计/总计), not an enterprise or parcel: not used"
        )
    return hit


def uscc_valid_many(codes: Any) -> np.ndarray:
    """Vectorised :func:`uscc_valid`: one bool per cell (cells that are not text fail).

    Examples
    --------
    >>> uscc_valid_many(["91350100M000100Y43", "91350100M000100Y44", None]).tolist()
    [True, False, False]
    """
    cells = np.fromiter(codes, dtype=object, count=len(codes))
    out = np.zeros(len(cells), dtype=bool)
    at = np.flatnonzero(_kinds(cells)[0])
    texts = cells[at].tolist()
    at = at[np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) == 18]
    if not len(at):
        return out
    # One byte per character ('?' for any that is not ASCII), 18 per code.
    joined = "".join(cells[at].tolist()).encode("ascii", errors="replace")
    chars = np.frombuffer(joined, dtype=np.uint8).reshape(len(at), 18)
    values = _USCC_LOOKUP[chars]  # -1 for a character outside the alphabet
    check = (31 - (values[:, :17] @ np.asarray(_USCC_WEIGHTS)) % 31) % 31
    out[at] = (values >= 0).all(axis=1) & (values[:, 17] == check)
    return out


def _uscc_valid_text(arr: pa.Array) -> np.ndarray:
    """:func:`uscc_valid_many` of a pyarrow string array, without making Python strings."""
    out = np.zeros(len(arr), dtype=bool)
    # 18 ASCII characters are 18 bytes; a code of other characters fails anyway.
    ok = pc.and_(pc.equal(pc.binary_length(arr), 18), pc.string_is_ascii(arr))
    ok = np.asarray(pc.fill_null(ok, False))
    if not ok.any():
        return out
    fixed = arr.filter(pa.array(ok)).cast(pa.binary(18))
    chars = np.frombuffer(fixed.buffers()[1], dtype=np.uint8, count=18 * len(fixed),
                          offset=18 * fixed.offset).reshape(-1, 18)
    values = _USCC_LOOKUP[chars]  # -1 for a character outside the alphabet
    check = (31 - (values[:, :17] @ np.asarray(_USCC_WEIGHTS)) % 31) % 31
    out[ok] = (values >= 0).all(axis=1) & (values[:, 17] == check)
    return out


#: :data:`_SCI_NUMBER` for pyarrow (RE2), on ASCII text: Python's ``$`` also matches before a
#: final line end, RE2's only at the end.
_SCI_NUMBER_RE2 = r"^(?:[+-]?\d+(\.\d+)?[eE][+-]\d+|[+-]?\d+\.\d+[eE]\d+)\n?$"


def _sci_number_text(arr: pa.Array) -> np.ndarray:
    """:func:`_sci_numbers` of a pyarrow string array (False where null)."""
    out = np.zeros(len(arr), dtype=bool)
    # Either form holds a sign after the E or a decimal point: a column of credit codes has none.
    data = _data_bytes(arr)
    if not ((data == ord("+")) | (data == ord("-")) | (data == ord("."))).any():
        return out
    ascii_text = np.asarray(pc.fill_null(pc.string_is_ascii(arr), False))
    if ascii_text.any():
        out[ascii_text] = np.asarray(
            pc.match_substring_regex(arr.filter(pa.array(ascii_text)), _SCI_NUMBER_RE2)
        )
    rest = np.asarray(arr.is_valid()) & ~ascii_text  # \d is any digit in Python: its regex decides
    if rest.any():
        out[rest] = _take(*_per_unique(_texts(arr, rest), lambda t: _SCI_NUMBER.match(t) is not None),
                          dtype=bool)
    return out


def _refold_codes(values: pd.Series, arr: pa.Array | None = None) -> pd.Series:
    """Return :func:`_codes` of a column that :func:`_codes` made, folding only non-ASCII text.

    ``arr`` is :func:`_arrow_text` of ``values`` when the caller has it.
    """
    if arr is None:
        arr = _arrow_text(values)
    if arr is not None and _all_ascii(arr):  # folding ASCII text again changes nothing
        cells = values.to_numpy(dtype=object)
        if arr.null_count:
            cells = cells.copy()
            cells[np.asarray(arr.is_null())] = None
        return pd.Series(cells, index=values.index, dtype=object)
    cells, is_text, other = _text_cells(values)
    texts = cells[is_text].tolist()
    if all(map(str.isascii, texts)) and not other.any():
        return pd.Series(cells, index=values.index, dtype=object)
    return _codes(values)


def _sci_numbers(texts: list[str]) -> np.ndarray:
    """Return which texts are numbers in scientific notation (``9.13202E+17``)."""
    maybe = np.fromiter(map(operator.contains, texts, repeat("E")), dtype=bool, count=len(texts))
    maybe |= np.fromiter(map(operator.contains, texts, repeat("e")), dtype=bool, count=len(texts))
    at = np.flatnonzero(maybe)
    maybe[at] = [_SCI_NUMBER.match(texts[i]) is not None for i in at.tolist()]
    return maybe


def _code_flags(codes: pd.Series, arr: pa.Array | None) -> tuple[np.ndarray, np.ndarray]:
    """Return which folded codes were stored as numbers (lost) and which pass the check character.

    A float cell is lost, and so is text in scientific notation (:func:`_sci_numbers`). ``arr``
    is :func:`_arrow_text` of ``codes``.
    """
    if arr is not None:
        return _by_entry(arr, _sci_number_text), _by_entry(arr, _uscc_valid_text)
    cells = codes.to_numpy()
    is_text, other_mask = _kinds(cells)
    lost = np.zeros(len(cells), dtype=bool)
    valid = np.zeros(len(cells), dtype=bool)
    at = np.flatnonzero(is_text)
    which, uniques = pd.factorize(cells[at])  # each distinct code is looked at once
    lost[at] = _sci_numbers(uniques.tolist())[which]
    valid[at] = uscc_valid_many(uniques)[which]
    other = np.flatnonzero(other_mask)
    lost[other] = [isinstance(v, float) for v in cells[other]]
    return lost, valid


def check_uscc(
    frame: pd.DataFrame,
    column: str,
    *,
    diagnostics: Diagnostics,
    on_lost: str = "reject",
    folded: bool = False,
) -> pd.DataFrame:
    """Catch codes that Excel turned into numbers; warn on a bad check character (kept).

    A code stored as a number (a float such as 9.13501E+17, or text in that form) has lost its last
    digits. With ``on_lost="reject"`` (enterprise tables, where the code is the identity) the row is
    rejected as ``uscc_lost``; with ``on_lost="blank"`` (parcels, contracts) the code is emptied
    with a warning and the row kept. The column holds text (or None) afterwards. ``folded`` says
    the column was made by :func:`standardise`, which saves folding its ASCII text again.
    """
    return _check_uscc(frame, column, diagnostics=diagnostics, on_lost=on_lost, folded=folded)


def _check_uscc(
    frame: pd.DataFrame,
    column: str,
    *,
    diagnostics: Diagnostics,
    on_lost: str,
    folded: bool,
    text: pa.Array | None = None,
) -> pd.DataFrame:
    """:func:`check_uscc`, given the column's texts from :func:`_standardise` when it has them."""
    if column not in frame:
        return frame
    codes, lost = _check_codes(frame, column, diagnostics=diagnostics, on_lost=on_lost,
                               folded=folded, text=text)
    frame = frame.copy(deep=False)
    frame[column] = codes
    return frame.loc[~lost] if on_lost == "reject" and lost.any() else frame


def _check_codes(
    frame: pd.DataFrame,
    column: str,
    *,
    diagnostics: Diagnostics,
    on_lost: str,
    rows: np.ndarray | None = None,
    folded: bool = False,
    text: pa.Array | None = None,
) -> tuple[pd.Series, np.ndarray]:
    """Do :func:`check_uscc` on ``rows`` (default all) without copying the frame.

    ``folded`` says the column comes from :func:`standardise` (``_codes``): only its text that is
    not ASCII is folded again (folding ASCII twice changes nothing). ``text`` is the column's
    texts from :func:`_standardise`, when it has them. Returns the folded codes (emptied where
    lost, with ``on_lost="blank"``) and which rows lost their code (rejected, with
    ``on_lost="reject"``).
    """
    values = frame[column]
    arr = text if text is not None else _arrow_text(values) if folded else None
    if arr is not None and _all_ascii(arr):  # refolding gives the same texts, as arr holds them
        codes = values if text is not None else _refold_codes(values, arr)
    else:
        codes = _refold_codes(values) if folded else _codes(values)
        arr = _arrow_text(codes)
    lost, valid = _code_flags(codes, arr)
    if rows is not None:
        lost &= rows
    if lost.any():
        # The value reported is what Excel shows of it, e.g. 9.13202E+17.
        shown = frame.loc[lost].copy()
        shown[column] = codes.loc[lost].map(lambda v: f"{v:.6G}" if isinstance(v, float) else v)
        what = (
            f"{column} was stored as a number (the value shows what is left of it), so its last "
            "digits are lost; format the column as text in Excel (or prefix the code with ') and "
            "export again"
        )
        if on_lost == "reject":
            diagnostics.reject(shown, "uscc_lost", what, column=column)
        else:
            diagnostics.warn_rows(
                shown, "uscc_lost",
                what + "; the code was left empty, so nothing links here by code (links by parcel "
                "id or by name still work)",
                column=column,
            )
            codes = codes.where(~lost, None)
    bad = codes.notna().to_numpy() & ~valid & ~lost
    if rows is not None:
        bad &= rows
    if bad.any():
        shown = frame.loc[bad].copy(deep=False)
        shown[column] = codes.loc[bad]
        diagnostics.warn_rows(
            shown,
            "uscc_check",
            f"{column} fails the GB 32100-2015 check character; kept as given (real codes like this "
            "exist), but check it against the business licence",
            column=column,
        )
    return codes, lost


def prepare_enterprises(
    raw: pd.DataFrame, *, default_year: int | None, diagnostics: Diagnostics
) -> pd.DataFrame:
    """Validate an enterprise table: one row per (uscc or name, year), nothing dropped silently."""
    frame, texts = _standardise(raw, "enterprises", diagnostics=diagnostics)
    attrs, frame.attrs = frame.attrs, {}  # set aside while the rows are checked (see standardise)
    # Rows are rejected step by step but dropped once, at the end: each step sees the rows kept.
    keep = ~_non_data_rows(frame, diagnostics=diagnostics, texts=texts)
    if "uscc" in frame:
        codes, lost = _check_codes(frame, "uscc", diagnostics=diagnostics, on_lost="reject",
                                   rows=keep, folded=True, text=texts.get("uscc"))
        frame["uscc"] = codes
        keep &= ~lost
    if "uscc" not in frame and "name" not in frame:
        file = frame["_file"].iloc[0] if len(frame) else "<input>"
        msg = (
            f"{file}: the enterprise table has neither 统一社会信用代码 (uscc) nor 企业名称 (name). "
            "Name the columns with one of the headers in docs/schema.md."
        )
        raise InputError(msg)
    for col in ("uscc", "name"):
        if col not in frame:
            frame[col] = None
    nobody = keep & (frame["uscc"].isna() & frame["name"].isna()).to_numpy()
    if nobody.any():
        diagnostics.reject(frame.loc[nobody], "no_identity", "row has neither 统一社会信用代码 nor 企业名称")
        keep &= ~nobody
    if "year" not in frame:
        if default_year is None:
            msg = "the enterprise table has no 年度 (year) column; pass year= (CLI --year)."
            raise InputError(msg)
        frame["year"] = float(default_year)
        diagnostics.warn(
            "year_assumed",
            f"the enterprise table has no 年度 column; every row is taken as year {default_year}",
        )
    noyear = keep & frame["year"].isna().to_numpy()
    if noyear.any():
        diagnostics.reject(frame.loc[noyear], "no_year", "row has no 年度 (year)", column="year")
        keep &= ~noyear
    if not keep.all():
        frame = frame.loc[keep]
    frame["year"] = frame["year"].astype(int)
    frame["key"] = _enterprise_keys(frame)
    frame = _dedupe_enterprise_years(frame, diagnostics=diagnostics)
    frame.attrs = attrs
    checks.money_magnitudes(frame, diagnostics=diagnostics)
    checks.tax_refunds(frame, diagnostics=diagnostics)
    if "parcel_ids" not in frame:
        frame["parcel_ids"] = [[] for _ in range(len(frame))]
    return frame.reset_index(drop=True)


def _enterprise_keys(frame: pd.DataFrame) -> pd.Series:
    """Return the key of each row: its credit code, else ``name:`` and its folded name."""
    keys = frame["uscc"].to_numpy(dtype=object).copy()
    no_code = pd.isna(keys)
    if no_code.any():
        names, is_text, other = _text_cells(frame["name"])
        names, is_text, other = names[no_code], is_text[no_code], other[no_code]
        folded = np.full(len(names), "", dtype=object)
        if is_text.any():
            folded[is_text] = _take(*_per_unique(names[is_text], lambda n: normalise_name(n) or ""))
        for i in np.flatnonzero(other):
            folded[i] = normalise_name(names[i]) or ""
        keys[no_code] = ["name:" + n for n in folded]
    return pd.Series(keys, index=frame.index, dtype=object)


def _dedupe_enterprise_years(frame: pd.DataFrame, *, diagnostics: Diagnostics) -> pd.DataFrame:
    """Merge exact repeats of an (enterprise, year) row; reject all rows of one that differ.

    The records are made group by group, in the order the groups first appear.
    """
    dup = frame.duplicated(["key", "year"], keep=False)
    if not dup.any():
        return frame
    data_cols = [c for c in frame.columns if c not in POSITION_COLUMNS]
    rows = frame.loc[dup]
    group = rows.groupby(["key", "year"], sort=False).ngroup().to_numpy()
    order = np.argsort(group, kind="stable")
    rows, group = rows.iloc[order], group[order]
    first = np.r_[True, group[1:] != group[:-1]]
    first_at = np.flatnonzero(first)[np.cumsum(first) - 1]  # position of each row's group's first
    body = rows[data_cols].astype(str).to_numpy(dtype=object)
    head = body[first_at]
    same = ((body == head) | (pd.isna(body) & pd.isna(head))).all(axis=1)
    equal = pd.Series(same).groupby(group).transform("all").to_numpy()
    merged = equal & ~first
    conflict = ~equal
    if merged.any():
        first_rows = rows["_row"].to_numpy(dtype=object)[first_at]
        diagnostics.warn_rows(
            rows.loc[merged],
            "duplicate_merged",
            [f"repeats row {r} for the same enterprise and year exactly; merged"
             for r in first_rows[merged]],
        )
    out = merged | conflict
    diagnostics.reject(
        rows.loc[out],
        np.where(merged, "duplicate_merged", "duplicate_conflict")[out].tolist(),
        np.where(
            merged, "exact repeat of an earlier row; merged",
            "several different rows for the same enterprise and year; none is used. "
            "Keep one row per enterprise and year",
        )[out].tolist(),
    )
    return frame.drop(index=rows.index[out])


def prepare_contracts(raw: pd.DataFrame, *, diagnostics: Diagnostics) -> pd.DataFrame:
    """Validate a contracts table keyed by ``parcel_id`` or ``supervision_no``."""
    frame, texts = _standardise(raw, "contracts", diagnostics=diagnostics)
    attrs, frame.attrs = frame.attrs, {}  # set aside while the rows are checked (see standardise)
    hit = _non_data_rows(frame, diagnostics=diagnostics, texts=texts)
    if hit.any():
        frame = frame.loc[~hit]
        texts = {}  # (they hold the rows dropped)
    frame = _check_uscc(frame, "holder_uscc", diagnostics=diagnostics, on_lost="blank",
                        folded=True, text=texts.get("holder_uscc"))
    frame.attrs = attrs
    checks.money_magnitudes(frame, diagnostics=diagnostics)
    if "parcel_id" not in frame and "supervision_no" not in frame:
        file = frame["_file"].iloc[0] if len(frame) else "<input>"
        msg = (
            f"{file}: the contracts table has neither 宗地编号 (parcel_id) nor 电子监管号 "
            "(supervision_no), so no contract can be linked to a parcel."
        )
        raise InputError(msg)
    return frame.reset_index(drop=True)


def prepare_parcels(
    raw: gpd.GeoDataFrame,
    *,
    diagnostics: Diagnostics,
    sliver_m2: float = 1.0,
    sliver_width_m: float = 1.0,
    overlap_m2: float | None = 1.0,
    far_km: float = 50.0,
) -> gpd.GeoDataFrame:
    """Validate a parcel layer: ids, geometry repair and checks. Parcels are never rejected.

    Parameters
    ----------
    raw : GeoDataFrame
        From :func:`landeff.io.vector.read_layer`.
    diagnostics : Diagnostics
        Receives the warnings.
    sliver_m2, sliver_width_m : float
        A parcel under this area (m²) or width (m) is warned about as a sliver.
    overlap_m2 : float or None
        Overlaps of at least this area (m²) are reported, pair by pair; None skips the check
        (its cost grows with the number of neighbouring pairs: about 4 s per 100,000 irregular
        parcels).
    far_km : float
        A parcel farther than this from the middle (median centroid) of its park (``park_id``,
        else ``county_code``, else the whole layer) is warned about.

    Returns
    -------
    GeoDataFrame
        Every input parcel, with unique ``parcel_id`` and valid (or empty) polygonal geometry.
        ``attrs["ambiguous_ids"]`` holds ids that several parcels shared; ``attrs["overlaps"]`` the
        overlap report of :func:`landeff.checks.overlaps`.
    """
    frame, texts = _standardise(raw, "parcels", diagnostics=diagnostics)
    attrs, frame.attrs = frame.attrs, {}  # set aside while the rows are checked (see standardise)
    file = str(frame["_file"].iloc[0]) if len(frame) else "<parcels>"
    frame = _check_uscc(frame, "holder_uscc", diagnostics=diagnostics, on_lost="blank",
                        folded=True, text=texts.get("holder_uscc"))
    if "parcel_id" not in frame:
        frame["parcel_id"] = [f"P{i:05d}" for i in range(1, len(frame) + 1)]
        diagnostics.warn(
            "parcel_id_generated",
            f"{file}: no parcel id column (宗地编号); ids P00001… were given in row order. Add a "
            "宗地编号 column so results can be matched to the land register.",
            file=file,
        )
    ambiguous = unique_parcel_ids(frame, diagnostics=diagnostics, prefix="P")
    with checks.gc_paused():  # the checks make a geometry or two per parcel
        frame = repair_geometry(frame, diagnostics=diagnostics)
        checks.slivers(frame, diagnostics=diagnostics, min_area_m2=sliver_m2,
                       min_width_m=sliver_width_m)
        report = (
            checks.overlaps(frame, diagnostics=diagnostics, min_overlap_m2=overlap_m2)
            if overlap_m2 is not None else None
        )
        checks.far_outside(frame, diagnostics=diagnostics, max_km=far_km, exact=False)
    frame.attrs = attrs
    frame.attrs["ambiguous_ids"] = ambiguous
    frame.attrs["overlaps"] = report
    return frame


def prepare_buildings(
    raw: gpd.GeoDataFrame,
    *,
    diagnostics: Diagnostics,
    min_footprint_m2: float = 10.0,
    tile_edge_min_pairs: int = 3,
    max_floors: float = 150.0,
) -> gpd.GeoDataFrame:
    """Validate a building layer: headers, geometry repair, tiny footprints, tile-edge cuts, floors.

    Buildings are never rejected here (a building on no parcel is, later, by the join).

    Parameters
    ----------
    raw : GeoDataFrame
        From :func:`landeff.io.vector.read_layer`.
    diagnostics : Diagnostics
        Receives the warnings.
    min_footprint_m2 : float
        Footprints under this area are warned about (``tiny_building``).
    tile_edge_min_pairs : int
        A straight meridian or parallel shared by at least this many touching pairs of footprints is
        taken for a web-map tile edge (``tile_edge_cut``).
    max_floors : float
        Floor counts above this, or not above 0, are warned about (``floors_implausible``).

    Returns
    -------
    GeoDataFrame
        Every input building; ``attrs["tile_edges"]`` is the report of
        :func:`landeff.checks.tile_edge_cuts`.
    """
    frame = standardise(raw, "buildings", diagnostics=diagnostics)
    attrs, frame.attrs = frame.attrs, {}  # set aside while the rows are checked (see standardise)
    with checks.gc_paused():  # the checks make a geometry or two per building
        frame = repair_geometry(frame, diagnostics=diagnostics, id_column="building_id")
        checks.tiny_buildings(frame, diagnostics=diagnostics, min_footprint_m2=min_footprint_m2)
        edges = checks.tile_edge_cuts(frame, diagnostics=diagnostics,
                                      min_pairs=tile_edge_min_pairs)
    if "floors" in frame:
        floors = pd.to_numeric(frame["floors"], errors="coerce")
        odd = (floors <= 0) | (floors > max_floors)
        if odd.any():
            diagnostics.warn_rows(
                frame.loc[odd], "floors_implausible",
                f"层数 (floors) is not between 1 and {max_floors:g}; the value is used as given, "
                "so this building's floor area may be wrong. Check it",
                column="floors",
            )
    frame.attrs = attrs
    frame.attrs["tile_edges"] = edges
    return frame


def _polygonal(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the polygonal part of each geometry (None if none) and how many other parts it had."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    for _ in range(3):  # collections nested in collections
        nested = shapely.get_type_id(parts) == 7
        if not nested.any():
            break
        sub, sub_owner = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate([parts[~nested], sub])
        owner = np.concatenate([owner[~nested], owner[nested][sub_owner]])
    kinds = shapely.get_type_id(parts)
    keep = np.isin(kinds, [3, 6]) & ~shapely.is_empty(parts)
    other = np.bincount(owner[~keep], minlength=len(geoms))
    out = np.full(len(geoms), None, dtype=object)
    if keep.any():
        merged = (
            pd.Series(parts[keep]).groupby(owner[keep])
            .agg(lambda g: g.iloc[0] if len(g) == 1 else shapely.union_all(g.to_numpy()))
        )
        out[merged.index.to_numpy()] = merged.to_numpy()
    return out, other


def _non_finite(geoms: np.ndarray) -> np.ndarray:
    """Return which geometries have a NaN or infinite coordinate."""
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    return np.bincount(owner[~np.isfinite(coords).all(axis=1)], minlength=len(geoms)) > 0


def _made_valid(geoms: np.ndarray) -> np.ndarray:
    """``shapely.make_valid`` of each geometry; None for one with a NaN or infinite coordinate.

    GEOS cannot repair those (it raises); such a feature has no usable shape.
    """
    out = np.full(len(geoms), None, dtype=object)
    broken = _non_finite(geoms)
    if (~broken).any():
        out[~broken] = shapely.make_valid(geoms[~broken])
    return out


def unique_parcel_ids(frame: pd.DataFrame, *, diagnostics: Diagnostics, prefix: str) -> set[str]:
    """Give every row a unique ``parcel_id`` in place; return the ids that were repeated.

    A missing id is made from the row number (``P00012``); a repeated id is suffixed ``#2``, ``#3``.
    Both are recorded warnings; links to a repeated id are ambiguous (the caller rejects them).
    """
    missing = frame["parcel_id"].isna()
    if missing.any():
        frame.loc[missing, "parcel_id"] = [f"{prefix}{r:05d}" for r in frame.loc[missing, "_row"]]
        diagnostics.warn_rows(frame.loc[missing], "parcel_id_generated",
                              "parcel has no id; one was made from its row number", column="parcel_id")
    dup = frame["parcel_id"].duplicated(keep="first")
    if not dup.any():
        return set()
    ambiguous = set(frame.loc[dup, "parcel_id"])
    n = frame.groupby("parcel_id").cumcount() + 1
    frame.loc[dup, "parcel_id"] = frame.loc[dup, "parcel_id"] + "#" + n[dup].astype(str)
    diagnostics.warn_rows(
        frame.loc[dup], "duplicate_parcel_id",
        "parcel id repeats an earlier parcel; suffixed with #n. Links to this id are ambiguous "
        "and are rejected", column="parcel_id",
    )
    return ambiguous


def repair_geometry(
    frame: gpd.GeoDataFrame, *, diagnostics: Diagnostics, id_column: str = "parcel_id"
) -> gpd.GeoDataFrame:
    """Make geometry usable for area: valid polygons, or empty, each change with a warning.

    * empty or missing geometry: kept, without an area (``empty_geometry``);
    * invalid polygons (self-intersections, bow-ties, spikes): ``make_valid``, keeping the polygonal
      parts (``geometry_repaired``; ``geometry_lost`` when nothing polygonal is left, or when a
      coordinate is NaN or infinite, which GEOS cannot repair: the feature is left empty);
    * GeometryCollections: the polygon parts are kept, points and lines dropped
      (``geometry_collection``; one with a NaN or infinite coordinate is lost, as above);
    * points and lines: kept, area 0 (``not_polygon``).

    MultiPolygons and polygons with holes are valid and left as they are. Afterwards every
    polygon and multipolygon is valid (in the layer's CRS); the other geometries are None, empty,
    or points and lines, which may be invalid.
    """
    geoms = np.asarray(frame.geometry.values, dtype=object)
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.any():
        diagnostics.warn_rows(
            frame.loc[empty], "empty_geometry",
            "feature has no geometry (missing or empty): it is kept, without an area, and no "
            "building can lie on it. Draw its boundary in the source layer", column=id_column,
        )
    kinds = shapely.get_type_id(geoms)
    polygonal = np.isin(kinds, [3, 6])
    invalid = ~empty & polygonal & ~rowwise(shapely.is_valid, geoms)
    collection = ~empty & (kinds == 7)
    if collection.any():  # a NaN or infinite coordinate: no shape to keep, as for a polygon
        broken = np.zeros(len(geoms), dtype=bool)
        broken[collection] = _non_finite(geoms[collection])
        invalid |= broken
        collection &= ~broken
    other = ~empty & ~polygonal & ~collection & ~invalid
    new = geoms.copy()
    crs_units = "m²" if frame.crs is not None and frame.crs.is_projected else "square degrees"
    if invalid.any():
        reasons = shapely.is_valid_reason(geoms[invalid])
        fixed, _ = _polygonal(_made_valid(geoms[invalid]))
        new[invalid] = fixed
        before = shapely.area(geoms[invalid])
        after = np.nan_to_num(shapely.area(fixed))
        sub = frame.loc[invalid]
        lost = np.asarray([g is None for g in fixed], dtype=bool)
        files = sub["_file"].to_numpy(dtype=object)
        rows = sub["_row"].to_numpy(dtype=object)
        ids = (sub[id_column].to_numpy(dtype=object) if id_column in sub
               else np.full(len(sub), None, dtype=object))
        messages = [
            f"{f}: feature {r} ({id_column} {i!r}) had invalid geometry ({why}); "
            + ("make_valid left no polygon, so it is now empty (no area). Redraw it in the source"
               if gone else
               f"repaired with make_valid, keeping the polygonal parts (area {a0:.6g} → "
               f"{a1:.6g} {crs_units}). Check its shape")
            for f, r, i, why, gone, a0, a1 in zip(files, rows, ids, reasons, lost, before, after,
                                                  strict=True)
        ]
        diagnostics.warn_rows(
            sub, np.where(lost, "geometry_lost", "geometry_repaired").tolist(), messages,
            column="geometry", values=list(reasons),
        )
    if collection.any():
        parts = geoms[collection]
        parts = np.where(shapely.is_valid(parts), parts, shapely.make_valid(parts))
        kept, dropped = _polygonal(parts)
        new[collection] = kept
        checks.warn_values(
            diagnostics, frame.loc[collection], "geometry_collection",
            "feature is a GeometryCollection: its polygon parts were kept and its point and line "
            "parts (the value gives how many) dropped; export polygons only",
            column="geometry", values=dropped.tolist(),
        )
    if other.any():
        checks.warn_values(
            diagnostics, frame.loc[other], "not_polygon",
            "feature is not a polygon (the value gives its type), so its area is 0; a parcel or "
            "building layer must hold polygons",
            column="geometry", values=shapely.get_type_id(geoms[other]).tolist(),
        )
        # type names read better than ids
    if invalid.any() or collection.any():
        frame = frame.set_geometry(gpd.GeoSeries(new, index=frame.index, crs=frame.crs))
    return frame
