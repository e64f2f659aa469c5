"""Coordinate systems: CGCS2000 Gauss-Krüger zones, area in m² and 亩, and input CRS checks."""

from __future__ import annotations

import functools
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as _ProjCRSError

from .errors import CRSError
from .parallel import in_runs, rowwise

#: Square metres in one 亩 (1 亩 = 10000/15 m²).
M2_PER_MU = 10000.0 / 15.0
#: Geographic CGCS2000.
CGCS2000 = 4490
#: EPSG code of the first CGCS2000 3-degree GK zone without zone prefix (CM 75E).
_GK3_NO_PREFIX_FIRST = 4534
_GK3_CM_FIRST, _GK3_CM_LAST = 75, 135
_NO_CRS = "geometry has no CRS: set one with --crs (API: input_crs=)"


def parse_crs(value: object, *, what: str = "--crs") -> CRS:
    """Return a :class:`pyproj.CRS` from an EPSG code, ``EPSG:nnnn``, WKT or PROJ string.

    Examples
    --------
    >>> parse_crs(4549).to_epsg()
    4549
    """
    if isinstance(value, CRS):
        return value
    text = str(value).strip()
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        return CRS.from_user_input(text)
    except _ProjCRSError as err:
        msg = (
            f"{what}: {value!r} is not a coordinate reference system pyproj knows. "
            "Give an EPSG code (e.g. 4490 or EPSG:4549), a WKT string or a PROJ string."
        )
        raise CRSError(msg) from err


def gk_zone_epsg(lon: np.ndarray | float) -> np.ndarray:
    """Return the EPSG code of the CGCS2000 3-degree GK zone (no zone prefix) for longitudes.

    The central meridian is ``3 * round(lon / 3)``; EPSG:4534 is CM 75E, EPSG:4554 CM 135E.

    Examples
    --------
    >>> int(gk_zone_epsg(112.87))
    4547
    >>> int(gk_zone_epsg(120.4))
    4549
    """
    cm = 3 * np.round(np.asarray(lon, dtype=float) / 3.0)
    cm = np.clip(cm, _GK3_CM_FIRST, _GK3_CM_LAST)
    return (_GK3_NO_PREFIX_FIRST + (cm - _GK3_CM_FIRST) / 3).astype(int)


def lonlat_of(geoms: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    """Return the longitude and latitude (CGCS2000) of each geometry's centroid.

    Centroids are taken in the input CRS where it is projected (cheap and exact enough to pick a zone),
    then converted. Both steps run in runs of rows on all cores.
    """
    if geoms.crs is None:
        raise CRSError(_NO_CRS)
    pts = rowwise(shapely.centroid, np.asarray(geoms.values, dtype=object))
    # an empty geometry's centroid is an empty point, whose x GEOS refuses: NaN, like a missing one
    pts = np.where(shapely.is_empty(pts), None, pts)
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    if _is_cgcs2000(geoms.crs):
        return x, y
    tr = Transformer.from_crs(geoms.crs, CGCS2000, always_xy=True)
    lon, lat = rowwise(tr.transform, x, y)
    return np.asarray(lon), np.asarray(lat)


def _is_cgcs2000(crs: CRS) -> bool:
    """Whether ``crs`` is geographic CGCS2000 (longitudes are its x)."""
    return bool(crs.is_geographic and crs.equals(CRS.from_epsg(CGCS2000)))


#: A geometry whose bounding box, widened by this many degrees, lies in one GK zone has its
#: centroid in that zone (see :func:`_zones_by_box`) ...
_BOX_MARGIN_DEG = 1e-3
#: ... when its area fills at least this share of its box ...
_BOX_MIN_FILL = 0.01
#: ... and it has at most this many coordinates.
_BOX_MAX_POINTS = 1_000


def _zones_by_box(values: np.ndarray) -> np.ndarray:
    """Return the GK zone of each geometry's centroid where its bounding box decides it, else -2.

    For geometries in geographic CGCS2000. The zone is a non-decreasing function of the longitude
    (:func:`gk_zone_epsg`) and a centroid lies in the geometry's bounding box, so where both
    sides of the box give the same zone, so does the centroid, up to the rounding of its
    computation. GEOS sums, over the ``n`` triangles fanned from the first vertex, twice their
    signed areas ``a`` and ``a`` times the sum of their three x, and divides; each triangle
    lies in the box, so ``Σ|a| ≤ n · box area``, while ``|Σ a| = 2 · area``. Both sums are then
    good to about ``n · ε · Σ|a| / |Σ a| ≤ n² · ε / (2 · fill)`` relatively, and the centroid's
    x to a few times that, times 180°: with ``n`` ≤ :data:`_BOX_MAX_POINTS` and a ``fill``
    (area ÷ box area) of at least :data:`_BOX_MIN_FILL`, under ``4 · 10⁶ · 1.1e-14 · 180° ≈
    1e-5°``, a hundredth of the margin :data:`_BOX_MARGIN_DEG` the box is widened by. Anything
    else (missing, empty, without area, non-finite, more points, near a zone's edge) is left to
    the centroid (-2 here).

    Examples
    --------
    >>> _zones_by_box(np.array([shapely.box(119, 30, 119.01, 30.01), shapely.box(118.4, 30, 118.7, 30.01)])).tolist()
    [4549, -2]
    """
    out = np.full(len(values), -2, dtype="int64")
    bounds = shapely.bounds(values)
    with np.errstate(invalid="ignore"):
        box_area = (bounds[:, 2] - bounds[:, 0]) * (bounds[:, 3] - bounds[:, 1])
        area = shapely.area(values)
        usable = (
            np.isfinite(bounds).all(axis=1)
            & (area > 0)
            & (area >= _BOX_MIN_FILL * box_area)
            & (shapely.get_num_coordinates(values) <= _BOX_MAX_POINTS)
        )
    at = np.flatnonzero(usable)
    west = gk_zone_epsg(bounds[at, 0] - _BOX_MARGIN_DEG)
    east = gk_zone_epsg(bounds[at, 2] + _BOX_MARGIN_DEG)
    same = west == east
    out[at[same]] = west[same]
    return out


def area_zones(geoms: gpd.GeoSeries, area_crs: object = None) -> pd.Series:
    """Return the EPSG code used to measure each geometry.

    Parameters
    ----------
    geoms : GeoSeries
        Geometries with a CRS.
    area_crs : optional
        A projected CRS to use for every geometry instead of the GK zone of its centroid.
    """
    if area_crs is not None:
        crs = parse_crs(area_crs, what="--area-crs")
        if not crs.is_projected:
            msg = (
                f"--area-crs {area_crs!r} is not a projected CRS; areas are never measured in degrees. "
                "Give a projected CRS such as EPSG:4549 (CGCS2000 GK CM 120E)."
            )
            raise CRSError(msg)
        code = crs.to_epsg() or crs.to_wkt()
        return pd.Series([code] * len(geoms), index=geoms.index, dtype=object)
    if geoms.crs is None:
        raise CRSError(_NO_CRS)
    values = np.asarray(geoms.values, dtype=object)
    codes = _zones_by_box(values) if _is_cgcs2000(geoms.crs) else np.full(len(values), -2)
    rest = np.flatnonzero(codes == -2)  # the zone of the centroid
    if len(rest):
        lon, _ = lonlat_of(gpd.GeoSeries(values[rest], crs=geoms.crs))
        codes[rest] = np.where(np.isfinite(lon), gk_zone_epsg(np.nan_to_num(lon, nan=111.0)), -1)
    return pd.Series(codes, index=geoms.index, dtype=object)


def project_by_zone(geoms: gpd.GeoSeries, zones: pd.Series) -> gpd.GeoSeries:
    """Return the geometries projected zone by zone (a loop over zones, not rows).

    The result has no single CRS when several zones occur: use it for planar measures only.
    A geometry whose zone is ``-1`` (no zone: no finite centroid) is returned missing.
    Each coordinate goes through the same cached pyproj transformer ``GeoSeries.to_crs`` uses
    (``always_xy``), so the numbers are those of ``to_crs`` zone by zone; the coordinates of all
    zones are read and written at once instead of one ``to_crs`` per zone.
    """
    values = np.asarray(geoms.values, dtype=object)
    codes, targets = pd.factorize(zones.to_numpy(), use_na_sentinel=False)
    codes = np.where(_is_no_zone(targets)[codes], -1, codes) if len(targets) else codes
    out = np.full(len(values), None, dtype=object)
    has_z = shapely.has_z(values)
    for with_z in (False, True):
        at = np.flatnonzero((has_z == with_z) & (codes >= 0) & ~shapely.is_missing(values))
        if len(at) == 0:
            continue
        if geoms.crs is None:
            raise CRSError(_NO_CRS)
        coords = shapely.get_coordinates(values[at], include_z=with_z)
        per_coord = np.repeat(codes[at], shapely.get_num_coordinates(values[at]))
        projected = project_coords(coords, per_coord, targets, geoms.crs)
        # values[at] is a new array: set_coordinates puts new geometries in it, not in ``values``
        out[at] = shapely.set_coordinates(values[at], projected)
    single = zones.nunique() == 1 and len(zones) > 0
    crs = _crs_of_zone(zones.iloc[0]) if single and not _is_no_zone([zones.iloc[0]])[0] else None
    return gpd.GeoSeries(out, index=geoms.index, crs=crs)


def project_coords(
    coords: np.ndarray, zone_of_point: np.ndarray, zones: np.ndarray | list[object], crs: object
) -> np.ndarray:
    """Return coordinates projected from ``crs``, each point to the zone it is given.

    Parameters
    ----------
    coords : ndarray
        ``(n, 2)`` or ``(n, 3)`` coordinates (x, y[, z]) in ``crs``.
    zone_of_point : ndarray
        For each point, the position in ``zones`` of its target CRS (``-1``: none; the point
        becomes NaN).
    zones : array-like
        Target CRSs: EPSG codes, or anything :func:`parse_crs` reads.
    crs : object
        The CRS of ``coords``.

    Returns
    -------
    ndarray
        The projected coordinates, as ``GeoSeries.to_crs`` computes them (the same cached pyproj
        transformer, ``always_xy``); coordinates already in their target CRS are returned as they
        are, as ``to_crs`` does.
    """
    source = CRS.from_user_input(crs)
    used = np.bincount(zone_of_point[zone_of_point >= 0], minlength=len(zones)) > 0
    targets = [
        _crs_of_zone(zone) if used[k] and not _is_no_zone([zone])[0] else None
        for k, zone in enumerate(zones)
    ]
    transformers = [
        None if t is None or source.is_exact_same(t) else _transformer(source, t) for t in targets
    ]
    # each point on its own: runs of points are projected on all cores, zone by zone in each
    return rowwise(_project_run, coords, zone_of_point, targets=targets, transformers=transformers)


def _project_run(
    coords: np.ndarray,
    zone_of_point: np.ndarray,
    *,
    targets: list[CRS | None],
    transformers: list[Transformer | None],
) -> np.ndarray:
    """Project a run of points for :func:`project_coords`.

    A target of None makes the point NaN; a transformer of None leaves it as it is (it is in its
    target CRS already).
    """
    out = np.full(coords.shape, np.nan)
    for k, (target, transformer) in enumerate(zip(targets, transformers, strict=True)):
        if target is None:
            continue
        at = np.flatnonzero(zone_of_point == k)
        if len(at) == 0:
            continue
        rows = slice(None) if len(at) == len(coords) else at
        if transformer is None:
            out[rows] = coords[rows]
            continue
        axes = [coords[at, axis] for axis in range(coords.shape[1])]  # new arrays: in place
        columns = transformer.transform(*axes, inplace=True)
        for axis, column in enumerate(columns):
            out[rows, axis] = column
    return out


@functools.lru_cache(maxsize=64)
def _transformer(source: CRS, target: CRS) -> Transformer:
    """Return the transformer ``GeoSeries.to_crs`` builds for this pair (cached, as geopandas does)."""
    return Transformer.from_crs(source, target, always_xy=True)


@functools.lru_cache(maxsize=64)
def _crs_of_zone(code: object) -> CRS:
    """Return the CRS of an ``area_epsg`` value: an EPSG code, or a CRS text given as ``area_crs``."""
    if isinstance(code, int | np.integer):
        return CRS.from_epsg(int(code))
    return CRS.from_user_input(code)


def _is_no_zone(codes: np.ndarray | list[object]) -> np.ndarray:
    """Whether each zone value is the ``-1`` of a geometry without a zone."""
    return np.array([isinstance(c, int | np.integer) and c == -1 for c in codes], dtype=bool)


def ring_areas(coords: np.ndarray, ring_offsets: np.ndarray) -> np.ndarray:
    """Return the signed planar area of each closed ring, computed as GEOS computes it.

    Ring ``k`` is ``coords[ring_offsets[k]:ring_offsets[k + 1]]`` (first point repeated at the
    end). The formula and the order of the additions are those of GEOS ``Area::ofRingSigned``
    (the shoelace formula with x taken from the first point, summed from the second vertex on),
    so ``abs`` of the result is ``shapely.area`` of the ring's polygon to the last bit (tested);
    the sign is positive for a clockwise ring. Rings of fewer than 3 points have area 0.

    The sum is carried over the vertex positions, one vectorised step per position, so that
    every ring adds its terms in their own order; the terms of a ring beyond position
    :data:`_STEPS` are added by a running sum (``np.add.accumulate``, which adds in order too).
    """
    size = np.diff(ring_offsets)
    n = len(size)
    x = coords[:, 0]
    y = coords[:, 1]
    out = np.zeros(n)
    terms = np.maximum(size - 2, 0)  # the vertices 1 .. size - 2 of each ring
    if n == 0 or not terms.any():
        return out
    start = ring_offsets[:-1]
    x0 = x[start]
    order = np.argsort(-terms, kind="stable")  # longest first: the rings with a j-th term lead
    ranked_terms = terms[order]
    ranked_start = start[order]
    ranked_x0 = x0[order]
    total = np.zeros(n)
    for j in range(1, min(int(ranked_terms[0]), _STEPS) + 1):
        m = int(np.searchsorted(-ranked_terms, -j, side="right"))  # rings with at least j terms
        i = ranked_start[:m] + j
        total[:m] += (x[i] - ranked_x0[:m]) * (y[i - 1] - y[i + 1])
    for k in np.flatnonzero(ranked_terms > _STEPS):  # the few long rings: the rest in one go
        i = ranked_start[k] + np.arange(_STEPS + 1, ranked_terms[k] + 1)
        rest = (x[i] - ranked_x0[k]) * (y[i - 1] - y[i + 1])
        total[k] = np.add.accumulate(np.concatenate([[total[k]], rest]))[-1]
    out[order] = total / 2.0
    return out


#: Vertex positions summed a step at a time over all rings in :func:`ring_areas`.
_STEPS = 64


def polygon_areas(
    coords: np.ndarray, ring_offsets: np.ndarray, polygon_offsets: np.ndarray
) -> np.ndarray:
    """Return the planar area of each polygon given as ragged arrays, as ``shapely.area`` does.

    Polygon ``p`` has rings ``polygon_offsets[p] .. polygon_offsets[p + 1] - 1`` (shell first, then
    holes) in :func:`ring_areas`' layout. GEOS takes the shell's area and subtracts each hole's in
    turn; so does this. Runs of polygons are measured on all cores (each polygon on its own).
    """

    def run(lo: int, hi: int) -> np.ndarray:
        first_ring, end_ring = polygon_offsets[lo], polygon_offsets[hi]
        start = ring_offsets[first_ring]
        return _polygon_areas(
            coords[start : ring_offsets[end_ring]],
            ring_offsets[first_ring : end_ring + 1] - start,
            polygon_offsets[lo : hi + 1] - first_ring,
        )

    parts = in_runs(run, len(polygon_offsets) - 1)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _polygon_areas(
    coords: np.ndarray, ring_offsets: np.ndarray, polygon_offsets: np.ndarray
) -> np.ndarray:
    """:func:`polygon_areas` of polygons ``0 .. len(polygon_offsets) - 2``, in this thread."""
    ring = np.abs(ring_areas(coords, ring_offsets))
    first = polygon_offsets[:-1]
    holes = np.diff(polygon_offsets) - 1
    area = ring[first].copy()
    for h in range(1, int(holes.max(initial=0)) + 1):
        with_hole = np.flatnonzero(holes >= h)
        area[with_hole] -= ring[first[with_hole] + h]
    return area


class PolygonRings(NamedTuple):
    """The rings of the 2D Polygons of an array of geometries, as ragged arrays.

    ``handled`` marks the geometries described (2D Polygons, not missing); ``of_geometry`` their
    positions. Polygon ``k`` (the ``k``-th handled geometry) has rings
    ``polygon_offsets[k] .. polygon_offsets[k + 1] - 1``, shell first; ring ``r`` is
    ``coords[ring_offsets[r]:ring_offsets[r + 1]]``, in ``shapely.get_coordinates`` order.
    """

    handled: np.ndarray
    of_geometry: np.ndarray
    coords: np.ndarray
    ring_offsets: np.ndarray
    polygon_offsets: np.ndarray
    points_per_geometry: np.ndarray

    @classmethod
    def of(cls, geoms: np.ndarray) -> PolygonRings:
        """Return the rings of the 2D Polygons among ``geoms`` (an object array)."""
        handled = (shapely.get_type_id(geoms) == 3) & ~shapely.has_z(geoms)
        if hasattr(shapely, "has_m"):  # shapely >= 2.1 reads M values; leave those to GEOS
            handled &= ~shapely.has_m(geoms)
        of_geometry = np.flatnonzero(handled)
        polygons = geoms[of_geometry]
        holes = shapely.get_num_interior_rings(polygons)
        polygon_offsets = np.concatenate([[0], np.cumsum(holes + 1)]).astype("int64")
        ring_size = np.empty(int(polygon_offsets[-1]), dtype="int64")
        plain = holes == 0
        ring_size[polygon_offsets[:-1][plain]] = shapely.get_num_coordinates(polygons[plain])
        if not plain.all():
            rings, owner = shapely.get_rings(polygons[~plain], return_index=True)
            within = np.arange(len(rings)) - np.searchsorted(owner, owner)
            ring_size[polygon_offsets[:-1][np.flatnonzero(~plain)][owner] + within] = (
                shapely.get_num_coordinates(rings)
            )
        ring_offsets = np.concatenate([[0], np.cumsum(ring_size)]).astype("int64")
        coords = shapely.get_coordinates(polygons)
        points = np.diff(ring_offsets[polygon_offsets])
        return cls(handled, of_geometry, coords, ring_offsets, polygon_offsets, points)

    def gather(self, polygons: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the ragged arrays of the given polygons (positions among the handled ones).

        Returned: the index in ``coords`` of each of their coordinates, their ring offsets and
        their polygon offsets; a polygon may be given more than once.
        """
        rings = concat_ranges(
            self.polygon_offsets[polygons], np.diff(self.polygon_offsets)[polygons]
        )
        ring_size = np.diff(self.ring_offsets)[rings]
        coord_index = concat_ranges(self.ring_offsets[rings], ring_size)
        ring_offsets = np.concatenate([[0], np.cumsum(ring_size)]).astype("int64")
        per_polygon = np.diff(self.polygon_offsets)[polygons]
        polygon_offsets = np.concatenate([[0], np.cumsum(per_polygon)]).astype("int64")
        return coord_index, ring_offsets, polygon_offsets


def concat_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Return ``concatenate([arange(s, s + n) for s, n in zip(starts, lengths)])``, vectorised."""
    total = int(lengths.sum())
    ends = np.cumsum(lengths)
    return np.repeat(starts - (ends - lengths), lengths) + np.arange(total)


def planar_area_m2(geoms: gpd.GeoSeries, zones: pd.Series) -> pd.Series:
    """Return each geometry's area in m², measured in its zone's projected CRS.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> g = gpd.GeoSeries([shapely.box(112.87, 27.23, 112.871, 27.231)], crs=4490)
    >>> round(float(planar_area_m2(g, area_zones(g)).iloc[0]))
    10979
    """
    values = np.asarray(geoms.values, dtype=object)
    area = np.full(len(values), np.nan)
    codes, targets = pd.factorize(zones.to_numpy(), use_na_sentinel=False)
    if len(targets):
        codes = np.where(_is_no_zone(targets)[codes], -1, codes)
    # 2D polygons from their projected coordinates (the area GEOS gives the projected polygon,
    # to the last bit: ring_areas), anything else from its projected geometry
    rings = PolygonRings.of(values)
    zone = codes[rings.of_geometry]
    if len(rings.of_geometry):
        if geoms.crs is None:
            raise CRSError(_NO_CRS)
        planar = project_coords(
            rings.coords, np.repeat(zone, rings.points_per_geometry), targets, geoms.crs
        )
        area[rings.of_geometry] = polygon_areas(planar, rings.ring_offsets, rings.polygon_offsets)
        area[rings.of_geometry[zone < 0]] = np.nan
    other = np.flatnonzero(~rings.handled)
    if len(other):
        projected = project_by_zone(
            gpd.GeoSeries(values[other], crs=geoms.crs), zones.iloc[other].reset_index(drop=True)
        )
        area[other] = shapely.area(np.asarray(projected.values, dtype=object))
    return pd.Series(area, index=geoms.index)


def check_crs(crs: object, *, file: str, input_crs: object = None) -> CRS:
    """Return the CRS to read ``file`` in: its own, or ``input_crs`` when it has none.

    Raises
    ------
    CRSError
        When the file has no CRS and none is given.
    """
    if crs is not None:
        return CRS.from_user_input(crs)
    if input_crs is None:
        msg = (
            f"{file}: the layer has no coordinate reference system (no .prj or CRS metadata). "
            "Say which one it is with --crs (API: input_crs=), e.g. --crs 4490 for CGCS2000 "
            "longitude/latitude or --crs 4545 for CGCS2000 GK zone CM 111E."
        )
        raise CRSError(msg)
    return parse_crs(input_crs)
