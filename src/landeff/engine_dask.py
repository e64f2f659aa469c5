"""The Dask engine: the single-machine pipeline run per partition on a Dask cluster.

A province evaluates hundreds of parks at once. :func:`evaluate_dask` splits the inputs into
partitions that do not interact, runs :func:`landeff.pipeline.evaluate` on each partition on a
``dask.distributed`` cluster (a ``LocalCluster`` with 2 workers by default, or the scheduler given),
and combines the partial results into one :class:`~landeff.pipeline.Result`, the same as the
single-machine engine gives.

Two ways in
-----------
* **GeoParquet layers** (a ``.parquet`` / ``.geoparquet`` file, or a folder of them) are read with
  ``dask_geopandas.read_parquet`` on the workers and stay there: the client receives only what
  assigns rows to tasks (the parcels' id, park, county, holder and supervision columns, each
  feature's bounding box) and the few geometries that lie where two partitions meet. Which building
  touches which parcel is found on the workers, against an R-tree of the parcels' boxes. Each task
  then gathers its rows from the workers that hold them.
* **Other inputs** (GeoPackage, Shapefile, frames, PostGIS; a GeoParquet layer with garbled text) are
  read on the client, split there, and each task's rows are sent to a worker.

Tables (enterprises, contracts) are read on the client in both cases.

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
* overlapping parcels stay together (the overlap check sees both);
* enterprises are graded in pools per ``park_id`` of the enterprise table, so all enterprises of
  one park stay together, and when the table has no ``park_id`` every enterprise is in one pool
  (one partition).

Partitions are packed into about ``tasks_per_worker`` tasks per worker, balanced by parcel count.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import checks
from .crs import lonlat_of
from .errors import Diagnostics, InputError
from .io.tables import read_table
from .io.vector import PARQUET_SUFFIXES, read_layer, settle_crs
from .pipeline import Result, choose_year, evaluate, summarise
from .policy import load_policy
from .validate import map_headers, normalise_names, standardise

__all__ = ["evaluate_dask", "partition_geoparquet", "partition_inputs"]

#: Default edge of the spatial grid (km) when there is no park or county column.
GRID_KM = 20.0
#: Warnings of checks that look at the whole parcel layer: recomputed on the whole layer unless
#: every group they measure lies within one task.
LAYER_CHECKS = frozenset({"far_outside"})
#: Warnings :func:`landeff.io.vector.read_layer` can give about a whole layer handed over as a
#: frame. Each task's ``evaluate`` reads its part of a layer again and would give its own (about
#: the part, named ``<GeoDataFrame>``): those are replaced by the warnings of the whole layer.
LAYER_READ_CODES = frozenset({
    "mojibake_fixed", "crs_overridden", "input_crs_ignored", "axes_swapped", "crs_zone_prefix",
    "crs_far_from_use", "crs_not_site_zone",
})
#: Keyword arguments of :func:`landeff.pipeline.evaluate` passed through to each partition.
_PASSED = {"as_of", "policy", "input_crs", "area_crs", "strict", "name"}
#: Parcel fields that decide which task a parcel goes to.
_KEY_FIELDS = ("parcel_id", "park_id", "county_code", "holder_uscc", "holder_name",
               "supervision_no")
#: (parcel rows, parcel rows) that overlap or contain, and (building rows, parcel rows) touching.
_Pairs = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


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
    #: Whether every group that :func:`landeff.checks.far_outside` measures lies within one task
    #: (its warnings from the tasks are then those of the whole layer).
    layer_checks_local: bool = False


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


def _parcel_keys(raw: pd.DataFrame) -> pd.DataFrame:
    """Return the fields of raw parcels that decide their task, one row per parcel.

    Columns ``parcel_id``, ``park_id``, ``county_code``, ``uscc`` (holder's credit code), ``nkey``
    (holder's name folded as the join folds it) and ``supervision_no``; object arrays, None when
    missing.
    """
    p = _canonical(raw, "parcels", _KEY_FIELDS)
    out = {
        name: p[field_].astype(object).where(p[field_].notna(), None).to_numpy()
        for name, field_ in (("parcel_id", "parcel_id"), ("park_id", "park_id"),
                             ("county_code", "county_code"), ("uscc", "holder_uscc"),
                             ("supervision_no", "supervision_no"))
    }
    out["nkey"] = normalise_names(p["holder_name"])
    return pd.DataFrame(out)


def _choose_key(keys: pd.DataFrame, partition_by: str | None) -> str:
    """Return the partition key: ``partition_by`` checked, else park, county or grid."""
    if partition_by is None:
        partition_by = next(
            (c for c in ("park_id", "county_code") if keys[c].notna().any()), "grid"
        )
    if partition_by not in ("park_id", "county_code", "grid"):
        msg = f"partition_by={partition_by!r}: use park_id, county_code or grid."
        raise InputError(msg)
    if partition_by != "grid" and keys[partition_by].isna().all():
        msg = (
            f"partition_by={partition_by!r}, but the parcels have no such column (or it is "
            "empty). Name the column (园区 / 行政区代码) or use partition_by='grid'."
        )
        raise InputError(msg)
    return partition_by


def _grid_cells(lon: np.ndarray, lat: np.ndarray, grid_km: float) -> np.ndarray:
    """Return the grid cell of each longitude/latitude (cells about ``grid_km`` wide)."""
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
    return _partition_frames(parcels, buildings=buildings, enterprises=enterprises,
                             contracts=contracts, partition_by=partition_by, n_tasks=n_tasks,
                             grid_km=grid_km)


def _partition_frames(
    parcels: gpd.GeoDataFrame,
    *,
    buildings: gpd.GeoDataFrame | None,
    enterprises: pd.DataFrame | None,
    contracts: pd.DataFrame | None,
    partition_by: str | None,
    n_tasks: int,
    grid_km: float,
    enterprise_keys: pd.DataFrame | None = None,
) -> Partitioning:
    """:func:`partition_inputs`, with the enterprise keys when the caller has them."""
    keys = _parcel_keys(parcels)
    partition_by = _choose_key(keys, partition_by)
    lonlat = lonlat_of(parcels.geometry) if partition_by == "grid" else None
    geoms = parcels.geometry.values
    tree = shapely.STRtree(geoms)
    found = [tree.query(geoms, predicate=p) for p in ("overlaps", "contains")]
    parcel_pairs = (np.concatenate([a for a, _ in found]), np.concatenate([b for _, b in found]))
    building_pairs = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    if buildings is not None and len(buildings) and len(parcels):
        bgeom = buildings.geometry
        if buildings.crs is not None and parcels.crs is not None and buildings.crs != parcels.crs:
            bgeom = bgeom.to_crs(parcels.crs)
        bi, pi = tree.query(bgeom.values, predicate="intersects")
        building_pairs = (bi, pi)
    return _partition(
        keys, partition_by=partition_by, lonlat=lonlat, grid_km=grid_km,
        pairs=(parcel_pairs, building_pairs),
        n_buildings=len(buildings) if buildings is not None else 0,
        enterprises=enterprises, contracts=contracts, n_tasks=n_tasks,
        enterprise_keys=enterprise_keys,
    )


def _codes(*arrays: Any) -> list[np.ndarray]:
    """Integer codes of values over one vocabulary shared by ``arrays`` (-1 where missing)."""
    lengths = [len(a) for a in arrays]
    joined = np.concatenate([np.asarray(a, dtype=object) for a in arrays]) if arrays else []
    codes, _ = pd.factorize(pd.Series(joined, dtype=object))
    return np.split(codes.astype(np.int64), np.cumsum(lengths)[:-1])


def _matches(parcel_code: np.ndarray, node_of_parcel: np.ndarray, rows: np.ndarray,
             row_code: np.ndarray) -> pd.DataFrame:
    """Return ``(row, node)``: table rows matched by code to the partitions of parcels."""
    have = parcel_code >= 0
    right = pd.DataFrame({"c": parcel_code[have], "node": node_of_parcel[have]}).drop_duplicates()
    left = pd.DataFrame({"row": rows, "c": row_code})
    left = left[left["c"] >= 0]
    return left.merge(right, on="c")[["row", "node"]]


def _enterprise_keys(enterprises: pd.DataFrame) -> pd.DataFrame:
    """Return the fields of the enterprise table that decide its rows' tasks (and the year)."""
    return _canonical(enterprises, "enterprises", ("uscc", "name", "parcel_ids", "park_id",
                                                   "year"))


def _partition(
    keys: pd.DataFrame,
    *,
    partition_by: str,
    lonlat: tuple[np.ndarray, np.ndarray] | None,
    grid_km: float,
    pairs: _Pairs | Callable[[], _Pairs],
    n_buildings: int,
    enterprises: pd.DataFrame | None,
    contracts: pd.DataFrame | None,
    n_tasks: int,
    enterprise_keys: pd.DataFrame | None = None,
) -> Partitioning:
    """Split parcels (given by their keys and geometric couplings) and the tables into tasks.

    Parameters
    ----------
    keys : DataFrame
        :func:`_parcel_keys` of all parcels, in input order.
    partition_by : str
        ``park_id``, ``county_code`` or ``grid`` (then ``lonlat`` gives each parcel's centroid).
    pairs : ((ndarray, ndarray), (ndarray, ndarray)), or a function returning them
        The parcel pairs, rows of parcels that overlap or contain one another (pairs within
        one partition may be left out), and the building pairs, (building row, parcel row) for
        every parcel a building intersects (for a building whose parcels all lie in one
        partition, one of them is enough). A function is called once the tables are matched,
        so that the pairs may be found meanwhile (on the workers).
    n_buildings : int
        Rows of the building layer.
    enterprises, contracts : DataFrame, optional
        Raw tables.
    enterprise_keys : DataFrame, optional
        :func:`_enterprise_keys` of ``enterprises`` when the caller has it.
    """
    if partition_by == "grid":
        assert lonlat is not None
        raw_key = _grid_cells(lonlat[0], lonlat[1], grid_km)
    else:
        raw_key = pd.Series(keys[partition_by], dtype=object).fillna("").astype(str).to_numpy(
            dtype=object)
    node_of_parcel, node_names = pd.factorize(pd.Series(raw_key, dtype=object))
    node_of_parcel = node_of_parcel.astype(np.int64)
    n_nodes = len(node_names)
    n_parcels = len(keys)
    edges: list[tuple[np.ndarray, np.ndarray]] = []

    def link(group: np.ndarray, node: np.ndarray) -> None:
        """Join the partitions of ``node`` that share a ``group`` (groups < 0 join nothing)."""
        frame = pd.DataFrame({"g": group, "n": node})
        frame = frame[(frame["g"] >= 0) & (frame["n"] >= 0)]
        if len(frame):
            first = frame.groupby("g")["n"].transform("min")
            edges.append((first.to_numpy(dtype=np.int64), frame["n"].to_numpy(dtype=np.int64)))

    # shared vocabularies: a code per id, credit code, folded name and supervision number
    e = None
    ids = pd.Series([], dtype=object)
    if enterprises is not None and len(enterprises):
        e = enterprise_keys if enterprise_keys is not None else _enterprise_keys(enterprises)
        ids = e["parcel_ids"].explode().dropna()
    c = None
    if contracts is not None and len(contracts):
        c = _canonical(contracts, "contracts", ("parcel_id", "supervision_no"))
    none = np.empty(0, dtype=object)
    pid_p, pid_e, pid_c = _codes(
        keys["parcel_id"], ids.to_numpy(dtype=object),
        c["parcel_id"].to_numpy(dtype=object) if c is not None else none)
    names = normalise_names(e["name"]) if e is not None else none
    uscc_p, uscc_e = _codes(keys["uscc"], e["uscc"].to_numpy(dtype=object) if e is not None
                            else none)
    nkey_p, nkey_e = _codes(keys["nkey"], names)
    sup_p, sup_c = _codes(keys["supervision_no"], c["supervision_no"].to_numpy(dtype=object)
                          if c is not None else none)

    link(pid_p, node_of_parcel)  # duplicate ids stay together
    if partition_by != "park_id":  # one park, one grading pool
        link(pd.factorize(pd.Series(keys["park_id"], dtype=object))[0], node_of_parcel)
    ent_pairs = pd.DataFrame({"row": none.astype(np.int64), "node": none.astype(np.int64)})
    ent_code = np.empty(0, dtype=np.int64)
    park_of_row = np.empty(0, dtype=object)
    if e is not None:
        # an enterprise is its credit code, else its folded name
        key = e["uscc"].astype(object).where(
            e["uscc"].notna(), "name:" + pd.Series(names, dtype=object).fillna("").to_numpy())
        ent_code = pd.factorize(key.astype(object))[0].astype(np.int64)
        n_rows = len(e)
        ent_pairs = pd.concat([
            _matches(pid_p, node_of_parcel, ids.index.to_numpy(dtype=np.int64), pid_e),
            _matches(uscc_p, node_of_parcel, np.arange(n_rows), uscc_e),
            _matches(nkey_p, node_of_parcel, np.arange(n_rows), nkey_e),
        ], ignore_index=True)
        rows = ent_pairs["row"].to_numpy(dtype=np.int64)
        pair_nodes = ent_pairs["node"].to_numpy(dtype=np.int64)
        link(ent_code[rows], pair_nodes)  # all years and parcels of an enterprise together
        # grading pools: the enterprises of one park (the table's park_id) stay together
        node_of_key = np.full(int(ent_code.max()) + 1 if n_rows else 0, np.iinfo(np.int64).max)
        np.minimum.at(node_of_key, ent_code[rows], pair_nodes)
        node_of_key[node_of_key == np.iinfo(np.int64).max] = -1
        park_of_row = e["park_id"].fillna("").astype(str).to_numpy(dtype=object)
        link(pd.factorize(pd.Series(park_of_row, dtype=object))[0], node_of_key[ent_code])

    con_pairs = pd.DataFrame({"row": none.astype(np.int64), "node": none.astype(np.int64)})
    if c is not None:
        con_pairs = pd.concat([
            _matches(pid_p, node_of_parcel, np.arange(len(c)), pid_c),
            _matches(sup_p, node_of_parcel, np.arange(len(c)), sup_c),
        ], ignore_index=True)
        link(con_pairs["row"].to_numpy(dtype=np.int64),
             con_pairs["node"].to_numpy(dtype=np.int64))

    found = pairs() if callable(pairs) else pairs
    pa, pb = (np.asarray(x, dtype=np.int64) for x in found[0])
    bi, pi = (np.asarray(x, dtype=np.int64) for x in found[1])
    if len(pa):  # overlapping parcels are checked as a pair
        edges.append((node_of_parcel[pa], node_of_parcel[pb]))
    if len(bi):  # a building joins the partitions of every parcel it intersects
        link(bi, node_of_parcel[pi])

    a = np.concatenate([x for x, _ in edges]) if edges else np.empty(0, dtype=np.int64)
    b = np.concatenate([y for _, y in edges]) if edges else np.empty(0, dtype=np.int64)
    comp_of_node = _components(n_nodes, a, b)
    n_comp = int(comp_of_node.max()) + 1 if n_nodes else 0
    sizes = np.bincount(comp_of_node[node_of_parcel], minlength=n_comp)
    task_of_comp = _pack(sizes, n_tasks)
    task_of_node = task_of_comp[comp_of_node] if n_nodes else np.zeros(0, dtype=np.int64)
    n_used = int(task_of_comp.max()) + 1 if n_comp else 1
    parcel_task = task_of_node[node_of_parcel] if n_parcels else np.zeros(0, dtype=np.int64)

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
        # every row of a group (enterprise) goes where the group's nodes went: one task
        by_group = np.zeros(int(group.max()) + 1, dtype=np.int64)
        by_group[group[r]] = t
        return by_group[group]

    building_task = row_tasks(
        n_buildings, pd.DataFrame({"row": bi, "node": node_of_parcel[pi] if len(pi) else pi})
    )
    enterprise_task = (
        row_tasks(len(enterprises), ent_pairs, ent_code if len(ent_code) else None)
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
        layer_checks_local=_groups_within_tasks(keys, parcel_task),
    )


def _groups_within_tasks(keys: pd.DataFrame, parcel_task: np.ndarray) -> bool:
    """Whether :func:`landeff.checks.far_outside` run per task gives the whole layer's warnings.

    It measures each parcel from the middle of its group: the values of the first of
    ``checks.GROUP_COLUMNS`` the layer has (parcels without a value form one group), else the
    whole layer. Run per task it gives the same warnings when every group lies within one task
    and every task chooses the same column (holds a value in it).
    """
    if not len(parcel_task):
        return True
    group_columns = getattr(checks, "GROUP_COLUMNS", ())
    column = next((c for c in group_columns if c in keys and keys[c].notna().any()), None)
    if column is None:
        return len(np.unique(parcel_task)) == 1
    values = pd.Series(keys[column], dtype=object)
    group, _ = pd.factorize(values, use_na_sentinel=False)
    frame = pd.DataFrame({"g": group, "t": parcel_task, "has": values.notna().to_numpy()})
    one_task = (frame.groupby("g")["t"].nunique() == 1).all()
    every_task_has_values = frame.groupby("t")["has"].any().all()
    return bool(one_task and every_task_has_values)


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
# GeoParquet layers, read and kept on the workers


@dataclass
class _GeoLayer:
    """A GeoParquet layer read by the workers; its partitions (futures) stay on them."""

    file: str  #: the path, as :func:`landeff.io.vector.read_layer` names it in ``_file``
    sheet: str | None  #: the layer argument, which ``read_layer`` puts in ``_sheet``
    columns: list[str]  #: the columns ``geopandas.read_parquet`` gives, geometry included
    parts: list[Any]  #: futures of the raw partitions, in row order
    empty: gpd.GeoDataFrame  #: no rows, the columns and dtypes of the partitions
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    bounds: np.ndarray = field(default_factory=lambda: np.empty((0, 4)))
    crs: Any = None  #: the CRS once settled as ``read_layer`` settles it
    swapped: bool = False  #: x and y swapped, as ``read_layer`` swaps them
    notes: list[dict[str, Any]] = field(default_factory=list)  #: ``read_layer``'s warnings
    #: (column, prefix, digits) of the ids made here (``P00001`` / ``B000001``) when missing
    add_id: tuple[str, str, int] | None = None

    @property
    def n_rows(self) -> int:
        """Rows of the whole layer."""
        return int(self.offsets[-1])


def _geoparquet_path(source: Any) -> Path | None:
    """Return the path of a GeoParquet file or folder of them, or None for any other input."""
    if not isinstance(source, str | os.PathLike) or str(source).startswith("postgresql"):
        return None
    path = Path(source)
    if path.is_file():
        return path if path.suffix.lower() in PARQUET_SUFFIXES else None
    if path.is_dir() and any(p.suffix.lower() in PARQUET_SUFFIXES for p in path.rglob("*")):
        return path
    return None


def _open_geoparquet(client: Any, source: Any, *, layer: str | None) -> _GeoLayer | None:
    """Start reading a GeoParquet layer on the workers (None: not GeoParquet, read it as before).

    The columns are those ``geopandas.read_parquet`` gives: the bounding-box covering columns and
    a stored index are left out. ``gather_spatial_partitions=False``: dask-geopandas 0.5 keeps the
    partitions' regions in ``attrs``, which pandas 3 cannot compare (geopandas/dask-geopandas#327).
    """
    path = _geoparquet_path(source)
    if path is None:
        return None
    try:
        import dask_geopandas
        import pyarrow.dataset as pads
    except ImportError:  # pragma: no cover - depends on the extra
        return None
    try:
        schema = pads.dataset(str(path), format="parquet").schema
        meta = schema.metadata or {}
        geo = json.loads(meta[b"geo"])
        pandas_meta = json.loads(meta.get(b"pandas", b"{}"))
    except Exception:  # noqa: BLE001 - not GeoParquet: read_layer says what is wrong with it
        return None
    skip = {str(c) for c in pandas_meta.get("index_columns", []) if isinstance(c, str)}
    for column in geo.get("columns", {}).values():
        for spec in (column.get("covering") or {}).values():
            skip |= {part[0] for part in spec.values() if isinstance(part, list) and part}
    columns = [name for name in schema.names if name not in skip]
    ddf = dask_geopandas.read_parquet(str(path), columns=columns, index=False,
                                      gather_spatial_partitions=False)
    parts = client.compute(ddf.to_delayed())
    empty = ddf._meta.assign(_file=pd.Series([], dtype=object), _sheet=None, _row=0)
    return _GeoLayer(file=str(path), sheet=layer, columns=[str(c) for c in ddf.columns],
                     parts=list(parts), empty=empty)


def _text_columns(frame: pd.DataFrame) -> list[str]:
    """Columns :func:`landeff.checks.text_sample` reads text from."""
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    return [c for c in frame.columns if c != geometry and (
        frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c].dtype))]


def _w_probe(part: gpd.GeoDataFrame, *, per_col: int, keys: bool) -> dict[str, Any]:
    """On a worker: a raw partition's size, CRS, bounds, text heads and (parcels) keys."""
    out: dict[str, Any] = {
        "n": len(part),
        "crs": part.crs,
        "bounds": shapely.bounds(np.asarray(part.geometry.values, dtype=object)),
        "heads": {c: part[c].dropna().head(per_col).tolist() for c in _text_columns(part)},
    }
    if keys:
        out["keys"] = _parcel_keys(part)
    return out


def _settled(part: gpd.GeoDataFrame, crs: Any, swapped: bool) -> gpd.GeoDataFrame:
    """Return a raw partition with the CRS (and axis order) ``read_layer`` settled."""
    out = part if part.crs is not None and part.crs == crs else part.set_crs(
        crs, allow_override=True)
    if swapped:  # as checks.axis_order swaps them
        out = out.copy()
        geoms = np.asarray(out.geometry.values, dtype=object)
        out = out.set_geometry(gpd.GeoSeries(shapely.transform(geoms, lambda c: c[:, ::-1]),
                                             index=out.index, crs=out.crs))
    return out


def _w_centroids(part: gpd.GeoDataFrame, *, crs: Any, swapped: bool) -> np.ndarray:
    """On a worker: the centroid (x, y) of each feature, in the settled CRS."""
    geoms = np.asarray(_settled(part, crs, swapped).geometry.values, dtype=object)
    pts = shapely.centroid(geoms)
    return np.column_stack([shapely.get_x(pts), shapely.get_y(pts)])


def _boxes(bounds: np.ndarray) -> np.ndarray:
    """Return boxes from bounds (None where bounds are missing: an empty geometry matches none)."""
    ok = np.isfinite(bounds).all(axis=1)
    boxes = np.full(len(bounds), None, dtype=object)
    boxes[ok] = shapely.box(bounds[ok, 0], bounds[ok, 1], bounds[ok, 2], bounds[ok, 3])
    return boxes


def _query_boxes(tree: shapely.STRtree, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (query row, tree row) whose boxes meet, ordered by query row."""
    qi, ti = tree.query(_boxes(bounds))
    order = np.argsort(qi, kind="stable")
    return qi[order].astype(np.int64), ti[order].astype(np.int64)


def _w_parcel_pairs(
    parts: list[gpd.GeoDataFrame], offsets: list[int], *, crs: Any, swapped: bool,
    tree_data: tuple[np.ndarray, np.ndarray],
) -> dict[str, np.ndarray]:
    """On a worker: parcels whose boxes meet a parcel of another partition, with their geometry.

    The exact test (overlaps or contains) is left to the client, which gets both geometries of
    every such pair (the box test is symmetric, so the other parcel's worker sends its own).
    """
    bounds, node = tree_data
    tree = shapely.STRtree(_boxes(bounds))
    gi_all, gj_all, rows_all, wkb_all = [], [], [], []
    for part, offset in zip(parts, offsets, strict=True):
        mine = bounds[offset:offset + len(part)]
        li, gj = _query_boxes(tree, mine)
        gi = li + offset
        cross = node[gi] != node[gj]
        gi, gj = gi[cross], gj[cross]
        rows = np.unique(gi)
        geoms = np.asarray(_settled(part, crs, swapped).geometry.values, dtype=object)
        gi_all.append(gi)
        gj_all.append(gj)
        rows_all.append(rows)
        wkb_all.append(shapely.to_wkb(geoms[rows - offset]))
    return {"a": np.concatenate(gi_all), "b": np.concatenate(gj_all),
            "rows": np.concatenate(rows_all), "wkb": np.concatenate(wkb_all)}


def _w_building_pairs(
    parts: list[gpd.GeoDataFrame], offsets: list[int], *, crs: Any, swapped: bool,
    parcel_crs: Any, tree_data: tuple[np.ndarray, np.ndarray],
) -> dict[str, np.ndarray]:
    """On a worker: the parcel(s) each building may touch, found from boxes.

    A building whose candidate parcels all lie in one partition gets one of them (any will do:
    they share a task). For a building whose candidates lie in several partitions, every
    candidate pair and the building's geometry (in the parcels' CRS) are returned for the exact
    test on the client.
    """
    bounds, node = tree_data
    tree = shapely.STRtree(_boxes(bounds))
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("bi", "pi", "amb_b", "amb_p", "rows",
                                                        "wkb")}
    for part, offset in zip(parts, offsets, strict=True):
        geoms = _settled(part, crs, swapped).geometry
        if geoms.crs is not None and parcel_crs is not None and geoms.crs != parcel_crs:
            geoms = geoms.to_crs(parcel_crs)
        geoms = np.asarray(geoms.values, dtype=object)
        li, pj = _query_boxes(tree, shapely.bounds(geoms))
        pair_node = node[pj]
        lo = np.full(len(geoms), np.iinfo(np.int64).max)
        hi = np.full(len(geoms), -1)
        np.minimum.at(lo, li, pair_node)
        np.maximum.at(hi, li, pair_node)
        ambiguous = lo[li] != hi[li]
        first = np.ones(len(li), dtype=bool)
        first[1:] = li[1:] != li[:-1]
        keep = first & ~ambiguous
        out["bi"].append(li[keep] + offset)
        out["pi"].append(pj[keep])
        out["amb_b"].append(li[ambiguous] + offset)
        out["amb_p"].append(pj[ambiguous])
        rows = np.unique(li[ambiguous])
        out["rows"].append(rows + offset)
        out["wkb"].append(shapely.to_wkb(geoms[rows]))
    return {k: np.concatenate(v) for k, v in out.items()}


def _w_take_wkb(part: gpd.GeoDataFrame, local: np.ndarray, *, crs: Any,
                swapped: bool) -> np.ndarray:
    """On a worker: the geometry (WKB) of some rows of a partition."""
    geoms = np.asarray(_settled(part, crs, swapped).geometry.values, dtype=object)
    return shapely.to_wkb(geoms[local])


def _by_worker(client: Any, futures: list[Any]) -> dict[str | None, list[int]]:
    """Group futures (finished) by a worker that holds each, to run one call per worker."""
    who = client.who_has(futures)
    groups: dict[str | None, list[int]] = {}
    for i, f in enumerate(futures):
        holders = sorted(who.get(f.key, ()))
        groups.setdefault(holders[0] if holders else None, []).append(i)
    return groups


def _per_worker(client: Any, func: Callable[..., Any], layer: _GeoLayer,
                **kwargs: Any) -> list[Any]:
    """Run ``func(parts, offsets, **kwargs)`` once per worker on the partitions it holds."""
    out = []
    for worker, idx in _by_worker(client, layer.parts).items():
        out.append(client.submit(
            func, [layer.parts[i] for i in idx], [int(layer.offsets[i]) for i in idx],
            workers=[worker] if worker else None, allow_other_workers=True, pure=False,
            **kwargs,
        ))
    return out


def _garbled(layer: _GeoLayer, probes: list[dict[str, Any]]) -> bool:
    """Whether ``read_layer`` would find the layer's text garbled (and repair it).

    The sample it checks: the column names, then the first values of each text column.
    """
    per_col = max(1, 2000 // max(1, len(layer.columns)))
    sample: list[Any] = [str(c) for c in layer.columns]
    for col in layer.columns:
        values = [v for p in probes for v in p["heads"].get(col, [])]
        sample += values[:per_col]
    return checks.detect_mojibake(sample) is not None


def _probe_layer(client: Any, layer: _GeoLayer, *, keys: bool) -> list[dict[str, Any]]:
    """Submit the probe of every partition of a layer (futures)."""
    per_col = max(1, 2000 // max(1, len(layer.columns)))
    return client.map(_w_probe, layer.parts, per_col=per_col, keys=keys, pure=False)


def _settle_layer(client: Any, layer: _GeoLayer, probes: list[dict[str, Any]], *,
                  input_crs: Any, need_centroids: bool) -> np.ndarray | None:
    """Settle a layer's CRS and axis order as ``read_layer`` would, from the probes.

    Sets ``layer.offsets``, ``bounds``, ``crs``, ``swapped`` and ``notes`` (the warnings
    ``read_layer`` gives for the whole layer). Returns the centroids (x, y) of the features in
    the settled CRS when ``need_centroids`` or the CRS is projected (else None).
    """
    sizes = [p["n"] for p in probes]
    layer.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    bounds = np.vstack([p["bounds"] for p in probes]) if probes else np.empty((0, 4))
    # read_layer settles the CRS from the centres of the features' boxes: points there stand in
    x, y = (bounds[:, 0] + bounds[:, 2]) / 2.0, (bounds[:, 1] + bounds[:, 3]) / 2.0
    centres = shapely.points(x, y)
    centres[~(np.isfinite(x) & np.isfinite(y))] = None
    proxy = gpd.GeoDataFrame(geometry=gpd.GeoSeries(centres, crs=probes[0]["crs"]))
    notes: list[dict[str, Any]] = []
    proxy = settle_crs(proxy, layer.file, input_crs, notes)
    layer.crs = proxy.crs
    layer.swapped = any(n["code"] == "axes_swapped" for n in notes)
    layer.bounds = bounds[:, [1, 0, 3, 2]] if layer.swapped else bounds
    # the area-scale check measures from the features' centroids, not their boxes' centres
    layer.notes = [n for n in notes if n["code"] != "crs_not_site_zone"]
    projected = layer.crs is not None and layer.crs.is_projected
    if not (projected or need_centroids):
        return None
    xy = np.vstack(client.gather(client.map(
        _w_centroids, layer.parts, crs=layer.crs, swapped=layer.swapped, pure=False)))
    if projected:
        points = gpd.GeoDataFrame(geometry=gpd.GeoSeries(
            shapely.points(xy[:, 0], xy[:, 1]), crs=layer.crs))
        layer.notes += checks.area_scale(points, file=layer.file)
    return xy


def _parcel_geoms(client: Any, layer: _GeoLayer, rows: np.ndarray) -> np.ndarray:
    """Fetch the geometries of some parcels (global rows) from the workers."""
    out = np.full(len(rows), None, dtype=object)
    part_of = np.searchsorted(layer.offsets, rows, side="right") - 1
    futures = {}
    for p in np.unique(part_of):
        at = np.flatnonzero(part_of == p)
        futures[int(p)] = (at, client.submit(
            _w_take_wkb, layer.parts[p], rows[at] - layer.offsets[p], crs=layer.crs,
            swapped=layer.swapped, pure=False))
    for at, future in futures.values():
        out[at] = shapely.from_wkb(future.result())
    return out


def _geometric_pairs(
    client: Any, parcels: _GeoLayer, buildings: _GeoLayer | None, node: np.ndarray
) -> Callable[[], _Pairs]:
    """Start finding the parcel and building pairs that couple partitions, on the workers.

    Returns the function that waits for them (``pairs`` of :func:`_partition`): overlapping
    parcels of different partitions, and the parcels each building touches. The box tests run
    on the workers; the exact tests (overlaps / contains, intersects) only for pairs across
    partitions, on the client.
    """
    [tree_data] = client.scatter([(parcels.bounds, node)], broadcast=True)
    pjobs = _per_worker(client, _w_parcel_pairs, parcels, crs=parcels.crs,
                        swapped=parcels.swapped, tree_data=tree_data)
    bjobs = (
        _per_worker(client, _w_building_pairs, buildings, crs=buildings.crs,
                    swapped=buildings.swapped, parcel_crs=parcels.crs, tree_data=tree_data)
        if buildings is not None else []
    )
    del tree_data
    return lambda: _exact_pairs(client, parcels, client.gather(pjobs), client.gather(bjobs))


def _exact_pairs(client: Any, parcels: _GeoLayer, pres: list[dict[str, np.ndarray]],
                 bres: list[dict[str, np.ndarray]]) -> _Pairs:
    """Keep the pairs across partitions whose geometries really meet (see _geometric_pairs)."""
    known_rows = np.concatenate([r["rows"] for r in pres]) if pres else np.empty(0, np.int64)
    known_wkb = np.concatenate([r["wkb"] for r in pres]) if pres else np.empty(0, object)
    pa = np.concatenate([r["a"] for r in pres]) if pres else np.empty(0, np.int64)
    pb = np.concatenate([r["b"] for r in pres]) if pres else np.empty(0, np.int64)
    amb_b = np.concatenate([r["amb_b"] for r in bres]) if bres else np.empty(0, np.int64)
    amb_p = np.concatenate([r["amb_p"] for r in bres]) if bres else np.empty(0, np.int64)
    wanted = np.setdiff1d(np.unique(amb_p), known_rows)
    rows = np.concatenate([known_rows, wanted]).astype(np.int64)
    geoms = np.concatenate([shapely.from_wkb(known_wkb), _parcel_geoms(client, parcels, wanted)])
    order = np.argsort(rows, kind="stable")
    rows, geoms = rows[order], geoms[order]

    def geom(at: np.ndarray) -> np.ndarray:
        return geoms[np.searchsorted(rows, at)]

    if len(pa):
        ga, gb = geom(pa), geom(pb)
        exact = shapely.overlaps(ga, gb) | shapely.contains(ga, gb)
        pa, pb = pa[exact], pb[exact]
    bi = np.concatenate([r["bi"] for r in bres]) if bres else np.empty(0, np.int64)
    pi = np.concatenate([r["pi"] for r in bres]) if bres else np.empty(0, np.int64)
    if len(amb_b):
        brows = np.concatenate([r["rows"] for r in bres])
        bgeoms = shapely.from_wkb(np.concatenate([r["wkb"] for r in bres]))
        border = np.argsort(brows, kind="stable")
        brows, bgeoms = brows[border], bgeoms[border]
        exact = shapely.intersects(bgeoms[np.searchsorted(brows, amb_b)], geom(amb_p))
        bi = np.concatenate([bi, amb_b[exact]])
        pi = np.concatenate([pi, amb_p[exact]])
    return (pa, pb), (bi, pi)


def _w_split(
    part: gpd.GeoDataFrame, tasks: np.ndarray, *, offset: int, layer: Mapping[str, Any]
) -> dict[int, gpd.GeoDataFrame]:
    """On a worker: a raw partition as ``read_layer`` gives those rows, split by task.

    Key ``-1`` holds an empty frame with the columns (for a task with no rows here).
    """
    gdf = _settled(part, layer["crs"], layer["swapped"]).reset_index(drop=True)
    gdf.columns = [str(c) if c != gdf.geometry.name else c for c in gdf.columns]
    gdf["_file"] = layer["file"]
    gdf["_sheet"] = layer["sheet"]
    gdf["_row"] = pd.RangeIndex(offset + 1, offset + len(gdf) + 1)
    if layer["add_id"] is not None:
        column, prefix, width = layer["add_id"]
        gdf[column] = [f"{prefix}{i:0{width}d}" for i in range(offset + 1, offset + len(gdf) + 1)]
    out: dict[int, gpd.GeoDataFrame] = {-1: gdf.iloc[0:0]}
    order = np.argsort(tasks, kind="stable")
    bounds = np.flatnonzero(np.diff(tasks[order])) + 1
    for chunk in np.split(order, bounds):
        if len(chunk):
            out[int(tasks[chunk[0]])] = gdf.take(chunk)
    return out


def _w_pick(split: dict[int, gpd.GeoDataFrame], task: int) -> gpd.GeoDataFrame | None:
    """On a worker: one task's rows of a split partition (None when it has none)."""
    return split.get(task)


def _w_run_pieces(
    parcel_pieces: list[Any], building_pieces: list[Any] | None, enterprises: Any,
    contracts: Any, empty: tuple[Any, Any], options: Mapping[str, Any],
) -> Result:
    """On a worker: evaluate one task from its pieces of the layers (in row order)."""

    def join(pieces: list[Any], template: Any) -> gpd.GeoDataFrame:
        frames = [p for p in pieces if p is not None]
        if not frames:
            return template
        out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return out.reset_index(drop=True)

    parcels = join(parcel_pieces, empty[0])
    buildings = join(building_pieces, empty[1]) if building_pieces is not None else None
    return evaluate(parcels=parcels, buildings=buildings, enterprises=enterprises,
                    contracts=contracts, **options)


# ---------------------------------------------------------------------------------------------
# running


def _split_rows(frame: pd.DataFrame, task: np.ndarray, n_tasks: int) -> list[pd.DataFrame]:
    """Return the rows of ``frame`` of each task, in order (one reordering, then slices)."""
    order = np.argsort(task, kind="stable")
    ends = np.cumsum(np.bincount(task, minlength=n_tasks))
    ordered = frame.take(order)
    return [ordered.iloc[a:b].reset_index(drop=True)
            for a, b in zip(np.concatenate([[0], ends[:-1]]), ends, strict=True)]


def _take(frame: pd.DataFrame | None, mask: np.ndarray) -> pd.DataFrame | None:
    """Return the rows of ``frame`` where ``mask`` holds (taken by position: one pass)."""
    if frame is None:
        return None
    return frame.iloc[np.flatnonzero(mask)].reset_index(drop=True)


def _run_part(inputs: Mapping[str, Any], options: Mapping[str, Any]) -> Result:
    """Evaluate one task (runs on a worker)."""
    return evaluate(**inputs, **options)


def _collect(client: Any, submit: Callable[[int], Any], n_tasks: int, *, in_flight: int,
             progress: Any = None) -> list[Result]:
    """Run tasks ``0 .. n_tasks - 1`` with at most ``in_flight`` sent out at a time.

    ``submit(t)`` sends task ``t`` and returns its future. Results come back in task order.
    """
    from distributed import as_completed

    results: dict[int, Result] = {}
    task_of: dict[Any, int] = {}

    def send(t: int) -> Any:
        future = submit(t)
        task_of[future.key] = t
        return future

    pending = as_completed([send(t) for t in range(min(in_flight, n_tasks))])
    next_task = min(in_flight, n_tasks)
    for future in pending:
        results[task_of[future.key]] = future.result()
        future.release()
        if progress is not None:
            progress(f"task {len(results)}/{n_tasks} done")
        if next_task < n_tasks:
            pending.add(send(next_task))
            next_task += 1
    return [results[t] for t in range(n_tasks)]


def _run_tasks(
    client: Any,
    parts: Partitioning,
    raw: tuple[Any, Any, Any, Any],
    options: Mapping[str, Any],
    *,
    in_flight: int,
    progress: Any = None,
) -> list[Result]:
    """Run every task of inputs held on the client, at most ``in_flight`` sent out at a time.

    A task's rows are cut out and scattered to a worker only when a slot is free, so that neither
    the workers nor the scheduler hold the whole input at once.
    """
    masks = (parts.parcel_task, parts.building_task, parts.enterprise_task, parts.contract_task)
    names = ("parcels", "buildings", "enterprises", "contracts")

    def submit(t: int) -> Any:
        frames = [_take(frame, mask == t) for frame, mask in zip(raw, masks, strict=True)]
        # scattered first, so big frames go to a worker directly and not through the task graph
        # (a list, not a dict: scatter would take the dict's keys as the data's keys)
        data = dict(zip(names, client.scatter(frames, direct=True, hash=False), strict=True))
        return client.submit(_run_part, data, options, pure=False)

    return _collect(client, submit, parts.n_tasks, in_flight=in_flight, progress=progress)


def _run_geoparquet_tasks(
    client: Any,
    parts: Partitioning,
    layers: tuple[_GeoLayer, _GeoLayer | None],
    tables: _Tables,
    options: Mapping[str, Any],
    *,
    in_flight: int,
    progress: Any = None,
) -> list[Result]:
    """Run every task of layers held on the workers: each task gathers its rows from them.

    Every partition is split by task where it lies; a task's pieces then travel from worker to
    worker, never through the client. The tables are split on the client and every task's rows
    scattered at once (the workers hold the layers already), so the client lets them go before
    the results come back.
    """
    scattered = [
        client.scatter(_split_rows(frame, task, parts.n_tasks), direct=True, hash=False)
        if frame is not None else [None] * parts.n_tasks
        for frame, task in ((tables.enterprises, parts.enterprise_task),
                            (tables.contracts, parts.contract_task))
    ]
    tables.clear()
    splits: list[list[Any]] = []
    for layer, tasks in zip(layers, (parts.parcel_task, parts.building_task), strict=True):
        if layer is None:
            splits.append([])
            continue
        info = {"file": layer.file, "sheet": layer.sheet, "crs": layer.crs,
                "swapped": layer.swapped, "add_id": layer.add_id}
        splits.append([
            client.submit(_w_split, part, tasks[layer.offsets[i]:layer.offsets[i + 1]],
                          offset=int(layer.offsets[i]), layer=info, pure=False)
            for i, part in enumerate(layer.parts)
        ])
        layer.parts = []  # the raw partitions go once split (the splits hold the rows)
    empty = tuple(client.submit(_w_pick, s[0], -1, pure=False) if s else None for s in splits)

    def submit(t: int) -> Any:
        pieces = [[client.submit(_w_pick, s, t, pure=False) for s in layer_splits]
                  for layer_splits in splits]
        future = client.submit(
            _w_run_pieces, pieces[0], pieces[1] if layers[1] is not None else None,
            scattered[0][t], scattered[1][t], empty, options, pure=False,
        )
        scattered[0][t] = scattered[1][t] = None  # the task holds them now
        if t == parts.n_tasks - 1:  # every task has its pieces: the splits may go
            for layer_splits in splits:
                layer_splits.clear()
        return future

    return _collect(client, submit, parts.n_tasks, in_flight=in_flight, progress=progress)


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


@dataclass
class _Tables:
    """The tables read on the client, held here so that a way in can let them go early."""

    enterprises: pd.DataFrame | None
    contracts: pd.DataFrame | None
    enterprise_keys: pd.DataFrame | None  #: :func:`_enterprise_keys` of ``enterprises``

    def clear(self) -> None:
        """Let the tables go (their rows have been sent to the workers)."""
        self.enterprises = self.contracts = self.enterprise_keys = None


@dataclass
class _Run:
    """What a way in gives :func:`combine_results`."""

    results: list[Result]  #: one per task
    id_warnings: list[dict[str, Any]]  #: the warning that parcel ids were made (or none)
    layer_notes: list[dict[str, Any]]  #: the read warnings of the whole layers
    layer_checks_local: bool  #: whether the tasks' layer checks hold for the whole layer


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
        As for :func:`landeff.evaluate` (paths or frames). Parcels are required. GeoParquet
        layers (a file, or a folder of files) are read on the workers; other inputs on the
        client.
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
        The same tables as :func:`landeff.evaluate` gives. ``timings`` holds ``start`` (the
        cluster's start-up), ``read`` (the client's reading; for GeoParquet layers also the wait
        for the workers' reading), ``partition``, the stages ``validate`` ... ``flag`` (summed
        over tasks, scaled to the wall time of the cluster phase), ``cluster`` (that wall time),
        ``task_seconds`` (the stage seconds summed over tasks) and ``combine``.
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
    client, own_client, cluster = _client(scheduler, n_workers)
    timings["start"] = time.perf_counter() - start
    try:
        workers = max(1, len(client.scheduler_info().get("workers", {})) or n_workers)
        n_tasks = workers * tasks_per_worker
        options = {k: v for k, v in kwargs.items() if k in _PASSED}
        options["policy"] = load_policy(kwargs.get("policy"))
        # strict mode raises once, for the whole run, as the single engine does (not per task)
        options["strict"] = False

        start = time.perf_counter()
        layers = _open_layers(client, parcels, buildings, parcels_layer, buildings_layer)
        raw_e = (read_table(enterprises, kind="enterprises", sheet=sheet, encoding=encoding)
                 if enterprises is not None else None)
        raw_c = (read_table(contracts, kind="contracts", sheet=sheet, encoding=encoding)
                 if contracts is not None else None)
        ent_keys = _enterprise_keys(raw_e) if raw_e is not None and len(raw_e) else None
        chosen = year
        if chosen is None and ent_keys is not None:
            years = ent_keys["year"]
            if years.notna().any():
                as_of = pd.Timestamp(kwargs["as_of"]).date()
                chosen = choose_year(years.dropna(), as_of)
        options["year"] = chosen
        tables = _Tables(raw_e, raw_c, ent_keys)
        del raw_e, raw_c, ent_keys  # held by ``tables`` only, which a way in may clear
        run = None
        if layers is not None:
            run = _evaluate_geoparquet(
                client, layers, tables, options, input_crs=input_crs,
                partition_by=partition_by, n_tasks=n_tasks, grid_km=grid_km,
                in_flight=workers + 1, progress=progress, timings=timings, start=start,
            )
        if run is None:
            run = _evaluate_on_client(
                client, (parcels, buildings), tables, options, input_crs=input_crs,
                layer_names=(parcels_layer, buildings_layer), encoding=encoding,
                partition_by=partition_by, n_tasks=n_tasks, grid_km=grid_km,
                in_flight=workers + 1, progress=progress, timings=timings, start=start,
            )
        tables.clear()  # the inputs go before the results are combined
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()

    start = time.perf_counter()
    results = run.results
    result = combine_results(results, extra_warnings=run.id_warnings, layer_notes=run.layer_notes,
                             layer_checks_local=run.layer_checks_local,
                             parcel_ids_made=bool(run.id_warnings), year=chosen,
                             name=kwargs.get("name", ""), consume=True)
    timings["combine"] = time.perf_counter() - start
    stage_sum = {s: sum(r.timings.get(s, 0.0) for r in results)
                 for s in ("validate", "project", "join", "measure", "flag")}
    total = sum(stage_sum.values())
    scale = timings["cluster"] / total if total > 0 else 0.0
    result.timings = {
        "start": timings["start"],
        "read": timings["read"],
        **{s: v * scale for s, v in stage_sum.items()},
        "partition": timings["partition"],
        "cluster": timings["cluster"],
        "task_seconds": total,
        "combine": timings["combine"],
    }
    result.diagnostics.strict = bool(kwargs.get("strict", False))
    result.diagnostics.raise_if_warnings()
    return result


def _open_layers(client: Any, parcels: Any, buildings: Any, parcels_layer: str | None,
                 buildings_layer: str | None) -> tuple[_GeoLayer, _GeoLayer | None] | None:
    """Start reading the layers on the workers when both are GeoParquet (or buildings absent)."""
    if _geoparquet_path(parcels) is None or (
        buildings is not None and _geoparquet_path(buildings) is None
    ):
        return None
    p = _open_geoparquet(client, parcels, layer=parcels_layer)
    b = _open_geoparquet(client, buildings, layer=buildings_layer) if buildings is not None else None
    if p is None or (buildings is not None and b is None):
        return None
    return p, b


def _evaluate_geoparquet(
    client: Any,
    layers: tuple[_GeoLayer, _GeoLayer | None],
    tables: _Tables,
    options: Mapping[str, Any],
    *,
    input_crs: Any,
    partition_by: str | None,
    n_tasks: int,
    grid_km: float,
    in_flight: int,
    progress: Any,
    timings: dict[str, float],
    start: float,
) -> _Run | None:
    """Evaluate with the layers read on the workers (None: read them on the client instead)."""
    planned = _plan_geoparquet(client, layers, tables, input_crs=input_crs,
                               partition_by=partition_by, n_tasks=n_tasks, grid_km=grid_km,
                               timings=timings, start=start)
    if planned is None:
        return None
    parts, notes, id_warnings = planned
    start = time.perf_counter()
    results = _run_geoparquet_tasks(client, parts, layers, tables, options,
                                    in_flight=in_flight, progress=progress)
    timings["cluster"] = time.perf_counter() - start
    return _Run(results, id_warnings, notes, parts.layer_checks_local)


def _plan_geoparquet(
    client: Any,
    layers: tuple[_GeoLayer, _GeoLayer | None],
    tables: _Tables,
    *,
    input_crs: Any,
    partition_by: str | None,
    n_tasks: int,
    grid_km: float,
    timings: dict[str, float],
    start: float,
) -> tuple[Partitioning, list[dict[str, Any]], list[dict[str, Any]]] | None:
    """Partition layers read on the workers: (partitioning, read warnings, id warning).

    None when the layers must be read on the client instead (no rows, or garbled text).
    """
    pl, bl = layers
    p_probe = _probe_layer(client, pl, keys=True)
    b_probe = _probe_layer(client, bl, keys=False) if bl is not None else []
    add_p, add_b, id_warnings = _missing_ids(pl.empty, bl.empty if bl else None, pl.file,
                                             bl.file if bl else None)
    pl.add_id = ("parcel_id", "P", 5) if add_p else None
    if bl is not None:
        bl.add_id = ("building_id", "B", 6) if add_b else None
    p_found = client.gather(p_probe)
    b_found = client.gather(b_probe)
    if sum(p["n"] for p in p_found) == 0 or _garbled(pl, p_found) or (
        bl is not None and _garbled(bl, b_found)
    ):
        return None
    keys = pd.concat([p.pop("keys") for p in p_found], ignore_index=True)
    if add_p:
        keys["parcel_id"] = [f"P{i:05d}" for i in range(1, len(keys) + 1)]
    chosen_key = _choose_key(keys, partition_by)
    xy = _settle_layer(client, pl, p_found, input_crs=input_crs,
                       need_centroids=chosen_key == "grid")
    if bl is not None:
        _settle_layer(client, bl, b_found, input_crs=input_crs, need_centroids=False)
    del p_found, b_found
    timings["read"] = time.perf_counter() - start

    start = time.perf_counter()
    lonlat = None
    if chosen_key == "grid":
        assert xy is not None
        lonlat = lonlat_of(gpd.GeoSeries(shapely.points(xy[:, 0], xy[:, 1]), crs=pl.crs))
    # the node (park, county or cell) of each parcel, to tell pairs across partitions
    raw_key = (_grid_cells(lonlat[0], lonlat[1], grid_km) if lonlat is not None else
               pd.Series(keys[chosen_key], dtype=object).fillna("").astype(str).to_numpy())
    node = pd.factorize(pd.Series(raw_key, dtype=object))[0].astype(np.int64)
    pairs = _geometric_pairs(client, pl, bl, node)  # on the workers while the tables are matched
    parts = _partition(
        keys, partition_by=chosen_key, lonlat=lonlat, grid_km=grid_km, pairs=pairs,
        n_buildings=bl.n_rows if bl is not None else 0,
        enterprises=tables.enterprises, contracts=tables.contracts, n_tasks=n_tasks,
        enterprise_keys=tables.enterprise_keys,
    )
    timings["partition"] = time.perf_counter() - start
    notes = pl.notes + (bl.notes if bl is not None else [])
    return parts, notes, id_warnings


def partition_geoparquet(
    parcels: str | os.PathLike[str],
    *,
    client: Any,
    buildings: str | os.PathLike[str] | None = None,
    enterprises: pd.DataFrame | None = None,
    contracts: pd.DataFrame | None = None,
    partition_by: str | None = None,
    n_tasks: int = 8,
    grid_km: float = GRID_KM,
    input_crs: Any = None,
) -> Partitioning:
    """Split GeoParquet layers, read on the workers of ``client``, into tasks.

    The same split as :func:`partition_inputs` gives for the layers read whole; the geometry
    stays on the workers (see the module's notes).

    Parameters
    ----------
    parcels, buildings : path
        GeoParquet files, or folders of them.
    client : distributed.Client
        A connected client.
    enterprises, contracts : DataFrame, optional
        Raw tables as :func:`landeff.io.tables.read_table` returns them.
    partition_by, n_tasks, grid_km
        As for :func:`partition_inputs`.
    input_crs : optional
        As for :func:`landeff.evaluate`.

    Returns
    -------
    Partitioning

    Raises
    ------
    InputError
        When a layer is not GeoParquet, or its text is garbled (read it with ``read_layer``).
    """
    layers = _open_layers(client, parcels, buildings, None, None)
    planned = None
    if layers is not None:
        planned = _plan_geoparquet(client, layers, _Tables(enterprises, contracts, None),
                                   input_crs=input_crs,
                                   partition_by=partition_by, n_tasks=n_tasks, grid_km=grid_km,
                                   timings={}, start=time.perf_counter())
    if planned is None:
        msg = (
            f"{parcels} / {buildings}: not GeoParquet layers with rows and readable text; read "
            "them with landeff.io.vector.read_layer and use partition_inputs."
        )
        raise InputError(msg)
    return planned[0]


def _evaluate_on_client(
    client: Any,
    layers: tuple[Any, Any],
    tables: _Tables,
    options: Mapping[str, Any],
    *,
    input_crs: Any,
    layer_names: tuple[str | None, str | None],
    encoding: str | None,
    partition_by: str | None,
    n_tasks: int,
    grid_km: float,
    in_flight: int,
    progress: Any,
    timings: dict[str, float],
    start: float,
) -> _Run:
    """Evaluate with the layers read and split on the client, each task's rows sent out."""
    parcels, buildings = layers
    raw_p = read_layer(parcels, layer=layer_names[0], input_crs=input_crs, encoding=encoding)
    raw_b = (read_layer(buildings, layer=layer_names[1], input_crs=input_crs, encoding=encoding)
             if buildings is not None else None)
    notes = list(raw_p.attrs.get("read_warnings", []))
    if raw_b is not None:
        notes += raw_b.attrs.get("read_warnings", [])
    timings["read"] = time.perf_counter() - start

    start = time.perf_counter()
    raw_p, raw_b, extra_warnings = _fill_ids(raw_p, raw_b)
    raw_e, raw_c = tables.enterprises, tables.contracts
    parts = _partition_frames(
        raw_p, buildings=raw_b, enterprises=raw_e, contracts=raw_c,
        partition_by=partition_by, n_tasks=n_tasks, grid_km=grid_km,
        enterprise_keys=tables.enterprise_keys,
    )
    timings["partition"] = time.perf_counter() - start

    start = time.perf_counter()
    tables.enterprise_keys = None
    results = _run_tasks(client, parts, (raw_p, raw_b, raw_e, raw_c), options,
                         in_flight=in_flight, progress=progress)
    del raw_p, raw_b, raw_e, raw_c
    timings["cluster"] = time.perf_counter() - start
    return _Run(results, extra_warnings, notes, parts.layer_checks_local)


def _missing_ids(
    parcels: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame | None, parcel_file: str,
    building_file: str | None,
) -> tuple[bool, bool, list[dict[str, Any]]]:
    """Whether parcel and building ids must be made here, and the warning the single engine gives.

    The single engine numbers parcels ``P00001`` ... and buildings ``B000001`` ... in row order;
    made per partition they would clash, so they are made for the whole layer instead.
    ``parcels`` and ``buildings`` may be empty frames with the layers' columns.
    """
    def has(frame: pd.DataFrame, kind: str, file: str, name: str) -> bool:
        columns = [str(c) for c in frame.columns]
        mapping = map_headers(columns, kind, file=file, diagnostics=Diagnostics())
        return name in {n for n, _ in mapping.values()}

    add_b = buildings is not None and not has(
        buildings, "buildings", building_file or "<buildings>", "building_id")
    add_p = not has(parcels, "parcels", parcel_file, "parcel_id")
    warnings: list[dict[str, Any]] = []
    if add_p:  # the warning prepare_parcels gives when it numbers the parcels itself
        from .validate import prepare_parcels

        probe = Diagnostics()
        prepare_parcels(parcels.iloc[0:0].copy(), diagnostics=probe)
        # an empty frame names no file: the single engine names the layer's
        empty_name = "<parcels>"
        for w in probe.warning_rows:
            if w["code"] == "parcel_id_generated":
                w = dict(w)
                if w.get("file") in (None, empty_name):
                    w["file"] = parcel_file
                    w["message"] = w["message"].replace(empty_name, parcel_file, 1)
                warnings.append(w)
    return add_p, add_b, warnings


def _fill_ids(
    parcels: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame | None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None, list[dict[str, Any]]]:
    """Give parcel and building ids where a layer has none, as the single engine does.

    Ids made per partition would clash; they are made here, in input order, instead.
    """
    file_p = str(parcels["_file"].iloc[0]) if len(parcels) else "<parcels>"
    file_b = (str(buildings["_file"].iloc[0]) if buildings is not None and len(buildings)
              else "<buildings>")
    add_p, add_b, warnings = _missing_ids(parcels, buildings, file_p, file_b)
    if add_b and buildings is not None:
        buildings = buildings.copy()
        buildings["building_id"] = [f"B{i:06d}" for i in range(1, len(buildings) + 1)]
    if add_p:
        parcels = parcels.copy()
        parcels["parcel_id"] = [f"P{i:05d}" for i in range(1, len(parcels) + 1)]
    return parcels, buildings, warnings


# ---------------------------------------------------------------------------------------------
# combining


def _layer_checks(parcels: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Run the parcel checks that look at the whole layer once, on all parcels.

    :func:`landeff.checks.far_outside` measures each parcel from the middle of its park, or of the
    whole layer when there is no park or county column: when a group is split between tasks, its
    warnings from the tasks are replaced by one run on all parcels.
    """
    probe = Diagnostics()
    wanted = ("parcel_id", "_file", "_sheet", "_row", *getattr(checks, "GROUP_COLUMNS", ()))
    cols = [c for c in wanted if c in parcels]
    frame = gpd.GeoDataFrame(  # only what the check reads
        parcels[cols].reset_index(drop=True), geometry=parcels.geometry.to_numpy(),
        crs=parcels.crs,
    )
    checks.far_outside(frame, diagnostics=probe)
    return [w for w in probe.warning_rows if w["code"] in LAYER_CHECKS]


def _concat(frames: list[pd.DataFrame], *, ignore_index: bool = True) -> pd.DataFrame:
    """Concatenate partial frames, keeping the dtype a column has where it holds values.

    A partition without (say) graded enterprises gives an all-missing ``object`` column where the
    others give ``string``; the combined column takes the dtype of the partitions with values.
    Only columns whose dtype differs between the frames are looked at.
    """
    kept = [f for f in frames if len(f)] or frames[:1]
    out = pd.concat(kept, ignore_index=ignore_index)
    seen: dict[str, set[str]] = {}
    for f in kept:
        for col, dtype in f.dtypes.items():
            seen.setdefault(col, set()).add(str(dtype))
    for col in [c for c, d in seen.items() if len(d) > 1 or str(out[c].dtype) not in d]:
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
    seen: set[str] = set()
    out = []
    for row in rows:
        key = repr(tuple(row.items()))
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def _findings_order(findings: pd.DataFrame) -> np.ndarray:
    """Row order of combined findings as the single engine orders them.

    Parcel findings before enterprise findings, then by key (the ``finding_id`` up to its last
    ``:``); within a key, the order of the one task that holds that key.
    """
    ids = findings["finding_id"].astype("str")
    key = ids.str.replace(r":[^:]*$", "", regex=True)
    rank, _ = pd.factorize(key, sort=True)
    rank = np.where(rank < 0, len(findings), rank)
    level = (findings["level"] != "parcel").to_numpy(dtype=np.int64)
    return np.lexsort((rank, level))


def _note_rows(notes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Warning rows of reader notes, as :func:`landeff.validate.standardise` records them."""
    diag = Diagnostics()
    for note in notes:
        diag.warn(**note)
    return diag.warning_rows


def combine_results(
    results: list[Result],
    *,
    extra_warnings: list[dict[str, Any]] | None = None,
    layer_notes: list[dict[str, Any]] | None = None,
    layer_checks_local: bool = False,
    parcel_ids_made: bool = False,
    year: int | None,
    name: str = "",
    consume: bool = False,
) -> Result:
    """Combine the results of partitions into one, as the single-machine engine orders it.

    Parameters
    ----------
    results : list of Result
        One per task.
    extra_warnings : list of dict, optional
        Warning rows to add (the generated-ids warning).
    layer_notes : list of dict, optional
        The read warnings of the whole layers; they replace those each task gave for its part.
    layer_checks_local : bool
        Whether the tasks' :data:`LAYER_CHECKS` warnings are the whole layer's (else the checks
        are run again on all parcels).
    parcel_ids_made : bool
        Whether the parcel ids were made here (``P00001`` ...): the single engine makes them
        after reading the ids, so they keep the dtype pandas gives a list of text.
    year : int, optional
        The year evaluated.
    name : str
        The run's name.
    consume : bool
        Empty each task's tables once they are combined (their rows are then held once, not
        twice); the tasks' diagnostics and timings are kept.
    """
    first = results[0]

    def parts(table: str) -> list[pd.DataFrame]:
        frames = [getattr(r, table) for r in results]
        if consume:
            for r, frame in zip(results, frames, strict=True):
                setattr(r, table, frame.iloc[0:0])
        return frames

    parcels = _concat(parts("parcels"), ignore_index=False)
    parcels.index = parcels.index.astype(first.parcels.index.dtype)  # concat infers str
    if parcel_ids_made:
        text = pd.Series(["P00001"]).dtype
        parcels["parcel_id"] = parcels["parcel_id"].astype(text)
        parcels.index = parcels.index.astype(text)
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

    buildings = by_parcel(_concat(parts("buildings")), "building_id")
    buildings = gpd.GeoDataFrame(buildings, geometry=first.buildings.geometry.name,
                                 crs=first.buildings.crs)
    remainders = by_parcel(_concat(parts("remainders")))
    remainders = gpd.GeoDataFrame(remainders, geometry=first.remainders.geometry.name,
                                  crs=first.remainders.crs)

    def by_row(frame: pd.DataFrame) -> pd.DataFrame:
        if "_row" in frame and len(frame):
            return frame.sort_values("_row", kind="stable").reset_index(drop=True)
        return frame.reset_index(drop=True)

    enterprises = by_row(_concat(parts("enterprises")))
    enterprise_years = by_row(_concat(parts("enterprise_years")))
    links = by_parcel(_concat(parts("links")))
    findings = _concat(parts("findings"))
    if len(findings):
        findings = findings.take(_findings_order(findings)).reset_index(drop=True)
    drop = set() if layer_checks_local else set(LAYER_CHECKS)
    warnings = list(extra_warnings or [])
    if layer_notes is not None:
        drop |= LAYER_READ_CODES
        warnings = _note_rows(layer_notes) + warnings
    for r in results:
        warnings += [w for w in r.diagnostics.warning_rows if w["code"] not in drop]
    if not layer_checks_local:
        warnings += _layer_checks(parcels)
    diag = Diagnostics()
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
