"""Read enterprise and contract tables (CSV in UTF-8, UTF-8 with BOM or GBK; XLSX) as raw frames.

The frames keep every cell as read (text or number) and the position of each row as a spreadsheet
shows it, in ``_file``, ``_sheet`` and ``_row``. Header aliases and units are handled by
:mod:`landeff.validate`. Long CSV files are read with pyarrow once their header is found (cells as
pandas text columns), short or irregular ones with :mod:`csv`; both give the same rows and cells.
"""

from __future__ import annotations

import csv
import io
import os
import re
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pacsv

from ..errors import InputError
from ..schema import alias_table, split_unit

#: How many leading rows are searched for the header row (title rows, merged cells above it).
HEADER_SEARCH_ROWS = 15
POSITION_COLUMNS = ["_file", "_sheet", "_row"]
_NUMBER_TEXT = re.compile(r"^[+-]?[\d,]*\.?\d+%?$")
#: The characters Python's ``str.strip()`` removes (``str.isspace``), for pyarrow's trim.
PY_WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
#: Second-row headers that only say "the value" of the field above them (税收 over 金额(万元)).
GENERIC_SUBHEADERS = frozenset(
    {"", "金额", "数额", "数值", "数量", "总额", "合计", "本年", "本期", "本年度", "值", "amount", "value"}
)


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


def _alias_starts(aliases: dict[str, str]) -> frozenset[str]:
    """Return the beginnings of 4 or more characters of the aliases (``a[:k]``, ``k >= 4``)."""
    return frozenset(a[:k] for a in aliases for k in range(4, len(a) + 1))


def _header_score(
    cells: list[Any], aliases: dict[str, str], starts: frozenset[str] | None = None
) -> int:
    """Count the cells that name a field: an alias, or the beginning of one (4+ characters).

    ``starts`` is :func:`_alias_starts` of ``aliases``, when the caller has it.
    """
    if starts is None:
        starts = _alias_starts(aliases)
    score = 0
    for cell in cells:
        if cell is None or (isinstance(cell, float) and pd.isna(cell)):
            continue
        base, _ = split_unit(cell)
        if base in aliases or base in starts:  # base in starts: some alias starts with it
            score += 1
    return score


def _find_header(rows: list[list[Any]], kind: str) -> int:
    """Return the index of the header row: the first of the leading rows that names most fields."""
    aliases = alias_table(kind)
    starts = _alias_starts(aliases)
    best, best_score = 0, -1
    for i, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        score = _header_score(cells, aliases, starts)
        if score > best_score:
            best, best_score = i, score
    return best


def _combine_cell(parent: Any, child: Any, aliases: dict[str, str]) -> Any:
    """Name one column of a two-row header from the cell above and the cell below."""
    if _blank(child):
        return parent
    if _blank(parent):
        return child
    child_base, child_unit = split_unit(child)
    if child_base in aliases:
        return str(child).strip()
    parent_base, parent_unit = split_unit(parent)
    unit = child_unit or parent_unit
    base = parent_base if child_base in GENERIC_SUBHEADERS else parent_base + child_base
    return f"{base}({unit})" if unit else base


def _numeric_like(cell: Any) -> bool:
    if isinstance(cell, bool):
        return False
    if isinstance(cell, int | float):
        return True
    return isinstance(cell, str) and bool(
        _NUMBER_TEXT.match(unicodedata.normalize("NFKC", cell).strip())
    )


def _two_row_header(
    rows: list[list[Any]], best: int, kind: str
) -> tuple[int, list[Any]] | None:
    """Return (top row index, combined header) when the header spans two rows.

    The row under (or over) the best header row is a second header row when it holds no numbers
    and the two rows together name more fields, or give units the single row lacks (税收 over
    金额(万元)), or show merged cells both ways (a group header over sub-columns, next to columns
    merged down over both rows). Merged cells of the top row (read as empty) are filled from the
    left over the columns the second row names.
    """
    aliases = alias_table(kind)
    single_row = rows[best]
    single = _header_score(single_row, aliases)
    for top in (best - 1, best):
        if top < 0 or top + 1 >= len(rows):
            continue
        upper, lower = list(rows[top]), list(rows[top + 1])
        width = max(len(upper), len(lower), len(single_row))
        upper += [None] * (width - len(upper))
        lower += [None] * (width - len(lower))
        if any(_numeric_like(c) for c in lower) or all(_blank(c) for c in lower):
            continue  # a data row (or nothing), not a second header row
        filled: list[Any] = []
        last: Any = None
        vertical = horizontal = False
        for up, low in zip(upper, lower, strict=True):
            if not _blank(up):
                last = up
                filled.append(up)
                vertical |= _blank(low)
            else:
                filled.append(last if not _blank(low) else None)
                horizontal |= last is not None and not _blank(low)
        combined = [_combine_cell(u, v, aliases) for u, v in zip(filled, lower, strict=True)]
        gain = _header_score(combined, aliases) - single
        if gain < 0:
            continue
        padded = single_row + [None] * (width - len(single_row))
        unit_gain = sum(
            1 for c, old in zip(combined, padded, strict=True)
            if not _blank(c) and _header_score([c], aliases) and split_unit(c)[1]
            and (_blank(old) or split_unit(old)[1] is None)
        )
        if gain > 0 or unit_gain > 0 or (vertical and horizontal):
            return top, combined
    return None


def _frame_from_rows(
    rows: list[list[Any]], *, kind: str, file: str, sheet: str | None, first_row_number: int
) -> pd.DataFrame:
    """Build a raw frame from rows of cells; ``first_row_number`` is the spreadsheet number of rows[0].

    The frame's ``attrs`` hold ``header_row`` (spreadsheet number of the first header row),
    ``header_rows`` (all of them) and ``read_warnings`` (notes for
    :func:`landeff.validate.standardise`).
    """
    rows = [list(r) for r in rows]
    while rows and all(_blank(c) for c in rows[-1]):
        rows.pop()
    where = f"{file}{f' sheet {sheet!r}' if sheet else ''}"
    if not rows:
        msg = f"{where}: the table is empty (no header row)."
        raise InputError(msg)
    h, n_header, header_cells, notes = _locate_header(
        rows, kind=kind, where=where, file=file, sheet=sheet, first_row_number=first_row_number
    )
    width = max(len(r) for r in rows)
    header = _header_names(header_cells, width)
    start = h + n_header
    body = [r + [None] * (width - len(r)) for r in rows[start:]]
    frame = pd.DataFrame(body, columns=header, dtype=object)
    return _finish_frame(
        frame, notes=notes, where=where, file=file, sheet=sheet,
        first_data_row=first_row_number + start, header_rows=range(
            first_row_number + h, first_row_number + start),
    )


def _locate_header(
    rows: list[list[Any]],
    *,
    kind: str,
    where: str,
    file: str,
    sheet: str | None,
    first_row_number: int,
) -> tuple[int, int, list[Any], list[dict[str, Any]]]:
    """Find the header: (index of its first row, number of rows, its cells, notes)."""
    notes: list[dict[str, Any]] = []
    h = _find_header(rows, kind)
    n_header = 1
    header_cells: list[Any] = rows[h]
    two = _two_row_header(rows, h, kind)
    if two is not None:
        h, header_cells = two
        n_header = 2
        joined = [str(c) for c, up, low in zip(header_cells, rows[h], rows[h + 1], strict=False)
                  if not _blank(up) and not _blank(low)]
        notes.append(
            {
                "code": "header_combined",
                "message": (
                    f"{where}: the header spans rows {first_row_number + h} and "
                    f"{first_row_number + h + 1}; columns named in both were read as "
                    f"{', '.join(map(repr, joined))}. Check that they mean what they say."
                ),
                "file": file,
                "sheet": sheet,
                "row": first_row_number + h,
            }
        )
    return h, n_header, header_cells, notes


def _header_names(header_cells: list[Any], width: int) -> list[str]:
    """Column names from the header cells: blank ones named ``column_<n>``, repeats suffixed."""
    return _dedupe([(str(c).strip() if not _blank(c) else f"column_{j + 1}") for j, c in
                    enumerate(list(header_cells) + [None] * (width - len(header_cells)))])


def _finish_frame(
    frame: pd.DataFrame,
    *,
    notes: list[dict[str, Any]],
    where: str,
    file: str,
    sheet: str | None,
    first_data_row: int,
    header_rows: range,
) -> pd.DataFrame:
    """Add the row positions, drop blank rows and set ``attrs`` (see :func:`_frame_from_rows`)."""
    frame["_file"] = file
    frame["_sheet"] = sheet
    frame["_row"] = range(first_data_row, first_data_row + len(frame))
    maybe_blank = np.arange(len(frame))  # rows blank in every column looked at so far
    for j in range(len(frame.columns) - 3):
        if not len(maybe_blank):
            break
        cells = frame.iloc[:, j] if len(maybe_blank) == len(frame) else frame.iloc[maybe_blank, j]
        maybe_blank = maybe_blank[_blank_cells(cells)]
    if len(maybe_blank):
        keep = np.ones(len(frame), dtype=bool)
        keep[maybe_blank] = False
        frame = frame.loc[keep]
    frame = frame.reset_index(drop=True)
    if frame.empty:
        notes.append(
            {
                "code": "no_data_rows",
                "message": f"{where}: the table has a header (row {header_rows[0]}) but no "
                "data rows; nothing was read from it.",
                "file": file,
                "sheet": sheet,
            }
        )
    frame.attrs["header_row"] = header_rows[0]
    frame.attrs["header_rows"] = list(header_rows)
    frame.attrs["read_warnings"] = notes
    return frame


def _blank_cells(values: pd.Series) -> np.ndarray:
    """Vectorised :func:`_blank` over a column: missing, or text that is only white space."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        arr = pa.array(values)
        trimmed = pc.utf8_trim(arr, characters=PY_WHITESPACE)
        return np.asarray(pc.fill_null(pc.equal(pc.utf8_length(trimmed), 0), True))
    cells = values.to_numpy(dtype=object)
    out = np.fromiter(
        (c is None or (isinstance(c, float) and c != c) or (isinstance(c, str) and not c.strip())
         for c in cells),
        dtype=bool, count=len(cells),
    )
    return out


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
    data = path.read_bytes()
    if encoding is None:
        frame = _read_long_utf8_csv(data, kind=kind, file=str(path))
        if frame is not None:
            return frame
    text, used = decode_bytes(data, file=str(path), encoding=encoding)
    delimiter = _sniff_delimiter(text)
    frame = _read_csv_fast(data, text, used, delimiter, kind=kind, file=str(path))
    if frame is None:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        frame = _frame_from_rows(rows, kind=kind, file=str(path), sheet=None, first_row_number=1)
    frame.attrs["encoding"] = used
    return frame


def _sniff_delimiter(text: str) -> str:
    """Return the delimiter :class:`csv.Sniffer` finds in the first 4096 characters of a text."""
    try:
        return csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


#: Bytes of a long file that are decoded up front, for the delimiter and the header rows.
HEAD_BYTES = 1 << 20


def _read_long_utf8_csv(data: bytes, *, kind: str, file: str) -> pd.DataFrame | None:
    """Read a long CSV whose head is UTF-8 without decoding the rest in Python.

    :func:`decode_bytes` would take such a file as UTF-8 if all of it is UTF-8, which pyarrow
    checks as it reads the body (it refuses a body that is not). So the frame is the one
    :func:`_read_csv` makes from the whole text. Returns None (and the caller decodes the whole
    file) for a short file, a head that is not UTF-8, a body pyarrow refuses, or a head too short
    for the delimiter and header search to see what they would see in the whole text.
    """
    if len(data) <= HEAD_BYTES:
        return None
    bom = data.startswith(b"\xef\xbb\xbf")
    start = 3 if bom else 0
    # Cut after a line end: b"\n" is never part of a multi-byte UTF-8 character.
    cut = data.rfind(b"\n", start, HEAD_BYTES) + 1
    try:
        head = data[start:cut].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(head) < 4096:
        return None
    used = "utf-8-sig" if bom else "utf-8"
    frame = _read_csv_fast(data, head, used, _sniff_delimiter(head), kind=kind, file=file,
                           head_only=True)
    if frame is not None:
        frame.attrs["encoding"] = used
    return frame


def _read_csv_fast(
    data: bytes,
    text: str,
    used: str,
    delimiter: str,
    *,
    kind: str,
    file: str,
    head_only: bool = False,
) -> pd.DataFrame | None:
    """Read a long CSV with pyarrow: the header rows with :mod:`csv`, the body in one go.

    Gives the frame :func:`_frame_from_rows` would give, with the cells as pandas text (``str``)
    columns. Returns None when the fast path does not apply: a short file, or a body pyarrow cannot
    read as a rectangle of cells (rows of different lengths) or as ``used`` text, which :mod:`csv`
    then reads. ``head_only`` says ``text`` is the decoded head of ``data`` (whole lines), not all
    of it; the header rows must then end inside it.
    """
    head: list[list[Any]] = []
    ends: list[int] = []  # character offset after each record of the head
    consumed = 0

    def lines() -> Any:  # as io.StringIO(text) yields them, without copying the text
        nonlocal consumed
        while consumed < len(text):
            end = text.find("\n", consumed)
            end = len(text) if end < 0 else end + 1
            line = text[consumed:end]
            consumed = end
            yield line

    reader = csv.reader(lines(), delimiter=delimiter)
    try:
        for record in reader:
            head.append(record)
            ends.append(consumed)
            if len(head) > HEADER_SEARCH_ROWS + 1:
                break
        else:
            return None  # the whole file is in the head: the general reader is as fast
    except csv.Error:
        return None  # the general reader says what is wrong
    if head_only and consumed >= len(text):
        return None  # the last record read may go on past the decoded head
    h, n_header, header_cells, notes = _locate_header(
        head, kind=kind, where=file, file=file, sheet=None, first_row_number=1
    )
    start = h + n_header
    offset = ends[start - 1]
    if used in {"utf-8", "utf-8-sig"}:
        prefix = len(text[:offset].encode("utf-8")) + (3 if used == "utf-8-sig" else 0)
        body = pa.py_buffer(data)[prefix:]  # (a view: the file's bytes are not copied)
        quoted = data.find(b'"', prefix) >= 0
    else:
        encoded = text[offset:].encode("utf-8")
        body, quoted = pa.py_buffer(encoded), b'"' in encoded
    head_width = max(len(r) for r in head[:start])
    # pyarrow reads a rectangle: the body rows must all be this long (else the general reader).
    n_fields = max(len(r) for r in head[start:])
    if not n_fields:
        return None
    names = [f"f{j}" for j in range(n_fields)]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(body),
            read_options=pacsv.ReadOptions(column_names=names),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, quote_char='"', double_quote=True, escape_char=False,
                newlines_in_values=quoted, ignore_empty_lines=False,
            ),
            convert_options=pacsv.ConvertOptions(
                # large_string: the type of pandas' text columns, so none is converted again
                column_types=dict.fromkeys(names, pa.large_string()), strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    width = max(head_width, n_fields)
    header = _header_names(header_cells, width)
    frame = table.to_pandas()
    frame.columns = header[:n_fields]
    for name in header[n_fields:]:
        frame[name] = None  # cells beyond the longest body row, as the general reader pads them
    return _finish_frame(
        frame, notes=notes, where=file, file=file, sheet=None, first_data_row=1 + start,
        header_rows=range(1 + h, 1 + start),
    )


def _sheet_has_data(ws: Any) -> bool:
    return any(not _blank(c) for row in ws.iter_rows(values_only=True) for c in row)


def _read_xlsx(path: Path, *, kind: str, sheet: str | int | None) -> pd.DataFrame:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds for a damaged file
        msg = f"{path}: cannot open the workbook ({err}). Is it a real .xlsx file?"
        raise InputError(msg) from err
    try:
        names = wb.sheetnames
        with_data = [n for n in names if _sheet_has_data(wb[n])]
        listing = ", ".join(repr(n) for n in with_data) or "none"
        if sheet is None:
            if not with_data:
                msg = (
                    f"{path}: every sheet of the workbook is empty ({', '.join(map(repr, names))}); "
                    "save the table in it and try again."
                )
                raise InputError(msg)
            chosen = with_data[0]
        elif isinstance(sheet, int):
            if not -len(names) <= sheet < len(names):
                msg = (
                    f"{path}: there is no sheet number {sheet} (0-based); the workbook has "
                    f"{len(names)}: {', '.join(map(repr, names))}. Use --sheet."
                )
                raise InputError(msg)
            chosen = names[sheet]
        elif sheet in names:
            chosen = sheet
        else:
            msg = f"{path}: no sheet {sheet!r}; the workbook has {', '.join(names)}. Use --sheet."
            raise InputError(msg)
        if chosen not in with_data:
            msg = (
                f"{path}: sheet {chosen!r} is empty. Sheets with data: {listing}. Choose one with "
                "--sheet (API: sheet=)."
            )
            raise InputError(msg)
        rows = [list(r) for r in wb[chosen].iter_rows(values_only=True)]
    finally:
        wb.close()
    frame = _frame_from_rows(rows, kind=kind, file=str(path), sheet=chosen, first_row_number=1)
    others = [n for n in with_data if n != chosen]
    if sheet is None and others:
        frame.attrs["read_warnings"].append(
            {
                "code": "other_sheets",
                "message": (
                    f"{path}: only sheet {chosen!r} was read; the workbook has data in "
                    f"{len(others)} more sheet(s): {', '.join(map(repr, others))}. Pass --sheet "
                    "(API: sheet=) to read another, or put all rows in one sheet with a 年度 column."
                ),
                "file": str(path),
                "sheet": chosen,
            }
        )
    frame.attrs["sheets"] = names
    return frame
