"""Both cores of one machine: vectorised GEOS and pyproj work split over threads.

shapely 2's vectorised functions and pyproj's transformers release the GIL while they work, so
one array cut into contiguous runs, one run per usable CPU, each in a thread of its own, keeps
every core busy. Each function here works row by row, so a row's result does not depend on how the
rows are cut: results are those of one call on the whole array, in the same order.

Runs are only cut above :data:`PARALLEL_MIN_ROWS` rows; below that, starting threads costs more
than it saves.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import shapely

T = TypeVar("T")

#: Fewer rows than this are worked in the calling thread.
PARALLEL_MIN_ROWS = 2000
#: At most this many threads (the gain stops well before; memory does not).
MAX_THREADS = 8


def usable_cpus() -> int:
    """Return how many CPUs this process may run on (its affinity), at most :data:`MAX_THREADS`.

    Examples
    --------
    >>> usable_cpus() >= 1
    True
    """
    usable = (
        os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    )
    return max(1, min(len(usable), MAX_THREADS))


def run_cuts(n: int, *, min_rows: int = PARALLEL_MIN_ROWS) -> np.ndarray:
    """Return the bounds of the contiguous runs ``n`` rows are cut into (one per usable CPU).

    Run ``k`` is rows ``cuts[k]:cuts[k + 1]``; a single run below ``min_rows`` rows.

    Examples
    --------
    >>> run_cuts(10).tolist()
    [0, 10]
    """
    runs = usable_cpus() if n >= min_rows else 1
    return np.linspace(0, n, runs + 1).astype("int64")


def in_runs(
    func: Callable[[int, int], T], n: int, *, min_rows: int = PARALLEL_MIN_ROWS
) -> list[T]:
    """Call ``func(lo, hi)`` on contiguous runs of ``range(n)``, each run in a thread; in order.

    ``func`` must touch no shared state but what it is given (it runs in several threads at
    once). An exception in a run is raised here.

    Examples
    --------
    >>> in_runs(lambda lo, hi: hi - lo, 10)
    [10]
    """
    cuts = run_cuts(n, min_rows=min_rows)
    if len(cuts) == 2:
        return [func(int(cuts[0]), int(cuts[1]))]
    with ThreadPoolExecutor(max_workers=len(cuts) - 1, thread_name_prefix="landeff-run") as pool:
        return list(pool.map(func, cuts[:-1].tolist(), cuts[1:].tolist()))


def rowwise(
    func: Callable[..., Any], *arrays: Any, min_rows: int = PARALLEL_MIN_ROWS, **kwargs: Any
) -> Any:
    """Return ``func(*arrays, **kwargs)`` worked in runs of rows over threads.

    For functions whose output row ``i`` depends on the input rows ``i`` only (shapely's
    vectorised predicates, constructive and measurement functions on 1-d arrays, ``pyproj``
    transforms of coordinate arrays). Every array is cut along its first axis at the same rows;
    the outputs (one array, or a tuple of arrays) are joined back in order.

    Examples
    --------
    >>> import shapely
    >>> rowwise(shapely.area, np.array([shapely.box(0, 0, 2, 3), shapely.box(0, 0, 1, 1)])).tolist()
    [6.0, 1.0]
    """
    n = len(arrays[0])

    def run(lo: int, hi: int) -> Any:
        return func(*(a[lo:hi] for a in arrays), **kwargs)

    parts = in_runs(run, n, min_rows=min_rows)
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(p) for p in zip(*parts, strict=True))
    return np.concatenate(parts)


def in_background(func: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
    """Start ``func(*args, **kwargs)`` in a thread of its own and return its Future.

    For work that overlaps with the calling thread's (GEOS, pyarrow, pyproj and pandas' C parser
    release the GIL). ``Future.result()`` re-raises the function's exception in the caller.

    Examples
    --------
    >>> in_background(sum, [1, 2, 3]).result()
    6
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="landeff")
    try:
        return pool.submit(func, *args, **kwargs)
    finally:
        pool.shutdown(wait=False)


def query_in_runs(tree: shapely.STRtree, geoms: np.ndarray, **kwargs: Any) -> np.ndarray:
    """Return ``tree.query(geoms, **kwargs)`` for an array ``geoms``, queried in runs on all cores.

    The query lists the pairs of each input geometry in input order, so the runs' pairs, their
    input positions offset by the run's start, put end to end are the pairs of one query, in the
    same order. The tree is shared (querying a built tree from several threads is safe); a
    predicate query prepares each input geometry in the thread that tests it, unless it is
    prepared already: then the inputs are queried in one call, as a prepared geometry's indexes
    are built on first use and must not be used by two threads at once.

    Examples
    --------
    >>> tree = shapely.STRtree([shapely.box(0, 0, 1, 1), shapely.box(2, 0, 3, 1)])
    >>> query_in_runs(tree, np.array([shapely.box(0.5, 0, 2.5, 1), shapely.Point(9, 9)])).tolist()
    [[0, 0], [0, 1]]
    """
    geoms = np.asarray(geoms, dtype=object)
    if kwargs.get("predicate") is not None and shapely.is_prepared(geoms).any():
        return tree.query(geoms, **kwargs)

    def run(lo: int, hi: int) -> np.ndarray:
        found = tree.query(geoms[lo:hi], **kwargs)
        found[0] += lo
        return found

    parts = in_runs(run, len(geoms))
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
