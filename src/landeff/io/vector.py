"""Read parcel and building layers: any format pyogrio reads, and GeoParquet."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import pandas as pd

from ..crs import check_crs
from ..errors import InputError

PARQUET_SUFFIXES = {".parquet", ".geoparquet", ".pq"}


def read_layer(
    source: str | os.PathLike[str] | gpd.GeoDataFrame,
    *,
    layer: str | None = None,
    input_crs: object = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector layer into a GeoDataFrame with a CRS and row positions.

    Parameters
    ----------
    source : path or GeoDataFrame
        GeoPackage, Shapefile, GeoJSON, any other format pyogrio reads, or GeoParquet.
    layer : str, optional
        Layer name for multi-layer files.
    input_crs : optional
        CRS to assign when the file has none (EPSG code, WKT or PROJ string).
    encoding : str, optional
        Attribute encoding (e.g. ``gbk`` for a shapefile without ``.cpg``).

    Returns
    -------
    GeoDataFrame
        With ``_file``, ``_sheet`` (the layer) and ``_row`` (1-based feature number).
    """
    if isinstance(source, gpd.GeoDataFrame):
        gdf = source.copy()
        file = "<GeoDataFrame>"
    else:
        path = Path(source)
        file = str(path)
        if not path.exists():
            msg = f"{path}: file not found."
            raise InputError(msg)
        try:
            if path.suffix.lower() in PARQUET_SUFFIXES:
                gdf = gpd.read_parquet(path)
            else:
                kwargs: dict[str, object] = {"engine": "pyogrio"}
                if layer is not None:
                    kwargs["layer"] = layer
                if encoding is not None:
                    kwargs["encoding"] = encoding
                gdf = gpd.read_file(path, **kwargs)
        except InputError:
            raise
        except Exception as err:
            msg = f"{path}: cannot read the layer ({err})."
            raise InputError(msg) from err
    crs = check_crs(gdf.crs, file=file, input_crs=input_crs)
    if gdf.crs is None:
        gdf = gdf.set_crs(crs)
    gdf.columns = [str(c) if c != gdf.geometry.name else c for c in gdf.columns]
    if "_file" not in gdf:
        gdf["_file"] = file
        gdf["_sheet"] = layer
        gdf["_row"] = pd.RangeIndex(1, len(gdf) + 1)
    return gdf.reset_index(drop=True)
