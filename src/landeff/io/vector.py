"""Read parcel and building layers: any format pyogrio reads, and GeoParquet.

Real files are checked as they are read (see docs/input-problems.md):

* text encoding: a shapefile without ``.cpg``, or with a wrong one, whose Chinese text reads as
  mojibake (``×ÚµØ±àºÅ`` for 宗地编号) is read again as the encoding its bytes fit (GBK or UTF-8);
  ``encoding=`` overrides. DBF field names cut inside a character are decoded without the cut half.
* geometry GEOS cannot build (unclosed rings, rings of fewer than 4 points from CAD exports): the
  layer is read with those repaired or left empty, and each feature is named.
* coordinate system: a layer without one needs ``input_crs`` (the error suggests one from the
  coordinates); ``input_crs`` also replaces a declared CRS that the coordinates do not fit; x and y
  in (lat, lon) or (north, east) order are swapped back; a Gauss-Krüger CRS that disagrees with the
  zone prefix in the eastings is corrected.

Each of these is a warning in ``attrs["read_warnings"]`` (recorded by
:func:`landeff.validate.standardise`) or, when ``diagnostics`` is given, recorded at once.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely.errors import GEOSException

from ..checks import (
    area_scale,
    axis_order,
    centroid_xy,
    crs_far_from_use,
    crs_misfit,
    decode_tolerant,
    detect_mojibake,
    gbk_mojibake,
    gc_paused,
    guess_crs,
    latin1_mojibake,
    text_sample,
    transcode_frame,
    zone_prefix,
)
from ..crs import parse_crs
from ..errors import CRSError, Diagnostics, InputError

PARQUET_SUFFIXES = {".parquet", ".geoparquet", ".pq"}
#: Formats whose text encoding comes from a ``.cpg`` file (or is guessed by GDAL).
DBF_SUFFIXES = {".shp", ".dbf"}
#: GDAL's name for reading bytes unchanged (Python's ``latin-1`` is not a name GDAL knows).
RAW_ENCODING = "ISO-8859-1"
_CODECS = {"gbk": "gb18030", "cp936": "gb18030", "936": "gb18030", "gb2312": "gb18030"}

Note = dict[str, Any]


def read_layer(
    source: str | os.PathLike[str] | gpd.GeoDataFrame,
    *,
    layer: str | None = None,
    input_crs: object = None,
    encoding: str | None = None,
    diagnostics: Diagnostics | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector layer into a GeoDataFrame with a CRS and row positions.

    Parameters
    ----------
    source : path or GeoDataFrame
        GeoPackage, Shapefile, GeoJSON, any other format pyogrio reads, or GeoParquet.
    layer : str, optional
        Layer name for multi-layer files.
    input_crs : optional
        CRS (EPSG code, WKT or PROJ string) for a layer that has none, or whose declared CRS its
        coordinates do not fit. A layer whose own CRS fits keeps it (with a warning).
    encoding : str, optional
        Attribute encoding (e.g. ``gbk``); by default the ``.cpg``, checked against the text.
    diagnostics : Diagnostics, optional
        Receives the read warnings at once; without it they are kept in
        ``attrs["read_warnings"]`` for :func:`landeff.validate.standardise`.

    Returns
    -------
    GeoDataFrame
        With ``_file``, ``_sheet`` (the layer) and ``_row`` (1-based feature number).

    Raises
    ------
    CRSError
        When the layer has no CRS (or one its coordinates do not fit) and ``input_crs`` is not
        given; the message suggests one from the coordinates.
    InputError
        When the file cannot be found or read.
    """
    notes: list[Note] = []
    if isinstance(source, gpd.GeoDataFrame):
        file = "<GeoDataFrame>"
        gdf = _fix_text(source.copy(), file, notes)
    else:
        path = Path(source)
        file = str(path)
        if not path.exists():
            msg = f"{path}: file not found."
            raise InputError(msg)
        try:
            with gc_paused():  # every geometry is a new object the collector would traverse
                if path.suffix.lower() in PARQUET_SUFFIXES:
                    gdf = _fix_text(gpd.read_parquet(path), file, notes)
                elif path.suffix.lower() in DBF_SUFFIXES:
                    gdf = _read_dbf_layer(path, file, layer=layer, encoding=encoding, notes=notes)
                else:
                    gdf = _read_ogr(path, file, layer=layer, encoding=encoding, notes=notes)
                    if encoding is None:
                        gdf = _fix_text(gdf, file, notes)
        except InputError:
            raise
        except Exception as err:
            msg = f"{path}: cannot read the layer ({type(err).__name__}: {err})."
            raise InputError(msg) from err
    gdf = settle_crs(gdf, file, input_crs, notes)
    gdf.columns = [str(c) if c != gdf.geometry.name else c for c in gdf.columns]
    if "_file" not in gdf:
        gdf["_file"] = file
        gdf["_sheet"] = layer
        gdf["_row"] = pd.RangeIndex(1, len(gdf) + 1)
    gdf = gdf.reset_index(drop=True)
    if diagnostics is not None:
        for note in notes:
            diagnostics.warn(**note)
        gdf.attrs["read_warnings"] = []
    else:
        gdf.attrs["read_warnings"] = notes
    return gdf


# --------------------------------------------------------------------------------------------
# pyogrio, with GDAL messages and unreadable geometry turned into notes
# --------------------------------------------------------------------------------------------


def _read_ogr(
    path: Path, file: str, *, layer: str | None, encoding: str | None, notes: list[Note]
) -> gpd.GeoDataFrame:
    kwargs: dict[str, Any] = {}
    if layer is not None:
        kwargs["layer"] = layer
    if encoding is not None:
        kwargs["encoding"] = encoding
    arrow = _arrow_reads_alike(path, kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            gdf = _read_dataframe(path, kwargs, arrow=arrow, caught=caught)
            geometry_notes: list[Note] = []
        except GEOSException as err:
            gdf = _read_dataframe(path, kwargs, arrow=arrow, caught=caught, on_invalid="fix")
            geometry_notes = _unbuildable_geometry(path, file, kwargs, err)
    notes += geometry_notes
    seen: set[str] = set()
    for w in caught:
        text = str(w.message)
        if not issubclass(w.category, RuntimeWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            continue
        if text in seen or (geometry_notes and "closed ring" in text.lower()):
            continue
        seen.add(text)
        notes.append(
            {"code": "reader_message", "message": f"{file}: GDAL reports: {text}", "file": file}
        )
    if not isinstance(gdf, gpd.GeoDataFrame):
        msg = f"{file}: the layer has no geometry column; give a layer of polygons."
        raise InputError(msg)
    return gdf


#: Suffixes read through Arrow when :func:`_arrow_reads_alike` allows: GeoPackage text is UTF-8
#: by the standard, so no encoding question arises.
ARROW_SUFFIXES = {".gpkg"}
#: Field types that pyogrio reads into the same pandas dtypes and values with and without Arrow
#: (a bool field with nulls is not among them: float64 without Arrow, object with it).
_ARROW_FIELD_DTYPES = frozenset(
    {"object", "float64", "float32", "int64", "int32", "int16", "datetime64[ms]"}
)
_ARROW_GEOMETRY_TYPES = frozenset(
    {"Unknown", "Point", "LineString", "Polygon", "MultiPoint", "MultiLineString",
     "MultiPolygon", "GeometryCollection"}
)


def _arrow_reads_alike(path: Path, kwargs: dict[str, Any]) -> bool:
    """Whether reading through Arrow gives the frame the row-by-row reader gives, only faster.

    True for a GeoPackage layer (without an ``encoding`` override) whose fields all have types
    in :data:`_ARROW_FIELD_DTYPES` and whose geometry is linear. A curved geometry that
    ``read_info`` reports as linear makes the Arrow read fail, and :func:`_read_dataframe` then
    reads row by row.
    """
    if path.suffix.lower() not in ARROW_SUFFIXES or "encoding" in kwargs:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the read itself reports what GDAL has to say
            info = pyogrio.read_info(path, layer=kwargs.get("layer"))
    except Exception:  # noqa: BLE001 - the row-by-row read raises the error worth reporting
        return False
    geometry = str(info.get("geometry_type") or "Unknown").removesuffix(" Z")
    return geometry in _ARROW_GEOMETRY_TYPES and all(
        str(d) in _ARROW_FIELD_DTYPES for d in info["dtypes"]
    )


def _read_dataframe(
    path: Path,
    kwargs: dict[str, Any],
    *,
    arrow: bool,
    caught: list[warnings.WarningMessage],
    on_invalid: str = "raise",
) -> Any:
    """``pyogrio.read_dataframe``, through Arrow when ``arrow``; row by row if Arrow fails.

    A GEOSException (geometry GEOS cannot build) is raised either way, for the caller. When the
    Arrow read fails otherwise (curved geometry), the warnings it gave are dropped from
    ``caught`` and the layer is read row by row.
    """
    if arrow:
        mark = len(caught)
        try:
            return pyogrio.read_dataframe(path, use_arrow=True, on_invalid=on_invalid, **kwargs)
        except GEOSException:
            raise
        except Exception:  # noqa: BLE001 - any failure: the row-by-row reader decides
            del caught[mark:]
    return pyogrio.read_dataframe(path, on_invalid=on_invalid, **kwargs)


def _unbuildable_geometry(
    path: Path, file: str, kwargs: dict[str, Any], err: Exception
) -> list[Note]:
    """Name the features whose geometry GEOS could not build, and whether they were repaired."""
    raw_kwargs = {k: v for k, v in kwargs.items() if k == "layer"}
    if path.suffix.lower() in DBF_SUFFIXES:
        raw_kwargs["encoding"] = RAW_ENCODING
    _, _, wkb, _ = pyogrio.raw.read(path, columns=[], read_geometry=True, **raw_kwargs)
    wkb = np.asarray(wkb, dtype=object)
    strict = shapely.from_wkb(wkb, on_invalid="ignore")
    fixed = shapely.from_wkb(wkb, on_invalid="fix")
    bad = np.flatnonzero(pd.notna(wkb) & pd.isna(strict))
    notes = []
    for i in bad:
        if fixed[i] is not None:
            what = "closed and kept; check its shape"
            code = "ring_not_closed"
        else:
            what = "left empty (no area). Fix it in the source (e.g. QGIS 'Fix geometries')"
            code = "geometry_unreadable"
        notes.append(
            {
                "code": code,
                "message": (
                    f"{file}: feature {i + 1}: GEOS cannot build its geometry ({err}); typical of a "
                    f"CAD export (a ring that does not close, or one with fewer than 4 points): {what}."
                ),
                "file": file,
                "row": int(i + 1),
                "column": "geometry",
            }
        )
    return notes


# --------------------------------------------------------------------------------------------
# Text encoding
# --------------------------------------------------------------------------------------------


def _codec(encoding: str) -> str:
    """Return the Python codec for an encoding name (GBK is read as its superset GB18030)."""
    return _CODECS.get(encoding.strip().lower().replace("_", "-"), encoding)


def _declared_cpg(path: Path) -> str | None:
    for suffix in (".cpg", ".CPG"):
        cpg = path.with_suffix(suffix)
        if cpg.exists():
            return cpg.read_text(encoding="ascii", errors="replace").strip() or None
    return None


def _choose_encoding(texts: list[Any]) -> str | None:
    """Given text read byte for byte (as Latin-1), return the encoding its bytes fit."""
    raws = [t.encode("latin-1") for t in texts if isinstance(t, str) and not t.isascii()]
    if not raws:
        return None
    for enc in ("utf-8", "gb18030"):
        if all(decode_tolerant(r, enc) is not None for r in raws):
            return "utf-8" if enc == "utf-8" else "gbk"
    return None


def _decode_raw(raw: gpd.GeoDataFrame, encoding: str, file: str, notes: list[Note]) -> gpd.GeoDataFrame:
    """Decode a layer read byte for byte (as Latin-1) with ``encoding``."""
    codec = _codec(encoding)
    failed: dict[str, int] = {}

    def convert(text: str) -> str:
        data = text.encode("latin-1")
        out = decode_tolerant(data, codec)
        if out is None:
            out = data.decode(codec, errors="replace")
            failed[out] = failed.get(out, 0) + 1
        return out

    out = transcode_frame(raw, convert)
    if failed:
        example = next(iter(failed))
        notes.append(
            {
                "code": "text_not_decodable",
                "message": (
                    f"{file}: {sum(failed.values())} text value(s) are not valid {encoding} (e.g. "
                    f"{example!r}); the bytes that do not decode are shown as �. Check the encoding "
                    "(--encoding)."
                ),
                "file": file,
                "value": example,
            }
        )
    return out


def _same_encoding(a: str | None, b: str | None) -> bool:
    """Whether two encoding names (a .cpg's, a codec's) mean the same text encoding."""
    if a is None or b is None:
        return False
    alias = {
        "utf8": "utf-8", "65001": "utf-8", "utf-8": "utf-8",
        "gbk": "gbk", "936": "gbk", "cp936": "gbk", "gb2312": "gbk", "gb18030": "gbk",
    }

    def norm(name: str) -> str:
        key = name.strip().lower().replace("_", "-")
        return alias.get(key, alias.get(key.replace("-", ""), key))

    return norm(a) == norm(b)


def _read_dbf_layer(
    path: Path, file: str, *, layer: str | None, encoding: str | None, notes: list[Note]
) -> gpd.GeoDataFrame:
    """Read a shapefile (or bare DBF), making sure its text is decoded with the right encoding.

    GDAL decodes with the ``.cpg`` (Latin-1 without one). When that fails, or gives mojibake, or GDAL
    reports characters it could not convert, the layer is read again byte for byte and decoded with
    the encoding the bytes fit (UTF-8, else GBK).
    """
    cpg = _declared_cpg(path)
    if encoding is not None:
        raw = _read_ogr(path, file, layer=layer, encoding=RAW_ENCODING, notes=notes)
        out = _decode_raw(raw, encoding, file, notes)
        fits = _choose_encoding(text_sample(raw))
        doubt = detect_mojibake(text_sample(out))
        if fits is not None and not _same_encoding(fits, encoding) and (
            doubt is not None or any(n["code"] == "text_not_decodable" for n in notes)
        ):
            notes.append(
                {
                    "code": "encoding_doubtful",
                    "message": (
                        f"{file}: read as {encoding} as asked, but the text does not look right "
                        f"in it; its bytes fit {fits.upper()} (try --encoding {fits})."
                    ),
                    "file": file,
                    "value": encoding,
                }
            )
        return out
    first: gpd.GeoDataFrame | None
    first_notes: list[Note] = []
    try:
        first = _read_ogr(path, file, layer=layer, encoding=None, notes=first_notes)
    except UnicodeDecodeError as err:
        first, problem = None, f"cannot be decoded ({err.reason})"
    else:
        lossy = any("converted" in n["message"] for n in first_notes
                    if n["code"] == "reader_message")
        if detect_mojibake(text_sample(first)) is None and not lossy:
            notes += first_notes
            return first
        problem = "is garbled" if not lossy else "is garbled (GDAL could not convert some of it)"
    raw_notes: list[Note] = []
    raw = _read_ogr(path, file, layer=layer, encoding=RAW_ENCODING, notes=raw_notes)
    notes += [n for n in raw_notes if n["code"] != "reader_message"]
    chosen = _choose_encoding(text_sample(raw))
    if chosen is None:
        if first is not None:
            notes += first_notes
            return first
        msg = (
            f"{file}: the text fits neither UTF-8 nor GBK, and the .cpg ({cpg!r}) does not decode "
            "it. Give the encoding with --encoding (API: encoding=)."
        )
        raise InputError(msg)
    out = _decode_raw(raw, chosen, file, notes)
    example = _example_pair(first, out)
    enc_name = chosen.upper()
    cpg_path = path.with_suffix(".cpg").name
    if _same_encoding(cpg, chosen):
        cut = _cut_names(raw.columns, chosen)
        notes.append(
            {
                "code": "dbf_name_cut",
                "message": (
                    f"{file}: field names were cut to 10 bytes inside a character, which GDAL cannot "
                    f"decode as {enc_name}; the cut half was dropped ({', '.join(map(repr, cut))}). "
                    "Fields are matched by the start of their name."
                ),
                "file": file,
                "value": ";".join(cut),
            }
        )
    elif cpg is None:
        notes.append(
            {
                "code": "encoding_guessed",
                "message": (
                    f"{file}: there is no .cpg file, and read as GDAL's default (Latin-1) the text "
                    f"{problem}{example}; its bytes are {enc_name}, so it was read as {enc_name}. Put "
                    f"a {cpg_path} containing {enc_name} next to the .shp, or pass --encoding "
                    f"{chosen}."
                ),
                "file": file,
                "value": enc_name,
            }
        )
    else:
        notes.append(
            {
                "code": "cpg_wrong",
                "message": (
                    f"{file}: the .cpg says {cpg!r}, but read that way the text {problem}{example}; "
                    f"its bytes are {enc_name}, so it was read as {enc_name}. Write {enc_name} into "
                    f"{cpg_path}, or pass --encoding {chosen}."
                ),
                "file": file,
                "value": cpg,
            }
        )
    return out


def _cut_names(columns: pd.Index, encoding: str) -> list[str]:
    """Names (read byte for byte) that end inside a character of ``encoding``, decoded without it."""
    out = []
    for name in columns:
        if not isinstance(name, str) or name.isascii():
            continue
        data = name.encode("latin-1")
        try:
            data.decode(_codec(encoding))
        except UnicodeDecodeError:
            fixed = decode_tolerant(data, _codec(encoding))
            if fixed is not None:
                out.append(fixed)
    return out


def _example_pair(before: pd.DataFrame | None, after: pd.DataFrame) -> str:
    if before is None:
        return ""
    for b, a in zip(before.columns, after.columns, strict=False):
        if isinstance(b, str) and b != a:
            return f" (e.g. {b!r} for {a!r})"
    return ""


def _fix_text(gdf: gpd.GeoDataFrame, file: str, notes: list[Note]) -> gpd.GeoDataFrame:
    """Repair mojibake in a layer that was not read from a DBF (in memory, with a note)."""
    wrong = detect_mojibake(text_sample(gdf))
    if wrong is None:
        return gdf
    fix = latin1_mojibake if wrong == "gbk" else gbk_mojibake
    out = transcode_frame(gdf, lambda s: fix(s) or s)
    example = _example_pair(gdf, out)
    notes.append(
        {
            "code": "mojibake_fixed",
            "message": (
                f"{file}: the text is garbled{example}: {wrong.upper()} bytes that were decoded "
                f"with the wrong encoding before they were saved. It was decoded as {wrong.upper()}; "
                "fix the export so the text is stored correctly."
            ),
            "file": file,
            "value": wrong,
        }
    )
    return out


# --------------------------------------------------------------------------------------------
# Coordinate reference system
# --------------------------------------------------------------------------------------------


def settle_crs(
    gdf: gpd.GeoDataFrame, file: str, input_crs: object, notes: list[Note]
) -> gpd.GeoDataFrame:
    """Give the layer the CRS its coordinates are in, or raise a CRSError that suggests one."""
    x, y = centroid_xy(gdf.geometry)
    if gdf.crs is None:
        if input_crs is None:
            msg = (
                f"{file}: the layer has no coordinate reference system (no .prj file or CRS "
                f"metadata); {guess_crs(x, y)}. Say which it is with --crs (API: input_crs=), as "
                "an EPSG code, WKT or PROJ string."
            )
            raise CRSError(msg)
        gdf = gdf.set_crs(parse_crs(input_crs, what="input_crs"))
    elif input_crs is not None:
        given = parse_crs(input_crs, what="input_crs")
        if not given.equals(gdf.crs):
            misfit = crs_misfit(gdf.crs, x, y) or crs_far_from_use(gdf.crs, x, y)
            if misfit is not None:
                notes.append(
                    {
                        "code": "crs_overridden",
                        "message": (
                            f"{file}: the layer declares {gdf.crs.name}, but {misfit}; the CRS you "
                            f"gave ({given.name}) is used instead. Correct the .prj to silence this."
                        ),
                        "file": file,
                        "column": "geometry",
                        "value": given.to_string(),
                    }
                )
                gdf = gdf.set_crs(given, allow_override=True)
            else:
                notes.append(
                    {
                        "code": "input_crs_ignored",
                        "message": (
                            f"{file}: the layer declares {gdf.crs.name} and its coordinates fit it, "
                            f"so the CRS you gave ({given.name}) is not used for it. If the .prj is "
                            "wrong, delete it and give --crs again."
                        ),
                        "file": file,
                        "column": "geometry",
                        "value": given.to_string(),
                    }
                )
    gdf, found = axis_order(gdf, file=file, centres=(x, y))
    notes += found
    if found:  # x and y of every feature were swapped, so were the centres of their boxes
        x, y = y, x
    gdf, found = zone_prefix(gdf, file=file, centres=(x, y))  # changes the CRS, not coordinates
    notes += found
    misfit = crs_misfit(gdf.crs, x, y)
    if misfit is not None:
        msg = (
            f"{file}: {misfit}. The declared CRS is wrong; {guess_crs(x, y)}. Correct the .prj, or "
            "give the right CRS with --crs (API: input_crs=), which replaces a declared CRS that "
            "the coordinates do not fit."
        )
        raise CRSError(msg)
    far = crs_far_from_use(gdf.crs, x, y)
    if far is not None:
        notes.append(
            {
                "code": "crs_far_from_use",
                "message": f"{file}: {far}. Check the CRS; {guess_crs(x, y)}.",
                "file": file,
                "column": "geometry",
            }
        )
    notes += area_scale(gdf, file=file)
    return gdf
