"""Composite evaluation (亩均效益综合评价): scores, A/B/C/D/T classes and year-on-year change.

Each enterprise in scope gets, per indicator of its group (规上 or 规下), its value, the benchmark,
the weight and the points ``max(0, value ÷ benchmark × weight)``; the score is the sum. Classes are
given by rank within each group (and park), with the policy's shares. See docs/policy.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

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
        revenue_wan, ...``; ``park_id``, ``role`` and ``grade_history`` are optional).
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
        Collects warnings (missing values, benchmarks from the current year).

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
    out = enterprises.copy()
    if "year" in out:
        years = pd.to_numeric(out["year"], errors="coerce")
        other = years.notna() & (years != year)
        if other.any():
            msg = (
                f"grade(): `enterprises` must hold the rows of year {year} only; found year(s) "
                f"{sorted(years[other].unique().tolist())[:5]}. Pass the other years as "
                "`enterprise_years`."
            )
            raise ValueError(msg)
    out["land_mu"] = _land_mu(out)
    out["group"] = _groups(out, diagnostics)
    status = _status(out, policy, as_of_ts)
    graded = status["graded"]
    pool = _pools(out, policy)

    bench, basis = _benchmarks(out, graded, enterprise_years, policy, as_of_ts, year, diagnostics)
    names = list(dict.fromkeys(i.name for g in policy.groups.values() for i in g.indicators))
    for name in names:
        out[name] = _indicator_values(out, INDICATORS[name])
        for prefix in ("bm_", "w_", "pts_"):
            out[prefix + name] = np.nan

    for label, group in policy.groups.items():
        in_group = out["group"] == label
        for ind in group.indicators:
            name = ind.name
            if ind.benchmark is not None:
                bm = pd.Series(ind.benchmark.value, index=out.index, dtype="float64")
            else:
                bm = bench[name]
            out.loc[in_group, "bm_" + name] = bm[in_group]
            out.loc[in_group, "w_" + name] = ind.weight
            value = out[name]
            has_value = value.notna()
            bm_ok = bm.notna() & (bm > 0)
            rows = in_group & graded
            pts = (value / bm * ind.weight).clip(lower=0.0)
            pts = pts.where(has_value & bm_ok, 0.0)
            bad_bm = rows & has_value & ~bm_ok
            if bad_bm.any():
                diagnostics.warn(
                    "BENCHMARK_UNUSABLE",
                    f"{label} {ind.definition.label_zh} ({name}): the benchmark is missing or not "
                    f"positive for {int(bad_bm.sum())} firm(s) (park data too thin, or a park "
                    "total below zero); they get 0 points for this item. Set a fixed benchmark "
                    "in the policy file.",
                    column="bm_" + name,
                    value=_sample(out.loc[bad_bm, "uscc"]) if "uscc" in out else None,
                )
            missing = rows & ~has_value
            if missing.any():
                if ind.missing == "group_mean":
                    donors = rows & has_value & bm_ok
                    means = pts[donors].groupby(pool[donors]).mean()
                    fill = pool.map(means).astype("float64").fillna(0.0)
                    pts = pts.where(~missing, fill)
                    what = f"the {label} average points of their group"
                else:
                    what = "0 points"
                diagnostics.warn(
                    "INDICATOR_MISSING",
                    f"{int(missing.sum())} {label} firm(s) have no {ind.definition.label_zh} "
                    f"({name}: {ind.definition.numerator} or {ind.definition.denominator} "
                    f"missing or zero); they get {what} for this item (policy {policy.name}).",
                    column=name,
                    value=_sample(out.loc[missing, "uscc"]) if "uscc" in out else None,
                )
            out.loc[rows, "pts_" + name] = pts[rows]

    pts_cols = ["pts_" + n for n in names]
    out["score"] = out[pts_cols].sum(axis=1, min_count=1).where(graded)
    ranks, classes, reasons = _classes(out["score"], pool, graded, policy)
    out["rank"] = ranks
    out["grade"] = classes.where(graded, status["grade"]).astype("string")
    out["grade_reason"] = reasons.where(graded, status["reason"]).astype("string")
    out["preset"] = policy.name
    out["benchmark_basis"] = basis
    out["consecutive_d"] = _consecutive_d(out, enterprise_years, year, diagnostics)
    yoy = _yoy(out, enterprise_years, year)
    for col in yoy:
        out[col] = yoy[col]
    return out


# ---------------------------------------------------------------------------------------------
# inputs


def _sample(values: pd.Series, n: int = 10) -> str:
    items = [str(v) for v in values.head(n)]
    more = f" (+{len(values) - n} more)" if len(values) > n else ""
    return "; ".join(items) + more


def _land_mu(frame: pd.DataFrame) -> pd.Series:
    if "land_mu" in frame:
        return pd.to_numeric(frame["land_mu"], errors="coerce").astype("float64")
    if "land_m2" in frame:
        return pd.to_numeric(frame["land_m2"], errors="coerce").astype("float64") / M2_PER_MU
    return pd.Series(np.nan, index=frame.index, dtype="float64")


def _groups(frame: pd.DataFrame, diagnostics: Diagnostics | None) -> pd.Series:
    """Return ``规上``/``规下``; a missing ``above_scale`` counts as 规下 (with a warning)."""
    if "above_scale" not in frame:
        above = pd.Series(pd.NA, index=frame.index, dtype="boolean")
    else:
        above = frame["above_scale"].astype("boolean")
    if diagnostics is not None and above.isna().any():
        diagnostics.warn(
            "ABOVE_SCALE_MISSING",
            f"{int(above.isna().sum())} enterprise(s) have no 规上 flag (above_scale); they are "
            "evaluated as 规下. Fill the 规上 column to evaluate them as 规上.",
            column="above_scale",
            value=_sample(frame.loc[above.isna(), "uscc"]) if "uscc" in frame else None,
        )
    return pd.Series(np.where(above.fillna(False), "规上", "规下"), index=frame.index)


def _status(
    frame: pd.DataFrame, policy: Policy, as_of: pd.Timestamp, *, reasons: bool = True
) -> pd.DataFrame:
    """Return, per row, ``graded`` (bool) and the ``grade``/``reason`` of rows not graded.

    With ``reasons=False`` only ``graded`` is filled (the other columns stay missing).
    """
    idx = frame.index
    group = frame["group"] if "group" in frame else _groups(frame, None)
    land = _land_mu(frame)
    grade_ = pd.Series(pd.NA, index=idx, dtype="string")
    reason = pd.Series(pd.NA, index=idx, dtype="string")

    min_mu = policy.threshold("below_scale_min_mu")
    if min_mu.value is None:
        out_scope = pd.Series(False, index=idx)
    else:
        out_scope = (group == "规下") & ~(land >= min_mu.value)
        if reasons and out_scope.any():
            land_txt = (land[out_scope].round(2).astype("string") + " 亩").fillna("no land area")
            reason[out_scope] = (
                "out of scope: 规下 with "
                + land_txt
                + f" < {min_mu.value:g} 亩 (below_scale_min_mu: {min_mu.source})"
            )

    no_scheme = ~group.isin(list(policy.groups)) & ~out_scope
    if reasons and no_scheme.any():
        reason[no_scheme] = (
            "out of scope: policy " + policy.name + " has no evaluation for " + group[no_scheme]
        )
    out_scope = out_scope | no_scheme

    codes = (
        frame["industry_code"]
        if "industry_code" in frame
        else pd.Series(pd.NA, index=idx, dtype="string")
    )
    division = _divisions(codes)
    utility = division.isin(policy.t_divisions) & ~out_scope
    if reasons and utility.any():
        grade_[utility] = "T"
        reason[utility] = (
            "T: industry code "
            + codes[utility].astype(str)
            + " is in division "
            + division[utility].astype(str)
            + f" (utilities, GB/T 4754-{policy.industry_code_edition}; {policy.t_source})"
        )

    years = policy.threshold("exempt_production_years")
    young = pd.Series(False, index=idx)
    if years.value is not None and "production_start" in frame:
        start = pd.to_datetime(frame["production_start"], errors="coerce")
        due = add_years(start, int(years.value))
        young = (due > as_of) & ~out_scope & ~utility
        if reasons and young.any():
            grade_[young] = "T"
            reason[young] = (
                "T: in production since "
                + start[young].dt.strftime("%Y-%m-%d")
                + f", less than {years.value:g} full years before as_of "
                + f"{as_of:%Y-%m-%d} (exempt_production_years: {years.source})"
            )
    graded = ~out_scope & ~utility & ~young
    return pd.DataFrame({"graded": graded, "grade": grade_, "reason": reason}, index=idx)


def _divisions(codes: pd.Series) -> pd.Series:
    """Return the GB/T 4754 division (first two digits) of industry codes, NaN where none.

    :func:`~landeff.policy.code_digits` runs once per distinct code.
    """
    text = codes.astype("string")
    labels, uniques = pd.factorize(text)
    if len(uniques) == 0:
        return code_digits(text).str.slice(0, 2)
    division = code_digits(pd.Series(uniques, dtype="string")).str.slice(0, 2).to_numpy()
    out = np.append(division.astype(object), np.nan)[labels]  # a missing code: label -1
    return pd.Series(out, index=codes.index, dtype=object)


def _pools(frame: pd.DataFrame, policy: Policy) -> pd.Series:
    """Return the ranking pool of each row: group, within park (and tenants apart if separate)."""
    pool = frame["group"].astype(str)
    if "park_id" in frame:
        park = frame["park_id"].astype("string").fillna("")
        if park.nunique() > 1:
            pool = park.astype(str) + " " + pool
    if policy.tenant_attribution == "separate" and "role" in frame:
        tenant = frame["role"].astype("string").fillna("") == "tenant"
        pool = pool.where(~tenant, pool + " 租赁")
    return pool


def _indicator_values(frame: pd.DataFrame, d: IndicatorDef) -> pd.Series:
    """Return an indicator's values: the given column, else numerator × scale ÷ denominator."""
    value = pd.Series(np.nan, index=frame.index, dtype="float64")
    if d.name in frame:
        value = pd.to_numeric(frame[d.name], errors="coerce").astype("float64")
    if d.numerator in frame and (d.denominator in frame or d.denominator == "land_mu"):
        num = pd.to_numeric(frame[d.numerator], errors="coerce").astype("float64")
        den = (
            _land_mu(frame)
            if d.denominator == "land_mu"
            else pd.to_numeric(frame[d.denominator], errors="coerce").astype("float64")
        )
        computed = (num * d.scale / den).where(den > 0)
        value = value.fillna(computed)
    return value.where(np.isfinite(value))


# ---------------------------------------------------------------------------------------------
# benchmarks


def _benchmarks(
    current: pd.DataFrame,
    graded: pd.Series,
    enterprise_years: pd.DataFrame,
    policy: Policy,
    as_of: pd.Timestamp,
    year: int,
    diagnostics: Diagnostics,
) -> tuple[pd.DataFrame, pd.Series]:
    """Return derived benchmarks per row (one column per indicator) and a basis text per row."""
    idx = current.index
    derived = [
        INDICATORS[i.name]
        for g in policy.groups.values()
        for i in g.indicators
        if i.benchmark is None
    ]
    derived = list({d.name: d for d in derived}.values())
    bench = pd.DataFrame(np.nan, index=idx, columns=[d.name for d in derived], dtype="float64")
    if not derived:
        return bench, pd.Series(f"{policy.name}: fixed benchmarks", index=idx)

    park = _park(current)
    # only the columns the scope test and the ratios read (the frames are wide)
    needed = {"year", "above_scale", "land_mu", "land_m2", "industry_code", "production_start"}
    needed |= {"park_id"} | {d.numerator for d in derived} | {d.denominator for d in derived}
    prev = enterprise_years[[c for c in enterprise_years.columns if c in needed]]
    if "year" in prev:
        prev = prev[pd.to_numeric(prev["year"], errors="coerce") == year - 1].copy()
    else:
        prev = prev.iloc[0:0].copy()
    prev_as_of = pd.Timestamp(add_years(pd.Series([as_of]), -1).iloc[0])
    prev["group"] = _groups(prev, None)
    prev_scored = prev[_status(prev, policy, prev_as_of, reasons=False)["graded"]]
    prev_park = _park(prev_scored)
    cur_scored = current.loc[graded, [c for c in current.columns if c in needed]]
    cur_park = park[graded]

    parks = pd.Index(park.unique())
    have_prev = parks.isin(prev_park.unique())
    basis_by_park: dict[str, str] = {}
    for p, has in zip(parks, have_prev, strict=True):
        y = year - 1 if has else year
        n = int((prev_park == p).sum()) if has else int((cur_park == p).sum())
        basis_by_park[p] = (
            f"{policy.name}: {policy.benchmark_factor:g} × park average of {y} ({n} scored firms)"
        )
    if not have_prev.all():
        missing = [str(p) or "(no park_id)" for p in parks[~have_prev]]
        diagnostics.warn(
            "BENCHMARK_CURRENT_YEAR",
            f"no scored firms of {year - 1} in the data for park(s) {', '.join(missing)}; the "
            f"{policy.name} benchmarks ({policy.benchmark_factor:g} × the park average) use "
            f"{year} instead of the previous year. Add the {year - 1} figures to follow the rule.",
            column="year",
            value=year - 1,
        )
    for d in derived:
        prev_ratio = _ratio_by_park(prev_scored, prev_park, d)
        cur_ratio = _ratio_by_park(cur_scored, cur_park, d)
        ratio = pd.Series(
            np.where(have_prev, prev_ratio.reindex(parks), cur_ratio.reindex(parks)),
            index=parks,
            dtype="float64",
        )
        bench[d.name] = park.map(ratio * policy.benchmark_factor).astype("float64")
    return bench, park.map(basis_by_park)


def _park(frame: pd.DataFrame) -> pd.Series:
    if "park_id" in frame:
        return frame["park_id"].astype("string").fillna("").astype(str)
    return pd.Series("", index=frame.index, dtype=str)


def _ratio_by_park(frame: pd.DataFrame, park: pd.Series, d: IndicatorDef) -> pd.Series:
    """Return Σ numerator × scale ÷ Σ denominator per park, over rows with both (denominator>0)."""
    if d.numerator not in frame or (d.denominator not in frame and d.denominator != "land_mu"):
        return pd.Series(dtype="float64")
    num = pd.to_numeric(frame[d.numerator], errors="coerce").astype("float64") * d.scale
    den = (
        _land_mu(frame)
        if d.denominator == "land_mu"
        else pd.to_numeric(frame[d.denominator], errors="coerce").astype("float64")
    )
    ok = num.notna() & den.notna() & (den > 0)
    sums = pd.DataFrame({"num": num[ok], "den": den[ok]}).groupby(park[ok]).sum()
    return (sums["num"] / sums["den"]).astype("float64")


# ---------------------------------------------------------------------------------------------
# classes


def _classes(
    score: pd.Series, pool: pd.Series, graded: pd.Series, policy: Policy
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Return rank, class and reason of graded rows (others NA).

    Within each pool of ``n`` graded firms, sorted by score descending: A = the first ⌊sA·n⌋,
    B up to ⌊(sA+sB)·n⌋, D = the last ⌊sD·n⌋, C the rest. Tied scores share the best (lowest)
    rank, so ties take the better class.
    """
    idx = score.index
    rank = pd.Series(pd.NA, index=idx, dtype="Int64")
    cls = pd.Series(pd.NA, index=idx, dtype="string")
    reason = pd.Series(pd.NA, index=idx, dtype="string")
    if not graded.any():
        return rank, cls, reason
    s = score[graded].fillna(0.0).round(9)
    p = pool[graded]
    r = s.groupby(p).rank(method="min", ascending=False).astype("int64")
    n = p.map(p.value_counts()).astype("int64")
    shares = policy.shares
    eps = 1e-9
    n_a = np.floor(n * shares["A"] / 100.0 + eps).astype("int64")
    n_ab = np.floor(n * (shares["A"] + shares["B"]) / 100.0 + eps).astype("int64")
    n_d = np.floor(n * shares["D"] / 100.0 + eps).astype("int64")
    c = np.select([r <= n_a, r <= n_ab, r > n - n_d], ["A", "B", "D"], default="C")
    at = np.flatnonzero(graded.to_numpy(dtype=bool))
    rank_values = np.full(len(idx), pd.NA, dtype=object)
    rank_values[at] = r.to_numpy()
    rank = pd.Series(rank_values, index=idx, dtype="Int64")
    cls_values = np.full(len(idx), pd.NA, dtype=object)
    cls_values[at] = c
    cls = pd.Series(cls_values, index=idx, dtype="string")
    tail = f" (shares A/B/C/D {'/'.join(f'{shares[k]:g}' for k in 'ABCD')}: {policy.shares_source})"
    reason_values = np.full(len(idx), pd.NA, dtype=object)
    reason_values[at] = [
        f"rank {ri} of {ni} in {pi}: A to rank {ai}, B to {abi}, "
        + (f"D from rank {ni - di + 1}" if di > 0 else "no D")
        + tail
        for ri, ni, pi, ai, abi, di in zip(
            r.tolist(),
            n.tolist(),
            p.tolist(),
            n_a.tolist(),
            n_ab.tolist(),
            n_d.tolist(),
            strict=True,
        )
    ]
    reason = pd.Series(reason_values, index=idx, dtype="string")
    return rank, cls, reason


# ---------------------------------------------------------------------------------------------
# history and year on year


def _consecutive_d(
    out: pd.DataFrame, enterprise_years: pd.DataFrame, year: int, diagnostics: Diagnostics
) -> pd.Series:
    """Count consecutive years in class D ending with ``year`` (0 unless graded D this year).

    Past classes come from ``grade_history`` (``2022:D;2023:D`` or ``D,D``, oldest first; an
    entry without a year is the year before the row's own year, counting back) of this year's
    row and of earlier rows in ``enterprise_years``, and from an earlier row's ``grade``.
    """
    is_d = (out["grade"] == "D").fillna(False).to_numpy()
    result = pd.Series(0, index=out.index, dtype="int64")
    if "uscc" not in out or not is_d.any():
        return result
    sources = [out.assign(year=year)[["uscc", "year"] + _have(out, ["grade_history"])]]
    if {"uscc", "year"} <= set(enterprise_years.columns):
        older = enterprise_years[pd.to_numeric(enterprise_years["year"], errors="coerce") < year]
        sources.append(older[["uscc", "year"] + _have(older, ["grade_history", "grade"])])
    rows = pd.concat(sources, ignore_index=True)
    # only the histories of firms in class D this year matter
    rows = rows[rows["uscc"].isin(out.loc[is_d, "uscc"])].reset_index(drop=True)
    rows["year"] = pd.to_numeric(rows["year"], errors="coerce")
    # which statement of a past year's class wins: this year's grade_history (2), then an
    # earlier row's computed grade (1), then an earlier row's grade_history (0)
    rows["prio"] = np.where(rows["year"] == year, 2, 0)

    parts = []
    if "grade_history" in rows:
        hist = rows[["uscc", "year", "prio", "grade_history"]].dropna(subset=["grade_history"])
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
            diagnostics.warn(
                "GRADE_HISTORY_UNREADABLE",
                f"{int(bad.sum())} grade_history entr(y/ies) are not a class A/B/C/D/T with an "
                "optional year (e.g. '2023:D'); they are ignored in the consecutive-D count.",
                column="grade_history",
                value=_sample(tokens[bad]),
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
        return result.where(~is_d, 1)
    past = pd.concat(parts, ignore_index=True)
    past = past[past["y"] < year].sort_values("prio", kind="stable")
    past = past.drop_duplicates(["uscc", "y"], keep="last")
    d_years = past[past["cls"] == "D"].copy()
    d_years["offset"] = (year - d_years["y"]).astype("int64")
    d_years = d_years.sort_values(["uscc", "offset"])
    d_years["pos"] = d_years.groupby("uscc").cumcount() + 1
    streak = (d_years["offset"] == d_years["pos"]).groupby(d_years["uscc"]).sum()
    before = out["uscc"].map(streak).fillna(0).astype("int64")
    return (before + 1).where(is_d, 0).astype("int64")


def _have(frame: pd.DataFrame, cols: list[str]) -> list[str]:
    return [c for c in cols if c in frame]


def _change(cur: pd.Series, prev: pd.Series) -> pd.Series:
    """Return (cur − prev) ÷ |prev|; NaN where prev is missing or zero."""
    prev = prev.astype("float64")
    return ((cur.astype("float64") - prev) / prev.abs()).where(prev.notna() & (prev != 0))


def _yoy(out: pd.DataFrame, enterprise_years: pd.DataFrame, year: int) -> pd.DataFrame:
    figs = [f for f in PER_MU_FIGURES if f in out or PER_MU_FIGURES[f] in out]
    res = pd.DataFrame(index=out.index)
    if not figs:
        return res
    defs = [
        INDICATORS.get(f) or IndicatorDef(f, f, "万元/亩", PER_MU_FIGURES[f], "land_mu")
        for f in figs
    ]
    if {"uscc", "year"} <= set(enterprise_years.columns):
        needed = {"uscc", "year", "land_mu", "land_m2"}
        needed |= {c for d in defs for c in (d.name, d.numerator, d.denominator)}
        prev = enterprise_years[[c for c in enterprise_years.columns if c in needed]]
        prev = prev[pd.to_numeric(prev["year"], errors="coerce") == year - 1]
        prev = prev.drop_duplicates("uscc").set_index("uscc")
    else:
        prev = pd.DataFrame(index=pd.Index([], name="uscc"))
    # where each firm's previous-year row is (-1: none), as Series.map would look it up
    at = prev.index.get_indexer(out["uscc"]) if "uscc" in out and len(prev) else None
    for f, d in zip(figs, defs, strict=True):
        cur = _indicator_values(out, d)
        prev_vals = pd.Series(np.nan, index=out.index, dtype="float64")
        if at is not None:
            before = _indicator_values(prev, d).to_numpy(dtype="float64")
            prev_vals[:] = np.where(at >= 0, before[at], np.nan)
        res[f + "_yoy"] = _change(cur, prev_vals)
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
