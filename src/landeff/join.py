"""Join the layers: buildings clipped to parcels, enterprises linked to parcels, land attributed.

Rules (docs/schema.md, DOMAIN.md "Tenants"):

* A building is clipped at parcel edges; a building on two parcels is split by area, and a surveyed
  ``floor_area_m2`` is split by footprint share.
* An enterprise row belongs to the parcels in its ``parcel_ids``; where it has none, to the parcels
  whose ``holder_uscc`` is its ``uscc``; where codes are missing, to an exact match of the normalised
  name (with a warning). A row that links to nothing is rejected.
* Land: a tenant's land is parcel area × its rented floor area ÷ the parcel's floor area; the rest of
  the parcel is the holder's. A parcel's land is counted exactly once.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from .crs import (
    PolygonRings,
    concat_ranges,
    planar_area_m2,
    polygon_areas,
    project_coords,
    ring_areas,
)
from .errors import Diagnostics
from .parallel import query_in_runs, rowwise
from .validate import normalise_names

#: Pieces of a building smaller than this (m²) after clipping are slivers of a shared edge.
SLIVER_M2 = 0.01
#: A storey higher than this (m) counts twice in the floor area counted for FAR.
DOUBLE_STOREY_M = 8.0


def clip_buildings(
    parcels: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    diagnostics: Diagnostics,
    assume_valid: bool = False,
) -> gpd.GeoDataFrame:
    """Clip buildings to parcels and measure each piece.

    Parameters
    ----------
    parcels : GeoDataFrame
        Validated parcels with ``parcel_id`` and ``area_epsg`` (the zone each is measured in).
    buildings : GeoDataFrame
        Validated buildings with optional ``floors``, ``storey_height_m``, ``height_m``,
        ``floor_area_m2``.
    assume_valid : bool
        True when every polygon of ``buildings`` is known to be valid, as
        :func:`landeff.validate.repair_geometry` leaves them (``prepare_buildings``); saves testing
        each. Ignored when the buildings must be reprojected to the parcels' CRS (a projection
        can make a polygon invalid).

    Returns
    -------
    GeoDataFrame
        One row per (building, parcel) piece, in the parcels' CRS: ``building_id, parcel_id,
        footprint_m2, floors, storey_height_m, floor_area_m2, far_floor_area_m2, double_storey``.
    """
    reprojected = buildings.crs != parcels.crs
    b = buildings.to_crs(parcels.crs) if reprojected else buildings
    b = b.reset_index(drop=True)
    if "building_id" not in b:
        b["building_id"] = [f"B{i:06d}" for i in range(1, len(b) + 1)]
    geoms = np.asarray(b.geometry.values, dtype=object)
    # with assume_valid: repair_geometry made every polygonal geometry valid (make_valid, its
    # polygonal parts kept, several parts unioned), and validity is only read for polygons below
    skip_test = assume_valid and not reprojected
    valid = np.ones(len(b), dtype=bool) if skip_test else shapely.is_valid(geoms)
    dup = _duplicate_buildings(b, valid, diagnostics=diagnostics)
    if dup.any():
        b, valid = b.loc[~dup].reset_index(drop=True), valid[~dup]
    bgeom = np.asarray(b.geometry.values, dtype=object)
    pgeom = np.asarray(parcels.geometry.values, dtype=object)
    rings = PolygonRings.of(bgeom)
    bi, pi, inside = _intersecting_pairs(bgeom, pgeom, valid & rings.handled)
    # zones as integer codes (the area_epsg values themselves are objects: codes or CRS text)
    zone_of_parcel, zone_values = pd.factorize(
        parcels["area_epsg"].to_numpy(), use_na_sentinel=False
    )
    zones = zone_of_parcel[pi]
    pieces, simple, pair_rings = _clip_pairs(bgeom, pgeom, bi, pi, valid, rings, inside)
    # every building measured once, in the zone of the first parcel it touches, from its
    # coordinates (polygons) or its projected geometry (anything else)
    first_zone = _zone_of_buildings(len(b), bi, zones)
    planar = project_coords(
        rings.coords,
        np.repeat(first_zone[rings.of_geometry], rings.points_per_geometry),
        zone_values,
        parcels.crs,
    )
    full_area = np.full(len(b), np.nan)
    full_area[rings.of_geometry] = polygon_areas(planar, rings.ring_offsets, rings.polygon_offsets)
    other = np.flatnonzero(~rings.handled & (first_zone >= 0))
    full_area[other] = _planar_area(bgeom[other], first_zone[other], zone_values, parcels.crs)
    # a piece that is a whole polygon (its rings rewritten) in that same zone: from those
    # coordinates too; the other pieces are projected in their parcel's zone
    piece_area = np.full(len(bi), np.nan)
    measured = np.zeros(len(bi), dtype=bool)
    if pair_rings is not None:
        at, coord_index, ring_offsets, polygon_offsets = pair_rings
        usable = zones[at] == first_zone[bi[at]]
        area = polygon_areas(planar[coord_index], ring_offsets, polygon_offsets)
        piece_area[at[usable]] = area[usable]
        measured[at[usable]] = True
    rest = np.flatnonzero(~measured)
    piece_area[rest] = _planar_area(pieces[rest], zones[rest], zone_values, parcels.crs)
    keep = piece_area > SLIVER_M2
    bi, pi, pieces, piece_area = bi[keep], pi[keep], pieces[keep], piece_area[keep]

    zone_b = _zone_of_buildings(len(b), bi, zones[keep])
    moved = np.flatnonzero((zone_b != first_zone) & (zone_b >= 0))
    if len(moved):
        full_area[moved] = _planar_area(bgeom[moved], zone_b[moved], zone_values, parcels.crs)
    on_parcel = np.zeros(len(b), dtype=bool)
    on_parcel[bi] = True
    outside = np.flatnonzero(~on_parcel)
    if len(outside):
        diagnostics.reject(
            b.iloc[outside],
            "building_outside_parcels",
            "building lies on no parcel; it counts for no FAR or density",
            column="building_id",
        )
    share = np.divide(
        piece_area, full_area[bi], out=np.ones_like(piece_area), where=full_area[bi] > 0
    )
    share = np.minimum(share, 1.0)

    floors = _col(b, "floors")[bi]
    storey = _col(b, "storey_height_m")[bi]
    height = _col(b, "height_m")[bi]
    given_fa = _col(b, "floor_area_m2")[bi]
    no_floors = np.isnan(floors) & np.isnan(given_fa)
    if no_floors.any():
        missing = np.unique(bi[no_floors])
        diagnostics.warn_rows(
            b.iloc[missing],
            "floors_assumed",
            "building has neither 层数 (floors) nor 建筑面积; taken as one storey",
            column="building_id",
        )
    floors_used = np.where(np.isnan(floors), np.where(np.isnan(given_fa), 1.0, np.nan), floors)
    with np.errstate(invalid="ignore", divide="ignore"):
        storey_h = np.where(np.isnan(storey), height / floors_used, storey)
    floor_area = np.where(np.isnan(given_fa), piece_area * floors_used, given_fa * share)
    double = np.nan_to_num(storey_h, nan=0.0) > DOUBLE_STOREY_M
    far_floor = np.where(double, 2.0 * floor_area, floor_area)

    out = gpd.GeoDataFrame(
        {
            "building_id": b["building_id"].to_numpy()[bi],
            "parcel_id": parcels["parcel_id"].to_numpy()[pi],
            "footprint_m2": piece_area,
            "floors": floors_used,
            "storey_height_m": storey_h,
            "floor_area_m2": floor_area,
            "far_floor_area_m2": far_floor,
            "double_storey": double,
            "share_of_building": share,
        },
        geometry=pieces,
        crs=parcels.crs,
    )
    return out


def _planar_area(
    geoms: np.ndarray, zone: np.ndarray, zone_values: np.ndarray, crs: object
) -> np.ndarray:
    """Return the area in m² of each geometry projected to ``zone_values[zone]`` (NaN: zone -1)."""
    if len(geoms) == 0:
        return np.zeros(0)
    codes = np.asarray(zone_values, dtype=object)[np.maximum(zone, 0)]
    codes[zone < 0] = -1
    return planar_area_m2(gpd.GeoSeries(geoms, crs=crs), pd.Series(codes, dtype=object)).to_numpy()


def _overlay_layout(rings: PolygonRings) -> tuple[np.ndarray, np.ndarray]:
    """Return how GEOS overlay rewrites the polygons of ``rings`` where it leaves them unchanged.

    ``intersection`` of a valid polygon with one that contains it returns the same rings,
    each oriented (shell clockwise, holes counter-clockwise; a ring is reversed from its
    first vertex) and starting at its second vertex. Returned: for each output coordinate,
    the index of its input coordinate in ``rings.coords``; and whether each polygon can be
    rewritten so (not with repeated consecutive vertices, which overlay drops).
    """
    n_rings = len(rings.ring_offsets) - 1
    ring_size = np.diff(rings.ring_offsets)
    ccw = _is_ccw(rings.coords, rings.ring_offsets)
    ring_of = np.repeat(np.arange(n_rings), ring_size)
    owner_of_ring = np.repeat(np.arange(len(rings.of_geometry)), np.diff(rings.polygon_offsets))
    start = rings.ring_offsets[:-1]
    j = np.arange(len(ring_of)) - start[ring_of]  # position in the ring, 0 .. m (closing)
    m = (ring_size - 1)[ring_of]  # distinct vertices of the ring
    shell = np.zeros(n_rings, dtype=bool)
    shell[rings.polygon_offsets[:-1]] = True
    reverse = (ccw == shell)[ring_of]
    jj = np.where(j == m, 0, j)
    source = start[ring_of] + np.where(reverse, m - 1 - jj, (jj + 1) % np.maximum(m, 1))
    same_as_next = np.zeros(len(rings.coords), dtype=bool)
    same_as_next[:-1] = (rings.coords[1:] == rings.coords[:-1]).all(axis=1) & (
        ring_of[1:] == ring_of[:-1]
    )
    bad_ring = np.bincount(ring_of[same_as_next], minlength=n_rings) > 0
    ok = np.bincount(owner_of_ring[bad_ring], minlength=len(rings.of_geometry)) == 0
    return source, ok


def _is_ccw(coords: np.ndarray, ring_offsets: np.ndarray) -> np.ndarray:
    """Return whether each closed ring runs counter-clockwise, as ``shapely.is_ccw`` says.

    A valid ring has a non-zero area whose sign is its orientation; the sign is read from the
    shoelace sum (:func:`~landeff.crs.ring_areas`, negative when counter-clockwise) where the
    sum is far above its rounding error, and from ``shapely.is_ccw`` for the few rings where it
    is not (slivers, degenerate rings).
    """
    signed = ring_areas(coords, ring_offsets)
    size = np.diff(ring_offsets)
    ccw = signed < 0
    starts = ring_offsets[:-1]
    nonempty = size > 0
    extent = np.zeros(len(size))
    if nonempty.any():
        s = starts[nonempty]
        width = np.maximum.reduceat(coords[:, 0], s) - np.minimum.reduceat(coords[:, 0], s)
        height = np.maximum.reduceat(coords[:, 1], s) - np.minimum.reduceat(coords[:, 1], s)
        extent[nonempty] = np.maximum(width, height)
    # rounding error of the sum: below (terms) * (a few ulp) * extent² per term; 1e-10 * size²
    # is far above it for any ring of fewer than millions of points
    unsure = (size >= 4) & ~(np.abs(signed) > 1e-10 * size.astype(float) ** 2 * extent**2)
    if unsure.any():
        at = np.flatnonzero(unsure)
        points = coords[concat_ranges(starts[at], size[at])]
        rings = shapely.linearrings(points, indices=np.repeat(np.arange(len(at)), size[at]))
        ccw[at] = shapely.is_ccw(rings)
    return ccw


def _intersecting_pairs(
    bgeom: np.ndarray, pgeom: np.ndarray, tested: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the pairs of intersecting buildings and parcels, and which parcel holds which inside.

    The pairs ``(bi, pi)`` are those of ``STRtree(pgeom).query(bgeom, predicate="intersects")``,
    in its order: that query lists the pairs whose bounding boxes meet (as the query without a
    predicate does, in the same order) and keeps those for which the prepared building
    intersects the parcel. Here the boxes' pairs are listed, parcels that contain a building
    ``tested`` properly (``contains_properly``) are kept outright (a building inside a parcel
    intersects it), and only the other pairs are tested, with their buildings prepared as the
    query prepares them (and unprepared again after). Returned as well: ``inside``, whether
    ``pgeom[pi]`` contains ``bgeom[bi]`` properly, for the buildings ``tested`` (False for others).
    """
    bi, pi = query_in_runs(shapely.STRtree(pgeom), bgeom)
    inside = tested[bi]
    at = np.flatnonzero(inside)
    inside[at] = contains_properly_pairs(pgeom[pi[at]], bgeom[bi[at]])
    rest = np.flatnonzero(~inside)
    buildings = bgeom[np.unique(bi[rest])]
    unprepared = buildings[~shapely.is_prepared(buildings)]
    shapely.prepare(unprepared)
    try:
        meet = inside.copy()
        meet[rest] = shapely.intersects(bgeom[bi[rest]], pgeom[pi[rest]])
    finally:
        shapely.destroy_prepared(unprepared)
    return bi[meet], pi[meet], inside[meet]


def _clip_pairs(
    bgeom: np.ndarray,
    pgeom: np.ndarray,
    bi: np.ndarray,
    pi: np.ndarray,
    valid: np.ndarray,
    rings: PolygonRings,
    inside: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None]:
    """Return building ``bi[k]`` clipped to parcel ``pi[k]`` for each pair ``k``.

    Only buildings on a parcel edge are intersected. A valid polygon inside its parcel, off its
    boundary, is its own piece, written as ``intersection`` writes it (:func:`_overlay_layout`).
    ``inside``, if given, is whether each parcel contains its building properly, for the valid
    polygons (:func:`_intersecting_pairs`); else that is tested here.
    Returns the pieces, the mask of the pairs found inside, and for those rewritten: their
    positions in the pairs, the index in ``rings.coords`` of each of their coordinates, and their
    ring and polygon offsets (None if there are none).
    """
    pieces = np.full(len(bi), None, dtype=object)
    simple = valid[bi] & rings.handled[bi]
    if inside is None:
        cand = np.flatnonzero(simple)
        simple[cand] = contains_properly_pairs(pgeom[pi[cand]], bgeom[bi[cand]])
    else:
        simple &= inside
    rewritten = None
    if simple.any():
        source, ok = _overlay_layout(rings)
        position = np.cumsum(rings.handled) - 1  # of each handled building among them
        at = np.flatnonzero(simple)
        polygon = position[bi[at]]
        at, polygon = at[ok[polygon]], polygon[ok[polygon]]
        coord_index, ring_offsets, polygon_offsets = rings.gather(polygon)
        coord_index = source[coord_index]
        pieces[at] = shapely.from_ragged_array(
            shapely.GeometryType.POLYGON,
            rings.coords[coord_index],
            (ring_offsets, polygon_offsets),
        )
        rewritten = (at, coord_index, ring_offsets, polygon_offsets)
    rest = shapely.is_missing(pieces)
    pieces[rest] = rowwise(shapely.intersection, bgeom[bi[rest]], pgeom[pi[rest]])
    return pieces, simple, rewritten


def contains_properly_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return ``shapely.contains_properly(a, b)``, worked in runs of rows on all cores.

    ``contains_properly`` prepares each geometry of ``a`` (for its one test) unless it is
    prepared already; a prepared geometry builds its indexes on first use and must not be used by
    two threads at once, so where any of ``a`` is prepared the pairs are tested in one call.

    Examples
    --------
    >>> a = np.array([shapely.box(0, 0, 4, 4)] * 2)
    >>> contains_properly_pairs(a, np.array([shapely.box(1, 1, 2, 2), shapely.box(0, 0, 1, 1)]))
    array([ True, False])
    """
    if shapely.is_prepared(a).any():
        return shapely.contains_properly(a, b)
    return rowwise(shapely.contains_properly, a, b)


def _duplicate_buildings(
    b: gpd.GeoDataFrame, valid: np.ndarray, *, diagnostics: Diagnostics
) -> np.ndarray:
    """Reject buildings digitised twice: the same footprint (to 1 cm) and the same storeys.

    The footprint key (geometry snapped to the grid, normalised, as WKB) is built only for the
    buildings that could share one (:func:`_duplicate_candidates`). Returns the rejected rows' mask.
    """
    grid = 0.01 if b.crs is not None and b.crs.is_projected else 1e-7
    cols = [c for c in ("floors", "floor_area_m2", "height_m", "storey_height_m") if c in b]
    geoms = np.asarray(b.geometry.values, dtype=object)
    cand = _duplicate_candidates(geoms, valid, _row_groups(b[cols]), grid)
    dup = np.zeros(len(b), dtype=bool)
    if not cand.any():
        return dup
    key = pd.Series(shapely.to_wkb(shapely.normalize(shapely.set_precision(geoms[cand], grid))))
    frame = pd.concat([key.rename("_geom"), b.loc[cand, cols].reset_index(drop=True)], axis=1)
    dup[cand] = (frame.duplicated(keep="first") & key.notna()).to_numpy()
    if dup.any():
        diagnostics.reject(
            b.loc[dup],
            "duplicate_building",
            "building digitised twice (same footprint and storeys as an earlier one); counted once",
            column="building_id",
        )
    return dup


def _row_groups(frame: pd.DataFrame) -> np.ndarray:
    """Return a group number per row: equal numbers for rows ``DataFrame.duplicated`` finds equal."""
    if frame.shape[1] == 0:
        return np.zeros(len(frame), dtype="int64")
    group = np.zeros(len(frame), dtype="int64")
    for column in frame.columns:
        labels = pd.factorize(frame[column])[0].astype("int64") + 1  # missing: -1 -> 0
        group = pd.factorize(group * (int(labels.max(initial=0)) + 1) + labels)[0].astype("int64")
    return group


def _duplicate_candidates(
    geoms: np.ndarray, valid: np.ndarray, groups: np.ndarray, grid: float
) -> np.ndarray:
    """Return which geometries may have the same snapped footprint as another of the same group.

    Every point of the snapped footprint lies within ``2 * grid`` of the original geometry
    (``set_precision`` rounds vertices to the grid and may drop some, a spike thinner than the grid
    say, but puts none far from the original; the reverse does not hold, so bounds can differ by
    far more than the grid), so two geometries that snap to the same non-empty footprint lie
    within ``4 * grid`` of each other; a valid polygon can only snap to an empty one
    when no point of it lies more than ``2 * grid`` inside its boundary, that is when its area is at
    most ``4 * grid * perimeter + 4π * grid²`` per ring (bounded generously below). Invalid and
    non-polygonal geometries are always candidates. All other geometries have a unique key, and
    need none.
    """
    n = len(geoms)
    present = ~shapely.is_missing(geoms)
    if n < 2 or not present.any():
        return np.zeros(n, dtype=bool)
    area = shapely.area(geoms)
    bound = 8.0 * grid * shapely.length(geoms) + 16.0 * grid**2 * shapely.get_num_coordinates(geoms)
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    cand = present & (~polygonal | ~valid | ~(area > bound))
    tree = shapely.STRtree(geoms)
    i, j = query_in_runs(tree, geoms, predicate="dwithin", distance=4.0 * grid)
    near = (i != j) & (groups[i] == groups[j])
    cand[i[near]] = True
    return cand


def _zone_of_buildings(n: int, bi: np.ndarray, zones: np.ndarray) -> np.ndarray:
    """Zone code of each whole building: that of the first parcel it lies on (-1 if none).

    ``zones`` is the zone code of each pair ``bi``.
    """
    out = np.full(n, -1, dtype="int64")
    if len(bi) and (np.diff(bi) >= 0).all():  # STRtree order: where a building's pairs start
        first = np.flatnonzero(np.diff(bi, prepend=-1) != 0)
    else:
        first = np.unique(bi, return_index=True)[1]
    out[bi[first]] = zones[first]
    return out


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name in frame:
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    return np.full(len(frame), np.nan)


def footprint_by_parcel(pieces: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame) -> pd.Series:
    """Return each parcel's footprint: the area of the union of its building pieces (m²).

    Overlapping footprints count once. Only parcels whose pieces overlap are unioned.
    """
    if pieces.empty:
        return pd.Series(dtype=float)
    summed = pieces.groupby("parcel_id")["footprint_m2"].sum()
    pid = pieces["parcel_id"].to_numpy(dtype=object)
    code, _ = pd.factorize(pid)
    geoms = np.asarray(pieces.geometry.values, dtype=object)
    # two pieces overlap on their parcel where their intersection has an area (which implies
    # that they intersect, and that their bounding boxes meet)
    a, b = _pairs_on_one_parcel(code, shapely.bounds(geoms), geoms)
    if len(a) == 0:
        return summed
    inter = shapely.area(shapely.intersection(geoms[a], geoms[b]))
    overlapping = np.unique(pid[a][inter > 0])
    if len(overlapping) == 0:
        return summed
    sub = pieces[pieces["parcel_id"].isin(overlapping)]
    unions = sub.dissolve(by="parcel_id")
    zone = parcels.set_index("parcel_id")["area_epsg"].reindex(unions.index)
    summed.loc[unions.index] = planar_area_m2(unions.geometry, zone).to_numpy()
    return summed


def _pairs_on_one_parcel(
    code: np.ndarray, bounds: np.ndarray, geoms: np.ndarray, *, max_listed: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Return the pairs ``a < b`` of pieces on the same parcel whose bounding boxes meet.

    ``code`` numbers each piece's parcel (-1: none, never paired). The pairs of a parcel with at
    most ``max_listed`` pieces are listed outright (one vectorised step per distance in the
    parcel's list, sorted by position); pieces of larger parcels are paired through an STRtree.
    Either way the same pairs come out, in order of ``a`` then ``b``.
    """
    n = len(code)
    on = np.flatnonzero(code >= 0)
    order = on[np.argsort(code[on], kind="stable")]  # pieces by parcel, in their own order
    ranked = code[order]
    first = np.searchsorted(ranked, ranked, side="left")
    size = np.searchsorted(ranked, ranked, side="right") - first
    rank = np.arange(len(order)) - first  # place of a piece among its parcel's pieces
    small = size <= max_listed
    a_parts, b_parts = [], []
    for step in range(1, min(int(size.max(initial=1)), max_listed)):
        at = np.flatnonzero(small & (rank + step < size))
        a_parts.append(order[at])
        b_parts.append(order[at + step])
    big = order[~small]
    if len(big):
        i, j = shapely.STRtree(geoms[big]).query(geoms[big])
        keep = (code[big][i] == code[big][j]) & (big[i] != big[j])
        a_parts.append(big[i[keep]])
        b_parts.append(big[j[keep]])
    a = np.concatenate([np.zeros(0, dtype="int64"), *a_parts])
    b = np.concatenate([np.zeros(0, dtype="int64"), *b_parts])
    a, b = np.minimum(a, b), np.maximum(a, b)
    meet = (
        (bounds[a, 0] <= bounds[b, 2])
        & (bounds[b, 0] <= bounds[a, 2])
        & (bounds[a, 1] <= bounds[b, 3])
        & (bounds[b, 1] <= bounds[a, 3])
    )
    key = np.unique(a[meet] * n + b[meet])  # each pair once, sorted by a then b
    return key // n, key % n


def link_enterprises(
    enterprises: pd.DataFrame,
    parcels: pd.DataFrame,
    *,
    diagnostics: Diagnostics,
    ambiguous_ids: set[str] | frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """Link each enterprise row to parcels.

    Returns
    -------
    DataFrame
        One row per (enterprise row, parcel): ``row`` (index into ``enterprises``), ``uscc``, ``key``,
        ``year``, ``parcel_id``, ``how`` (``parcel_ids``, ``holder_uscc``, ``holder_name``) and ``role``
        (``holder`` or ``tenant``).
    """
    ent = enterprises.reset_index(drop=True)
    # 1. explicit parcel ids
    exploded, listed = _explode_ids(ent["parcel_ids"])
    amb = _isin(exploded["parcel_id"], ambiguous_ids)
    if amb.any():
        diagnostics.warn_rows(
            ent.loc[exploded["row"].to_numpy()[amb]],
            "ambiguous_parcel_link",
            "names a parcel id that two parcels share; that link is not used",
            column="parcel_ids",
        )
    position = positions(exploded["parcel_id"].to_numpy(), parcels["parcel_id"])
    unknown = (position < 0) & ~amb
    if unknown.any():
        rows = exploded["row"].to_numpy()[unknown]
        src = ent.iloc[rows]
        ids = exploded["parcel_id"].to_numpy()[unknown]
        diagnostics.warn_rows(
            src,
            "unknown_parcel",
            [
                f"{f}: row {r}: parcel {pid!r} is not in the parcel layer; that link is not used"
                for f, r, pid in zip(src["_file"], src["_row"], ids, strict=True)
            ],
            column="parcel_ids",
            values=ids,
        )
    use = ~unknown & ~amb
    explicit = exploded.loc[use].assign(how="parcel_ids")
    explicit_at = position[use]
    # 2. holder code, for the rows that list no parcel (positions in ``ent``)
    rest = np.flatnonzero(~listed)
    by_code = pd.DataFrame(columns=["row", "parcel_id", "how"])
    by_code_at = np.zeros(0, dtype="int64")
    if "holder_uscc" in parcels and len(rest):
        holders = parcels[["parcel_id", "holder_uscc"]].assign(_at=np.arange(len(parcels)))
        holders = holders.dropna(subset=["parcel_id", "holder_uscc"])
        by_code = (
            pd.DataFrame({"row": rest, "uscc": ent["uscc"].iloc[rest].reset_index(drop=True)})
            .merge(holders, left_on="uscc", right_on="holder_uscc")[["row", "parcel_id", "_at"]]
            .assign(how="holder_uscc")
        )
        by_code_at = by_code.pop("_at").to_numpy()
    # 3. holder name, where the enterprise has no code link
    rest = rest[~np.isin(rest, by_code["row"].to_numpy())]
    by_name = pd.DataFrame(columns=["row", "parcel_id", "how"])
    by_name_at = np.zeros(0, dtype="int64")
    if "holder_name" in parcels and len(rest):
        names = parcels[["parcel_id", "holder_name"]].assign(_at=np.arange(len(parcels)))
        names = names.dropna(subset=["parcel_id", "holder_name"])
        names["nkey"] = normalise_names(names["holder_name"])
        r = pd.DataFrame({"row": rest, "name": ent["name"].iloc[rest].reset_index(drop=True)})
        r["nkey"] = normalise_names(r["name"])
        by_name = r.dropna(subset=["nkey"]).merge(names, on="nkey")[["row", "parcel_id", "_at"]]
        by_name_at = by_name.pop("_at").to_numpy()
        by_name = by_name.assign(how="holder_name")
        if len(by_name):
            diagnostics.warn_rows(
                ent.loc[by_name["row"].unique()],
                "linked_by_name",
                "linked to its parcel(s) by the holder's name only (no matching 统一社会信用代码); "
                "check the link",
                column="name",
            )
    links = pd.concat([explicit, by_code, by_name], ignore_index=True)
    links["row"] = links["row"].astype(int)
    at = np.concatenate([explicit_at, by_code_at, by_name_at]).astype("int64")
    row = links["row"].to_numpy()
    linked = np.zeros(len(ent), dtype=bool)
    linked[row] = True
    if not linked.all():
        diagnostics.reject(
            ent.loc[~linked],
            "no_parcel",
            "enterprise links to no parcel: no known 所在宗地编号, and no parcel whose holder has its "
            "统一社会信用代码 or name",
            column="uscc",
        )
    # a (row, parcel) pair once: the first way it was found
    again = pd.Series(row * max(len(parcels), 1) + at).duplicated().to_numpy()
    if again.any():
        links, row, at = links.loc[~again], row[~again], at[~again]
    uscc = ent["uscc"].to_numpy()[row]
    links["uscc"] = uscc
    links["key"] = ent["key"].to_numpy()[row]
    links["year"] = ent["year"].to_numpy()[row]
    is_holder = links["how"].isin(["holder_uscc", "holder_name"]).to_numpy().copy()
    if "holder_uscc" in parcels:
        hold_code = parcels["holder_uscc"].to_numpy(dtype=object)[at]
        is_holder |= (uscc == hold_code) & pd.notna(hold_code)
    todo = np.flatnonzero(~is_holder)
    if "holder_name" in parcels and len(todo):
        hold_name = normalise_names(parcels["holder_name"].iloc[at[todo]])
        ent_name = normalise_names(ent["name"].iloc[row[todo]])
        is_holder[todo] = (ent_name == hold_name) & pd.notna(hold_name)
    links["role"] = two_labels(is_holder, "holder", "tenant")
    return links.reset_index(drop=True)


def _explode_ids(lists: pd.Series) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the ids of each row's list, one per row (``parcel_id``, ``row``), and which rows list any.

    As ``frame.explode(...).dropna()``: missing ids are left out; a row whose list holds only
    missing ids still counts as listing. Lists are flattened in one pass; cells that are not
    lists go through ``explode``.
    """
    cells = lists.to_numpy(dtype=object)
    if set(map(type, cells)) <= {list}:
        sizes = np.fromiter(map(len, cells), dtype="int64", count=len(cells))
        ids = np.fromiter(itertools.chain.from_iterable(cells), dtype=object, count=sizes.sum())
        rows = np.repeat(lists.index.to_numpy(), sizes)
        present = ~pd.isna(ids)
        exploded = pd.DataFrame(
            {"parcel_id": pd.Series(ids[present], dtype=object), "row": rows[present]}
        )
        return exploded, sizes > 0
    exploded = lists.rename("parcel_id").to_frame().explode("parcel_id").dropna()
    exploded["row"] = exploded.index
    return exploded.reset_index(drop=True), lists.map(len).gt(0).to_numpy()


def positions(values: np.ndarray | pd.Series, pool: pd.Series | np.ndarray) -> np.ndarray:
    """Return the position of each value in ``pool``, -1 where it is not there.

    ``pool`` holds distinct ids (parcel ids). Factorising ``pool`` followed by ``values`` numbers
    the ids of ``pool`` 0, 1, ... in their order, so a value's code is its position in ``pool``
    when it is below ``len(pool)``; one hash pass, several times faster than
    ``Index.get_indexer`` on object ids. A ``pool`` with repeated or missing ids goes through
    ``get_indexer`` (of an object index), which refuses repeated ids as ``reindex`` does. A
    missing value is found nowhere.

    Examples
    --------
    >>> positions(np.array(["b", "x", "a", None], dtype=object), np.array(["a", "b"], dtype=object))
    array([ 1, -1,  0, -1])
    """
    pool = np.asarray(pool, dtype=object)
    values = np.asarray(values, dtype=object)
    n = len(pool)
    codes, _ = pd.factorize(np.concatenate([pool, values]))
    if not np.array_equal(codes[:n], np.arange(n)):
        return pd.Index(pool, dtype=object).get_indexer(values)
    at = codes[n:]
    return np.where(at < n, at, -1).astype("int64")


def two_labels(mask: np.ndarray, true: str, false: str) -> pd.api.extensions.ExtensionArray:
    """Return ``np.where(mask, true, false)`` as a ``str`` array.

    Built in Arrow, as a dictionary of the two texts decoded: the column that assigning the
    numpy array of texts makes, without converting the texts one by one.

    Examples
    --------
    >>> list(two_labels(np.array([True, False]), "holder", "tenant"))
    ['holder', 'tenant']
    """
    codes = pa.array(np.asarray(mask, dtype=bool).astype(np.int8))
    texts = pa.DictionaryArray.from_arrays(codes, pa.array([false, true])).dictionary_decode()
    return pd.array(texts, dtype="str")


def group_sums(
    values: np.ndarray, group: np.ndarray, n_groups: int, *, min_count: int = 0
) -> np.ndarray:
    """Return the sum of ``values`` in each group ``0 .. n_groups - 1``, as ``groupby.sum`` adds.

    ``values`` is a float array of one or two dimensions (rows first); ``group`` the group of
    each row (below 0: none). pandas adds a group's values in row order with Kahan's
    compensation from 0.0, skipping NaN; for a group of one row that gives ``value + 0.0``
    (which makes ``-0.0`` into ``0.0``), or, for a NaN, 0.0 (NaN when ``min_count`` is 1). So
    the groups of one row are summed so here, and only the others go through
    ``groupby(...).sum(min_count=...)``: the same additions, in the same order. A group without
    rows gives NaN.
    """
    values = np.asarray(values, dtype=float)
    flat = values.ndim == 1
    table = values[:, None] if flat else values  # (rows, columns), also with no rows
    has = group >= 0
    count = np.bincount(group[has], minlength=n_groups)
    size = np.zeros(len(group), dtype="int64")
    size[has] = count[group[has]]
    out = np.full((n_groups, table.shape[1]), np.nan)
    one = np.flatnonzero(size == 1)
    single = table[one]
    out[group[one]] = np.where(np.isnan(single), 0.0 if min_count < 1 else np.nan, single + 0.0)
    many = np.flatnonzero(size > 1)
    if len(many):
        summed = pd.DataFrame(table[many]).groupby(group[many]).sum(min_count=min_count)
        out[summed.index.to_numpy()] = summed.to_numpy(dtype=float)
    return out[:, 0] if flat else out


def _transform_sum(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Return ``Series(values).groupby(group).transform("sum")`` for integer groups (below 0: NaN)."""
    group = np.asarray(group, dtype="int64")
    has = group >= 0
    n_groups = int(group.max(initial=-1)) + 1
    sums = group_sums(values, group, n_groups)
    out = np.full(len(group), np.nan)
    out[has] = sums[group[has]]
    return out


def _isin(values: pd.Series, pool: set[str] | frozenset[str]) -> np.ndarray:
    """Return ``values.isin(pool)`` as a bool array (hashing objects: Arrow-string isin is slow)."""
    if not pool:
        return np.zeros(len(values), dtype=bool)
    return pd.Index(np.asarray(values, dtype=object), dtype=object).isin(
        np.asarray(list(pool), dtype=object)
    )


def attribute_land(
    links: pd.DataFrame,
    enterprises: pd.DataFrame,
    parcels: pd.DataFrame,
    *,
    method: str = "floor_share",
    diagnostics: Diagnostics,
) -> pd.DataFrame:
    """Attribute each parcel's land to the enterprises on it, counting the parcel exactly once.

    Parameters
    ----------
    links : DataFrame
        From :func:`link_enterprises` (one year or several; attribution is per year).
    enterprises : DataFrame
        The validated enterprise rows (``rented_floor_area_m2`` read from here).
    parcels : DataFrame
        With ``parcel_id``, ``area_m2`` and ``floor_area_m2``.
    method : str
        ``floor_share`` (default), ``merge_holder`` (tenants' land goes to the holder) or
        ``separate`` (as floor_share; tenants are graded as their own group).

    Returns
    -------
    DataFrame
        ``links`` with ``land_m2`` and ``share`` (fraction of the enterprise's land on the parcel).
    """
    out = links.copy(deep=False)  # copy-on-write: the columns added below leave ``links`` alone
    parcel_ids = out["parcel_id"].to_numpy(dtype=object)
    at = positions(parcel_ids, parcels["parcel_id"])
    known = at >= 0  # a parcel id not in ``parcels``: no area, no floor area

    def of_parcel(column: str) -> np.ndarray:
        values = parcels[column].to_numpy(dtype=float)[at]
        return np.where(known, values, np.nan)

    area = of_parcel("area_m2")
    fa = of_parcel("floor_area_m2")
    fa = np.where(np.isnan(fa), 0.0, fa)  # as fillna(0): an infinite value stays
    rented_total = (
        pd.to_numeric(enterprises["rented_floor_area_m2"], errors="coerce").to_numpy(dtype=float)
        if "rented_floor_area_m2" in enterprises
        else np.full(len(enterprises), np.nan)
    )
    rented_row = rented_total[out["row"].to_numpy()]
    # An enterprise renting on several parcels: its rented area is split in proportion to floor area.
    # group keys computed once: the enterprise row, and (year, parcel)
    by_row = out["row"].to_numpy()
    year_code, _ = pd.factorize(out["year"])
    parcel_code = at.copy()  # a parcel's position, or a number after them for an id not there
    if not known.all():
        parcel_code[~known] = len(parcels) + pd.factorize(parcel_ids[~known])[0]
        parcel_code[~known & pd.isna(parcel_ids)] = -1
    grouped = (year_code >= 0) & (parcel_code >= 0)  # a missing year or id: no group
    by_parcel = np.full(len(out), np.nan)
    by_parcel[grouped] = pd.factorize(
        year_code[grouped] * (2 * len(parcels) + len(out) + 1) + parcel_code[grouped]
    )[0]
    fa_sum = _transform_sum(fa, by_row)
    with np.errstate(invalid="ignore", divide="ignore"):
        rented = np.where(fa_sum > 0, rented_row * fa / fa_sum, np.nan)
    tenant = out["role"].to_numpy() == "tenant"
    if method == "merge_holder":
        rented = np.where(tenant, np.nan, rented)
    with np.errstate(invalid="ignore", divide="ignore"):
        floor_share = np.where(tenant & (fa > 0), rented / fa, np.nan)
    no_area = tenant & np.isnan(floor_share)
    if method != "merge_holder" and no_area.any():
        rows = enterprises.iloc[np.unique(out["row"].to_numpy()[no_area])]
        diagnostics.warn_rows(
            rows,
            "tenant_share_unknown",
            "tenant without 租用建筑面积 (or on a parcel with no floor area): it shares the holder's "
            "land equally with the holder",
            column="uscc",
        )
    tenant_share = np.where(tenant, floor_share, np.nan)
    group = np.full(len(out), -1, dtype="int64")  # (year, parcel) of each link; -1: none
    group[grouped] = by_parcel[grouped]
    fs_sum = _transform_sum(tenant_share, group)
    over = fs_sum > 1.0 + 1e-9
    if over.any():
        over_rows = enterprises.iloc[np.unique(out["row"].to_numpy()[over & tenant])]
        diagnostics.warn_rows(
            over_rows,
            "tenants_exceed_building",
            "tenants on this parcel rent more floor area than its buildings have; their shares are "
            "scaled down to the parcel",
            column="rented_floor_area_m2",
        )
    scale = np.where(over, 1.0 / np.where(over, fs_sum, 1.0), 1.0)
    fs = np.nan_to_num(tenant_share) * scale
    residual_land = area * (1.0 - np.minimum(np.nan_to_num(fs_sum), 1.0))
    # Who shares the residual: the holder and the tenants without a known share.
    residual_member = ~tenant | no_area
    if method == "merge_holder":
        residual_member = ~tenant
    n_res = np.full(len(out), np.nan)  # residual members on the (year, parcel) of each link
    n_res[grouped] = np.bincount(group[grouped], weights=residual_member[grouped])[group[grouped]]
    with np.errstate(invalid="ignore", divide="ignore"):
        land = np.where(
            residual_member,
            np.where(n_res > 0, residual_land / np.maximum(n_res, 1), 0.0),
            fs * area,
        )
    land_m2 = np.nan_to_num(land)
    tot = _transform_sum(land_m2, by_row)
    nlinks = np.bincount(by_row)[by_row]
    out["land_m2"] = land_m2
    out["share"] = np.where(tot > 0, land_m2 / np.where(tot > 0, tot, 1), 1.0 / nlinks)
    return out
