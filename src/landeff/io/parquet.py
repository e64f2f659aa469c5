"""Write a result as GeoParquet (and the tables beside it as Parquet), for large runs.

Reading GeoParquet is done by :func:`landeff.io.vector.read_layer` (``.parquet`` inputs). The
writer here is the columnar counterpart of the GeoPackage and Excel outputs: one file per table,
written through :func:`landeff.io.write.write_outputs` so a failure leaves the previous set intact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .write import write_outputs

if TYPE_CHECKING:
    from ..pipeline import Result

__all__ = ["result_tables", "storable", "write_parquet_outputs"]


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def storable(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy whose cells Parquet and PostgreSQL store: lists joined by ``;``, dicts as JSON.

    Object columns that still mix types (numbers and text) become text.

    Examples
    --------
    >>> storable(pd.DataFrame({"ids": [["P1", "P2"], []], "v": [1, "a"]})).to_dict("list")
    {'ids': ['P1;P2', ''], 'v': ['1', 'a']}
    """
    out = frame.copy()
    geom = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    for col in out.columns:
        if col == geom or out[col].dtype != object:
            continue
        values = out[col]
        present = values[values.map(lambda v: not isinstance(v, float) or not np.isnan(v))]
        if present.map(lambda v: isinstance(v, list | tuple | set | np.ndarray)).any():
            values = values.map(
                lambda v: ";".join(map(str, v)) if isinstance(v, list | tuple | set | np.ndarray)
                else v
            )
        elif present.map(lambda v: isinstance(v, dict)).any():
            values = values.map(
                lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v
            )
        kinds = values[~values.map(_missing)].map(type).nunique()
        if kinds > 1:
            values = values.map(lambda v: None if _missing(v) else str(v))
        out[col] = values
    out.columns = [str(c) for c in out.columns]
    return out


def result_tables(result: Result, *, public: bool = False) -> dict[str, pd.DataFrame]:
    """Return the tables of a result by name, as the database and Parquet writers store them.

    ``parcels``, ``buildings`` and ``remainders`` (GeoDataFrames, input CRS), ``enterprises``,
    ``findings``, ``rejected``, ``warnings`` and a one-row ``summary`` (``summary_json``). With
    ``public=True``: only the columns :func:`landeff.outputs.public_columns` allows, confidential
    finding values and their evidence emptied, and no rejected rows or warnings (they quote input
    cells).
    """
    tables: dict[str, pd.DataFrame] = {
        "parcels": result.parcels.reset_index(drop=True),
        "buildings": result.buildings.reset_index(drop=True),
        "enterprises": result.enterprises.reset_index(drop=True),
        "findings": result.findings.reset_index(drop=True),
        "remainders": result.remainders.reset_index(drop=True),
        "rejected": result.rejected,
        "warnings": result.warnings,
    }
    if public:
        from ..outputs import confidential_finding_values, public_columns

        findings = tables["findings"].copy()
        if len(findings):
            hidden = confidential_finding_values(findings).to_numpy()
            for col in ("value", "evidence"):
                if col in findings:
                    findings[col] = findings[col].astype(object).where(~hidden, None)
        tables["findings"] = findings
        tables = {
            k: v[public_columns(v)] for k, v in tables.items() if k not in ("rejected", "warnings")
        }
    tables["summary"] = pd.DataFrame(
        {
            "name": [result.name],
            "as_of": [pd.Timestamp(result.as_of)],
            "year": [result.year],
            "policy": [result.policy.name],
            "summary_json": [json.dumps(result.summary, ensure_ascii=False, default=str)],
        }
    )
    return tables


def write_parquet_outputs(
    result: Result, directory: str | os.PathLike[str], *, public: bool = False
) -> list[Path]:
    """Write the result's tables as GeoParquet / Parquet files into ``directory``.

    Files: ``parcels.parquet``, ``buildings.parquet``, ``remainders.parquet`` (GeoParquet, input
    CRS), ``enterprises.parquet``, ``findings.parquet``, ``rejected.parquet``, ``warnings.parquet``,
    ``summary.parquet`` and ``summary.json``. In public mode every name ends in ``_public``.

    Parameters
    ----------
    result : Result
        From :func:`landeff.evaluate`.
    directory : path-like
        Output folder (created when missing).
    public : bool
        Public edition (see :func:`result_tables`).

    Returns
    -------
    list of Path
        The files written.
    """
    suffix = "_public" if public else ""
    writers: dict[str, Any] = {}
    for name, frame in result_tables(result, public=public).items():
        data = storable(frame)

        def write(path: Path, data: pd.DataFrame = data) -> None:
            if isinstance(data, gpd.GeoDataFrame) and data.geometry.name in data:
                data.to_parquet(path, index=False, write_covering_bbox=True)
            else:
                pd.DataFrame(data).to_parquet(path, index=False)

        writers[f"{name}{suffix}.parquet"] = write
    text = json.dumps(result.summary, ensure_ascii=False, indent=2, default=str)
    writers[f"summary{suffix}.json"] = lambda p: p.write_text(text, encoding="utf-8")
    return write_outputs(directory, writers)
