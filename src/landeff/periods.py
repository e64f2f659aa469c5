"""Calendar periods in years, as 民法典 articles 201–202 count them, vectorised over Series.

A period of *n* years from a date D ends on the date with the same month and day *n* years
later; where that date does not exist (29 February in a common year) it ends on the last day of
that month (article 202). The day D itself is not counted (article 201), so on the anniversary the
full year has passed: ``as_of`` is inclusive. Article 203 (a period ending on a public holiday runs
to the next working day) concerns acts to be done within a period; the rules here only ask whether
a period has elapsed, and do not apply it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

DateLike = pd.Timestamp | dt.date | str | np.datetime64


def _as_series(dates: Any, *, name: str) -> pd.Series:
    """Return ``dates`` as a datetime Series (a scalar becomes a one-row Series)."""
    if isinstance(dates, pd.Series):
        series = dates
    elif isinstance(dates, pd.Index | np.ndarray | list | tuple):
        series = pd.Series(dates)
    else:
        series = pd.Series([dates])
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        try:
            series = pd.to_datetime(series)
        except (TypeError, ValueError) as err:
            msg = f"{name}: expected dates, got values such as {series.dropna().head(3).tolist()}"
            raise TypeError(msg) from err
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_localize(None)
    return series


def add_years(dates: pd.Series, n: int | pd.Series) -> pd.Series:
    """Return each date moved by ``n`` calendar years (民法典 article 202).

    Where the same month and day do not exist in the target year (29 February), the result is the
    last day of that month. Times of day are dropped; NaT stays NaT.

    Parameters
    ----------
    dates : Series of datetime64
        Start dates.
    n : int or Series of int
        Years to add (may be negative); a Series is aligned with ``dates`` by position.

    Returns
    -------
    Series of datetime64
        Same index and datetime unit as ``dates``.

    Examples
    --------
    >>> s = pd.Series(pd.to_datetime(["2020-02-29", "2019-06-30", None]))
    >>> [str(d.date()) if pd.notna(d) else None for d in add_years(s, 1)]
    ['2021-02-28', '2020-06-30', None]
    >>> str(add_years(s, 4).iloc[0].date())
    '2024-02-29'
    """
    series = _as_series(dates, name="dates")
    days = series.to_numpy(dtype="datetime64[D]")
    missing = np.isnat(days)
    years = np.broadcast_to(np.asarray(n, dtype="int64"), days.shape)
    safe = np.where(missing, np.datetime64("2000-01-01", "D"), days)
    month = safe.astype("datetime64[M]")
    day_offset = (safe - month.astype("datetime64[D]")).astype("int64")
    target = month + (12 * years).astype("timedelta64[M]")
    month_start = target.astype("datetime64[D]")
    month_days = ((target + np.timedelta64(1, "M")).astype("datetime64[D]") - month_start).astype(
        "int64"
    )
    out = month_start + np.minimum(day_offset, month_days - 1).astype("timedelta64[D]")
    out = np.where(missing, np.datetime64("NaT", "D"), out)
    unit: Any = series.dtype if pd.api.types.is_datetime64_dtype(series.dtype) else "datetime64[ns]"
    return pd.Series(out, index=series.index, name=series.name).astype(unit)


def full_years_elapsed(start: pd.Series, as_of: DateLike | pd.Series) -> pd.Series:
    """Return how many full calendar years have passed from ``start`` up to ``as_of`` (inclusive).

    The count is the largest *k* with ``add_years(start, k) <= as_of``: on the anniversary itself
    the year is full (民法典 articles 201–202). Before ``start`` the count is negative (−1 for up
    to a year before); a missing ``start`` gives ``<NA>``.

    Parameters
    ----------
    start : Series of datetime64
        Start of each period.
    as_of : date-like or Series of datetime64
        Evaluation date (one for all rows, or one per row aligned by position).

    Returns
    -------
    Series of Int64
        Same index as ``start``.

    Examples
    --------
    >>> s = pd.Series(pd.to_datetime(["2022-03-01", "2022-03-01", "2020-02-29", "2020-02-29"]))
    >>> full_years_elapsed(s, pd.Series(pd.to_datetime(
    ...     ["2025-02-28", "2025-03-01", "2021-02-27", "2021-02-28"]))).tolist()
    [2, 3, 0, 1]
    """
    series = _as_series(start, name="start")
    days = series.to_numpy(dtype="datetime64[D]")
    if isinstance(as_of, pd.Series):
        ref = _as_series(as_of, name="as_of").to_numpy(dtype="datetime64[D]")
    else:
        ref = np.full(days.shape, np.datetime64(pd.Timestamp(as_of).date(), "D"))
    missing = np.isnat(days) | np.isnat(ref)
    safe_days = np.where(missing, np.datetime64("2000-01-01", "D"), days)
    safe_ref = np.where(missing, np.datetime64("2000-01-01", "D"), ref)
    year_gap = (safe_ref.astype("datetime64[Y]") - safe_days.astype("datetime64[Y]")).astype(
        "int64"
    )
    anniversary = add_years(pd.Series(safe_days.astype("datetime64[ns]")), year_gap).to_numpy(
        dtype="datetime64[D]"
    )
    count = year_gap - (anniversary > safe_ref).astype("int64")
    out = pd.Series(count, index=series.index, dtype="Int64")
    out[missing] = pd.NA
    return out
