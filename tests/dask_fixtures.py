"""Fixtures and helpers of the Dask engine's tests (tests/test_dask.py, tests/test_dask_parquet.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import landeff

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def dask_client():
    """One LocalCluster of 2 worker processes for every Dask test of the run."""
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("dask_geopandas")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def generated_parks() -> dict[str, Any]:
    """Six generated parks of 400 parcels (benchmarks/generate.py, seed 7), as frames."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from generate import make_parks
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return make_parks(2400, seed=7, parcels_per_park=400)


def _sorted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    cols = [c for c in by if c in frame]
    return frame.sort_values(cols, kind="stable").reset_index(drop=True) if cols else frame


def _text_sorted(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame.reset_index(drop=True)
    key = frame.map(repr).agg("|".join, axis=1)
    return frame.loc[key.sort_values(kind="stable").index].reset_index(drop=True)


def assert_same_result(got: landeff.Result, expected: landeff.Result) -> None:
    """Assert two results hold the same tables (rows compared in a sorted order) and summary."""
    assert got.summary == expected.summary
    assert got.year == expected.year
    pd.testing.assert_frame_equal(got.parcels.sort_index(), expected.parcels.sort_index())
    assert list(got.parcels.index) == list(expected.parcels.index)  # input order kept
    pd.testing.assert_frame_equal(_sorted(got.buildings, ["building_id", "parcel_id"]),
                                  _sorted(expected.buildings, ["building_id", "parcel_id"]))
    for name, by in (
        ("enterprises", ["uscc", "year", "_row"]),
        ("enterprise_years", ["uscc", "year", "_row"]),
        ("links", ["uscc", "year", "parcel_id"]),
        ("findings", ["finding_id"]),
        ("remainders", ["parcel_id"]),
    ):
        pd.testing.assert_frame_equal(
            _sorted(getattr(got, name), by), _sorted(getattr(expected, name), by), obj=name
        )
    pd.testing.assert_frame_equal(_text_sorted(got.rejected), _text_sorted(expected.rejected))
    pd.testing.assert_frame_equal(_text_sorted(got.warnings), _text_sorted(expected.warnings))
