"""landeff.parallel: runs of rows over threads give what one call gives, in order.

Small inputs are cut into several runs by pretending the machine has three usable CPUs
(``usable_cpus`` patched) and passing ``min_rows=1``; every expected value is worked out by hand.
"""

import threading

import numpy as np
import pytest
import shapely

import landeff.parallel as parallel
from landeff.parallel import in_background, in_runs, rowwise, run_cuts, usable_cpus


@pytest.fixture
def three_cpus(monkeypatch):
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 3)


def test_usable_cpus_is_the_affinity_at_most_max_threads(monkeypatch):
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert usable_cpus() == parallel.MAX_THREADS
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: {5}, raising=False)
    assert usable_cpus() == 1


def test_runs_are_cut_evenly_one_per_cpu(three_cpus):
    # linspace(0, 9, 4) = 0, 3, 6, 9; linspace(0, 10, 4) = 0, 3.33, 6.67, 10, cut down to integers
    assert run_cuts(9, min_rows=1).tolist() == [0, 3, 6, 9]
    assert run_cuts(10, min_rows=1).tolist() == [0, 3, 6, 10]


def test_few_rows_make_one_run(three_cpus):
    assert run_cuts(parallel.PARALLEL_MIN_ROWS - 1).tolist() == [0, parallel.PARALLEL_MIN_ROWS - 1]
    assert run_cuts(parallel.PARALLEL_MIN_ROWS).tolist()[:2] == [0, parallel.PARALLEL_MIN_ROWS // 3]
    # one run is worked in the calling thread
    assert in_runs(lambda lo, hi: threading.current_thread().name, 10) == [
        threading.current_thread().name
    ]


def test_in_runs_returns_the_runs_in_order_from_threads(three_cpus):
    assert in_runs(lambda lo, hi: (lo, hi), 10, min_rows=1) == [(0, 3), (3, 6), (6, 10)]
    names = in_runs(lambda lo, hi: threading.current_thread().name, 10, min_rows=1)
    assert all(name.startswith("landeff-run") for name in names)


def test_rowwise_gives_the_rows_of_one_call_in_order(three_cpus):
    # boxes 1 .. 7 wide and 2 high: areas 2, 4, ..., 14
    widths = np.arange(1.0, 8.0)
    boxes = shapely.box(0.0, 0.0, widths, 2.0)
    got = rowwise(shapely.area, boxes, min_rows=1)
    assert got.tolist() == [2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0]
    assert got.tolist() == shapely.area(boxes).tolist()


def test_rowwise_cuts_every_array_at_the_same_rows_and_passes_keywords(three_cpus):
    a = np.arange(10.0)
    b = 10.0 - a
    assert rowwise(np.add, a, b, min_rows=1).tolist() == [10.0] * 10
    # the point (i, 0) lies within 2.5 of the point (3, 0) for i = 1 .. 5
    points = shapely.points(a, np.zeros(10))
    near = rowwise(shapely.dwithin, points, np.full(10, shapely.Point(3, 0)), min_rows=1,
                   distance=2.5)
    assert np.flatnonzero(near).tolist() == [1, 2, 3, 4, 5]


def test_rowwise_joins_tuple_outputs(three_cpus):
    quotient, remainder = rowwise(np.divmod, np.arange(10.0), np.full(10, 3.0), min_rows=1)
    assert quotient.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]
    assert remainder.tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]


def test_an_exception_in_a_run_is_raised(three_cpus):
    def work(lo: int, hi: int) -> int:
        if lo == 3:
            msg = f"rows {lo}..{hi}"
            raise ValueError(msg)
        return hi - lo

    with pytest.raises(ValueError, match=r"rows 3\.\.6"):
        in_runs(work, 10, min_rows=1)
    # a GEOS error in the last of three runs (one text each): the text is cut short
    texts = np.array(["POINT (1 1)", "POINT (2 2)", "POINT (3"], dtype=object)
    with pytest.raises(shapely.errors.GEOSException):
        rowwise(shapely.from_wkt, texts, min_rows=1)


def test_in_background_returns_and_raises_through_its_future():
    assert in_background(sum, [1, 2, 3]).result() == 6
    assert in_background(divmod, 7, 2).result() == (3, 1)
    with pytest.raises(ZeroDivisionError):
        in_background(divmod, 1, 0).result()
