"""The Dask engine: the single-machine pipeline run per partition on a Dask cluster.

A province evaluates hundreds of parks at once. :func:`evaluate_dask` reads the inputs once, splits
them into partitions that do not interact, runs :func:`landeff.pipeline.evaluate` on each partition
on a ``dask.distributed`` cluster (a ``LocalCluster`` with 2 workers by default, or the scheduler
given), and combines the partial results into one :class:`~landeff.pipeline.Result`, the same as
the single-machine engine gives.

Partitions
----------
Parcels are partitioned by ``park_id`` or ``county_code`` (the first present, or ``partition_by``),
else by a square grid of ``grid_km`` kilometres. Partitions are then merged where anything couples
them, so that every rule sees all it would see on one machine:

* a building goes with the parcels it intersects (a building across two partitions merges them);
* an enterprise (all its years) goes with every parcel it may link to: its ``parcel_ids``, the
  parcels it holds by credit code or by name;
* a contract goes with its parcel (by ``parcel_id`` or ``supervision_no``);
* parcels sharing an id stay together (the ``#2`` suffixes follow the input order);
* enterprises are graded in pools per ``park_id`` of the enterprise table, so all enterprises of
  one park stay together, and when the table has no ``park_id`` every enterprise is in one pool
  (one partition).

Partitions are packed into about ``tasks_per_worker`` tasks per worker, balanced by parcel count.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .crs import lonlat_of
from .errors import Diagnostics, InputError
from .io.tables import read_table
from .io.vector import read_layer
from .pipeline import Result, choose_year, evaluate, summarise
from .policy import load_policy
from .validate import map_headers, normalise_name, standardise

__all__ = ["evaluate_dask", "partition_inputs"]

#: Default edge of the spatial grid (km) when there is no park or county column.
GRID_KM = 20.0
#: Warnings of checks that look at the whole parcel layer: recomputed on the whole layer.
LAYER_CHECKS = frozenset({"far_outside"})
#: Keyword arguments of :func:`landeff.pipeline.evaluate` passed through to each partition.
_PASSED = {"as_of", "policy", "input_crs", "area_crs", "strict", "name"}


@dataclass
class Partitioning:
    """How the inputs were split: the task of every input row (-1 = not used)."""

    key: str
    parcel_task: np.ndarray
    building_task: np.ndarray
    enterprise_task: np.ndarray
    contract_task: np.ndarray
    n_tasks: int
    n_partitions: int
    n_components: int


# ---------------------------------------------------------------------------------------------
# keys


def _canonical(raw: pd.DataFrame, kind: str, wanted: tuple[str, ...]) -> pd.DataFrame:
    """Standardise only the columns naming ``wanted`` fields (cheap; same parsing as validate)."""
    file = str(raw["_file"].iloc[0]) if len(raw) and "_file" in raw else "<input>"
    mapping = map_headers(list(raw.columns), kind, file=file, diagnostics=Diagnostics())
    cols = [c for c, (name, _) in mapping.items() if name in wanted]
    sub = pd.DataFrame(raw[cols + [c for c in ("_file", "_sheet", "_row") if c in raw]])
    out = standardise(sub, kind, diagnostics=Diagnostics())
    for name in wanted:
        if name not in out:
            out[name] = None
    return out


def _grid_keys(geoms: gpd.GeoSeries, grid_km: float) -> np.ndarray:
    """Return the grid cell of each geometry's centroid (lon/lat cells about ``grid_km`` wide)."""
    lon, lat = lonlat_of(geoms)
    step_lat = grid_km / 111.32
    row = np.floor(np.nan_to_num(lat, nan=0.0) / step_lat)
    step_lon = step_lat / np.maximum(np.cos(np.radians((row + 0.5) * step_lat)), 0.1)
    col = np.floor(np.nan_to_num(lon, nan=0.0) / step_lon)
    rows = pd.Series(row.astype(np.int64)).astype(str)
    cols = pd.Series(col.astype(np.int64)).astype(str)
    return (rows + "_" + cols).to_numpy(dtype=object)


def _components(n_nodes: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the connected component of each node given edges ``a[i] - b[i]`` (union-find)."""
    parent = np.arange(n_nodes)

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    pairs = pd.DataFrame({"a": a, "b": b})
    pairs = pairs[pairs["a"] != pairs["b"]].drop_duplicates()
    for x, y in zip(pairs["a"].to_numpy(), pairs["b"].to_numpy(), strict=True):
        rx, ry = find(int(x)), find(int(y))
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    roots = np.array([find(i) for i in range(n_nodes)], dtype=np.int64)
    return pd.factorize(roots)[0]


def _pairs(left: pd.DataFrame, right: pd.DataFrame, on: str) -> pd.DataFrame:
    """Return ``(row, node)`` pairs: rows of ``left`` matched on ``on`` to parcel nodes."""
    lhs = left[["row", on]].dropna()
    rhs = right[[on, "node"]].dropna().drop_duplicates()
    return lhs.merge(rhs, on=on)[["row", "node"]]


def partition_inputs(
    parcels: gpd.GeoDataFrame,
    *,
    buildings: gpd.GeoDataFrame | None = None,
    enterprises: pd.DataFrame | None = None,
    contracts: pd.DataFrame | None = None,
    partition_by: str | None = None,
    n_tasks: int = 8,
    grid_km: float = GRID_KM,
) -> Partitioning:
    """Split raw inputs into tasks that can be evaluated independently.

    Parameters
    ----------
    parcels, buildings : GeoDataFrame
        Raw layers as :func:`landeff.io.vector.read_layer` returns them.
    enterprises, contracts : DataFrame, optional
        Raw tables as :func:`landeff.io.tables.read_table` returns them.
    partition_by : str, optional
        ``park_id``, ``county_code`` or ``grid``; default the first of these the parcels have.
    n_tasks : int
        Most tasks wanted.
    grid_km : float
        Cell size of the grid partitioning.

    Returns
    -------
    Partitioning
    """
    p = _canonical(parcels, "parcels", ("parcel_id", "park_id", "county_code", "holder_uscc",
                                        "holder_name", "supervision_no"))
    if partition_by is None:
        partition_by = next((c for c in ("park_id", "county_code") if p[c].notna().any()), "grid")
    if partition_by not in ("park_id", "county_code", "grid"):
        msg = f"partition_by={partition_by!r}: use park_id, county_code or grid."
        raise InputError(msg)
    if partition_by == "grid":
        raw_key = _grid_keys(parcels.geometry, grid_km)
    else:
        if p[partition_by].isna().all():
            msg = (
                f"partition_by={partition_by!r}, but the parcels have no such column (or it is "
                "empty). Name the column (园区 / 行政区代码) or use partition_by='grid'."
            )
            raise InputError(msg)
        raw_key = p[partition_by].fillna("").astype(str).to_numpy(dtype=object)
    node_of_parcel, node_names = pd.factorize(pd.Series(raw_key, dtype=object))
    node_of_parcel = node_of_parcel.astype(np.int64)
    n_nodes = len(node_names)
    nodes = pd.DataFrame({
        "node": node_of_parcel,
        "parcel_id": p["parcel_id"].astype(object).to_numpy(),
        "uscc": p["holder_uscc"].astype(object).to_numpy(),
        "nkey": p["holder_name"].map(normalise_name).astype(object).to_numpy(),
        "supervision_no": p["supervision_no"].astype(object).to_numpy(),
        "park": p["park_id"].astype(object).to_numpy(),
    })
    edges: list[tuple[np.ndarray, np.ndarray]] = []

    def link(group: Any, node: Any) -> None:
        frame = pd.DataFrame({"g": np.asarray(group, dtype=object), "n": np.asarray(node)})
        frame = frame.dropna()
        if len(frame):
            first = frame.groupby("g")["n"].transform("min")
            edges.append((first.to_numpy(dtype=np.int64), frame["n"].to_numpy(dtype=np.int64)))

    link(nodes["parcel_id"], nodes["node"])  # duplicate ids stay together
    if partition_by != "park_id":
        link(nodes["park"], nodes["node"])  # one park, one grading pool

    tree = shapely.STRtree(parcels.geometry.values)
    for predicate in ("overlaps", "contains"):  # overlapping parcels are checked as a pair
        pa, pb = tree.query(parcels.geometry.values, predicate=predicate)
        link(np.concatenate([pa, pa]), np.concatenate([node_of_parcel[pa], node_of_parcel[pb]]))

    building_pairs: tuple[np.ndarray, np.ndarray] | None = None
    if buildings is not None and len(buildings) and len(parcels):
        bgeom = buildings.geometry
        if buildings.crs is not None and parcels.crs is not None and buildings.crs != parcels.crs:
            bgeom = bgeom.to_crs(parcels.crs)
        bi, pi = tree.query(bgeom.values, predicate="intersects")
        building_pairs = (bi, pi)
        link(bi, node_of_parcel[pi])

    ent_pairs = pd.DataFrame(columns=["row", "node"])
    ent_key = np.empty(0, dtype=object)
    park_of_row = np.empty(0, dtype=object)
    if enterprises is not None and len(enterprises):
        e = _canonical(enterprises, "enterprises", ("uscc", "name", "parcel_ids", "park_id"))
        names = e["name"].map(normalise_name)
        ent_key = e["uscc"].where(e["uscc"].notna(), "name:" + names.fillna("")).to_numpy(
            dtype=object
        )
        rows = pd.DataFrame({"row": np.arange(len(e)), "uscc": e["uscc"].to_numpy(dtype=object),
                             "nkey": names.to_numpy(dtype=object)})
        ids = e["parcel_ids"].explode().dropna()
        explicit = pd.DataFrame({"row": ids.index.to_numpy(), "parcel_id": ids.to_numpy()})
        ent_pairs = pd.concat(
            [_pairs(explicit, nodes, "parcel_id"), _pairs(rows, nodes, "uscc"),
             _pairs(rows, nodes, "nkey")],
            ignore_index=True,
        )
        link(ent_key[ent_pairs["row"].to_numpy(dtype=np.int64)], ent_pairs["node"])
        # grading pools: the enterprises of one park (the table's park_id) stay together
        key_node = pd.Series(ent_pairs["node"].to_numpy(),
                             index=ent_key[ent_pairs["row"].to_numpy(dtype=np.int64)])
        key_node = key_node.groupby(level=0).min()
        park = e["park_id"].fillna("").astype(str).to_numpy(dtype=object)
        park_of_row = park
        link(park, pd.Series(ent_key).map(key_node).to_numpy(dtype=float))

    con_pairs = pd.DataFrame(columns=["row", "node"])
    if contracts is not None and len(contracts):
        c = _canonical(contracts, "contracts", ("parcel_id", "supervision_no"))
        crow = pd.DataFrame({"row": np.arange(len(c)),
                             "parcel_id": c["parcel_id"].to_numpy(dtype=object),
                             "supervision_no": c["supervision_no"].to_numpy(dtype=object)})
        con_pairs = pd.concat(
            [_pairs(crow, nodes, "parcel_id"), _pairs(crow, nodes, "supervision_no")],
            ignore_index=True,
        )
        link(con_pairs["row"], con_pairs["node"])

    a = np.concatenate([x for x, _ in edges]) if edges else np.empty(0, dtype=np.int64)
    b = np.concatenate([y for _, y in edges]) if edges else np.empty(0, dtype=np.int64)
    comp_of_node = _components(n_nodes, a, b)
    n_comp = int(comp_of_node.max()) + 1 if n_nodes else 0
    sizes = np.bincount(comp_of_node[node_of_parcel], minlength=n_comp)
    task_of_comp = _pack(sizes, n_tasks)
    task_of_node = task_of_comp[comp_of_node] if n_nodes else np.zeros(0, dtype=np.int64)
    n_used = int(task_of_comp.max()) + 1 if n_comp else 1
    parcel_task = task_of_node[node_of_parcel]

    def row_tasks(n_rows: int, pairs: pd.DataFrame, group: np.ndarray | None = None
                  ) -> np.ndarray:
        """Task of each row: that of a node it links to (rows linking nowhere: task 0)."""
        out = np.zeros(n_rows, dtype=np.int64)
        if len(pairs) == 0:
            return out
        r = pairs["row"].to_numpy(dtype=np.int64)
        t = task_of_node[pairs["node"].to_numpy(dtype=np.int64)]
        if group is None:
            out[r] = t
            return out
        by_group = pd.Series(t, index=group[r]).groupby(level=0).first()
        mapped = pd.Series(group).map(by_group)
        return mapped.fillna(0).to_numpy(dtype=np.int64)

    building_task = np.zeros(len(buildings) if buildings is not None else 0, dtype=np.int64)
    if buildings is not None and building_pairs is not None:
        bpairs = pd.DataFrame({"row": building_pairs[0],
                               "node": node_of_parcel[building_pairs[1]]})
        building_task = row_tasks(len(buildings), bpairs)
    enterprise_task = (
        row_tasks(len(enterprises), ent_pairs, ent_key if len(ent_key) else None)
        if enterprises is not None else np.zeros(0, dtype=np.int64)
    )
    contract_task = (
        row_tasks(len(contracts), con_pairs) if contracts is not None
        else np.zeros(0, dtype=np.int64)
    )
    if len(park_of_row) and len(set(park_of_row)) > 1:
        # the grading pools are labelled with the park only when a run holds several parks, so
        # every task must hold at least two of them (or the labels would differ)
        load = np.bincount(parcel_task, minlength=n_used)
        merge = _merge_single_park_tasks(enterprise_task, park_of_row, n_used, load)
        parcel_task, building_task, enterprise_task, contract_task = (
            merge[parcel_task], merge[building_task], merge[enterprise_task], merge[contract_task]
        )
        n_used = int(merge.max()) + 1
    return Partitioning(
        key=partition_by,
        parcel_task=parcel_task,
        building_task=building_task,
        enterprise_task=enterprise_task,
        contract_task=contract_task,
        n_tasks=n_used,
        n_partitions=n_nodes,
        n_components=n_comp,
    )


def _merge_single_park_tasks(
    task: np.ndarray, park: np.ndarray, n_tasks: int, load: np.ndarray
) -> np.ndarray:
    """Return a map old task -> new task so that no task holds enterprises of a single park.

    Single-park tasks are paired with each other; an odd one out joins the lightest other task
    that has enterprises.
    """
    counts = pd.DataFrame({"t": task, "p": park}).groupby("t")["p"].nunique()
    parks = counts.reindex(range(n_tasks), fill_value=0).to_numpy()
    target = np.arange(n_tasks)
    lonely = [t for t in np.argsort(load, kind="stable") if parks[t] == 1]
    for a, b in zip(lonely[0::2], lonely[1::2], strict=False):
        target[b] = a
    if len(lonely) % 2 == 1:
        odd = lonely[-1]
        others = [u for u in np.argsort(load, kind="stable")
                  if u != odd and parks[u] > 0 and target[u] == u]
        if others:
            target[odd] = others[0]
    return pd.factorize(target)[0].astype(np.int64)


def _pack(sizes: np.ndarray, n_tasks: int) -> np.ndarray:
    """Assign components to at most ``n_tasks`` tasks, largest first to the lightest task."""
    if len(sizes) == 0:
        return np.zeros(0, dtype=np.int64)
    n = max(1, min(n_tasks, len(sizes)))
    load = np.zeros(n)
    task = np.zeros(len(sizes), dtype=np.int64)
    for c in np.argsort(-sizes, kind="stable"):
        t = int(np.argmin(load))
        task[c] = t
        load[t] += sizes[c]
    return task


# ---------------------------------------------------------------------------------------------
# running


def _take(frame: pd.DataFrame | None, mask: np.ndarray) -> pd.DataFrame | None:
    if frame is None:
        return None
    return frame.loc[mask].reset_index(drop=True)


def _run_part(inputs: Mapping[str, Any], options: Mapping[str, Any]) -> Result:
    """Evaluate one task (runs on a worker)."""
    return evaluate(**inputs, **options)


def _run_tasks(
    client: Any,
    parts: Partitioning,
    raw: tuple[Any, Any, Any, Any],
    options: Mapping[str, Any],
    *,
    in_flight: int,
    progress: Any = None,
) -> list[Result]:
    """Run every task, with at most ``in_flight`` of them sent out at a time.

    A task's rows are cut out and scattered to a worker only when a slot is free, so that neither
    the workers nor the scheduler hold the whole input at once. Results come back in task order.
    """
    from distributed import as_completed

    masks = (parts.parcel_task, parts.building_task, parts.enterprise_task, parts.contract_task)
    names = ("parcels", "buildings", "enterprises", "contracts")

    def submit(t: int) -> Any:
        frames = [_take(frame, mask == t) for frame, mask in zip(raw, masks, strict=True)]
        # scattered first, so big frames go to a worker directly and not through the task graph
        # (a list, not a dict: scatter would take the dict's keys as the data's keys)
        data = dict(zip(names, client.scatter(frames, direct=True, hash=False), strict=True))
        future = client.submit(_run_part, data, options, pure=False)
        task_of[future.key] = t
        return future

    results: dict[int, Result] = {}
    task_of: dict[Any, int] = {}
    pending = as_completed([submit(t) for t in range(min(in_flight, parts.n_tasks))])
    next_task = min(in_flight, parts.n_tasks)
    for future in pending:
        results[task_of[future.key]] = future.result()
        future.release()
        if progress is not None:
            progress(f"task {len(results)}/{parts.n_tasks} done")
        if next_task < parts.n_tasks:
            pending.add(submit(next_task))
            next_task += 1
    return [results[t] for t in range(parts.n_tasks)]


def _client(scheduler: Any, n_workers: int) -> tuple[Any, bool, Any]:
    """Return (client, whether we own it, cluster to close or None) for ``scheduler``.

    ``scheduler`` is None (a new LocalCluster), an address, or a connected ``Client`` (left open).
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - depends on the extra
        msg = "the Dask engine needs the dask extra: pip install 'landeff[dask]'."
        raise InputError(msg) from err
    if scheduler is None:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        return Client(cluster), True, cluster
    if isinstance(scheduler, Client):
        return scheduler, False, None
    return Client(str(scheduler)), True, None


def evaluate_dask(
    parcels: Any,
    *,
    buildings: Any = None,
    enterprises: Any = None,
    contracts: Any = None,
    scheduler: Any = None,
    partition_by: str | None = None,
    n_workers: int = 2,
    tasks_per_worker: int = 4,
    grid_km: float = GRID_KM,
    year: int | None = None,
    parcels_layer: str | None = None,
    buildings_layer: str | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    progress: Any = None,
    **kwargs: Any,
) -> Result:
    """Evaluate with the single-machine pipeline per partition on a Dask cluster.

    Parameters
    ----------
    parcels, buildings, enterprises, contracts
        As for :func:`landeff.evaluate` (paths or frames). Parcels are required.
    scheduler : str or distributed.Client, optional
        Scheduler address (``tcp://host:8786``) or a connected client; default a ``LocalCluster``
        of ``n_workers`` processes, closed at the end.
    partition_by : str, optional
        ``park_id``, ``county_code`` or ``grid``; default the first the parcels have.
    n_workers : int
        Workers of the default LocalCluster.
    tasks_per_worker : int
        Tasks per worker to aim at (load balance against per-task overhead).
    grid_km : float
        Grid cell size (km) for ``partition_by='grid'``.
    **kwargs
        Other arguments of :func:`landeff.evaluate` (``as_of``, ``policy``, ``input_crs`` ...).

    Returns
    -------
    Result
        The same tables as :func:`landeff.evaluate` gives. ``timings`` holds ``read`` (on the
        client), ``partition``, the stages ``validate`` ... ``flag`` (summed over tasks, scaled to
        the wall time of the cluster phase), ``cluster`` (that wall time), ``task_seconds`` (the
        stage seconds summed over tasks) and ``combine``.
    """
    unknown = set(kwargs) - _PASSED
    if unknown:
        msg = f"evaluate_dask(): unknown argument(s) {sorted(unknown)}."
        raise TypeError(msg)
    if parcels is None:
        msg = "the Dask engine needs a parcel layer (a contracts ledger alone runs on one machine)."
        raise InputError(msg)
    if kwargs.get("as_of") is None:
        msg = "as_of is required (the evaluation date, e.g. as_of='2025-06-30')."
        raise InputError(msg)
    input_crs = kwargs.get("input_crs")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    raw_p = read_layer(parcels, layer=parcels_layer, input_crs=input_crs, encoding=encoding)
    raw_b = (read_layer(buildings, layer=buildings_layer, input_crs=input_crs, encoding=encoding)
             if buildings is not None else None)
    raw_e = (read_table(enterprises, kind="enterprises", sheet=sheet, encoding=encoding)
             if enterprises is not None else None)
    raw_c = (read_table(contracts, kind="contracts", sheet=sheet, encoding=encoding)
             if contracts is not None else None)
    timings["read"] = time.perf_counter() - start

    start = time.perf_counter()
    raw_p, raw_b, extra_warnings = _fill_ids(raw_p, raw_b)
    chosen = year
    if chosen is None and raw_e is not None and len(raw_e):
        years = _canonical(raw_e, "enterprises", ("year",))["year"]
        if years.notna().any():
            as_of = pd.Timestamp(kwargs["as_of"]).date()
            chosen = choose_year(years.dropna(), as_of)
    client, own_client, cluster = _client(scheduler, n_workers)
    try:
        workers = max(1, len(client.scheduler_info().get("workers", {})) or n_workers)
        parts = partition_inputs(
            raw_p, buildings=raw_b, enterprises=raw_e, contracts=raw_c,
            partition_by=partition_by, n_tasks=workers * tasks_per_worker, grid_km=grid_km,
        )
        options = {k: v for k, v in kwargs.items() if k in _PASSED}
        options["policy"] = load_policy(kwargs.get("policy"))
        options["year"] = chosen
        timings["partition"] = time.perf_counter() - start

        start = time.perf_counter()
        results = _run_tasks(client, parts, (raw_p, raw_b, raw_e, raw_c), options,
                             in_flight=workers + 1, progress=progress)
        del raw_p, raw_b, raw_e, raw_c
        timings["cluster"] = time.perf_counter() - start
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()

    start = time.perf_counter()
    result = combine_results(results, extra_warnings=extra_warnings,
                             year=chosen, name=kwargs.get("name", ""))
    timings["combine"] = time.perf_counter() - start
    stage_sum = {s: sum(r.timings.get(s, 0.0) for r in results)
                 for s in ("validate", "project", "join", "measure", "flag")}
    total = sum(stage_sum.values())
    scale = timings["cluster"] / total if total > 0 else 0.0
    result.timings = {
        "read": timings["read"],
        **{s: v * scale for s, v in stage_sum.items()},
        "partition": timings["partition"],
        "cluster": timings["cluster"],
        "task_seconds": total,
        "combine": timings["combine"],
    }
    result.diagnostics.strict = bool(kwargs.get("strict", False))
    return result


def _fill_ids(
    parcels: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame | None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None, list[dict[str, Any]]]:
    """Give building ids where the layer has none, as the single-machine join does (B000001...).

    Ids made per partition would clash; they are made here, in input order, instead.
    """
    warnings: list[dict[str, Any]] = []
    if buildings is not None:
        file = str(buildings["_file"].iloc[0]) if len(buildings) else "<buildings>"
        mapping = map_headers(list(buildings.columns), "buildings", file=file,
                              diagnostics=Diagnostics())
        if "building_id" not in {name for name, _ in mapping.values()}:
            buildings = buildings.copy()
            buildings["building_id"] = [f"B{i:06d}" for i in range(1, len(buildings) + 1)]
    file = str(parcels["_file"].iloc[0]) if len(parcels) else "<parcels>"
    mapping = map_headers(list(parcels.columns), "parcels", file=file, diagnostics=Diagnostics())
    if "parcel_id" not in {name for name, _ in mapping.values()}:
        # the single engine numbers parcels P00001... in row order, with one warning
        probe = Diagnostics()
        from .validate import prepare_parcels

        prepare_parcels(parcels.iloc[0:0].copy(), diagnostics=probe)
        warnings = [w for w in probe.warning_rows if w["code"] == "parcel_id_generated"]
        parcels = parcels.copy()
        parcels["parcel_id"] = [f"P{i:05d}" for i in range(1, len(parcels) + 1)]
    return parcels, buildings, warnings


def _layer_checks(parcels: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Run the parcel checks that look at the whole layer once, on all parcels.

    :func:`landeff.checks.far_outside` measures each parcel from the middle of its park, or of the
    whole layer when there is no park or county column: per grid partition it would find other
    middles, so its warnings from the partitions are replaced by one run on all parcels.
    """
    from . import checks

    probe = Diagnostics()
    wanted = ("parcel_id", "_file", "_sheet", "_row", *getattr(checks, "GROUP_COLUMNS", ()))
    cols = [c for c in wanted if c in parcels]
    frame = gpd.GeoDataFrame(  # only what the check reads (it looks rows up one by one)
        parcels[cols].reset_index(drop=True), geometry=parcels.geometry.to_numpy(),
        crs=parcels.crs,
    )
    checks.far_outside(frame, diagnostics=probe)
    return [w for w in probe.warning_rows if w["code"] in LAYER_CHECKS]


def _concat(frames: list[pd.DataFrame], *, ignore_index: bool = True) -> pd.DataFrame:
    """Concatenate partial frames, keeping the dtype a column has where it holds values.

    A partition without (say) graded enterprises gives an all-missing ``object`` column where the
    others give ``string``; the combined column takes the dtype of the partitions with values.
    """
    kept = [f for f in frames if len(f)] or frames[:1]
    out = pd.concat(kept, ignore_index=ignore_index)
    for col in out.columns:
        dtypes = {str(f[col].dtype): f[col].dtype for f in kept
                  if col in f and f[col].notna().any()}
        if len(dtypes) == 1:
            dtype = next(iter(dtypes.values()))
            if out[col].dtype != dtype:
                with contextlib.suppress(TypeError, ValueError):
                    out[col] = out[col].astype(dtype)
    return out


def _dedupe_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop exact repeats (table-level warnings repeated by every partition), keeping the order."""
    if not rows:
        return rows
    frame = pd.DataFrame(rows)
    keys = frame.map(repr)
    keep = ~keys.duplicated(keep="first").to_numpy()
    return [row for row, k in zip(rows, keep, strict=True) if k]


def combine_results(
    results: list[Result],
    *,
    extra_warnings: list[dict[str, Any]] | None = None,
    year: int | None,
    name: str = "",
) -> Result:
    """Combine the results of partitions into one, as the single-machine engine orders it."""
    first = results[0]
    parcels = _concat([r.parcels for r in results], ignore_index=False)
    parcels.index = parcels.index.astype(first.parcels.index.dtype)  # concat infers str
    parcels = parcels.sort_values("_row", kind="stable") if "_row" in parcels else parcels
    parcels = gpd.GeoDataFrame(parcels, geometry=first.parcels.geometry.name,
                               crs=first.parcels.crs)
    order = pd.Series(np.arange(len(parcels)), index=parcels.index)

    def by_parcel(frame: pd.DataFrame, *extra: str) -> pd.DataFrame:
        if frame.empty or "parcel_id" not in frame:
            return frame.reset_index(drop=True)
        keys = frame.assign(_p=frame["parcel_id"].map(order))
        return keys.sort_values(["_p", *extra], kind="stable").drop(columns="_p").reset_index(
            drop=True)

    concat = _concat
    buildings = by_parcel(concat([r.buildings for r in results]), "building_id")
    buildings = gpd.GeoDataFrame(buildings, geometry=first.buildings.geometry.name,
                                 crs=first.buildings.crs)
    remainders = by_parcel(concat([r.remainders for r in results]))
    remainders = gpd.GeoDataFrame(remainders, geometry=first.remainders.geometry.name,
                                  crs=first.remainders.crs)

    def by_row(frame: pd.DataFrame) -> pd.DataFrame:
        if "_row" in frame and len(frame):
            return frame.sort_values("_row", kind="stable").reset_index(drop=True)
        return frame.reset_index(drop=True)

    enterprises = by_row(concat([r.enterprises for r in results]))
    enterprise_years = by_row(concat([r.enterprise_years for r in results]))
    links = by_parcel(concat([r.links for r in results]))
    findings = concat([r.findings for r in results])
    if len(findings):
        key = findings["finding_id"].astype(str).str.rsplit(":", n=1).str[0]
        findings = (
            findings.assign(_l=(findings["level"] != "parcel").astype(int), _k=key)
            .sort_values(["_l", "_k", "finding_id"], kind="stable")
            .drop(columns=["_l", "_k"]).reset_index(drop=True)
        )
    diag = Diagnostics()
    warnings = list(extra_warnings or [])
    for r in results:
        warnings += [w for w in r.diagnostics.warning_rows if w["code"] not in LAYER_CHECKS]
    warnings += _layer_checks(parcels)
    diag.warning_rows = _dedupe_rows(warnings)
    rejected: list[dict[str, Any]] = []
    for r in results:
        rejected += r.diagnostics.rejected_rows
    diag.rejected_rows = _dedupe_rows(rejected)
    optional = {"enterprise_years": enterprise_years}
    accepted = inspect.signature(summarise).parameters
    summary = summarise(
        parcels, enterprises, findings, diag, as_of=first.as_of, year=year,
        policy=first.policy, name=name, pieces=buildings,
        **{k: v for k, v in optional.items() if k in accepted},
    )
    return Result(
        parcels=parcels,
        buildings=buildings,
        enterprises=enterprises,
        enterprise_years=enterprise_years,
        links=links,
        findings=findings,
        remainders=remainders,
        diagnostics=diag,
        summary=summary,
        as_of=first.as_of,
        year=year if year is not None else first.year,
        policy=first.policy,
        timings={},
        name=name,
    )
