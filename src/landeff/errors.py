"""Errors, and the collector of warnings and rejected rows (nothing is dropped silently)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

WARNING_COLUMNS = ["code", "message", "file", "sheet", "row", "column", "value"]
REJECTED_COLUMNS = ["file", "sheet", "row", "column", "value", "reason_code", "message"]


class LandeffError(Exception):
    """Base class of every error landeff raises on purpose."""


class InputError(LandeffError, ValueError):
    """An input file or table cannot be used as it is; the message says how to fix it."""


class CRSError(InputError):
    """A coordinate reference system is missing, unknown or unsuitable for measuring area."""


class PolicyError(LandeffError, ValueError):
    """A policy file or preset is invalid."""


def _clean(value: Any) -> Any:
    """Return a JSON- and CSV-friendly scalar (None for missing values)."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


#: Cell types that :func:`_clean` returns unchanged (when not NaN).
_PLAIN = frozenset({str, int, float, bool})


def _clean_array(values: Any, n: int, *, join_lists: bool = False) -> np.ndarray:
    """Apply :func:`_clean` to every value of a column at once; returns an object array.

    ``values`` is None (all missing), a scalar (repeated), or a Series, array or list of length
    ``n``. With ``join_lists``, list values become ``;``-joined text (id lists in a value column).
    """
    if values is None:
        return np.full(n, None, dtype=object)
    if not isinstance(values, list | tuple | pd.Series | pd.Index | np.ndarray):
        return np.fromiter([_clean(values)] * n, dtype=object, count=n)
    if isinstance(values, pd.Index):
        values = pd.Series(values)
    if isinstance(values, pd.Series):
        dtype = values.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
            return _clean_numeric(values.to_numpy())
        if isinstance(dtype, np.dtype) and dtype.kind == "M":
            out = np.full(n, None, dtype=object)
            ok = values.notna().to_numpy()
            out[ok] = [t.date().isoformat() for t in values[ok]]
            return out
        if isinstance(dtype, pd.StringDtype):
            return values.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
        obj = values.to_numpy(dtype=object)
    elif isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        return _clean_numeric(values)
    else:
        obj = np.fromiter(values, dtype=object, count=n)
    out = obj.copy()
    out[pd.isna(out)] = None
    for i in [i for i, v in enumerate(out) if v is not None and type(v) not in _PLAIN]:
        v = out[i]
        out[i] = ";".join(map(str, v)) if join_lists and isinstance(v, list) else _clean(v)
    return out


def _clean_numeric(arr: np.ndarray) -> np.ndarray:
    out = arr.astype(object)  # numpy scalars become Python ones, as ``.item()`` makes them
    if arr.dtype.kind == "f":
        out[np.isnan(arr)] = None
    return out


class _Block:
    """Records added in bulk: one object array per column, all of one length."""

    __slots__ = ("columns", "n")

    def __init__(self, columns: dict[str, np.ndarray], n: int) -> None:
        self.columns = columns
        self.n = n


def _as_columns(chunks: list[Any], names: list[str]) -> tuple[dict[str, np.ndarray], int]:
    """Concatenate chunks (lists of dicts and :class:`_Block`) into one array per column."""
    parts: dict[str, list[np.ndarray]] = {c: [] for c in names}
    n = 0
    for chunk in chunks:
        if isinstance(chunk, _Block):
            for c in names:
                parts[c].append(chunk.columns[c])
            n += chunk.n
        elif chunk:
            for c in names:
                parts[c].append(np.fromiter((r.get(c) for r in chunk), dtype=object,
                                            count=len(chunk)))
            n += len(chunk)
    columns = {
        c: (np.concatenate(p) if len(p) > 1 else p[0]) if p else np.empty(0, dtype=object)
        for c, p in parts.items()
    }
    return columns, n


@dataclass
class Diagnostics:
    """Collect warnings and rejected rows while a park is read and evaluated.

    Rows are recorded in bulk (:meth:`warn_rows`, :meth:`reject`: one call per set of rows, whatever
    its size) or one at a time (:meth:`warn`); the frames keep the order of recording.

    Parameters
    ----------
    strict : bool
        When true, :meth:`raise_if_warnings` raises once if anything was recorded.
    """

    strict: bool = False
    _warnings: list[Any] = field(default_factory=list, repr=False)
    _rejected: list[Any] = field(default_factory=list, repr=False)

    # -- recording ---------------------------------------------------------------------------

    def warn(
        self,
        code: str,
        message: str,
        *,
        file: str | None = None,
        sheet: str | None = None,
        row: Any = None,
        column: str | None = None,
        value: Any = None,
    ) -> None:
        """Record one warning, with the place in the input it is about."""
        record = {
            "code": code,
            "message": message,
            "file": file,
            "sheet": sheet,
            "row": _clean(row),
            "column": column,
            "value": _clean(value),
        }
        if self._warnings and isinstance(self._warnings[-1], list):
            self._warnings[-1].append(record)
        else:
            self._warnings.append([record])

    def warn_rows(
        self,
        frame: pd.DataFrame,
        code: str | Sequence[str],
        message: str | Sequence[str] | pd.Series,
        *,
        column: str | None = None,
        values: Any = None,
    ) -> None:
        """Record one warning per row of ``frame`` (which carries ``_file``, ``_sheet``, ``_row``).

        Parameters
        ----------
        frame : DataFrame
            The rows warned about.
        code : str or sequence of str
            Warning code, for all rows or one per row.
        message : str or sequence of str
            One message for all rows, or one per row.
        column : str, optional
            The column the warning is about; its value in each row is recorded.
        values : sequence, optional
            The value to record for each row instead of ``frame[column]``.
        """
        n = len(frame)
        if not n:
            return
        cols = _position_columns(frame, column, values)
        cols["code"] = _text_column(code, n)
        cols["message"] = _text_column(message, n)
        self._warnings.append(_Block({c: cols[c] for c in WARNING_COLUMNS}, n))

    def reject(
        self,
        frame: pd.DataFrame,
        reason_code: str | Sequence[str],
        message: str | Sequence[str] | pd.Series,
        *,
        column: str | None = None,
        values: Any = None,
    ) -> None:
        """Record every row of ``frame`` as rejected, with one reason.

        ``reason_code`` and ``message`` are each one text for all rows or one per row; ``values``
        (optional) replaces ``frame[column]`` as the recorded value of each row.
        """
        n = len(frame)
        if not n:
            return
        cols = _position_columns(frame, column, values)
        cols["reason_code"] = _text_column(reason_code, n)
        cols["message"] = _text_column(message, n)
        self._rejected.append(_Block({c: cols[c] for c in REJECTED_COLUMNS}, n))

    def extend(self, other: Diagnostics) -> None:
        """Append everything ``other`` recorded, in its order, after what this one holds.

        Work done out of order (in a background thread) records into its own Diagnostics, which
        is appended where the work would have recorded in a sequential run: the frames come out
        the same either way.
        """
        for mine, theirs in ((self._warnings, other._warnings), (self._rejected, other._rejected)):
            for chunk in theirs:
                if isinstance(chunk, list):
                    if mine and isinstance(mine[-1], list):
                        mine[-1].extend(chunk)
                    else:
                        mine.append(list(chunk))
                else:
                    mine.append(chunk)

    # -- reading -----------------------------------------------------------------------------

    @property
    def warnings(self) -> pd.DataFrame:
        """Return the warnings as a frame with :data:`WARNING_COLUMNS`."""
        return _frame(self._consolidate("_warnings", WARNING_COLUMNS), WARNING_COLUMNS)

    @property
    def rejected(self) -> pd.DataFrame:
        """Return the rejected rows as a frame with :data:`REJECTED_COLUMNS`."""
        return _frame(self._consolidate("_rejected", REJECTED_COLUMNS), REJECTED_COLUMNS)

    @property
    def n_warnings(self) -> int:
        """Return how many warnings were recorded."""
        return sum(c.n if isinstance(c, _Block) else len(c) for c in self._warnings)

    @property
    def n_rejected(self) -> int:
        """Return how many rows were rejected."""
        return sum(c.n if isinstance(c, _Block) else len(c) for c in self._rejected)

    @property
    def warning_rows(self) -> list[dict[str, Any]]:
        """Return the warnings as a list of dicts (keys :data:`WARNING_COLUMNS`)."""
        return self._records("_warnings", WARNING_COLUMNS)

    @warning_rows.setter
    def warning_rows(self, rows: list[dict[str, Any]]) -> None:
        self._warnings = [list(rows)]

    @property
    def rejected_rows(self) -> list[dict[str, Any]]:
        """Return the rejected rows as a list of dicts (keys :data:`REJECTED_COLUMNS`)."""
        return self._records("_rejected", REJECTED_COLUMNS)

    @rejected_rows.setter
    def rejected_rows(self, rows: list[dict[str, Any]]) -> None:
        self._rejected = [list(rows)]

    def raise_if_warnings(self) -> None:
        """Raise :class:`InputError` in strict mode when anything was recorded."""
        n_warn, n_rej = self.n_warnings, self.n_rejected
        if not self.strict or not (n_warn or n_rej):
            return
        w = self._consolidate("_warnings", WARNING_COLUMNS)
        r = self._consolidate("_rejected", REJECTED_COLUMNS)
        lines = [f"{c}: {m}" for c, m in zip(w["code"][:20], w["message"][:20], strict=True)]
        lines += [f"{c}: {m}" for c, m in zip(r["reason_code"][:20], r["message"][:20], strict=True)]
        msg = (
            f"strict mode: {n_warn} warning(s) and {n_rej} rejected row(s):\n" + "\n".join(lines)
        )
        raise InputError(msg)

    # -- storage -----------------------------------------------------------------------------

    def _consolidate(self, attr: str, names: list[str]) -> dict[str, np.ndarray]:
        """Merge the recorded chunks into one :class:`_Block` (kept) and return its columns."""
        chunks = getattr(self, attr)
        if len(chunks) == 1 and isinstance(chunks[0], _Block):
            return chunks[0].columns
        columns, n = _as_columns(chunks, names)
        setattr(self, attr, [_Block(columns, n)] if n else [])
        return columns

    def _records(self, attr: str, names: list[str]) -> list[dict[str, Any]]:
        """Return the records as the list of dicts that :meth:`warn` appends to from now on."""
        chunks = getattr(self, attr)
        if len(chunks) == 1 and isinstance(chunks[0], list):
            return chunks[0]
        columns = self._consolidate(attr, names)
        rows = [dict(zip(names, vals, strict=True)) for vals in zip(*columns.values(), strict=True)]
        setattr(self, attr, [rows])
        return rows


def _frame(columns: dict[str, np.ndarray], names: list[str]) -> pd.DataFrame:
    """Build the output frame, inferring each column's dtype as a frame built from records would.

    ``row`` (a spreadsheet row number, or none for a warning about a whole file or run) is always
    a nullable integer column, so warnings.csv writes ``10027`` whether or not some rows are empty.
    """
    if not len(columns[names[0]]):
        frame = pd.DataFrame([], columns=names)
    else:
        frame = pd.DataFrame({c: pd.Series(columns[c].tolist()) for c in names}, columns=names)
    if "row" in frame:
        frame["row"] = _row_numbers(frame["row"])
    return frame


def _row_numbers(rows: pd.Series) -> pd.Series:
    """Return row numbers as ``Int64`` (kept as they are if any is not a whole number)."""
    numbers = pd.to_numeric(rows, errors="coerce")
    whole = numbers.isna().eq(rows.isna()).all() and bool((numbers.dropna() % 1 == 0).all())
    return numbers.astype("Int64") if whole else rows


def _text_column(message: Any, n: int) -> np.ndarray:
    if isinstance(message, str):
        return np.full(n, message, dtype=object)
    texts = list(message)
    if len(texts) != n:
        msg = f"{len(texts)} texts given for {n} rows"
        raise ValueError(msg)
    return np.fromiter(texts, dtype=object, count=n)


def _position_columns(
    frame: pd.DataFrame, column: str | None, values: Any
) -> dict[str, np.ndarray]:
    """Return the source position (and the offending value) of each row of ``frame``, as columns."""
    n = len(frame)
    out = {
        "file": _clean_array(frame.get("_file"), n),
        "sheet": _clean_array(frame.get("_sheet"), n),
        "row": _clean_array(frame.get("_row"), n),
        "column": np.full(n, column, dtype=object),
    }
    if values is None and column is not None and column in frame:
        values = frame[column]
    if values is not None and not isinstance(values, pd.Series | pd.Index | np.ndarray | list):
        values = list(values)
    out["value"] = _clean_array(values, n, join_lists=True)
    return out
