"""Checks on real-world input: CRS and axis order, text encoding, geometry, outliers and magnitudes.

Two kinds of check live here.

* **Read-stage checks** (coordinate system, axis order, zone prefix, mojibake) run before a
  :class:`~landeff.errors.Diagnostics` exists. They return *notes*: dicts of the keyword arguments of
  :meth:`Diagnostics.warn <landeff.errors.Diagnostics.warn>`. :func:`landeff.io.vector.read_layer`
  keeps them in ``attrs["read_warnings"]`` and :func:`landeff.validate.standardise` records them.
* **Validate-stage checks** (overlaps, slivers, far-away parcels, tiny buildings, tile-edge cuts,
  money magnitudes, tax refunds) take a ``diagnostics`` and record warnings there. None of them drops
  or changes a row; each says what it found, where, and what to do.

Every threshold is a keyword argument with a documented default.
"""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Geod, Proj, Transformer

from .crs import area_zones, lonlat_of, planar_area_m2
from .errors import Diagnostics
from .parallel import query_in_runs

Note = dict[str, Any]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while bulk work makes many objects.

    Geometries, lists and frames of a large layer are containers the collector would traverse
    hundreds of times while they are made; none of them forms a cycle. The collector's state is
    restored afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --------------------------------------------------------------------------------------------
# Text encoding (mojibake)
# --------------------------------------------------------------------------------------------

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_HIGH_LATIN1 = re.compile(r"[\x80-\xff]")


def decode_tolerant(raw: bytes, encoding: str) -> str | None:
    r"""Decode ``raw``, allowing a character cut in half at the end (DBF names cut to 10 bytes).

    Returns None when the bytes are not text in ``encoding``.

    Examples
    --------
    >>> decode_tolerant("宗地编号".encode("utf-8")[:10], "utf-8")
    '宗地编'
    >>> decode_tolerant(b"\xd7\xda\xb5\xd8", "gbk")
    '宗地'
    """
    for cut in range(4):
        if cut and len(raw) <= cut:
            break
        try:
            return (raw[:-cut] if cut else raw).decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    return None


def latin1_mojibake(text: str) -> str | None:
    """Return the GBK reading of text that is GBK bytes shown as Latin-1 (``×ÚµØ±àºÅ``), else None.

    Examples
    --------
    >>> latin1_mojibake("×ÚµØ±àºÅ")
    '宗地编号'
    >>> latin1_mojibake("宗地编号") is None
    True
    """
    if not _HIGH_LATIN1.search(text):
        return None
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        return None
    fixed = decode_tolerant(raw, "gb18030")
    if fixed is None:
        return None
    cjk = len(_CJK.findall(fixed))
    non_ascii = sum(1 for ch in fixed if ord(ch) > 127)
    return fixed if cjk and cjk >= 0.5 * non_ascii else None


def gbk_mojibake(text: str) -> str | None:
    """Return the UTF-8 reading of text that is UTF-8 bytes shown as GBK (``瀹楀湴缂栧彿``), else None.

    Examples
    --------
    >>> gbk_mojibake("瀹楀湴缂栧彿")
    '宗地编号'
    >>> gbk_mojibake("宗地编号") is None
    True
    """
    if not _CJK.search(text):
        return None
    try:
        raw = text.encode("gb18030")
    except UnicodeEncodeError:
        return None
    fixed = decode_tolerant(raw, "utf-8")
    if fixed is None or fixed == text or not _CJK.search(fixed):
        return None
    return fixed


def detect_mojibake(texts: Iterable[Any], *, min_share: float = 0.5) -> str | None:
    """Tell whether text was decoded with the wrong encoding, and which one would be right.

    Parameters
    ----------
    texts : iterable
        Field names and a sample of text values (non-strings are ignored).
    min_share : float
        Share of the non-ASCII strings that must read as mojibake (default one half).

    Returns
    -------
    str or None
        ``"gbk"`` when the text is GBK bytes read as Latin-1, ``"utf-8"`` when it is UTF-8 bytes read
        as GBK, None when it looks right.

    Examples
    --------
    >>> detect_mojibake(["×ÚµØ±àºÅ", "ID", "ÎÞÎý¼×¹«Ë¾"])
    'gbk'
    >>> detect_mojibake(["宗地编号", "无锡甲公司"]) is None
    True
    """
    non_ascii = latin = utf8 = 0
    for t in texts:
        if not isinstance(t, str) or t.isascii():
            continue
        non_ascii += 1
        if latin1_mojibake(t) is not None:
            latin += 1
        elif gbk_mojibake(t) is not None:
            utf8 += 1
    if not non_ascii:
        return None
    if latin >= min_share * non_ascii:
        return "gbk"
    if utf8 >= max(min_share, 0.8) * non_ascii:
        return "utf-8"
    return None


def text_sample(frame: pd.DataFrame, *, max_values: int = 2000) -> list[Any]:
    """Return the column names and up to ``max_values`` text cells of ``frame`` (for detection)."""
    out: list[Any] = [str(c) for c in frame.columns]
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    per_col = max(1, max_values // max(1, len(frame.columns)))
    for col in frame.columns:
        if col == geometry or frame[col].dtype != object and not pd.api.types.is_string_dtype(
            frame[col].dtype
        ):
            continue
        values = frame[col]
        # The first per_col values that are not missing: usually among the first rows.
        found = values.iloc[: 4 * per_col].dropna()
        if len(found) < per_col and len(values) > 4 * per_col:
            found = values.dropna()
        out += found.head(per_col).tolist()
    return out


def transcode_frame(frame: pd.DataFrame, convert: Any) -> pd.DataFrame:
    """Apply ``convert(str) -> str`` to column names and text cells; other cells stay as they are."""
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    out = frame.copy()
    for col in out.columns:
        if col == geometry:
            continue
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(lambda v: convert(v) if isinstance(v, str) else v).astype(
                object
            )
    renamed = {c: convert(c) for c in out.columns if isinstance(c, str) and c != geometry}
    return out.rename(columns=renamed)


# --------------------------------------------------------------------------------------------
# Coordinate systems: axis order, zone prefix, fit, scale
# --------------------------------------------------------------------------------------------

#: Longitude and latitude box of China (with the South China Sea), in degrees.
CHINA_LON = (72.0, 136.0)
CHINA_LAT = (3.0, 54.0)
#: Northings of China in a transverse Mercator projection (m).
CHINA_NORTHING = (0.3e6, 6.1e6)

#: Geodetic CRS -> first EPSG code of its Gauss-Krüger families:
#: (3-degree with zone prefix (zone 25), 3-degree without (CM 75E), 6-degree with (zone 13),
#: 6-degree without (CM 75E)).
GK_FAMILIES = {
    4490: (4513, 4534, 4491, 4502),  # CGCS2000
    4610: (2349, 2370, 2327, 2338),  # Xian 1980
    4214: (2401, 2422, 21413, 21453),  # Beijing 1954
}


def centroid_xy(geoms: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    """Return the centre of each geometry's bounding box, in its own coordinates (NaN when empty).

    Cheaper than the centroid and as good for telling which system coordinates are in.
    """
    bounds = shapely.bounds(np.asarray(geoms.values, dtype=object))
    return (bounds[:, 0] + bounds[:, 2]) / 2.0, (bounds[:, 1] + bounds[:, 3]) / 2.0


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if len(mask) else 0.0


def _within(v: np.ndarray, lo_hi: tuple[float, float]) -> np.ndarray:
    return (v >= lo_hi[0]) & (v <= lo_hi[1])


def tm_parameters(crs: CRS) -> dict[str, float] | None:
    """Return the transverse Mercator parameters of a projected CRS, or None for other projections.

    Keys: ``lon_0`` (central meridian, degrees), ``k`` (scale factor), ``x_0`` and ``y_0`` (false
    easting and northing, in the CRS's linear unit).

    Examples
    --------
    >>> tm_parameters(CRS.from_epsg(4528))["x_0"]
    40500000.0
    """
    if not crs.is_projected or crs.coordinate_operation is None:
        return None
    op = crs.coordinate_operation
    if "transverse mercator" not in op.method_name.lower():
        return None
    names = {
        "longitude of natural origin": "lon_0",
        "scale factor at natural origin": "k",
        "false easting": "x_0",
        "false northing": "y_0",
    }
    out: dict[str, float] = {}
    for p in op.params:
        key = names.get(p.name.lower())
        if key is not None:
            out[key] = float(p.value)
    return out if len(out) == 4 else None


def _epsg_label(crs: CRS) -> str:
    code = crs.to_epsg(min_confidence=90)
    return f"EPSG:{code}" if code else "a custom CRS"


def _crs_arg(crs: CRS) -> str:
    code = crs.to_epsg(min_confidence=90)
    return str(code) if code else f"'{crs.to_proj4()}'"


def axis_order(
    gdf: gpd.GeoDataFrame,
    *,
    file: str,
    min_share: float = 0.9,
    centres: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[gpd.GeoDataFrame, list[Note]]:
    """Swap x and y when a layer's coordinates are evidently in (y, x) order.

    Geographic data: x ("longitude") in 3–54 and y ("latitude") in 72–136 is latitude/longitude.
    Transverse Mercator: x within the northings of China and y outside them is (north, east).
    At least ``min_share`` of the features must look swapped and none may look right.
    ``centres`` is :func:`centroid_xy` of the layer when the caller has it already.

    Returns
    -------
    GeoDataFrame, list of notes
        The layer (swapped when needed) and an ``axes_swapped`` note.
    """
    if gdf.crs is None or gdf.empty:
        return gdf, []
    x, y = centroid_xy(gdf.geometry) if centres is None else centres
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if not len(x):
        return gdf, []
    if gdf.crs.is_geographic:
        swapped = _within(x, CHINA_LAT) & _within(y, CHINA_LON)
        right = _within(x, CHINA_LON) & _within(y, CHINA_LAT)
        what = "latitude, longitude"
        example = f"x (\"longitude\") ≈ {np.median(x):.4f}, y (\"latitude\") ≈ {np.median(y):.4f}"
    else:
        tm = tm_parameters(gdf.crs)
        if tm is None or tm["y_0"] != 0:
            return gdf, []
        swapped = _within(x, (1.5e6, CHINA_NORTHING[1])) & ((y < 1.0e6) | (y > 1.2e7))
        right = _within(y, CHINA_NORTHING) & ((x < 1.0e6) | (x > 1.2e7))
        what = "northing, easting"
        example = f"x (\"easting\") ≈ {np.median(x):,.0f} m, y (\"northing\") ≈ {np.median(y):,.0f} m"
    if _share(swapped) < min_share or right.any():
        return gdf, []
    out = gdf.copy()
    geoms = np.asarray(out.geometry.values, dtype=object)
    out = out.set_geometry(
        gpd.GeoSeries(shapely.transform(geoms, lambda c: c[:, ::-1]), index=out.index, crs=out.crs)
    )
    note = {
        "code": "axes_swapped",
        "message": (
            f"{file}: the coordinates are in ({what}) order ({example}), which is not possible in "
            f"{gdf.crs.name}; x and y were swapped for every feature. Export the layer with x = "
            "east (longitude) and y = north (latitude) to silence this."
        ),
        "file": file,
        "column": "geometry",
        "value": example,
    }
    return out, [note]


def gk_family_crs(geodetic_epsg: int | None, *, cm: float, prefix: bool, width: int) -> CRS | None:
    """Return the EPSG Gauss-Krüger CRS of a datum for a central meridian, or None if there is none.

    Parameters
    ----------
    geodetic_epsg : int
        4490 (CGCS2000), 4610 (Xian 1980) or 4214 (Beijing 1954).
    cm : float
        Central meridian (degrees east).
    prefix : bool
        Whether eastings carry the zone number in front.
    width : int
        3 or 6 (degree zones).

    Examples
    --------
    >>> gk_family_crs(4490, cm=120, prefix=True, width=3).to_epsg()
    4528
    >>> gk_family_crs(4610, cm=120, prefix=False, width=3).to_epsg()
    2385
    """
    first = GK_FAMILIES.get(geodetic_epsg or -1)
    if first is None:
        return None
    if width == 3:
        zone = round(cm / 3)
        code = first[0] + zone - 25 if prefix else first[1] + round((cm - 75) / 3)
        lo, hi = 25, 45
    else:
        zone = round((cm + 3) / 6)
        code = first[2] + zone - 13 if prefix else first[3] + round((cm - 75) / 6)
        lo, hi = 13, 23
    if not lo <= zone <= hi:
        return None
    crs = CRS.from_epsg(code)
    tm = tm_parameters(crs)
    expect_x0 = zone * 1e6 + 5e5 if prefix else 5e5
    if tm is None or tm["lon_0"] != cm or tm["x_0"] != expect_x0:
        return None
    return crs


def _rebuilt_tm(crs: CRS, *, cm: float, x_0: float) -> CRS:
    """Return ``crs`` with another central meridian and false easting (same datum and scale)."""
    data = crs.to_json_dict()
    for p in data["conversion"]["parameters"]:
        if p["name"].lower() == "longitude of natural origin":
            p["value"] = cm
        elif p["name"].lower() == "false easting":
            p["value"] = x_0
    data.pop("id", None)
    data["name"] = f"{crs.name} (CM {cm:g}E, false easting {x_0:,.0f})"
    data["conversion"].pop("id", None)
    return CRS.from_json_dict(data)


def zone_prefix(
    gdf: gpd.GeoDataFrame, *, file: str, centres: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[gpd.GeoDataFrame, list[Note]]:
    """Match a Gauss-Krüger layer's CRS to whether its eastings carry the zone prefix.

    A 3-degree zone's eastings are 500,000 m ± 200 km without the prefix and
    ``zone × 1,000,000 + 500,000`` with it (zones 25–45; 6-degree zones 13–23). When the declared CRS
    disagrees with the coordinates (a prefix CRS such as EPSG:4528 for eastings near 500,000, or a
    no-prefix CRS such as EPSG:4549 for eastings near 40,500,000), the CRS the coordinates fit is
    assigned, with a ``crs_zone_prefix`` note that says which CRS to declare. ``centres`` is
    :func:`centroid_xy` of the layer when the caller has it already.

    Examples
    --------
    >>> import shapely
    >>> g = gpd.GeoDataFrame(geometry=[shapely.box(40500000, 3500000, 40500100, 3500100)], crs=4549)
    >>> fixed, notes = zone_prefix(g, file="p.shp")
    >>> fixed.crs.to_epsg(), notes[0]["code"]
    (4528, 'crs_zone_prefix')
    """
    crs = gdf.crs
    if crs is None or gdf.empty:
        return gdf, []
    tm = tm_parameters(crs)
    if tm is None or tm["k"] != 1.0 or tm["y_0"] != 0:
        return gdf, []
    x = (centroid_xy(gdf.geometry) if centres is None else centres)[0]
    x = x[np.isfinite(x)]
    if not len(x):
        return gdf, []
    x_med = float(np.median(x))
    crs_has_prefix = tm["x_0"] >= 1e6
    geodetic = crs.geodetic_crs.to_epsg() if crs.geodetic_crs is not None else None
    if x_med >= 1e7:
        zone = int(x_med // 1e6)
        if crs_has_prefix and int(tm["x_0"] // 1e6) == zone:
            return gdf, []
        if 25 <= zone <= 45:
            width, cm = 3, 3.0 * zone
        elif 13 <= zone <= 23:
            width, cm = 6, 6.0 * zone - 3
        else:
            return gdf, []
        x_0 = zone * 1e6 + 5e5
        what = (
            f"the eastings (median {x_med:,.0f} m) carry the zone number {zone} in front "
            f"(Gauss-Krüger {width}-degree zone {zone}, CM {cm:g}°E)"
        )
        prefix = True
    elif 0 < x_med < 1e6 and crs_has_prefix:
        zone = int(tm["x_0"] // 1e6)
        width = 3 if 25 <= zone <= 45 else 6
        cm, x_0, prefix = tm["lon_0"], 5e5, False
        what = (
            f"the eastings (median {x_med:,.0f} m) have no zone number in front, but the CRS "
            f"expects zone {zone}'s prefix (false easting {tm['x_0']:,.0f} m)"
        )
    else:
        return gdf, []
    new = gk_family_crs(geodetic, cm=cm, prefix=prefix, width=width) or _rebuilt_tm(
        crs, cm=cm, x_0=x_0
    )
    arg = _crs_arg(new)
    note = {
        "code": "crs_zone_prefix",
        "message": (
            f"{file}: {what}; the layer declares {crs.name} ({_epsg_label(crs)}), which does not fit. "
            f"Read as {new.name} ({_epsg_label(new)}). Fix the .prj, or remove it and pass "
            f"--crs {arg} (API: input_crs=...)."
        ),
        "file": file,
        "column": "geometry",
        "value": f"{x_med:.0f}",
    }
    return gdf.set_crs(new, allow_override=True), [note]


def crs_misfit(crs: CRS, x: np.ndarray, y: np.ndarray) -> str | None:
    """Say why coordinates cannot be in ``crs`` at all (None when they can).

    Geographic coordinates must be within ±180/±90. Projected coordinates must transform to a
    finite longitude and latitude, and must not be small numbers that look like longitude and
    latitude in China (a projected CRS declared for degrees).
    """
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return None
    x, y = x[ok], y[ok]
    xm, ym = float(np.median(x)), float(np.median(y))
    if crs.is_geographic:
        if (np.abs(x) > 180).any() or (np.abs(y) > 90).any():
            return (
                f"coordinates such as ({xm:,.1f}, {ym:,.1f}) are not degrees of longitude and "
                f"latitude, but {crs.name} is a geographic CRS"
            )
        return None
    if not crs.is_projected:
        return None
    if (_within(x, CHINA_LON) & _within(y, CHINA_LAT)).all():
        return (
            f"the coordinates (median {xm:.4f}, {ym:.4f}) are degrees of longitude and latitude, "
            f"but {crs.name} is a projected CRS in metres"
        )
    tr = Transformer.from_crs(crs, crs.geodetic_crs or 4326, always_xy=True)
    lon, lat = tr.transform(xm, ym, errcheck=False)
    if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lat) > 90:
        return f"the coordinates (median {xm:,.0f}, {ym:,.0f}) lie outside {crs.name}"
    return None


def crs_far_from_use(
    crs: CRS, x: np.ndarray, y: np.ndarray, *, margin_deg: float = 10.0
) -> str | None:
    """Say where coordinates fall when that is over ``margin_deg`` outside the CRS's area of use."""
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any() or not crs.is_projected or crs.area_of_use is None:
        return None
    xm, ym = float(np.median(x[ok])), float(np.median(y[ok]))
    tr = Transformer.from_crs(crs, crs.geodetic_crs or 4326, always_xy=True)
    lon, lat = tr.transform(xm, ym, errcheck=False)
    aou = crs.area_of_use
    if not (math.isfinite(lon) and math.isfinite(lat)) or (
        aou.west - margin_deg <= lon <= aou.east + margin_deg
        and aou.south - margin_deg <= lat <= aou.north + margin_deg
    ):
        return None
    return (
        f"in {crs.name} the coordinates (median {xm:,.0f}, {ym:,.0f}) fall at longitude "
        f"{lon:.2f}, latitude {lat:.2f}, far from where that CRS is used "
        f"({aou.west:g}–{aou.east:g}°E, {aou.south:g}–{aou.north:g}°N)"
    )


def guess_crs(x: np.ndarray, y: np.ndarray) -> str:
    """Suggest which CRS coordinates are in, from their magnitude (for an error message).

    Examples
    --------
    >>> guess_crs(np.array([40512345.0]), np.array([3487654.0]))[:60]
    'the eastings carry the zone prefix 40 (3-degree Gauss-Krüger'
    """
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return "the layer has no coordinates to go by"
    xm, ym = float(np.median(x[ok])), float(np.median(y[ok]))
    if CHINA_LON[0] <= xm <= CHINA_LON[1] and CHINA_LAT[0] <= ym <= CHINA_LAT[1]:
        return (
            f"the coordinates (median {xm:.4f}, {ym:.4f}) look like longitude and latitude: "
            "--crs 4490 (CGCS2000) or --crs 4326 (WGS 84)"
        )
    if CHINA_LAT[0] <= xm <= CHINA_LAT[1] and CHINA_LON[0] <= ym <= CHINA_LON[1]:
        return (
            f"the coordinates (median {xm:.4f}, {ym:.4f}) look like latitude and longitude in "
            "that order: --crs 4490 (CGCS2000); x and y will then be swapped, with a warning"
        )
    if xm >= 1e7 and CHINA_NORTHING[0] <= ym <= CHINA_NORTHING[1]:
        zone = int(xm // 1e6)
        if 25 <= zone <= 45:
            return (
                f"the eastings carry the zone prefix {zone} (3-degree Gauss-Krüger, CM "
                f"{3 * zone}°E): --crs {4513 + zone - 25} for CGCS2000, {2349 + zone - 25} for "
                f"Xian 80, {2401 + zone - 25} for Beijing 54"
            )
        if 13 <= zone <= 23:
            return (
                f"the eastings carry the zone prefix {zone} (6-degree Gauss-Krüger, CM "
                f"{6 * zone - 3}°E): --crs {4491 + zone - 13} for CGCS2000, {2327 + zone - 13} "
                f"for Xian 80, {21413 + zone - 13} for Beijing 54"
            )
    if 1e5 <= xm < 1e6 and CHINA_NORTHING[0] <= ym <= CHINA_NORTHING[1]:
        return (
            f"the coordinates (median {xm:,.0f}, {ym:,.0f}) look like Gauss-Krüger or UTM metres "
            "without a zone prefix; the central meridian cannot be told from them. For CGCS2000 "
            "3-degree zones pass --crs 4534 + (CM − 75)/3, e.g. --crs 4549 for CM 120°E"
        )
    return (
        f"the coordinates (median {xm:,.1f}, {ym:,.1f}) fit no national system; for a local city "
        "system pass its WKT or PROJ string, e.g. --crs '+proj=tmerc +lon_0=120.5 +x_0=50000 "
        "+y_0=-3000000 +ellps=GRS80 +units=m'"
    )


def area_scale(
    gdf: gpd.GeoDataFrame, *, file: str, tolerance: float = 0.001
) -> list[Note]:
    """Note when the layer's projected CRS distorts areas at the site by more than ``tolerance``.

    landeff measures area in each parcel's CGCS2000 Gauss-Krüger zone, so its own figures are not
    affected; an area column stored with the file (computed in the file's CRS) is.
    """
    crs = gdf.crs
    if crs is None or not crs.is_projected or gdf.empty:
        return []
    lon, lat = lonlat_of(gdf.geometry)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return []
    lon0, lat0 = float(np.median(lon[ok])), float(np.median(lat[ok]))
    try:
        scale = float(Proj(crs).get_factors(lon0, lat0).areal_scale)
    except Exception:  # noqa: BLE001 - pyproj raises several kinds for exotic projections
        return []
    if not math.isfinite(scale) or abs(scale - 1.0) <= tolerance:
        return []
    zone = int(area_zones(gpd.GeoSeries([shapely.Point(lon0, lat0)], crs=4490)).iloc[0])
    return [
        {
            "code": "crs_not_site_zone",
            "message": (
                f"{file}: the layer's CRS {crs.name} ({_epsg_label(crs)}) "
                f"{'enlarges' if scale > 1 else 'shrinks'} areas by {abs(scale - 1) * 100:.2f} % at "
                f"the site ({lon0:.2f}°E, {lat0:.2f}°N): it is not the site's zone. landeff measures "
                f"area in the CGCS2000 Gauss-Krüger zone of each parcel (EPSG:{zone} here), so its "
                "figures are not affected; an area column computed in the layer's CRS is off by "
                "that much."
            ),
            "file": file,
            "column": "geometry",
            "value": round(scale, 6),
        }
    ]


# --------------------------------------------------------------------------------------------
# Parcels and buildings (validate stage)
# --------------------------------------------------------------------------------------------


def warn_values(
    diagnostics: Diagnostics,
    frame: pd.DataFrame,
    code: str,
    message: str,
    *,
    column: str,
    values: Iterable[Any],
) -> None:
    """Record one warning per row of ``frame``, each with its own value (not a column of ``frame``)."""
    vals = values if isinstance(values, list | np.ndarray | pd.Series) else list(values)
    if len(vals) != len(frame):
        msg = f"{len(vals)} values given for {len(frame)} rows"
        raise ValueError(msg)
    if isinstance(vals, pd.Series):
        vals = vals.to_numpy()
    diagnostics.warn_rows(frame, code, message, column=column, values=vals)


def _positions(frame: pd.DataFrame, rows: np.ndarray) -> tuple[list[Any], list[Any]]:
    """Return ``_file`` and ``_row`` of the rows at positions ``rows`` (None where absent)."""
    out = []
    for col in ("_file", "_row"):
        if col in frame:
            out.append(frame[col].to_numpy(dtype=object)[rows].tolist())
        else:
            out.append([None] * len(rows))
    return out[0], out[1]


def _ids(frame: pd.DataFrame, id_column: str) -> np.ndarray:
    if id_column in frame:
        return frame[id_column].astype(object).to_numpy()
    return np.asarray([f"row {r}" for r in frame.get("_row", range(1, len(frame) + 1))], object)


def local_metres(geoms: gpd.GeoSeries) -> np.ndarray:
    """Return the geometries in approximate local metres (for thresholds, not for reported areas).

    Geographic data are scaled per geometry by the length of a degree at its centroid (error well
    under 1 % at parcel size); projected data by the CRS's unit.
    """
    values = np.asarray(geoms.values, dtype=object)
    crs = geoms.crs
    if crs is None:
        return values
    if crs.is_projected:
        factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
        return values if factor == 1.0 else shapely.transform(values, lambda c: c * factor)
    _, lat = centroid_xy(geoms)
    coords, index = shapely.get_coordinates(values, return_index=True)
    if not len(coords):
        return values
    lat_rad = np.radians(np.nan_to_num(lat, nan=0.0))[index]
    scaled = np.column_stack([coords[:, 0] * 111_320.0 * np.cos(lat_rad), coords[:, 1] * 110_574.0])
    return shapely.set_coordinates(values.copy(), scaled)  # the copy keeps the input unchanged


def slivers(
    parcels: gpd.GeoDataFrame,
    *,
    diagnostics: Diagnostics,
    min_area_m2: float = 1.0,
    min_width_m: float = 1.0,
    id_column: str = "parcel_id",
) -> pd.Series:
    """Warn on sliver polygons: area under ``min_area_m2`` or width under ``min_width_m``.

    The width is that of the rectangle with the same area and perimeter (exact for rectangles and
    thin strips). The parcels are kept.

    Returns
    -------
    Series of bool
        Which rows are slivers.
    """
    n = len(parcels)
    area, width = np.full(n, np.nan), np.full(n, np.nan)
    # Exact figures (in local metres) only where a cheap bound cannot rule a sliver out.
    bounds = _local_bounds(parcels.geometry)
    if bounds is None:
        look = np.ones(n, dtype=bool)
    else:
        area_lo, _, perimeter_lo, perimeter_hi = bounds
        width_lo = np.minimum(_same_rectangle_width(perimeter_lo, area_lo),
                              _same_rectangle_width(perimeter_hi, area_lo))
        look = ~((area_lo >= min_area_m2 * _ABOVE) & (width_lo >= min_width_m * _ABOVE))
    at = np.flatnonzero(look)
    metric = local_metres(parcels.geometry.iloc[at])
    area[at] = shapely.area(metric)
    perimeter = shapely.length(metric)
    width[at] = _same_rectangle_width(perimeter, area[at])
    present = np.zeros(n, dtype=bool)
    present[at] = ~(shapely.is_missing(metric) | shapely.is_empty(metric)) & (area[at] > 0)
    hit = present & ((area < min_area_m2) | (width < min_width_m))
    at = np.flatnonzero(hit)
    if len(at):
        ids = _ids(parcels, id_column)[at]
        files, rows = _positions(parcels, at)
        messages = [
            f"{f}: feature {r} ({id_column} {i!r}) is a sliver: about {a:.2f} m², {w:.2f} m wide "
            f"(thresholds {min_area_m2:g} m², {min_width_m:g} m). It is usually a digitising "
            "leftover: check it, then delete it or merge it with its neighbour in the source."
            for f, r, i, a, w in zip(files, rows, ids, area[at], width[at], strict=True)
        ]
        diagnostics.warn_rows(parcels.iloc[at], "sliver", messages, column=id_column, values=ids)
    return pd.Series(hit, index=parcels.index)


#: Relative margin by which a bound must clear a threshold to skip the exact measure.
_ABOVE = 1.0 + 1e-6


def _same_rectangle_width(perimeter: np.ndarray, area: np.ndarray) -> np.ndarray:
    """Return the width of the rectangle with the same area and perimeter: w = P/4 - sqrt(P²/16 - A)."""
    quarter = perimeter / 4.0
    return quarter - np.sqrt(np.maximum(quarter**2 - area, 0.0))


def _local_bounds(
    geoms: gpd.GeoSeries,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Return bounds on the area and perimeter :func:`local_metres` gives, without transforming.

    For a geographic layer each geometry is scaled by ``kx`` east and ``ky`` north, so its area is
    its area in degrees times ``kx·ky``, and its perimeter lies between its perimeter in degrees
    times the smaller and the larger of the two (widened by a rounding margin). Returns (area low,
    area high, perimeter low, perimeter high) in m² and m, or None for other layers (whose exact
    measure costs no more). Missing and empty geometries get NaN.
    """
    if geoms.crs is None or not geoms.crs.is_geographic:
        return None
    values = np.asarray(geoms.values, dtype=object)
    _, lat = centroid_xy(geoms)
    kx = 111_320.0 * np.cos(np.radians(np.nan_to_num(lat, nan=0.0)))
    ky = 110_574.0
    area = shapely.area(values) * kx * ky
    length = shapely.length(values)
    margin = _ABOVE - 1.0
    return (
        area * (1 - margin), area * (1 + margin),
        length * np.minimum(kx, ky) * (1 - margin), length * np.maximum(kx, ky) * (1 + margin),
    )


def _m2_per_unit2(crs: CRS, lat: np.ndarray) -> np.ndarray:
    """Square metres in one square unit of ``crs`` (a degree² at latitude ``lat`` when geographic)."""
    if crs.is_geographic:
        return 111_320.0 * np.cos(np.radians(np.nan_to_num(lat))) * 110_574.0
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return np.full(len(lat), factor**2)


def overlaps(
    parcels: gpd.GeoDataFrame,
    *,
    diagnostics: Diagnostics,
    min_overlap_m2: float = 1.0,
    id_column: str = "parcel_id",
) -> pd.DataFrame:
    """Report pairs of parcels that overlap by at least ``min_overlap_m2`` (one warning per pair).

    Parcels that only share an edge do not count. Overlap area is measured in the CGCS2000 GK zone of
    the overlap. The parcels are kept as they are: buildings in an overlap count on both parcels.

    Returns
    -------
    DataFrame
        ``parcel_id_a, parcel_id_b, overlap_m2, share_a, share_b`` (shares of each parcel's area).
    """
    cols = [f"{id_column}_a", f"{id_column}_b", "overlap_m2", "share_a", "share_b"]
    geoms = np.asarray(parcels.geometry.values, dtype=object)
    if len(geoms) < 2 or parcels.crs is None:
        return pd.DataFrame(columns=cols)
    tree = shapely.STRtree(geoms)
    a, b = query_in_runs(tree, geoms)  # bounding boxes only; the exact test follows on fewer pairs
    keep = a < b
    a, b = a[keep], b[keep]
    # An overlap lies inside the overlap of the two bounding boxes: pairs whose boxes overlap by
    # less than min_overlap_m2 (e.g. neighbours that share an edge) cannot qualify.
    bounds = shapely.bounds(geoms)
    width = np.minimum(bounds[a, 2], bounds[b, 2]) - np.maximum(bounds[a, 0], bounds[b, 0])
    height = np.minimum(bounds[a, 3], bounds[b, 3]) - np.maximum(bounds[a, 1], bounds[b, 1])
    box_m2 = np.clip(width, 0, None) * np.clip(height, 0, None) * _m2_per_unit2(
        parcels.crs, (bounds[a, 1] + bounds[a, 3]) / 2.0
    )
    keep = box_m2 * 1.05 >= min_overlap_m2
    a, b = a[keep], b[keep]
    keep = shapely.relate_pattern(geoms[a], geoms[b], "2********")
    a, b = a[keep], b[keep]
    if not len(a):
        return pd.DataFrame(columns=cols)
    inter = shapely.intersection(geoms[a], geoms[b])
    inter_s = gpd.GeoSeries(inter, crs=parcels.crs)
    area_m2 = planar_area_m2(inter_s, area_zones(inter_s)).to_numpy()
    whole = gpd.GeoSeries(geoms[np.concatenate([a, b])], crs=parcels.crs)
    whole_m2 = planar_area_m2(whole, area_zones(whole)).to_numpy()
    big = area_m2 >= min_overlap_m2
    ids = _ids(parcels, id_column)
    with np.errstate(invalid="ignore", divide="ignore"):
        share_a = area_m2 / whole_m2[: len(a)]
        share_b = area_m2 / whole_m2[len(a):]
    report = pd.DataFrame(
        {
            cols[0]: ids[a], cols[1]: ids[b], "overlap_m2": area_m2,
            "share_a": share_a, "share_b": share_b,
        }
    ).loc[big].reset_index(drop=True)
    if len(report):
        files, rows_a = _positions(parcels, a[big])
        _, rows_b = _positions(parcels, b[big])
        messages = [
            f"{f}: parcels {ia!r} (feature {ra}) and {ib!r} (feature {rb}) overlap by "
            f"{m2:,.1f} m² ({sa:.1%} and {sb:.1%} of their areas)"
            + ("; they are the same shape twice" if sa > 0.999 and sb > 0.999 else "")
            + ". Land and buildings in the overlap count on both parcels; correct the boundaries "
            "in the land register layer."
            for f, ra, rb, ia, ib, m2, sa, sb in zip(
                files, rows_a, rows_b, report[cols[0]], report[cols[1]], report["overlap_m2"],
                report["share_a"], report["share_b"], strict=True,
            )
        ]
        values = [f"{ia}|{ib}" for ia, ib in zip(report[cols[0]], report[cols[1]], strict=True)]
        diagnostics.warn_rows(
            parcels.iloc[a[big]], "parcel_overlap", messages, column=id_column, values=values
        )
    return report


#: Columns that say which park a parcel belongs to, in the order they are used by
#: :func:`far_outside`.
GROUP_COLUMNS = ("park_id", "county_code")


def far_outside(
    parcels: gpd.GeoDataFrame,
    *,
    diagnostics: Diagnostics,
    max_km: float = 50.0,
    min_parcels: int = 3,
    id_column: str = "parcel_id",
    group_columns: tuple[str, ...] = GROUP_COLUMNS,
    exact: bool = True,
) -> pd.Series:
    """Warn on parcels more than ``max_km`` from the middle of their park.

    The middle is the median longitude and latitude of the parcels' centroids, taken within each
    park: the groups of the first of ``group_columns`` (``park_id``, else ``county_code``) that the
    layer has with values, so a layer of many parks is checked park by park (parcels with no value
    there form one group). Without such a column the whole layer is one park. A group of fewer than
    ``min_parcels`` located parcels is not checked.

    With ``exact=False`` only the parcels that may lie beyond ``max_km`` are measured on the
    GRS80 ellipsoid: on a sphere of the mean radius every other parcel is more than 1 % short of
    it (the two measures differ by under 0.6 %); the warnings are the same either way.

    Returns
    -------
    Series of float
        Each parcel's distance (km) from the middle of its park (NaN without geometry, or in a
        group too small to check): the geodesic on GRS80, or with ``exact=False`` the distance
        on the sphere for a parcel more than 1 % short of ``max_km`` on it.

    Examples
    --------
    >>> import shapely
    >>> g = gpd.GeoDataFrame(
    ...     {"parcel_id": list("ABCD"), "park_id": ["P1"] * 3 + ["P2"]},
    ...     geometry=[shapely.Point(120.0, 30.0), shapely.Point(120.01, 30.0),
    ...               shapely.Point(121.0, 30.0), shapely.Point(110.0, 20.0)], crs=4490)
    >>> d = Diagnostics()
    >>> far_outside(g, diagnostics=d).round(1).tolist()  # 0.99° of longitude at 30°N: 95.5 km
    [1.0, 0.0, 95.5, nan]
    >>> d.warnings["message"].str.contains("'C'.*park_id 'P1'").tolist()
    [True]
    """
    dist = pd.Series(np.nan, index=parcels.index)
    if len(parcels) < min_parcels or parcels.crs is None:
        return dist
    lon, lat = lonlat_of(parcels.geometry)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if ok.sum() < min_parcels:
        return dist
    key_column = next(
        (c for c in group_columns if c in parcels and parcels[c].notna().any()), None
    )
    if key_column is None:
        codes = np.zeros(len(parcels), dtype=np.int64)
        labels: list[Any] = [None]
    else:
        codes, uniques = pd.factorize(parcels[key_column], use_na_sentinel=False)
        labels = list(uniques)
    located = pd.DataFrame({"g": codes[ok], "lon": lon[ok], "lat": lat[ok]})
    by_group = located.groupby("g", sort=False)
    middle = by_group[["lon", "lat"]].median()
    size = by_group.size()
    lon0 = middle["lon"].reindex(range(len(labels))).to_numpy()[codes]
    lat0 = middle["lat"].reindex(range(len(labels))).to_numpy()[codes]
    checked = ok & (size.reindex(range(len(labels)), fill_value=0).to_numpy()[codes] >= min_parcels)
    km = np.full(len(lon), np.nan)
    if not exact:
        km[checked] = _sphere_km(lon0[checked], lat0[checked], lon[checked], lat[checked])
        checked &= ~(km < max_km * 0.99)  # only these may lie beyond max_km on the ellipsoid
    if checked.any():
        _, _, metres = Geod(ellps="GRS80").inv(
            lon0[checked], lat0[checked], lon[checked], lat[checked]
        )
        km[checked] = np.asarray(metres) / 1000.0
    dist[:] = km
    at = np.flatnonzero(np.nan_to_num(km, nan=-1.0) > max_km)
    if not len(at):
        return dist
    ids = _ids(parcels, id_column)[at]
    files, rows = _positions(parcels, at)
    where = [
        "the middle of the layer" if key_column is None else
        f"the middle of its {key_column} {labels[c]!r}" if _present(labels[c]) else
        f"the middle of the parcels without {key_column}"
        for c in codes[at]
    ]
    messages = [
        f"{f}: parcel {i!r} (feature {r}) lies {k:,.1f} km from {w} ({x:.4f}°E, {y:.4f}°N; "
        f"limit {max_km:g} km). A wrong CRS, a typing error in its coordinates, or a parcel of "
        "another park: check it."
        for f, i, r, k, w, x, y in zip(files, ids, rows, km[at], where, lon0[at], lat0[at],
                                       strict=True)
    ]
    diagnostics.warn_rows(
        parcels.iloc[at], "far_outside", messages, column=id_column,
        values=[round(float(k), 3) for k in km[at]],
    )
    return dist


def _sphere_km(lon0: np.ndarray, lat0: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Great-circle distance (km) on the sphere of the Earth's mean radius (haversine)."""
    lam0, phi0, lam, phi = (np.radians(v) for v in (lon0, lat0, lon, lat))
    h = np.sin((phi - phi0) / 2) ** 2 + np.cos(phi0) * np.cos(phi) * np.sin((lam - lam0) / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value)) and (
        value is not pd.NA
    )


def tiny_buildings(
    buildings: gpd.GeoDataFrame,
    *,
    diagnostics: Diagnostics,
    min_footprint_m2: float = 10.0,
    id_column: str = "building_id",
) -> pd.Series:
    """Warn on building footprints smaller than ``min_footprint_m2`` (kept; often tile-edge cuts)."""
    area = np.full(len(buildings), np.nan)
    bounds = _local_bounds(buildings.geometry)  # exact areas only where the bound is not enough
    look = np.ones(len(buildings), dtype=bool) if bounds is None else ~(
        bounds[0] >= min_footprint_m2 * _ABOVE)
    at = np.flatnonzero(look)
    area[at] = shapely.area(local_metres(buildings.geometry.iloc[at]))
    hit = (np.nan_to_num(area, nan=np.inf) < min_footprint_m2) & (area > 0)
    if hit.any():
        warn_values(
            diagnostics, buildings.loc[hit], "tiny_building",
            f"footprint smaller than {min_footprint_m2:g} m² (the value is its area in m²): a shed, "
            "a digitising leftover or a piece cut off at a map-tile edge; kept",
            column=id_column if id_column in buildings else "geometry",
            values=np.round(area[hit], 3),
        )
    return pd.Series(hit, index=buildings.index)


def tile_edge_cuts(
    buildings: gpd.GeoDataFrame,
    *,
    diagnostics: Diagnostics,
    min_pairs: int = 3,
    straight_deg: float = 1e-7,
    min_length_deg: float = 1e-5,
    snap_deg: float = 1e-5,
) -> pd.DataFrame:
    """Find footprints cut along web-map tile edges.

    A tile edge is a straight meridian or parallel that several pairs of touching footprints share.
    A building that straddles a tile edge arrives as two features, so building counts and
    per-building figures are inflated; summed footprint and floor area are not. Each cut feature
    gets a ``tile_edge_cut`` warning (kept as it is).

    Returns
    -------
    DataFrame
        ``axis`` (``lon`` or ``lat``), ``at_deg`` (the edge), ``pairs`` (touching pairs on it).
    """
    cols = ["axis", "at_deg", "pairs"]
    if buildings.crs is None or len(buildings) < 2:
        return pd.DataFrame(columns=cols)
    b = buildings if buildings.crs.is_geographic else buildings.to_crs(4326)
    geoms = np.asarray(b.geometry.values, dtype=object)
    tree = shapely.STRtree(geoms)
    i, j = query_in_runs(tree, geoms)  # boxes first: the exact test skips each one's own pair
    keep = i < j
    i, j = i[keep], j[keep]
    keep = shapely.touches(geoms[i], geoms[j])
    i, j = i[keep], j[keep]
    if not len(i):
        return pd.DataFrame(columns=cols)
    shared = shapely.intersection(shapely.boundary(geoms[i]), shapely.boundary(geoms[j]))
    parts, owner = shapely.get_parts(shared, return_index=True)
    lines = shapely.get_type_id(parts) == 1
    parts, owner = parts[lines], owner[lines]
    if not len(parts):
        return pd.DataFrame(columns=cols)
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    frame = pd.DataFrame({"p": idx, "x": coords[:, 0], "y": coords[:, 1]})
    ext = frame.groupby("p").agg(x0=("x", "min"), x1=("x", "max"), y0=("y", "min"), y1=("y", "max"))
    vertical = ((ext["x1"] - ext["x0"]) <= straight_deg) & ((ext["y1"] - ext["y0"]) >= min_length_deg)
    horizontal = ((ext["y1"] - ext["y0"]) <= straight_deg) & (
        (ext["x1"] - ext["x0"]) >= min_length_deg
    )
    seg = pd.concat(
        [
            pd.DataFrame({"axis": "lon", "at": ext.loc[vertical, "x0"], "pair": owner[ext.index[
                vertical]]}),
            pd.DataFrame({"axis": "lat", "at": ext.loc[horizontal, "y0"], "pair": owner[ext.index[
                horizontal]]}),
        ],
        ignore_index=True,
    )
    if seg.empty:
        return pd.DataFrame(columns=cols)
    # Cluster the edge positions per axis: a new edge starts after a gap wider than snap_deg.
    seg = seg.sort_values(["axis", "at"]).reset_index(drop=True)
    new_edge = (seg["axis"] != seg["axis"].shift()) | (seg["at"].diff() > snap_deg)
    seg["key"] = new_edge.cumsum()
    seg = seg.drop_duplicates(["axis", "key", "pair"])
    counts = seg.groupby(["axis", "key"])["pair"].transform("size")
    edges = seg.loc[counts >= min_pairs]
    if edges.empty:
        return pd.DataFrame(columns=cols)
    report = (
        edges.groupby(["axis", "key"])
        .agg(at_deg=("at", "median"), pairs=("pair", "size"))
        .reset_index()[["axis", "at_deg", "pairs"]]
        .sort_values(["axis", "at_deg"])
        .reset_index(drop=True)
    )
    feature_edge: dict[int, str] = {}
    for pair, axis, at in zip(edges["pair"], edges["axis"], edges["at"], strict=True):
        label = f"{axis} {at:.6f}"
        feature_edge.setdefault(int(i[pair]), label)
        feature_edge.setdefault(int(j[pair]), label)
    rows = np.array(sorted(feature_edge))
    warn_values(
        diagnostics, buildings.iloc[rows], "tile_edge_cut",
        "footprint is cut along a straight map-tile edge (the value gives it, in degrees) and its "
        "other part is a separate feature: building counts and per-building figures count it twice; "
        "summed footprint and floor area do not. Merge the parts in the source if counts matter",
        column="geometry", values=[feature_edge[r] for r in rows],
    )
    return report


# --------------------------------------------------------------------------------------------
# Tables (validate stage)
# --------------------------------------------------------------------------------------------

#: Money fields checked for implausible magnitudes.
MONEY_FIELDS = (
    "tax_wan", "revenue_wan", "output_wan", "value_added_wan", "rd_wan",
    "investment_total_wan", "investment_done_wan", "land_price_wan",
)


def money_magnitudes(
    frame: pd.DataFrame,
    *,
    diagnostics: Diagnostics,
    yuan_median_below: float = 1000.0,
    wan_median_above: float = 1e5,
) -> list[str]:
    """Warn when a money column's unit looks wrong from the size of its values.

    A column headed in 元 whose median positive value is under ``yuan_median_below`` 元 looks like
    万元; a column in 万元 (given or assumed) whose median is over ``wan_median_above`` 万元 (10亿)
    looks like 元. Values are not changed: the header decides, the warning says how to fix it.
    Reads ``frame.attrs["units"]`` (``{field: (header, unit)}``) from
    :func:`landeff.validate.standardise`.

    Returns
    -------
    list of str
        The fields warned about.
    """
    units: dict[str, tuple[str, str | None]] = frame.attrs.get("units", {})
    file = str(frame["_file"].iloc[0]) if len(frame) and "_file" in frame else "<input>"
    warned = []
    for name in MONEY_FIELDS:
        if name not in frame or name not in units:
            continue
        header, unit = units[name]
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        positive = values[values > 0]
        if not len(positive):
            continue
        median_wan = float(np.median(positive))
        if unit == "元" and median_wan * 1e4 < yuan_median_below:
            warned.append(name)
            diagnostics.warn(
                "unit_suspect",
                f"{file}: column {header!r} is in 元, but its median is {median_wan * 1e4:,.2f} 元 "
                f"(under {yuan_median_below:,.0f} 元 per row): the values look like 万元. If they "
                f"are, change the header to '{header.split('(')[0].split('（')[0]}(万元)'; they were "
                "read as 元.",
                file=file, column=header, value=round(median_wan * 1e4, 6),
            )
        elif unit in (None, "万元") and median_wan > wan_median_above:
            warned.append(name)
            diagnostics.warn(
                "unit_suspect",
                f"{file}: column {header!r} is read as 万元, but its median is {median_wan:,.0f} 万元 "
                f"(over {wan_median_above:,.0f} 万元 per row): the values look like 元. If they "
                f"are, change the header to '{header.split('(')[0].split('（')[0]}(元)'.",
                file=file, column=header, value=round(median_wan, 6),
            )
    return warned


def tax_refunds(frame: pd.DataFrame, *, diagnostics: Diagnostics) -> pd.Series:
    """Warn on negative tax (refunds such as 留抵退税); the rows are kept as given."""
    if "tax_wan" not in frame:
        return pd.Series(False, index=frame.index)
    neg = pd.to_numeric(frame["tax_wan"], errors="coerce") < 0
    if neg.any():
        header = frame.attrs.get("units", {}).get("tax_wan", ("tax_wan", None))[0]
        diagnostics.warn_rows(
            frame.loc[neg], "tax_refund",
            f"negative tax in {header!r} (the value, in 万元): a refund (e.g. 留抵退税) exceeding the "
            "tax paid. Kept as given, so this enterprise's 亩均税收 is negative; check it",
            column="tax_wan",
        )
    return neg
