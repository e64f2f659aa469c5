"""Calendar periods (民法典 articles 201–202): anniversaries, leap days, inclusive as_of."""

from __future__ import annotations

import calendar
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landeff.periods import add_years, full_years_elapsed


def _dates(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values)))


def _iso(series: pd.Series) -> list[str | None]:
    return [None if pd.isna(d) else d.date().isoformat() for d in series]


# -- an independent, plain-Python reading of article 202 ------------------------------------------


def _plain_add_years(day: dt.date, n: int) -> dt.date:
    """Same month and day n years on; the last day of the month where that day does not exist."""
    year = day.year + n
    last = calendar.monthrange(year, day.month)[1]
    return dt.date(year, day.month, min(day.day, last))


def _plain_full_years(start: dt.date, as_of: dt.date) -> int:
    """Count anniversaries one by one (inclusive of as_of)."""
    k = 0
    if as_of >= start:
        while _plain_add_years(start, k + 1) <= as_of:
            k += 1
        return k
    while _plain_add_years(start, k) > as_of:
        k -= 1
    return k


# -- add_years -------------------------------------------------------------------------------------


def test_add_years_leap_day_goes_to_end_of_february():
    # 2021 has no 29 February: article 202 -> the last day of that month, 2021-02-28.
    out = add_years(_dates("2020-02-29"), 1)
    assert _iso(out) == ["2021-02-28"]


def test_add_years_leap_day_to_leap_year_keeps_29th():
    assert _iso(add_years(_dates("2020-02-29"), 4)) == ["2024-02-29"]


def test_add_years_ordinary_dates_and_negative_n():
    out = add_years(_dates("2019-01-31", "2022-03-01", "2021-02-28"), -1)
    assert _iso(out) == ["2018-01-31", "2021-03-01", "2020-02-28"]


def test_add_years_missing_stays_missing_and_index_kept():
    s = pd.Series(pd.to_datetime(["2020-06-30", None]), index=["a", "b"])
    out = add_years(s, 2)
    assert list(out.index) == ["a", "b"]
    assert _iso(out) == ["2022-06-30", None]


def test_add_years_per_row_years_and_unit_kept():
    s = _dates("2020-02-29", "2020-02-29", "2019-12-31").astype("datetime64[us]")
    out = add_years(s, pd.Series([1, 4, 2]))
    assert out.dtype == np.dtype("datetime64[us]")
    assert _iso(out) == ["2021-02-28", "2024-02-29", "2021-12-31"]


def test_add_years_drops_time_of_day():
    s = pd.Series(pd.to_datetime(["2020-05-04 17:30"]))
    assert str(add_years(s, 1).iloc[0]) == "2021-05-04 00:00:00"


# -- full_years_elapsed ----------------------------------------------------------------------------


def test_anniversary_itself_is_a_full_year():
    start = _dates("2022-03-01", "2022-03-01", "2022-03-01", "2022-03-01")
    as_of = _dates("2023-02-28", "2023-03-01", "2025-02-28", "2025-03-01")
    assert full_years_elapsed(start, as_of).tolist() == [0, 1, 2, 3]


def test_leap_day_start():
    start = _dates(*["2020-02-29"] * 5)
    as_of = _dates("2021-02-27", "2021-02-28", "2022-02-28", "2024-02-28", "2024-02-29")
    # 2020-02-29 + 1 year = 2021-02-28 (article 202); + 4 years = 2024-02-29.
    assert full_years_elapsed(start, as_of).tolist() == [0, 1, 2, 3, 4]


def test_scalar_as_of_and_missing_start():
    start = pd.Series(pd.to_datetime(["2019-06-30", None]), index=["x", "y"])
    out = full_years_elapsed(start, "2021-06-30")
    assert out.dtype == "Int64"
    assert out.loc["x"] == 2
    assert out.loc["y"] is pd.NA


def test_before_start_is_negative():
    out = full_years_elapsed(_dates("2022-03-01", "2022-03-01"), dt.date(2022, 2, 28))
    assert out.tolist() == [-1, -1]
    assert full_years_elapsed(_dates("2022-03-01"), pd.Timestamp("2022-03-01")).tolist() == [0]


def test_as_of_accepts_date_and_timestamp_alike():
    s = _dates("2024-06-30")
    assert full_years_elapsed(s, dt.date(2025, 6, 30)).tolist() == [1]
    assert full_years_elapsed(s, pd.Timestamp("2025-06-29")).tolist() == [0]


def test_bad_input_names_the_argument():
    with pytest.raises(TypeError, match="start: expected dates"):
        full_years_elapsed(pd.Series(["not a date"]), "2025-01-01")


# -- property check against the plain-Python reading -----------------------------------------------

_days = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2060, 12, 31))


@settings(max_examples=300, deadline=None)
@given(start=_days, as_of=_days, n=st.integers(min_value=-30, max_value=30))
def test_matches_plain_python(start: dt.date, as_of: dt.date, n: int):
    s = pd.Series(pd.to_datetime([start]))
    assert add_years(s, n).iloc[0].date() == _plain_add_years(start, n)
    assert full_years_elapsed(s, as_of).iloc[0] == _plain_full_years(start, as_of)
