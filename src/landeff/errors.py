"""Errors, and the collector of warnings and rejected rows (nothing is dropped silently)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

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


@dataclass
class Diagnostics:
    """Collect warnings and rejected rows while a park is read and evaluated.

    Parameters
    ----------
    strict : bool
        When true, :meth:`raise_if_warnings` raises once if anything was recorded.
    """

    strict: bool = False
    warning_rows: list[dict[str, Any]] = field(default_factory=list)
    rejected_rows: list[dict[str, Any]] = field(default_factory=list)

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
        self.warning_rows.append(
            {
                "code": code,
                "message": message,
                "file": file,
                "sheet": sheet,
                "row": _clean(row),
                "column": column,
                "value": _clean(value),
            }
        )

    def warn_rows(
        self,
        frame: pd.DataFrame,
        code: str,
        message: str,
        *,
        column: str | None = None,
    ) -> None:
        """Record one warning per row of ``frame`` (which carries ``_file``, ``_sheet``, ``_row``)."""
        for rec in _positions(frame, column):
            self.warn(code, message, **rec)

    def reject(
        self,
        frame: pd.DataFrame,
        reason_code: str,
        message: str,
        *,
        column: str | None = None,
    ) -> None:
        """Record every row of ``frame`` as rejected, with one reason."""
        for rec in _positions(frame, column):
            self.rejected_rows.append({**rec, "reason_code": reason_code, "message": message})

    @property
    def warnings(self) -> pd.DataFrame:
        """Return the warnings as a frame with :data:`WARNING_COLUMNS`."""
        return pd.DataFrame(self.warning_rows, columns=WARNING_COLUMNS)

    @property
    def rejected(self) -> pd.DataFrame:
        """Return the rejected rows as a frame with :data:`REJECTED_COLUMNS`."""
        return pd.DataFrame(self.rejected_rows, columns=REJECTED_COLUMNS)

    def raise_if_warnings(self) -> None:
        """Raise :class:`InputError` in strict mode when anything was recorded."""
        if not self.strict or not (self.warning_rows or self.rejected_rows):
            return
        lines = [f"{w['code']}: {w['message']}" for w in self.warning_rows[:20]]
        lines += [f"{r['reason_code']}: {r['message']}" for r in self.rejected_rows[:20]]
        msg = (
            f"strict mode: {len(self.warning_rows)} warning(s) and "
            f"{len(self.rejected_rows)} rejected row(s):\n" + "\n".join(lines)
        )
        raise InputError(msg)


def _positions(frame: pd.DataFrame, column: str | None) -> Iterable[dict[str, Any]]:
    """Yield the source position (and the offending value) of each row of ``frame``."""
    files = frame["_file"] if "_file" in frame else pd.Series(None, index=frame.index)
    sheets = frame["_sheet"] if "_sheet" in frame else pd.Series(None, index=frame.index)
    rows = frame["_row"] if "_row" in frame else pd.Series(None, index=frame.index)
    values = (
        frame[column]
        if column is not None and column in frame
        else pd.Series(None, index=frame.index)
    )
    for f, s, r, v in zip(files, sheets, rows, values, strict=True):
        yield {
            "file": _clean(f),
            "sheet": _clean(s),
            "row": _clean(r),
            "column": column,
            "value": _clean(v) if not isinstance(v, list) else ";".join(map(str, v)),
        }
