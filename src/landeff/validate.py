"""Validate raw tables: header aliases and units, value parsing, row accounting.

Every row that is not used goes to :class:`landeff.errors.Diagnostics` as rejected, with its reason;
every value that was changed or assumed is a recorded warning with the row.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import checks
from .errors import Diagnostics, InputError
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
_CODE_FIELDS = frozenset({"uscc", "holder_uscc"})
_ID_SPLIT = re.compile(r"[,;，；、\s]+")
_SCI_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$")


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
    out = np.full(len(values), np.nan)
    bad = np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values.to_numpy(dtype=object)):
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            continue
        if isinstance(v, bool):
            out[i] = float(v)
            continue
        if isinstance(v, int | float | np.integer | np.floating):
            out[i] = float(v)
            continue
        text = unicodedata.normalize("NFKC", str(v)).strip().replace(",", "").replace(" ", "")
        if text in {"", "-", "—", "--", "/", "无", "null", "None", "nan", "NaN"}:
            continue
        if text.endswith("%"):
            try:
                out[i] = float(text[:-1]) / 100.0
            except ValueError:
                bad[i] = True
            continue
        try:
            out[i] = float(text)
        except ValueError:
            bad[i] = True
    return pd.Series(out, index=values.index), pd.Series(bad, index=values.index)


_CN_DATE = re.compile(r"^(\d{4})年(\d{1,2})月(?:(\d{1,2})日?)?$")
_SEP_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})(?:[-/.](\d{1,2}))?(?:[ T].*)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def parse_dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse cells into dates: ISO, 2019/12/31, 2019年12月31日, 20191231, Excel serial numbers.

    A month without a day (2019年12月) is the first of that month.

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
    out: list[Any] = [pd.NaT] * len(values)
    bad = np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values.to_numpy(dtype=object)):
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            continue
        if isinstance(v, pd.Timestamp | np.datetime64) or hasattr(v, "year"):
            out[i] = pd.Timestamp(v).normalize()
            continue
        if isinstance(v, int | float | np.integer | np.floating):
            serial = float(v)
            if 1 <= serial < 200000:
                out[i] = pd.Timestamp("1899-12-30") + pd.Timedelta(days=int(serial))
            else:
                bad[i] = True
            continue
        text = unicodedata.normalize("NFKC", str(v)).strip()
        if not text:
            continue
        m = _CN_DATE.match(text) or _SEP_DATE.match(text) or _COMPACT_DATE.match(text)
        if m is None and re.fullmatch(r"\d{5}(\.0)?", text):
            out[i] = pd.Timestamp("1899-12-30") + pd.Timedelta(days=int(float(text)))
            continue
        if m is None:
            bad[i] = True
            continue
        try:
            out[i] = pd.Timestamp(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1))
        except ValueError:
            bad[i] = True
    return pd.Series(pd.to_datetime(pd.Series(out, dtype=object)), index=values.index).astype(
        "datetime64[ns]"
    ), pd.Series(bad, index=values.index)


_TRUE = {"是", "y", "yes", "true", "1", "√", "✓", "规上", "t"}
_FALSE = {"否", "n", "no", "false", "0", "×", "规下", "f"}


def parse_bools(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse 是/否, Y/N, true/false, 1/0 into a nullable boolean Series (and a bad-cell mask).

    Examples
    --------
    >>> v, bad = parse_bools(pd.Series(["是", "否", 1, None, "也许"]))
    >>> v.tolist(), bad.tolist()
    ([True, False, True, <NA>, <NA>], [False, False, False, False, True])
    """
    flags: list[Any] = []
    bad: list[bool] = []
    for v in values.to_numpy(dtype=object):
        flag: Any = pd.NA
        wrong = False
        if not (v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))):
            text = unicodedata.normalize("NFKC", str(v)).strip().lower()
            if isinstance(v, int | float) and not isinstance(v, bool):
                text = str(int(v)) if float(v).is_integer() else text
            if text in _TRUE:
                flag = True
            elif text in _FALSE:
                flag = False
            elif text:
                wrong = True
        flags.append(flag)
        bad.append(wrong)
    return (
        pd.Series(pd.array(flags, dtype="boolean"), index=values.index),
        pd.Series(bad, index=values.index, dtype=bool),
    )


def _text(values: pd.Series, *, upper: bool = False) -> pd.Series:
    if pd.api.types.is_float_dtype(values.dtype) or pd.api.types.is_integer_dtype(values.dtype):
        as_int = values.dropna()
        if (as_int == np.floor(as_int)).all():
            values = values.astype("Int64")
        text = values.astype("string")
        return text.astype(object).where(text.notna(), None)

    def one(v: Any) -> Any:
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        text = unicodedata.normalize("NFKC", str(v)).strip()
        if upper:
            text = text.upper()
        return text or None

    return values.map(one).astype(object)


def _objects(values: pd.Series, func: Any) -> pd.Series:
    """Apply ``func`` to each cell, keeping the results as Python objects (None stays None)."""
    return pd.Series(
        [func(v) for v in values.to_numpy(dtype=object)], index=values.index, dtype=object
    )


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
    for note in raw.attrs.get("read_warnings", []):
        diagnostics.warn(**note)
    file = str(raw["_file"].iloc[0]) if len(raw) and "_file" in raw else "<input>"
    mapping = map_headers(list(raw.columns), kind, file=file, diagnostics=diagnostics)
    out = raw.copy()
    renames: dict[str, str] = {}
    for col in raw.columns:
        if col in mapping:
            renames[col] = mapping[col][0]
        elif col in OUTPUT_COLUMNS or col in FIELDS_BY_NAME:
            renames[col] = f"input_{col}"
    out = out.rename(columns=renames)
    geometry_name = raw.geometry.name if isinstance(raw, gpd.GeoDataFrame) else None
    for raw_col, (name, unit) in mapping.items():
        field = FIELDS_BY_NAME[name]
        out[name] = _parse_field(out[name], field, unit, raw_col, out, file, diagnostics)
    if geometry_name is not None and isinstance(out, gpd.GeoDataFrame):
        out = out.set_geometry(geometry_name)
    out.attrs["read_warnings"] = []
    out.attrs["column_map"] = {raw_col: name for raw_col, (name, _) in mapping.items()}
    out.attrs["units"] = {name: (raw_col, unit) for raw_col, (name, unit) in mapping.items()}
    return out


def _parse_field(
    values: pd.Series,
    field: Field,
    unit: str | None,
    raw_col: str,
    frame: pd.DataFrame,
    file: str,
    diagnostics: Diagnostics,
) -> pd.Series:
    if field.name in _CODE_FIELDS:
        return _objects(values, _code_cell)
    if field.dtype in {"id", "text"}:
        return _text(values)
    if field.dtype == "id_list":
        return values.map(
            lambda v: [p for p in _ID_SPLIT.split(unicodedata.normalize("NFKC", str(v)).strip()) if p]
            if v is not None and not (isinstance(v, float) and np.isnan(v)) and v is not pd.NA
            else []
        )
    if field.dtype == "date":
        parsed, bad = parse_dates(values)
        _warn_bad(frame.loc[bad], raw_col, values, field, "date_not_understood",
                  "is not a date landeff understands (use 2021-03-15 or 2021年3月15日); left empty",
                  diagnostics)
        return parsed
    if field.dtype == "bool":
        parsed_b, bad = parse_bools(values)
        _warn_bad(frame.loc[bad], raw_col, values, field, "flag_not_understood",
                  "is not 是/否 (yes/no); left empty", diagnostics)
        return parsed_b
    parsed_n, bad = parse_numbers(values)
    _warn_bad(frame.loc[bad], raw_col, values, field, "number_not_understood",
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
    rows: pd.DataFrame,
    raw_col: str,
    values: pd.Series,
    field: Field,
    code: str,
    what: str,
    diagnostics: Diagnostics,
) -> None:
    for idx in rows.index:
        row = rows.loc[idx]
        diagnostics.warn(
            code,
            f"{row.get('_file')}: row {row.get('_row')}, column {raw_col!r}: {values[idx]!r} {what}.",
            file=row.get("_file"),
            sheet=row.get("_sheet"),
            row=row.get("_row"),
            column=raw_col,
            value=str(values[idx]),
        )


def reject_non_data(frame: pd.DataFrame, *, diagnostics: Diagnostics) -> pd.DataFrame:
    """Reject totals rows (合计, 总计, 小计) and return the rest."""
    text_cols = [c for c in frame.columns if c not in POSITION_COLUMNS and (
        frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c].dtype))]
    if not text_cols or frame.empty:
        return frame
    words = "|".join(NON_DATA_WORDS)
    pattern = re.compile(rf"^({words})[:：]?$", re.IGNORECASE)

    def is_total(v: Any) -> bool:
        if not isinstance(v, str):
            return False
        return bool(pattern.match(re.sub(r"\s+", "", unicodedata.normalize("NFKC", v))))

    hit = np.zeros(len(frame), dtype=bool)
    for col in text_cols:
        hit |= frame[col].map(is_total).to_numpy(dtype=bool)
    if hit.any():
        diagnostics.reject(
            frame.loc[hit], "non_data", "a totals row (合计/总计), not an enterprise or parcel: not used"
        )
    return frame.loc[~hit]


def check_uscc(
    frame: pd.DataFrame,
    column: str,
    *,
    diagnostics: Diagnostics,
    on_lost: str = "reject",
) -> pd.DataFrame:
    """Catch codes that Excel turned into numbers; warn on a bad check character (kept).

    A code stored as a number (a float such as 9.13501E+17, or text in that form) has lost its last
    digits. With ``on_lost="reject"`` (enterprise tables, where the code is the identity) the row is
    rejected as ``uscc_lost``; with ``on_lost="blank"`` (parcels, contracts) the code is emptied
    with a warning and the row kept. The column holds text (or None) afterwards.
    """
    if column not in frame:
        return frame
    codes = frame[column]
    codes = _objects(codes, _code_cell)
    lost = codes.map(
        lambda v: isinstance(v, float) or (isinstance(v, str) and bool(_SCI_NUMBER.match(v)))
    ).astype(bool)
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
            frame = frame.loc[~lost]
        else:
            diagnostics.warn_rows(
                shown, "uscc_lost",
                what + "; the code was left empty, so nothing links here by code (links by parcel "
                "id or by name still work)",
                column=column,
            )
            codes = codes.where(~lost, None)
        codes = codes.loc[frame.index]
    frame = frame.copy()
    frame[column] = codes
    present = codes.notna()
    bad = present & ~codes.map(lambda v: isinstance(v, str) and uscc_valid(v)).astype(bool)
    if bad.any():
        diagnostics.warn_rows(
            frame.loc[bad],
            "uscc_check",
            f"{column} fails the GB 32100-2015 check character; kept as given (real codes like this "
            "exist), but check it against the business licence",
            column=column,
        )
    return frame


def prepare_enterprises(
    raw: pd.DataFrame, *, default_year: int | None, diagnostics: Diagnostics
) -> pd.DataFrame:
    """Validate an enterprise table: one row per (uscc or name, year), nothing dropped silently."""
    frame = standardise(raw, "enterprises", diagnostics=diagnostics)
    frame = reject_non_data(frame, diagnostics=diagnostics)
    frame = check_uscc(frame, "uscc", diagnostics=diagnostics)
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
    nobody = frame["uscc"].isna() & frame["name"].isna()
    if nobody.any():
        diagnostics.reject(frame.loc[nobody], "no_identity", "row has neither 统一社会信用代码 nor 企业名称")
        frame = frame.loc[~nobody]
    if "year" not in frame:
        if default_year is None:
            msg = "the enterprise table has no 年度 (year) column; pass year= (CLI --year)."
            raise InputError(msg)
        frame["year"] = float(default_year)
        diagnostics.warn(
            "year_assumed",
            f"the enterprise table has no 年度 column; every row is taken as year {default_year}",
        )
    noyear = frame["year"].isna()
    if noyear.any():
        diagnostics.reject(frame.loc[noyear], "no_year", "row has no 年度 (year)", column="year")
        frame = frame.loc[~noyear]
    frame["year"] = frame["year"].astype(int)
    frame["key"] = frame["uscc"].where(frame["uscc"].notna(), "name:" + frame["name"].map(
        lambda n: normalise_name(n) or ""))
    frame = _dedupe_enterprise_years(frame, diagnostics=diagnostics)
    checks.money_magnitudes(frame, diagnostics=diagnostics)
    checks.tax_refunds(frame, diagnostics=diagnostics)
    if "parcel_ids" not in frame:
        frame["parcel_ids"] = [[] for _ in range(len(frame))]
    return frame.reset_index(drop=True)


def _dedupe_enterprise_years(frame: pd.DataFrame, *, diagnostics: Diagnostics) -> pd.DataFrame:
    dup = frame.duplicated(["key", "year"], keep=False)
    if not dup.any():
        return frame
    data_cols = [c for c in frame.columns if c not in POSITION_COLUMNS]
    groups = frame.loc[dup].groupby(["key", "year"], sort=False)
    drop_idx: list[Any] = []
    for _, g in groups:
        body = g[data_cols].astype(str)
        if (body.nunique(dropna=False) <= 1).all():
            diagnostics.warn_rows(
                g.iloc[1:], "duplicate_merged",
                f"repeats row {g['_row'].iloc[0]} for the same enterprise and year exactly; merged",
            )
            diagnostics.reject(g.iloc[1:], "duplicate_merged", "exact repeat of an earlier row; merged")
            drop_idx += list(g.index[1:])
        else:
            diagnostics.reject(
                g, "duplicate_conflict",
                "several different rows for the same enterprise and year; none is used. "
                "Keep one row per enterprise and year",
            )
            drop_idx += list(g.index)
    return frame.drop(index=drop_idx)


def prepare_contracts(raw: pd.DataFrame, *, diagnostics: Diagnostics) -> pd.DataFrame:
    """Validate a contracts table keyed by ``parcel_id`` or ``supervision_no``."""
    frame = standardise(raw, "contracts", diagnostics=diagnostics)
    frame = reject_non_data(frame, diagnostics=diagnostics)
    frame = check_uscc(frame, "holder_uscc", diagnostics=diagnostics, on_lost="blank")
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
        A parcel farther than this from the median centroid is warned about.

    Returns
    -------
    GeoDataFrame
        Every input parcel, with unique ``parcel_id`` and valid (or empty) polygonal geometry.
        ``attrs["ambiguous_ids"]`` holds ids that several parcels shared; ``attrs["overlaps"]`` the
        overlap report of :func:`landeff.checks.overlaps`.
    """
    frame = standardise(raw, "parcels", diagnostics=diagnostics)
    file = str(frame["_file"].iloc[0]) if len(frame) else "<parcels>"
    frame = check_uscc(frame, "holder_uscc", diagnostics=diagnostics, on_lost="blank")
    if "parcel_id" not in frame:
        frame["parcel_id"] = [f"P{i:05d}" for i in range(1, len(frame) + 1)]
        diagnostics.warn(
            "parcel_id_generated",
            f"{file}: no parcel id column (宗地编号); ids P00001… were given in row order. Add a "
            "宗地编号 column so results can be matched to the land register.",
            file=file,
        )
    missing = frame["parcel_id"].isna()
    if missing.any():
        frame.loc[missing, "parcel_id"] = [f"P{r:05d}" for r in frame.loc[missing, "_row"]]
        diagnostics.warn_rows(frame.loc[missing], "parcel_id_generated",
                              "parcel has no id; one was made from its row number", column="parcel_id")
    dup = frame["parcel_id"].duplicated(keep="first")
    ambiguous: set[str] = set()
    if dup.any():
        ambiguous = set(frame.loc[dup, "parcel_id"])
        n = frame.groupby("parcel_id").cumcount() + 1
        frame.loc[dup, "parcel_id"] = frame.loc[dup, "parcel_id"] + "#" + n[dup].astype(str)
        diagnostics.warn_rows(
            frame.loc[dup], "duplicate_parcel_id",
            "parcel id repeats an earlier parcel; suffixed with #n. Links to this id are ambiguous "
            "and are rejected", column="parcel_id",
        )
    frame = repair_geometry(frame, diagnostics=diagnostics)
    checks.slivers(frame, diagnostics=diagnostics, min_area_m2=sliver_m2,
                   min_width_m=sliver_width_m)
    report = (
        checks.overlaps(frame, diagnostics=diagnostics, min_overlap_m2=overlap_m2)
        if overlap_m2 is not None else None
    )
    checks.far_outside(frame, diagnostics=diagnostics, max_km=far_km)
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
    frame = repair_geometry(frame, diagnostics=diagnostics, id_column="building_id")
    checks.tiny_buildings(frame, diagnostics=diagnostics, min_footprint_m2=min_footprint_m2)
    edges = checks.tile_edge_cuts(frame, diagnostics=diagnostics, min_pairs=tile_edge_min_pairs)
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


def repair_geometry(
    frame: gpd.GeoDataFrame, *, diagnostics: Diagnostics, id_column: str = "parcel_id"
) -> gpd.GeoDataFrame:
    """Make geometry usable for area: valid polygons, or empty, each change with a warning.

    * empty or missing geometry: kept, without an area (``empty_geometry``);
    * invalid polygons (self-intersections, bow-ties, spikes): ``make_valid``, keeping the polygonal
      parts (``geometry_repaired``; ``geometry_lost`` when nothing polygonal is left);
    * GeometryCollections: the polygon parts are kept, points and lines dropped
      (``geometry_collection``);
    * points and lines: kept, area 0 (``not_polygon``).

    MultiPolygons and polygons with holes are valid and left as they are.
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
    invalid = ~empty & polygonal & ~shapely.is_valid(geoms)
    collection = ~empty & (kinds == 7)
    other = ~empty & ~polygonal & ~collection
    new = geoms.copy()
    crs_units = "m²" if frame.crs is not None and frame.crs.is_projected else "square degrees"
    if invalid.any():
        reasons = shapely.is_valid_reason(geoms[invalid])
        fixed, _ = _polygonal(shapely.make_valid(geoms[invalid]))
        new[invalid] = fixed
        before = shapely.area(geoms[invalid])
        after = np.nan_to_num(shapely.area(fixed))
        sub = frame.loc[invalid]
        for k, (_, row) in enumerate(sub.iterrows()):
            lost = fixed[k] is None
            diagnostics.warn(
                "geometry_lost" if lost else "geometry_repaired",
                f"{row['_file']}: feature {row['_row']} ({id_column} {row.get(id_column)!r}) had "
                f"invalid geometry ({reasons[k]}); "
                + ("make_valid left no polygon, so it is now empty (no area). Redraw it in the source"
                   if lost else
                   f"repaired with make_valid, keeping the polygonal parts (area {before[k]:.6g} → "
                   f"{after[k]:.6g} {crs_units}). Check its shape"),
                file=row["_file"], sheet=row["_sheet"], row=row["_row"],
                column="geometry", value=reasons[k],
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
