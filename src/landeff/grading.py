"""Composite evaluation (亩均效益综合评价): scores, A/B/C/D/T classes and year-on-year change.

Each enterprise in scope gets, per indicator of its group (规上 or 规下), its value, the benchmark,
the weight and the points ``max(0, value ÷ benchmark × weight)``; the score is the sum. Classes are
given by rank within each group (and park), with the policy's shares. See docs/policy.md.

Warnings name one enterprise row each (with its place in the input), or one park for a fact about
a park, so a run split by park (the Dask engine) records the same warnings as one run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .crs import M2_PER_MU
from .errors import Diagnostics
from .periods import add_years
from .policy import INDICATORS, IndicatorDef, Policy, code_digits, load_policy

__all__ = ["grade", "park_yoy"]

#: Per-mu figures followed year on year, with their numerators.
PER_MU_FIGURES: dict[str, str] = {
    "tax_wan_per_mu": "tax_wan",
    "revenue_wan_per_mu": "revenue_wan",
    "output_wan_per_mu": "output_wan",
    "value_added_wan_per_mu": "value_added_wan",
}

_GRADE_TOKEN = r"^(?:(\d{4})\s*(?:[:：]|年)?\s*)?([ABCDT])\s*类?$"

#: The two groups; a row's group code is 0 for 规上 and 1 for 规下.
_GROUPS = ("规上", "规下")

#: Class labels; a row's class code indexes this tuple.
_CLASSES = ("A", "B", "C", "D", "T")

#: Where an enterprise row came from (see docs/architecture.md).
_POSITION = ["_file", "_sheet", "_row"]


def grade(
    enterprises: pd.DataFrame,
    enterprise_years: pd.DataFrame,
    *,
    policy: Policy | str | None,
    as_of: dt.date,
    year: int,
    diagnostics: Diagnostics,
) -> pd.DataFrame:
    """Score and class every enterprise of ``year`` under ``policy``.

    Parameters
    ----------
    enterprises : pandas.DataFrame
        One row per enterprise (``uscc``) for ``year``, with the figures and per-mu columns of
        docs/architecture.md (``above_scale, industry_code, production_start, land_mu, tax_wan,
        revenue_wan, ...``; ``park_id``, ``role``, ``grade_history`` and the row's place in the
        input, ``_file, _sheet, _row``, are optional).
    enterprise_years : pandas.DataFrame
        The same measures for every year in the data: the previous year gives derived benchmarks
        and year-on-year change; earlier ``grade_history`` values feed the consecutive-D count.
    policy : Policy or str or None
        A :class:`~landeff.policy.Policy` or anything :func:`~landeff.policy.load_policy` takes.
    as_of : datetime.date
        Evaluation date (for the 2-year production rule of class T).
    year : int
        Year of the figures.
    diagnostics : Diagnostics
        Collects warnings: one per enterprise row for a missing 规上 flag
        (``ABOVE_SCALE_MISSING``), a missing indicator (``INDICATOR_MISSING``, with the missing
        figure as column and value), an unusable benchmark (``BENCHMARK_UNUSABLE``) or an
        unreadable ``grade_history`` entry (``GRADE_HISTORY_UNREADABLE``); one per park whose
        benchmarks come from the current year (``BENCHMARK_CURRENT_YEAR``).

    Returns
    -------
    pandas.DataFrame
        ``enterprises`` with, per indicator, ``<indicator>``, ``bm_<indicator>``,
        ``w_<indicator>``, ``pts_<indicator>``; and ``score, group, grade, grade_reason, preset,
        benchmark_basis, rank, consecutive_d`` and ``<per-mu figure>_yoy``.

    Examples
    --------
    >>> import datetime as dt
    >>> from landeff.errors import Diagnostics
    >>> ent = pd.DataFrame({"uscc": ["a", "b"], "year": 2023, "above_scale": [False, False],
    ...     "land_mu": [10.0, 10.0], "tax_wan": [100.0, 50.0], "electricity_kwh": [1e6, 1e6]})
    >>> out = grade(ent, ent, policy="zhejiang-huangyan-2022", as_of=dt.date(2024, 6, 30),
    ...             year=2023, diagnostics=Diagnostics())
    >>> out["pts_tax_wan_per_mu"].round(2).tolist()
    [43.13, 21.56]
    """
    policy = load_policy(policy)
    as_of_ts = pd.Timestamp(as_of)
    if "year" in enterprises:
        years = pd.to_numeric(enterprises["year"], errors="coerce")
        other = years.notna() & (years != year)
        if other.any():
            msg = (
                f"grade(): `enterprises` must hold the rows of year {year} only; found year(s) "
                f"{sorted(years[other].unique().tolist())[:5]}. Pass the other years as "
                "`enterprise_years`."
            )
            raise ValueError(msg)
    # columns are only added or replaced, never changed in place: a shallow copy is enough
    # (pandas copies on write)
    out = enterprises.copy(deep=False)
    n = len(out)
    land = _land_mu(out).to_numpy()
    out["land_mu"] = land
    above = _above_scale(out, diagnostics)
    out["group"] = _text(_GROUPS, np.where(above, 0, 1))
    graded, class_t, reason_pieces = _status(out, policy, as_of_ts, above)
    park, parks = _park_codes(out)
    pool, pool_labels = _pools(out, policy, above, park, parks)
    prev = _year_rows(enterprise_years, year - 1, _prev_columns(policy))

    bench, basis = _benchmarks(out, graded, park, parks, prev, policy, as_of_ts, year, diagnostics)
    names = list(dict.fromkeys(i.name for g in policy.groups.values() for i in g.indicators))
    values = {name: _indicator_array(out, INDICATORS[name], land) for name in names}
    cols: dict[str, dict[str, np.ndarray]] = {
        prefix: {name: np.full(n, np.nan) for name in names} for prefix in ("bm_", "w_", "pts_")
    }
    for label, group in policy.groups.items():
        in_group = above if label == _GROUPS[0] else ~above if label == _GROUPS[1] else None
        if in_group is None:
            continue
        rows = in_group & graded
        for ind in group.indicators:
            name = ind.name
            bm = (
                np.full(n, float(ind.benchmark.value)) if ind.benchmark is not None else bench[name]
            )
            cols["bm_"][name][in_group] = bm[in_group]
            cols["w_"][name][in_group] = ind.weight
            value = values[name]
            has_value = ~np.isnan(value)
            bm_ok = ~np.isnan(bm) & (bm > 0)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                pts = value / bm * ind.weight
            pts = np.where((pts >= 0) | np.isnan(pts), pts, 0.0)  # as Series.clip(lower=0)
            pts = np.where(has_value & bm_ok, pts, 0.0)
            _warn_firms(
                diagnostics,
                out,
                rows & has_value & ~bm_ok,
                "BENCHMARK_UNUSABLE",
                f"{label} {ind.definition.label_zh} ({name}): the benchmark is missing or not "
                "positive (park data too thin, or a park total below zero); 0 points for this "
                "item. Set a fixed benchmark in the policy file.",
                column="bm_" + name,
                values=bm,
            )
            missing = rows & ~has_value
            if missing.any():
                if ind.missing == "group_mean":
                    donors = rows & has_value & bm_ok
                    key, pool_of_key = _sorted_codes(pool[donors], pool_labels)
                    means = pd.Series(pts[donors]).groupby(key).mean()
                    fill = np.zeros(len(pool_labels))
                    fill[pool_of_key[means.index.to_numpy()]] = means.to_numpy()
                    pts = np.where(missing, fill[pool], pts)
                    what = f"the {label} average points of its group"
                else:
                    what = "0 points"
                _warn_missing(
                    diagnostics, out, missing, label, ind.definition, land, what, policy.name
                )
            cols["pts_"][name][rows] = pts[rows]

    for name in names:
        out[name] = values[name]
        for prefix in ("bm_", "w_", "pts_"):
            out[prefix + name] = cols[prefix][name]
    score = _row_sums([cols["pts_"][name] for name in names])
    score[~graded] = np.nan
    out["score"] = score
    rank, cls, reasons = _classes(score, pool, pool_labels, graded, policy)
    at = np.flatnonzero(graded)
    rank_values = np.zeros(n, dtype="int64")
    rank_values[at] = rank
    out["rank"] = pd.arrays.IntegerArray(rank_values, ~graded)
    cls_codes = np.where(class_t, _CLASSES.index("T"), -1)
    cls_codes[at] = cls
    out["grade"] = _text(_CLASSES, cls_codes, na=pd.NA)
    out["grade_reason"] = _combine_text(n, [(at, reasons), *reason_pieces], na=pd.NA)
    out["preset"] = policy.name
    out["benchmark_basis"] = basis
    is_d = cls_codes == _CLASSES.index("D")
    out["consecutive_d"] = _consecutive_d(out, is_d, enterprise_years, year, diagnostics)
    yoy = _yoy(out, prev, year)
    for col in yoy:
        out[col] = yoy[col]
    return out


# ---------------------------------------------------------------------------------------------
# inputs


def _text(
    labels: Sequence[str], codes: np.ndarray, *, na: Any = np.nan
) -> pd.api.extensions.ExtensionArray:
    """Return ``labels[codes]`` as a pandas string array (code -1: missing).

    ``na`` chooses the dtype: ``np.nan`` gives ``str`` (as pandas infers for text), ``pd.NA``
    gives ``string``.
    """
    arr = pa.array(list(labels), type=pa.large_string()).take(pa.array(codes, mask=codes < 0))
    return pd.array(arr, dtype=pd.StringDtype(na_value=na))


def _combine_text(
    n: int, pieces: Sequence[tuple[np.ndarray, Any]], *, na: Any = np.nan
) -> pd.api.extensions.ExtensionArray:
    """Return a string array of ``n`` rows filled from (positions, texts) pieces, else missing."""
    take = np.full(n, -1, dtype="int64")
    arrays = []
    offset = 0
    for at, texts in pieces:
        take[at] = offset + np.arange(len(at))
        arrays.append(texts if isinstance(texts, pa.Array) else pa.array(texts, pa.large_string()))
        offset += len(at)
    values = pa.concat_arrays(arrays) if arrays else pa.array([], pa.large_string())
    return pd.array(values.take(pa.array(take, mask=take < 0)), dtype=pd.StringDtype(na_value=na))


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Return a column as float64 (NaN where missing, unreadable or absent)."""
    if column not in frame:
        return np.full(len(frame), np.nan)
    values = frame[column]
    if values.dtype == np.float64:
        return values.to_numpy()
    return pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()


def _warn_firms(
    diagnostics: Diagnostics | None,
    frame: pd.DataFrame,
    rows: np.ndarray,
    code: str,
    text: str,
    *,
    column: str,
    values: Any = None,
) -> None:
    """Record one warning per selected row of ``frame``: ``<uscc>: <text>``, at the row's place.

    ``rows`` is a boolean mask over ``frame``; ``values`` (one per row of ``frame``) is recorded
    as each warning's value, else ``frame[column]`` where that column exists.
    """
    at = np.flatnonzero(rows)
    if diagnostics is None or not len(at):
        return
    if "uscc" in frame:
        firm = frame["uscc"].iloc[at].astype("string").fillna("(no uscc)")
        message: Any = (firm + ": " + text).to_numpy(dtype=object)
    else:
        message = text
    if values is not None:
        values = np.asarray(values)[at]
    elif column in frame:
        values = frame[column].iloc[at]
    where = frame[[c for c in _POSITION if c in frame]].iloc[at]
    diagnostics.warn_rows(where, code, message, column=column, values=values)


def _warn_missing(
    diagnostics: Diagnostics,
    frame: pd.DataFrame,
    missing: np.ndarray,
    label: str,
    d: IndicatorDef,
    land: np.ndarray,
    what: str,
    policy_name: str,
) -> None:
    """Warn once per firm of ``label`` without a value of ``d``, naming the figure it lacks."""
    num = _numbers(frame, d.numerator)
    den = land if d.denominator == "land_mu" else _numbers(frame, d.denominator)
    no_num = np.isnan(num)
    no_den = ~(den > 0) & ~no_num
    head = f"{label} firm without {d.label_zh} ({d.name}): "
    tail = f"; it gets {what} for this item (policy {policy_name})."
    for rows, column, why in (
        (missing & no_num, d.numerator, f"{d.numerator} is missing"),
        (missing & no_den, d.denominator, f"{d.denominator} is missing or not positive"),
        (missing & ~no_num & ~no_den, d.name, "the value is not a finite number"),
    ):
        _warn_firms(diagnostics, frame, rows, "INDICATOR_MISSING", head + why + tail, column=column)


def _land_mu(frame: pd.DataFrame) -> pd.Series:
    if "land_mu" in frame:
        return pd.to_numeric(frame["land_mu"], errors="coerce").astype("float64")
    if "land_m2" in frame:
        return pd.to_numeric(frame["land_m2"], errors="coerce").astype("float64") / M2_PER_MU
    return pd.Series(np.nan, index=frame.index, dtype="float64")


def _above_scale(frame: pd.DataFrame, diagnostics: Diagnostics | None) -> np.ndarray:
    """Return whether each row is 规上; a missing ``above_scale`` counts as 规下 (with a warning)."""
    if "above_scale" not in frame:
        missing = np.ones(len(frame), dtype=bool)
        above = np.zeros(len(frame), dtype=bool)
    else:
        flags = frame["above_scale"].astype("boolean")
        missing = flags.isna().to_numpy()
        above = flags.fillna(False).to_numpy(dtype=bool)
    _warn_firms(
        diagnostics,
        frame,
        missing,
        "ABOVE_SCALE_MISSING",
        "no 规上 flag (above_scale); evaluated as 规下. Fill the 规上 column to evaluate it as 规上.",
        column="above_scale",
    )
    return above


def _status(
    frame: pd.DataFrame,
    policy: Policy,
    as_of: pd.Timestamp,
    above: np.ndarray,
    *,
    reasons: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Return which rows are graded, which are class T, and why the others are not graded.

    ``above`` says which rows are 规上 (the others are 规下). The reasons come as (positions,
    texts) pieces; with ``reasons=False`` the list is empty.
    """
    n = len(frame)
    land = _land_mu(frame)
    pieces: list[tuple[np.ndarray, np.ndarray]] = []

    min_mu = policy.threshold("below_scale_min_mu")
    if min_mu.value is None:
        out_scope = np.zeros(n, dtype=bool)
    else:
        out_scope = ~above & ~(land.to_numpy() >= min_mu.value)
        if reasons and out_scope.any():
            land_txt = (land[out_scope].round(2).astype("string") + " 亩").fillna("no land area")
            text = (
                "out of scope: 规下 with "
                + land_txt
                + f" < {min_mu.value:g} 亩 (below_scale_min_mu: {min_mu.source})"
            )
            pieces.append((np.flatnonzero(out_scope), text.to_numpy(dtype=object)))

    has_scheme = np.array([g in policy.groups for g in _GROUPS])
    no_scheme = ~has_scheme[np.where(above, 0, 1)] & ~out_scope
    if reasons and no_scheme.any():
        at = np.flatnonzero(no_scheme)
        groups = np.array(_GROUPS, dtype=object)[np.where(above[at], 0, 1)]
        pieces.append(
            (at, "out of scope: policy " + policy.name + " has no evaluation for " + groups)
        )
    out_scope = out_scope | no_scheme

    utility = np.zeros(n, dtype=bool)
    if "industry_code" in frame:
        codes = frame["industry_code"]
        labels, division = _division_codes(codes)
        in_t = pd.Series(division, dtype=object).isin(policy.t_divisions).to_numpy()
        utility = np.append(in_t, False)[labels] & ~out_scope
        if reasons and utility.any():
            at = np.flatnonzero(utility)
            text = (
                "T: industry code "
                + codes.iloc[at].astype(str)
                + " is in division "
                + pd.Series(division[labels[at]], index=codes.index[at]).astype(str)
                + f" (utilities, GB/T 4754-{policy.industry_code_edition}; {policy.t_source})"
            )
            pieces.append((at, text.to_numpy(dtype=object)))

    years = policy.threshold("exempt_production_years")
    young = np.zeros(n, dtype=bool)
    if years.value is not None and "production_start" in frame:
        start = pd.to_datetime(frame["production_start"], errors="coerce")
        due = _add_years(start, int(years.value))
        young = (due > as_of).to_numpy(dtype=bool) & ~out_scope & ~utility
        if reasons and young.any():
            at = np.flatnonzero(young)
            text = (
                "T: in production since "
                + start.iloc[at].dt.strftime("%Y-%m-%d")
                + f", less than {years.value:g} full years before as_of "
                + f"{as_of:%Y-%m-%d} (exempt_production_years: {years.source})"
            )
            pieces.append((at, text.to_numpy(dtype=object)))
    graded = ~out_scope & ~utility & ~young
    return graded, utility | young, pieces


def _add_years(dates: pd.Series, years: int) -> pd.Series:
    """Return :func:`~landeff.periods.add_years` of each date, worked out once per distinct date."""
    codes, uniques = pd.factorize(dates)
    moved = add_years(pd.Series(uniques), years).to_numpy()
    out = np.append(moved, np.array(["NaT"], dtype=moved.dtype))[codes]  # NaT: code -1
    return pd.Series(out, index=dates.index)


def _division_codes(codes: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's label and the division of each label (the GB/T 4754 first two digits).

    A label stands for one distinct code; a missing code has label -1, which picks the last
    division, NaN (as does a code without digits). :func:`~landeff.policy.code_digits` runs once
    per distinct code.
    """
    labels, uniques = pd.factorize(codes)
    text = pd.Series(uniques, dtype=object).astype("string")
    division = code_digits(text).str.slice(0, 2).to_numpy()
    return labels, np.append(division.astype(object), np.nan)


def _divisions(codes: pd.Series) -> pd.Series:
    """Return the GB/T 4754 division (first two digits) of industry codes, NaN where none."""
    labels, division = _division_codes(codes)
    if len(division) == 1:
        return code_digits(codes.astype("string")).str.slice(0, 2)
    return pd.Series(division[labels], index=codes.index, dtype=object)


def _text_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return codes into the distinct texts of ``values`` (as ``astype("string")``, missing: "")."""
    codes, uniques = pd.factorize(values)
    text = pd.Series(uniques, dtype=object).astype("string").fillna("").tolist()
    if (codes < 0).any():
        codes = np.where(codes < 0, len(text), codes)
        text.append("")
    # distinct values may give the same text (1 and "1")
    relabel, labels = pd.factorize(pd.Series(text, dtype=object))
    return relabel[codes], np.asarray(labels, dtype=object)


def _park_codes(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's park as a code into the park ids (``""`` for no park)."""
    if "park_id" in frame:
        return _text_codes(frame["park_id"])
    return np.zeros(len(frame), dtype="int64"), np.array([""] if len(frame) else [], dtype=object)


def _pools(
    frame: pd.DataFrame, policy: Policy, above: np.ndarray, park: np.ndarray, parks: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Return the ranking pool of each row, as codes into pool labels.

    A pool is the group, within the park when the rows hold several parks, with tenants apart
    when the policy ranks them separately (label ``<park> <group> 租赁``). ``park`` codes each
    row's park into ``parks`` (see :func:`_park_codes`).
    """
    group = np.where(above, 0, 1)
    use_park = len(parks) > 1
    tenant = np.zeros(len(frame), dtype="int64")
    if policy.tenant_attribution == "separate" and "role" in frame:
        tenant = (frame["role"].astype("string").fillna("") == "tenant").to_numpy(dtype="int64")
    key = (park * 2 + group) * 2 + tenant if use_park else group * 2 + tenant
    codes, keys = pd.factorize(key)
    labels = []
    for k in keys.tolist():
        label = _GROUPS[(k // 2) % 2]
        if use_park:
            label = f"{parks[k // 4]} {label}"
        labels.append(label + " 租赁" if k % 2 else label)
    return codes, labels


def _indicator_array(
    frame: pd.DataFrame, d: IndicatorDef, land: np.ndarray | None = None
) -> np.ndarray:
    """Return an indicator's values: the given column, else numerator × scale ÷ denominator.

    ``land`` is the rows' ``land_mu`` when already worked out.
    """
    value = _numbers(frame, d.name)
    if d.numerator in frame and (d.denominator in frame or d.denominator == "land_mu"):
        num = _numbers(frame, d.numerator)
        if d.denominator != "land_mu":
            den = _numbers(frame, d.denominator)
        else:
            den = land if land is not None else _land_mu(frame).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            computed = np.where(den > 0, num * d.scale / den, np.nan)
        value = np.where(np.isnan(value), computed, value)
    return np.where(np.isfinite(value), value, np.nan)


def _year_rows(frame: pd.DataFrame, year: int, columns: set[str]) -> pd.DataFrame:
    """Return the rows of ``year`` with those of ``columns`` the frame has (no ``year``: none)."""
    frame = frame[[c for c in frame.columns if c in columns]]
    if "year" not in frame:
        return frame.iloc[0:0]
    return frame[(pd.to_numeric(frame["year"], errors="coerce") == year).to_numpy()]


def _prev_columns(policy: Policy) -> set[str]:
    """Return the columns the previous year's rows are read for (benchmarks, scope, YoY)."""
    defs = [INDICATORS[i.name] for g in policy.groups.values() for i in g.indicators]
    defs += _yoy_defs(list(PER_MU_FIGURES))
    columns = {"uscc", "year", "above_scale", "land_mu", "land_m2", "industry_code"}
    columns |= {"production_start", "park_id"}
    return columns | {c for d in defs for c in (d.name, d.numerator, d.denominator)}


def _row_sums(columns: list[np.ndarray]) -> np.ndarray:
    """Return the sum of each row over columns (missing = 0), NaN where all are missing.

    As ``DataFrame.sum(axis=1, min_count=1)``: the columns are added left to right.
    """
    total = np.where(np.isnan(columns[0]), 0.0, columns[0])
    count = (~np.isnan(columns[0])).astype("int64")
    for col in columns[1:]:
        total = total + np.where(np.isnan(col), 0.0, col)
        count += ~np.isnan(col)
    return np.where(count > 0, total, np.nan)


# ---------------------------------------------------------------------------------------------
# benchmarks


def _benchmarks(
    current: pd.DataFrame,
    graded: np.ndarray,
    park: np.ndarray,
    parks: np.ndarray,
    prev: pd.DataFrame,
    policy: Policy,
    as_of: pd.Timestamp,
    year: int,
    diagnostics: Diagnostics,
) -> tuple[dict[str, np.ndarray], Any]:
    """Return derived benchmarks per row (one array per indicator) and a basis text per row.

    ``park`` codes each row's park into ``parks``; ``prev`` holds the rows of the year before.
    """
    derived = [
        INDICATORS[i.name]
        for g in policy.groups.values()
        for i in g.indicators
        if i.benchmark is None
    ]
    derived = list({d.name: d for d in derived}.values())
    if not derived:
        return {}, pd.Series(f"{policy.name}: fixed benchmarks", index=current.index)

    prev_as_of = pd.Timestamp(add_years(pd.Series([as_of]), -1).iloc[0])
    prev_scored, _, _ = _status(prev, policy, prev_as_of, _above_scale(prev, None), reasons=False)
    # the previous year's parks, and where each is among this year's (-1: a park gone)
    prev_codes, prev_labels = _park_codes(prev)
    to_current = pd.Index(parks).get_indexer(prev_labels)
    prev_park = np.where(prev_scored, to_current[prev_codes], -1) if len(prev) else prev_codes
    n_prev = np.bincount(prev_park[prev_park >= 0], minlength=len(parks))
    n_cur = np.bincount(park[graded], minlength=len(parks))
    have_prev = n_prev > 0

    basis = [
        f"{policy.name}: {policy.benchmark_factor:g} × park average of "
        + (f"{year - 1} ({n_p} scored firms)" if has else f"{year} ({n_c} scored firms)")
        for has, n_p, n_c in zip(have_prev.tolist(), n_prev.tolist(), n_cur.tolist(), strict=True)
    ]
    for p in parks[~have_prev]:
        diagnostics.warn(
            "BENCHMARK_CURRENT_YEAR",
            f"no scored firms of {year - 1} in the data for park {str(p) or '(no park_id)'}; "
            f"its {policy.name} benchmarks ({policy.benchmark_factor:g} × the park average) use "
            f"{year} instead of the previous year. Add the {year - 1} figures to follow the rule.",
            column="year",
            value=year - 1,
        )
    by_prev_park = _ratios_by_park(prev, prev_codes, prev_labels, prev_scored, derived)
    cur_ratio = (
        _ratios_by_park(current, park, parks, graded, derived) if not have_prev.all() else None
    )
    gone = to_current < 0
    bench = {}
    for d in derived:
        prev_ratio = np.full(len(parks), np.nan)
        prev_ratio[to_current[~gone]] = by_prev_park[d.name][~gone]
        ratio = (
            prev_ratio if cur_ratio is None else np.where(have_prev, prev_ratio, cur_ratio[d.name])
        )
        bench[d.name] = (ratio * policy.benchmark_factor)[park]
    return bench, _text(basis, park)


def _ratios_by_park(
    frame: pd.DataFrame,
    park: np.ndarray,
    parks: np.ndarray,
    rows: np.ndarray,
    derived: list[IndicatorDef],
) -> dict[str, np.ndarray]:
    """Return, per indicator and park, Σ numerator × scale ÷ Σ denominator.

    ``park`` codes each row's park into ``parks``. The sums run over the selected ``rows`` that
    have both figures (denominator > 0); NaN for a park without such rows.
    """
    key, park_of_key = _sorted_codes(park, parks)
    out = {}
    for d in derived:
        out[d.name] = ratio = np.full(len(parks), np.nan)
        if d.numerator not in frame or (d.denominator not in frame and d.denominator != "land_mu"):
            continue
        num = _numbers(frame, d.numerator) * d.scale
        den = (
            _land_mu(frame).to_numpy()
            if d.denominator == "land_mu"
            else _numbers(frame, d.denominator)
        )
        ok = rows & ~np.isnan(num) & ~np.isnan(den) & (den > 0)
        sums = pd.DataFrame({"num": num[ok], "den": den[ok]}).groupby(key[ok]).sum()
        ratio[park_of_key[sums.index.to_numpy()]] = (sums["num"] / sums["den"]).to_numpy()
    return out


def _sorted_codes(codes: np.ndarray, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Renumber codes in the sorted order of their labels; return them and each new code's old one.

    How pandas adds up a group's values depends on how the groups are numbered (groups whose
    rows come in key order are summed with ``np.add.reduceat``, others with compensated sums).
    Numbered as pandas numbers text keys, group sums and means are exactly those of grouping by
    the labels themselves.
    """
    order = np.argsort(np.asarray(labels, dtype=object), kind="stable")
    rank = np.empty(len(order), dtype="int64")
    rank[order] = np.arange(len(order))
    return rank[codes], order


# ---------------------------------------------------------------------------------------------
# classes


def _classes(
    score: np.ndarray,
    pool: np.ndarray,
    pool_labels: Sequence[str],
    graded: np.ndarray,
    policy: Policy,
) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """Return rank, class code (into ``_CLASSES``) and reason of the graded rows, in row order.

    Within each pool of ``n`` graded firms, sorted by score descending: A = the first ⌊sA·n⌋,
    B up to ⌊(sA+sB)·n⌋, D = the last ⌊sD·n⌋, C the rest. Tied scores share the best (lowest)
    rank, so ties take the better class.
    """
    at = np.flatnonzero(graded)
    s = score[at]
    s = np.round(np.where(np.isnan(s), 0.0, s), 9)
    p = pool[at]
    m = len(at)
    if not m:
        return (
            np.zeros(0, dtype="int64"),
            np.zeros(0, dtype="int64"),
            pa.array([], pa.large_string()),
        )
    # rank within the pool, best score first; a run of tied scores takes the rank of its first.
    # Sorted by score, then (stable) by pool: a small integer sort, much faster than lexsort
    order = np.argsort(-s)
    small = np.int16 if len(pool_labels) < 2**15 else np.int64
    order = order[p.astype(small)[order].argsort(kind="stable")]
    ps, ss = p[order], s[order]
    pos = np.arange(m)
    new_pool = np.ones(m, dtype=bool)
    new_pool[1:] = ps[1:] != ps[:-1]
    new_score = new_pool.copy()
    new_score[1:] |= ss[1:] != ss[:-1]
    first_of_pool = np.maximum.accumulate(np.where(new_pool, pos, 0))
    first_of_tie = np.maximum.accumulate(np.where(new_score, pos, 0))
    r = np.empty(m, dtype="int64")
    r[order] = first_of_tie - first_of_pool + 1

    counts = np.bincount(p, minlength=len(pool_labels))
    shares = policy.shares
    eps = 1e-9
    n_a, n_ab, n_d = (
        np.floor(counts * share / 100.0 + eps).astype("int64")
        for share in (shares["A"], shares["A"] + shares["B"], shares["D"])
    )
    n = counts[p]
    cls = np.select([r <= n_a[p], r <= n_ab[p], r > n - n_d[p]], [0, 1, 3], default=2)

    tail = f" (shares A/B/C/D {'/'.join(f'{shares[k]:g}' for k in 'ABCD')}: {policy.shares_source})"
    per_pool = [
        f" of {ni} in {pi}: A to rank {ai}, B to {abi}, "
        + (f"D from rank {ni - di + 1}" if di > 0 else "no D")
        + tail
        for ni, pi, ai, abi, di in zip(
            counts.tolist(), pool_labels, n_a.tolist(), n_ab.tolist(), n_d.tolist(), strict=True
        )
    ]
    text = pa.large_string()
    reason = pc.binary_join_element_wise(
        pa.scalar("rank ", text),
        pc.cast(pa.array(r), text),
        pa.array(per_pool, text).take(pa.array(p)),
        pa.scalar("", text),
    )
    return r, cls, reason


# ---------------------------------------------------------------------------------------------
# history and year on year


def _consecutive_d(
    out: pd.DataFrame,
    is_d: np.ndarray,
    enterprise_years: pd.DataFrame,
    year: int,
    diagnostics: Diagnostics,
) -> np.ndarray:
    """Count consecutive years in class D ending with ``year`` (0 unless graded D this year).

    ``is_d`` marks the rows of ``out`` in class D. Past classes come from ``grade_history``
    (``2022:D;2023:D`` or ``D,D``, oldest first; an entry without a year is the year before the
    row's own year, counting back) of this year's row and of earlier rows in
    ``enterprise_years``, and from an earlier row's ``grade``.
    """
    result = np.zeros(len(out), dtype="int64")
    if "uscc" not in out or not is_d.any():
        return result
    # only the histories of firms in class D this year matter (rows are found first, then taken)
    firms = out["uscc"].iloc[np.flatnonzero(is_d)]
    at = np.flatnonzero(out["uscc"].isin(firms).to_numpy())
    this = out[["uscc"] + _have(out, ["grade_history", *_POSITION])].iloc[at]
    sources = [this.assign(year=year)]
    if {"uscc", "year"} <= set(enterprise_years.columns):
        earlier = np.flatnonzero(pd.to_numeric(enterprise_years["year"], errors="coerce") < year)
        at = earlier[enterprise_years["uscc"].iloc[earlier].isin(firms).to_numpy()]
        cols = ["uscc", "year"] + _have(enterprise_years, ["grade_history", "grade", *_POSITION])
        sources.append(enterprise_years[cols].iloc[at])
    rows = pd.concat(sources, ignore_index=True)
    rows["year"] = pd.to_numeric(rows["year"], errors="coerce")
    # which statement of a past year's class wins: this year's grade_history (2), then an
    # earlier row's computed grade (1), then an earlier row's grade_history (0)
    rows["prio"] = np.where(rows["year"] == year, 2, 0)

    parts = []
    if "grade_history" in rows:
        hist = rows.dropna(subset=["grade_history"])
        tokens = (
            hist["grade_history"]
            .astype(str)
            .str.strip()
            .str.split(r"[,;，；、\s]+", regex=True)
            .explode()
        )
        tokens = tokens[tokens.fillna("") != ""]
        parsed = tokens.str.upper().str.extract(_GRADE_TOKEN)
        bad = parsed[1].isna()
        if bad.any():
            where = hist.loc[tokens.index[bad.to_numpy()]]
            diagnostics.warn_rows(
                where[_have(where, _POSITION)],
                "GRADE_HISTORY_UNREADABLE",
                (
                    where["uscc"].astype("string").fillna("(no uscc)")
                    + ": a grade_history entry is not a class A/B/C/D/T with an optional year "
                    "(e.g. '2023:D'); it is ignored in the consecutive-D count."
                ).to_numpy(dtype=object),
                column="grade_history",
                values=tokens[bad].to_numpy(dtype=object),
            )
        parsed = parsed[~bad]
        meta = hist.loc[parsed.index]
        pos = parsed.groupby(level=0).cumcount().to_numpy()
        count = parsed.groupby(level=0)[1].transform("size").to_numpy()
        labelled = pd.to_numeric(parsed[0], errors="coerce").to_numpy()
        implied = meta["year"].to_numpy() - (count - pos)
        parts.append(
            pd.DataFrame(
                {
                    "uscc": meta["uscc"].to_numpy(),
                    "y": np.where(np.isnan(labelled), implied, labelled),
                    "cls": parsed[1].to_numpy(),
                    "prio": meta["prio"].to_numpy(),
                }
            )
        )
    if "grade" in rows:
        g = rows.dropna(subset=["grade"])
        parts.append(
            pd.DataFrame(
                {"uscc": g["uscc"], "y": g["year"], "cls": g["grade"].astype(str), "prio": 1}
            )
        )
    if not parts:
        return np.where(is_d, 1, 0).astype("int64")
    past = pd.concat(parts, ignore_index=True)
    past = past[past["y"] < year].sort_values("prio", kind="stable")
    past = past.drop_duplicates(["uscc", "y"], keep="last")
    d_years = past[past["cls"] == "D"].copy()
    d_years["offset"] = (year - d_years["y"]).astype("int64")
    d_years = d_years.sort_values(["uscc", "offset"])
    d_years["pos"] = d_years.groupby("uscc").cumcount() + 1
    streak = (d_years["offset"] == d_years["pos"]).groupby(d_years["uscc"]).sum()
    before = firms.map(streak).fillna(0).to_numpy(dtype="int64")
    result[is_d] = before + 1
    return result


def _have(frame: pd.DataFrame, cols: list[str]) -> list[str]:
    return [c for c in cols if c in frame]


def _change(cur: pd.Series, prev: pd.Series) -> pd.Series:
    """Return (cur − prev) ÷ |prev|; NaN where prev is missing or zero."""
    prev = prev.astype("float64")
    return ((cur.astype("float64") - prev) / prev.abs()).where(prev.notna() & (prev != 0))


def _yoy_defs(figures: Sequence[str]) -> list[IndicatorDef]:
    """Return how each per-mu figure is computed (numerator ÷ land_mu unless an indicator)."""
    return [
        INDICATORS.get(f) or IndicatorDef(f, f, "万元/亩", PER_MU_FIGURES[f], "land_mu")
        for f in figures
    ]


def _yoy(out: pd.DataFrame, prev: pd.DataFrame, year: int) -> dict[str, np.ndarray]:
    """Return ``<figure>_yoy`` per row: the change of each per-mu figure since ``prev``.

    ``prev`` holds the rows of the year before; a firm's first row there is its previous year.
    """
    figs = [f for f in PER_MU_FIGURES if f in out or PER_MU_FIGURES[f] in out]
    res: dict[str, np.ndarray] = {}
    if not figs:
        return res
    at = None
    if "uscc" in out and "uscc" in prev and len(prev):
        first = np.flatnonzero(~prev["uscc"].duplicated().to_numpy())
        # where each firm's previous-year row is (-1: none), as Series.map would look it up
        found = pd.Index(prev["uscc"].iloc[first]).get_indexer(out["uscc"])
        at = np.where(found >= 0, first[found], -1)
    for f, d in zip(figs, _yoy_defs(figs), strict=True):
        cur = _indicator_array(out, d)
        before = np.full(len(out), np.nan)
        if at is not None:
            values = _indicator_array(prev, d)
            before = np.where(at >= 0, values[at], np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            change = (cur - before) / np.abs(before)
        res[f + "_yoy"] = np.where(~np.isnan(before) & (before != 0), change, np.nan)
    return res


def park_yoy(enterprise_years: pd.DataFrame, year: int) -> dict[str, Any]:
    """Return the park's per-mu figures for ``year`` and the year before, and their change.

    Each figure is Σ numerator ÷ Σ land_mu over the enterprises with land in that year; the
    change is (current − previous) ÷ |previous|. With a ``park_id`` column holding several
    parks, ``parks`` gives the same per park.

    Examples
    --------
    >>> ey = pd.DataFrame({"uscc": ["a", "a"], "year": [2022, 2023], "land_mu": [10.0, 10.0],
    ...                    "tax_wan": [100.0, 120.0]})
    >>> park_yoy(ey, 2023)["figures"]["tax_wan_per_mu"]
    {'current': 12.0, 'previous': 10.0, 'yoy': 0.2}
    """

    def one(frame: pd.DataFrame) -> dict[str, Any]:
        years = pd.to_numeric(frame["year"], errors="coerce")
        cur, prev = frame[years == year], frame[years == year - 1]
        figures = {}
        for f, num in PER_MU_FIGURES.items():
            if num not in frame:
                continue
            c, p = _park_ratio(cur, num), _park_ratio(prev, num)
            ch = _change(pd.Series([c]), pd.Series([p])).iloc[0]
            figures[f] = {"current": _json(c), "previous": _json(p), "yoy": _json(ch)}
        return {
            "year": int(year),
            "previous_year": int(year - 1) if len(prev) else None,
            "n_enterprises": int(len(cur)),
            "land_mu": _json(_land_mu(cur).where(lambda v: v > 0).sum()),
            "figures": figures,
        }

    result = one(enterprise_years)
    if "park_id" in enterprise_years:
        park = enterprise_years["park_id"].astype("string").fillna("")
        if park.nunique() > 1:
            result["parks"] = {
                str(p): one(enterprise_years[park == p]) for p in sorted(park.unique())
            }
    return result


def _park_ratio(frame: pd.DataFrame, numerator: str) -> float:
    land = _land_mu(frame)
    ok = land > 0
    if not ok.any():
        return float("nan")
    num = pd.to_numeric(frame.loc[ok, numerator], errors="coerce").sum()
    return float(num / land[ok].sum())


def _json(value: Any) -> float | None:
    value = float(value)
    return round(value, 10) if np.isfinite(value) else None
