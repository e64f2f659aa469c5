"""Read enterprise and contract tables (CSV in UTF-8, UTF-8 with BOM or GBK; XLSX) as raw frames.

The frames keep every cell as read (text or number) and the position of each row as a spreadsheet
shows it, in ``_file``, ``_sheet`` and ``_row``. Header aliases and units are handled by
:mod:`landeff.validate`.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError
from ..schema import alias_table, split_unit

#: How many leading rows are searched for the header row (title rows, merged cells above it).
HEADER_SEARCH_ROWS = 15
POSITION_COLUMNS = ["_file", "_sheet", "_row"]


def decode_bytes(data: bytes, *, file: str, encoding: str | None = None) -> tuple[str, str]:
    """Decode a text file: the given encoding, else UTF-8 (with or without BOM), else GB18030 (GBK).

    Returns the text and the encoding used.

    Examples
    --------
    >>> decode_bytes("宗地编号".encode("gbk"), file="t.csv")
    ('宗地编号', 'gb18030')
    """
    if encoding:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as err:
            msg = f"{file}: cannot decode the file as {encoding!r} ({err}). Check --encoding."
            raise InputError(msg) from err
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as err:
        msg = (
            f"{file}: the file is neither UTF-8 nor GBK text. Save it from Excel as "
            "'CSV UTF-8' or give its encoding with --encoding."
        )
        raise InputError(msg) from err


def _header_score(cells: list[Any], aliases: dict[str, str]) -> int:
    score = 0
    for cell in cells:
        if cell is None or (isinstance(cell, float) and pd.isna(cell)):
            continue
        base, _ = split_unit(cell)
        if base in aliases or any(a.startswith(base) for a in aliases if len(base) >= 4):
            score += 1
    return score


def _find_header(rows: list[list[Any]], kind: str) -> int:
    """Return the index of the header row: the first of the leading rows that names most fields."""
    aliases = alias_table(kind)
    best, best_score = 0, -1
    for i, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        score = _header_score(cells, aliases)
        if score > best_score:
            best, best_score = i, score
    return best


def _frame_from_rows(
    rows: list[list[Any]], *, kind: str, file: str, sheet: str | None, first_row_number: int
) -> pd.DataFrame:
    """Build a raw frame from rows of cells; ``first_row_number`` is the spreadsheet number of rows[0]."""
    rows = [list(r) for r in rows]
    while rows and all(_blank(c) for c in rows[-1]):
        rows.pop()
    if not rows:
        msg = f"{file}{f' sheet {sheet!r}' if sheet else ''}: the table is empty (no header row)."
        raise InputError(msg)
    h = _find_header(rows, kind)
    width = max(len(r) for r in rows)
    header = [(str(c).strip() if not _blank(c) else f"column_{j + 1}") for j, c in
              enumerate(rows[h] + [None] * (width - len(rows[h])))]
    header = _dedupe(header)
    body = [r + [None] * (width - len(r)) for r in rows[h + 1 :]]
    frame = pd.DataFrame(body, columns=header, dtype=object)
    frame["_file"] = file
    frame["_sheet"] = sheet
    frame["_row"] = range(first_row_number + h + 1, first_row_number + h + 1 + len(body))
    blank = frame.drop(columns=POSITION_COLUMNS).apply(lambda col: col.map(_blank)).all(axis=1)
    frame = frame.loc[~blank].reset_index(drop=True)
    frame.attrs["header_row"] = first_row_number + h
    return frame


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}.{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out


def _blank(cell: Any) -> bool:
    if cell is None:
        return True
    if isinstance(cell, float) and pd.isna(cell):
        return True
    return isinstance(cell, str) and not cell.strip()


def read_table(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    kind: str,
    sheet: str | int | None = None,
    encoding: str | None = None,
) -> pd.DataFrame:
    """Read a CSV or XLSX table (or take a DataFrame) into a raw frame with row positions.

    Parameters
    ----------
    source : path or DataFrame
        ``.csv``/``.txt`` (UTF-8, UTF-8 with BOM, GBK) or ``.xlsx``/``.xlsm``.
    kind : str
        ``enterprises`` or ``contracts`` (which aliases identify the header row).
    sheet : str or int, optional
        Sheet name or 0-based index; default: the first sheet that has data.
    encoding : str, optional
        Force the text encoding of a CSV file.

    Returns
    -------
    DataFrame
        Cells as read, plus ``_file``, ``_sheet``, ``_row``.
    """
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        frame.columns = [str(c) for c in frame.columns]
        for col in POSITION_COLUMNS:
            if col not in frame:
                frame[col] = {"_file": "<DataFrame>", "_sheet": None, "_row": None}[col]
        if frame["_row"].isna().all():
            frame["_row"] = range(2, len(frame) + 2)
        return frame.reset_index(drop=True)
    path = Path(source)
    if not path.exists():
        msg = f"{path}: file not found."
        raise InputError(msg)
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        return _read_xlsx(path, kind=kind, sheet=sheet)
    if suffix in {".xls"}:
        msg = f"{path}: the old .xls format is not read; save it from Excel as .xlsx or CSV."
        raise InputError(msg)
    return _read_csv(path, kind=kind, encoding=encoding)


def _read_csv(path: Path, *, kind: str, encoding: str | None) -> pd.DataFrame:
    text, used = decode_bytes(path.read_bytes(), file=str(path), encoding=encoding)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    frame = _frame_from_rows(rows, kind=kind, file=str(path), sheet=None, first_row_number=1)
    frame.attrs["encoding"] = used
    return frame


def _read_xlsx(path: Path, *, kind: str, sheet: str | int | None) -> pd.DataFrame:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds for a damaged file
        msg = f"{path}: cannot open the workbook ({err}). Is it a real .xlsx file?"
        raise InputError(msg) from err
    try:
        names = wb.sheetnames
        if sheet is None:
            chosen = next((n for n in names if wb[n].max_row and wb[n].max_row > 1), names[0])
        elif isinstance(sheet, int):
            chosen = names[sheet]
        elif sheet in names:
            chosen = sheet
        else:
            msg = f"{path}: no sheet {sheet!r}; the workbook has {', '.join(names)}. Use --sheet."
            raise InputError(msg)
        rows = [list(r) for r in wb[chosen].iter_rows(values_only=True)]
    finally:
        wb.close()
    frame = _frame_from_rows(rows, kind=kind, file=str(path), sheet=chosen, first_row_number=1)
    frame.attrs["sheets"] = names
    return frame
