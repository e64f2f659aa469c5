"""Atomic writers: single files, sets of files, CSV with a formula guard, GeoPackage layers.

Every output of landeff goes through :func:`atomic_path` or :func:`write_outputs`, so a failure
half-way (a full disk, a bad value, an interrupted run) leaves the previous outputs as they were and
no partial file behind.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError

#: Text starting with one of these is read as a formula (or DDE command) by spreadsheet programs.
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

# A plain decimal number written as text ("-5", "+1.5e3"): a spreadsheet reads it as that number,
# not as a formula, so the guard leaves it alone.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

#: A writer takes the path to write to; what it returns is ignored.
Writer = Callable[[Path], object]


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path`` in one step.

    The temporary file lies in the same folder (so :func:`os.replace` is atomic), ends with the
    same name (so writers that pick a format by extension still work) and does not exist yet when
    the block starts. On any exception the temporary file is removed and ``path`` is left untouched.

    Parameters
    ----------
    path : path-like
        The file to write. Its folder is created when missing.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("ok", encoding="utf-8")
    >>> target.read_text(encoding="utf-8")
    'ok'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".landeff-", suffix="-" + target.name, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # let the writer create it (with the usual permissions, and as a fresh file)
    try:
        yield tmp
        if not tmp.exists():
            msg = f"{target}: the writer finished without creating a file; nothing was written"
            raise OSError(msg)
        os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise


def write_outputs(directory: str | os.PathLike[str], writers: Mapping[str, Writer]) -> list[Path]:
    """Write a set of files into ``directory`` so that a failure leaves the previous set intact.

    Every writer first writes into a fresh hidden folder inside ``directory``; only when all of them
    have succeeded are the files moved into place, each with an atomic :func:`os.replace`. When any
    writer raises, the hidden folder is removed and no file in ``directory`` has changed.

    Parameters
    ----------
    directory : path-like
        The output folder (created when missing).
    writers : mapping of str to callable
        ``{file name: writer}``; each writer takes the path to write to. File names are plain names,
        without folders.

    Returns
    -------
    list of Path
        The files written, in the order of ``writers``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> paths = write_outputs(out, {"a.txt": lambda p: p.write_text("a", encoding="utf-8")})
    >>> [p.name for p in paths]
    ['a.txt']
    """
    out = Path(directory)
    for name in writers:
        if not name or Path(name).name != name or name in (".", ".."):
            msg = (
                f"write_outputs: {name!r} is not a plain file name; give names without folders, "
                f"e.g. 'idle_land.csv', and choose the folder with directory={str(out)!r}"
            )
            raise InputError(msg)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".landeff-tmp-", dir=out))
    try:
        for name, writer in writers.items():
            writer(staging / name)
            if not (staging / name).exists():
                msg = f"{out / name}: the writer finished without creating a file; nothing written"
                raise OSError(msg)
        written = []
        for name in writers:
            os.replace(staging / name, out / name)
            written.append(out / name)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove(path: Path) -> None:
    """Remove a file or folder if it exists."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def guard_formulas(values: pd.Series) -> pd.Series:
    """Return ``values`` with a leading apostrophe on every text that a spreadsheet would run.

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``.
    Numbers stay numbers (``-5`` as a number is untouched), and so does text that is a plain decimal
    number (``"-5"``), which a spreadsheet reads as that number.

    Examples
    --------
    >>> guard_formulas(pd.Series(["=1+1", "-abc", "ok", -5], dtype=object)).tolist()
    ["'=1+1", "'-abc", 'ok', -5]
    """
    if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        return values
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "string":
        text = values
    elif kind in ("mixed", "mixed-integer"):
        text = values.where(values.map(lambda v: isinstance(v, str)).astype(bool))
    else:
        return values
    starts = text.str.startswith(FORMULA_PREFIXES, na=False).astype(bool)
    if not starts.any():
        return values
    plain = text.str.fullmatch(_PLAIN_NUMBER, na=False).astype(bool)
    hit = starts & ~plain
    out = values.astype(object).copy()
    out[hit] = "'" + text[hit].astype(str)
    return out


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` ready for a CSV file opened in a spreadsheet.

    Text columns get the formula guard, lists are joined with ``;``, dates without a time of day are
    written as ``YYYY-MM-DD``, and geometry columns as WKT.
    """
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        values = frame[col]
        if isinstance(values.dtype, gpd.array.GeometryDtype):
            values = gpd.GeoSeries(values).to_wkt()
        elif pd.api.types.is_datetime64_any_dtype(values):
            values = _date_text(values)
        elif isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(object)
        elif pd.api.types.is_object_dtype(values):
            values = values.map(_join_list, na_action="ignore")
        out[str(col)] = guard_formulas(values)
    out.columns = guard_formulas(pd.Series([str(c) for c in frame.columns], dtype=object)).tolist()
    return out


def _date_text(values: pd.Series) -> pd.Series:
    """Format datetimes as ISO text: dates alone when every time of day is midnight."""
    dt = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) is not None else values
    known = dt.dropna()
    fmt = "%Y-%m-%d" if bool((known == known.dt.normalize()).all()) else "%Y-%m-%d %H:%M:%S"
    return dt.dt.strftime(fmt).astype(object).where(dt.notna(), None)


def _join_list(value: object) -> object:
    """Join a list or tuple value with ``;`` (other values unchanged)."""
    if isinstance(value, list | tuple | np.ndarray):
        return ";".join(str(v) for v in value)
    return value


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str], *, index: bool = False) -> Path:
    """Write ``frame`` as UTF-8 CSV with a BOM (so Excel reads the Chinese), atomically.

    Text cells that a spreadsheet would run as a formula get a leading apostrophe
    (see :func:`guard_formulas`); numbers are written as numbers.

    Parameters
    ----------
    frame : DataFrame
        The table. Reset a meaningful index into a column first, or pass ``index=True``.
    path : path-like
        Where to write.
    index : bool, default False
        Write the index as the first column.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = write_csv(pd.DataFrame({"名称": ["=1+1"], "税收": [-5]}), p)
    >>> p.read_bytes().decode("utf-8-sig").splitlines()
    ['名称,税收', "'=1+1,-5"]
    """
    data = frame.reset_index() if index else frame
    table = csv_frame(data)
    with atomic_path(path) as tmp:
        # CRLF line ends (RFC 4180) also make the writer quote any text holding a lone \r.
        table.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    return Path(path)


def _gpkg_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` whose columns a GeoPackage can hold (lists joined with ``;``)."""
    out = frame.copy()
    geometry = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    for col in out.columns:
        if col != geometry and pd.api.types.is_object_dtype(out[col]):
            out[col] = out[col].map(_join_list, na_action="ignore")
    return out


def write_gpkg_layers(
    path: str | os.PathLike[str], layers: Mapping[str, pd.DataFrame]
) -> Path:
    """Write several layers into one GeoPackage, atomically (all layers or none).

    Parameters
    ----------
    path : path-like
        The ``.gpkg`` file; an existing file is replaced as a whole.
    layers : mapping of str to (Geo)DataFrame
        ``{layer name: frame}``. A GeoDataFrame becomes a spatial layer (empty geometries allowed);
        a plain DataFrame becomes an attribute table.

    Examples
    --------
    >>> import tempfile, pathlib, shapely, pyogrio
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.gpkg"
    >>> g = gpd.GeoDataFrame({"id": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4547)
    >>> _ = write_gpkg_layers(p, {"parcels": g, "table": pd.DataFrame({"n": [1]})})
    >>> [str(name) for name, _ in pyogrio.list_layers(p)]
    ['parcels', 'table']
    """
    import pyogrio

    if not layers:
        msg = f"{path}: no layers to write; pass at least one {{layer name: frame}}"
        raise InputError(msg)
    with atomic_path(path) as tmp:
        for name, frame in layers.items():
            data = _gpkg_frame(frame)
            if isinstance(data, gpd.GeoDataFrame):
                data.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
            else:
                pyogrio.write_dataframe(data, tmp, layer=name, driver="GPKG")
    return Path(path)
