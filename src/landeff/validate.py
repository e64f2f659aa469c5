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
    """Parse 是/否, Y/N, true/false, 1/0 into a nullable boolean Series (and a bad-cell mask)."""
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    bad = pd.Series(False, index=values.index)
    for idx, v in values.items():
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            continue
        text = unicodedata.normalize("NFKC", str(v)).strip().lower()
        if isinstance(v, int | float) and not isinstance(v, bool):
            text = str(int(v)) if float(v).is_integer() else text
        if text in _TRUE:
            out[idx] = True
        elif text in _FALSE:
            out[idx] = False
        elif text:
            bad[idx] = True
    return out, bad


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
        clash with an output column).
    """
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
    out.attrs["column_map"] = {raw_col: name for raw_col, (name, _) in mapping.items()}
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
    if field.dtype in {"id", "text"}:
        return _text(values, upper=field.name in {"uscc", "holder_uscc"})
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
            if parsed_n.notna().any():
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
    text_cols = [c for c in frame.columns if c not in POSITION_COLUMNS and frame[c].dtype == object]
    if not text_cols or frame.empty:
        return frame
    words = "|".join(NON_DATA_WORDS)
    pattern = re.compile(rf"^\s*({words})\s*[:：]?\s*$", re.IGNORECASE)
    hit = np.zeros(len(frame), dtype=bool)
    for col in text_cols:
        hit |= frame[col].map(lambda v: isinstance(v, str) and bool(pattern.match(v))).to_numpy()
    if hit.any():
        diagnostics.reject(
            frame.loc[hit], "non_data", "a totals row (合计/总计), not an enterprise or parcel: not used"
        )
    return frame.loc[~hit]


def check_uscc(frame: pd.DataFrame, column: str, *, diagnostics: Diagnostics) -> pd.DataFrame:
    """Reject codes that Excel turned into numbers; warn on a bad check character (kept)."""
    if column not in frame:
        return frame
    codes = frame[column]
    sci = codes.map(lambda v: isinstance(v, str) and bool(_SCI_NUMBER.match(v)))
    if sci.any():
        diagnostics.reject(
            frame.loc[sci],
            "uscc_lost",
            f"{column} was stored as a number (e.g. 9.13E+17) so its digits are lost; "
            "format the column as text in Excel and export again",
            column=column,
        )
        frame = frame.loc[~sci]
        codes = frame[column]
    present = codes.notna()
    bad = present & ~codes.map(lambda v: isinstance(v, str) and uscc_valid(v))
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
    frame = check_uscc(frame, "holder_uscc", diagnostics=diagnostics)
    if "parcel_id" not in frame and "supervision_no" not in frame:
        file = frame["_file"].iloc[0] if len(frame) else "<input>"
        msg = (
            f"{file}: the contracts table has neither 宗地编号 (parcel_id) nor 电子监管号 "
            "(supervision_no), so no contract can be linked to a parcel."
        )
        raise InputError(msg)
    return frame.reset_index(drop=True)


def prepare_parcels(raw: gpd.GeoDataFrame, *, diagnostics: Diagnostics) -> gpd.GeoDataFrame:
    """Validate a parcel layer: ids, geometry repair. Parcels are never rejected, only warned about."""
    frame = standardise(raw, "parcels", diagnostics=diagnostics)
    file = str(frame["_file"].iloc[0]) if len(frame) else "<parcels>"
    frame = check_uscc(frame, "holder_uscc", diagnostics=diagnostics)
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
    if dup.any():
        ambiguous = set(frame.loc[dup, "parcel_id"])
        n = frame.groupby("parcel_id").cumcount() + 1
        frame.loc[dup, "parcel_id"] = frame.loc[dup, "parcel_id"] + "#" + n[dup].astype(str)
        diagnostics.warn_rows(
            frame.loc[dup], "duplicate_parcel_id",
            "parcel id repeats an earlier parcel; suffixed with #n. Links to this id are ambiguous "
            "and are rejected", column="parcel_id",
        )
        frame.attrs["ambiguous_ids"] = ambiguous
    frame = repair_geometry(frame, diagnostics=diagnostics)
    return frame


def repair_geometry(frame: gpd.GeoDataFrame, *, diagnostics: Diagnostics) -> gpd.GeoDataFrame:
    """Make invalid polygons valid (keeping only polygonal parts) and warn on empty geometry."""
    geoms = frame.geometry.values
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.any():
        diagnostics.warn_rows(frame.loc[empty], "empty_geometry",
                              "feature has no geometry; its area is 0", column="parcel_id")
    invalid = ~empty & ~shapely.is_valid(geoms)
    if invalid.any():
        reasons = shapely.is_valid_reason(geoms[invalid])
        fixed = shapely.make_valid(geoms[invalid])
        polys = shapely.get_parts(fixed, return_index=True)
        parts, owners = polys
        keep = np.isin(shapely.get_type_id(parts), [3, 6])
        merged = np.full(invalid.sum(), None, dtype=object)
        if keep.any():
            s = gpd.GeoSeries(parts[keep]).groupby(owners[keep]).agg(lambda g: shapely.union_all(g.values))
            merged[s.index.to_numpy()] = s.to_numpy()
        idx = np.flatnonzero(invalid)
        new = np.asarray(geoms, dtype=object).copy()
        new[idx] = merged
        frame = frame.set_geometry(gpd.GeoSeries(new, index=frame.index, crs=frame.crs))
        sub = frame.iloc[idx].copy()
        sub["_reason"] = reasons
        for (i, row), reason in zip(sub.iterrows(), reasons, strict=True):
            diagnostics.warn(
                "geometry_repaired",
                f"{row['_file']}: feature {row['_row']} had invalid geometry ({reason}); repaired "
                "with make_valid, keeping the polygonal parts",
                file=row["_file"], sheet=row["_sheet"], row=row["_row"],
                column="geometry", value=str(i),
            )
    return frame
