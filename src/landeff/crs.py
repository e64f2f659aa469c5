"""Coordinate systems: CGCS2000 Gauss-Krüger zones, area in m² and 亩, and input CRS checks."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as _ProjCRSError

from .errors import CRSError

#: Square metres in one 亩 (1 亩 = 10000/15 m²).
M2_PER_MU = 10000.0 / 15.0
#: Geographic CGCS2000.
CGCS2000 = 4490
#: EPSG code of the first CGCS2000 3-degree GK zone without zone prefix (CM 75E).
_GK3_NO_PREFIX_FIRST = 4534
_GK3_CM_FIRST, _GK3_CM_LAST = 75, 135


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
    then converted.
    """
    if geoms.crs is None:
        msg = "geometry has no CRS: set one with --crs (API: input_crs=)"
        raise CRSError(msg)
    pts = shapely.centroid(geoms.values._data if hasattr(geoms.values, "_data") else geoms.values)
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    if geoms.crs.is_geographic and geoms.crs.equals(CRS.from_epsg(CGCS2000)):
        return x, y
    tr = Transformer.from_crs(geoms.crs, CGCS2000, always_xy=True)
    lon, lat = tr.transform(x, y)
    return np.asarray(lon), np.asarray(lat)


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
    lon, _ = lonlat_of(geoms)
    codes = np.where(np.isfinite(lon), gk_zone_epsg(np.nan_to_num(lon, nan=111.0)), -1)
    return pd.Series(codes, index=geoms.index, dtype=object)


def project_by_zone(geoms: gpd.GeoSeries, zones: pd.Series) -> gpd.GeoSeries:
    """Return the geometries projected zone by zone (a loop over zones, not rows).

    The result has no single CRS when several zones occur: use it for planar measures only.
    """
    out = np.empty(len(geoms), dtype=object)
    values = geoms.values
    for code, idx in _groups(zones):
        part = gpd.GeoSeries(values[idx], crs=geoms.crs)
        target = (
            CRS.from_epsg(code) if isinstance(code, int | np.integer) else CRS.from_user_input(code)
        )
        out[idx] = np.asarray(part.to_crs(target).values, dtype=object)
    single = zones.nunique() == 1 and len(zones) > 0
    crs = None
    if single:
        code = zones.iloc[0]
        crs = (
            CRS.from_epsg(code) if isinstance(code, int | np.integer) else CRS.from_user_input(code)
        )
    return gpd.GeoSeries(out, index=geoms.index, crs=crs)


def _groups(zones: pd.Series) -> list[tuple[object, np.ndarray]]:
    codes = zones.to_numpy()
    uniq = pd.unique(codes)
    return [(code, np.flatnonzero(codes == code)) for code in uniq if code != -1]


def planar_area_m2(geoms: gpd.GeoSeries, zones: pd.Series) -> pd.Series:
    """Return each geometry's area in m², measured in its zone's projected CRS.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> g = gpd.GeoSeries([shapely.box(112.87, 27.23, 112.871, 27.231)], crs=4490)
    >>> round(float(planar_area_m2(g, area_zones(g)).iloc[0]))
    10979
    """
    projected = project_by_zone(geoms, zones)
    return pd.Series(shapely.area(np.asarray(projected.values, dtype=object)), index=geoms.index)


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
