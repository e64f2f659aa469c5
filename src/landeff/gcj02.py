"""WGS-84 / CGCS2000 ↔ GCJ-02, the offset coordinates of Gaode (AMap) and Tencent tiles, vectorised.

Gaode tiles are drawn in GCJ-02 ("Mars coordinates"): WGS-84 or CGCS2000 parcels drawn on them
appear shifted by a few hundred metres. :func:`wgs84_to_gcj02` applies the published forward
transform (the algorithm leaked as ``eviltransform`` / ``coordtransform``: Krasovsky semi-major
axis 6378245 m, eccentricity² 0.00669342162296594323); it is exact. The inverse has no closed form:
:func:`gcj02_to_wgs84` solves it by fixed-point iteration to about 1e-9 degrees (0.1 mm).

CGCS2000 and WGS-84 differ by a few centimetres, well below anything a map shows, so CGCS2000
longitude/latitude is passed in as it is.

Outside mainland China (the usual bounding box 72.004–137.8347 E, 0.8293–55.8271 N) points are
left unchanged, as Gaode itself does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

#: Semi-major axis (m) of the Krasovsky 1940 ellipsoid used by the GCJ-02 transform.
_A_M = 6378245.0
#: First eccentricity squared of that ellipsoid.
_EE = 0.00669342162296594323
#: (west, south, east, north) of the box inside which the offset applies.
CHINA_BOX = (72.004, 0.8293, 137.8347, 55.8271)


def in_china(lon: Any, lat: Any) -> np.ndarray:
    """Return True where a point lies in the box where GCJ-02 differs from WGS-84.

    Examples
    --------
    >>> in_china([120.0, 10.0], [31.0, 50.0]).tolist()
    [True, False]
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    west, south, east, north = CHINA_BOX
    return (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)


def _offset_deg(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the GCJ-02 offset (dlon, dlat) in degrees at WGS-84 points."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += common
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += common
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A_M * (1.0 - _EE)) / (magic * sqrt_magic) * pi)
    dlon = (dlon * 180.0) / (_A_M / sqrt_magic * np.cos(rad_lat) * pi)
    inside = in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return GCJ-02 longitude and latitude of WGS-84 (or CGCS2000) points, in degrees.

    Parameters
    ----------
    lon, lat : array_like
        Longitudes and latitudes in degrees (any shape; broadcast together).

    Examples
    --------
    Reference point of the ``coordtransform`` project (test/app.js):

    >>> lon, lat = wgs84_to_gcj02(116.404, 39.915)
    >>> round(float(lon), 9), round(float(lat), 9)
    (116.410244499, 39.916404282)
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _offset_deg(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(
    lon: Any, lat: Any, *, tol_deg: float = 1e-10, max_iter: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """Return WGS-84 longitude and latitude of GCJ-02 points (iterative inverse), in degrees.

    The forward offset changes slowly with position, so ``w ← g − offset(w)`` converges in a few
    steps; it stops when every point moved less than ``tol_deg``.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(*wgs84_to_gcj02(121.5272106, 31.1774276))
    >>> round(float(lon), 9), round(float(lat), 9)
    (121.5272106, 31.1774276)
    """
    g_lon = np.asarray(lon, dtype=float)
    g_lat = np.asarray(lat, dtype=float)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(max_iter):
        dlon, dlat = _offset_deg(w_lon, w_lat)
        n_lon, n_lat = g_lon - dlon, g_lat - dlat
        step = np.concatenate([np.ravel(n_lon - w_lon), np.ravel(n_lat - w_lat)])
        moved = np.nanmax(np.abs(step), initial=0.0)
        w_lon, w_lat = n_lon, n_lat
        if moved < tol_deg:
            break
    return w_lon, w_lat


def _forward_coords(coords: np.ndarray) -> np.ndarray:
    lon, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
    return np.column_stack([lon, lat])


def _inverse_coords(coords: np.ndarray) -> np.ndarray:
    lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
    return np.column_stack([lon, lat])


def shift_geometries(geoms: Any, *, to: str = "gcj02") -> np.ndarray:
    """Return shapely geometries (longitude/latitude) moved to GCJ-02 (or back with ``to="wgs84"``).

    Parameters
    ----------
    geoms : array_like of shapely geometries
        Longitude/latitude geometries (WGS-84, CGCS2000 or, with ``to="wgs84"``, GCJ-02).
    to : {"gcj02", "wgs84"}
        Target system.

    Examples
    --------
    >>> import shapely
    >>> moved = shift_geometries([shapely.Point(116.404, 39.915)])
    >>> round(moved[0].x, 6), round(moved[0].y, 6)
    (116.410244, 39.916404)
    """
    if to not in ("gcj02", "wgs84"):
        msg = f"shift_geometries: to={to!r} is not a target; use 'gcj02' or 'wgs84'."
        raise ValueError(msg)
    arr = np.asarray(geoms, dtype=object)
    fn = _forward_coords if to == "gcj02" else _inverse_coords
    return np.asarray(shapely.transform(arr, fn), dtype=object)
