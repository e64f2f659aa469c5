"""Write a :class:`landeff.pipeline.Result` to a folder: results, lists, report and map.

Full outputs (for the park and the tax office)::

    parcels.gpkg        layers parcels, buildings, remainders, findings (attribute table)
    enterprises.csv     one row per enterprise, with the score breakdown
    findings.csv        one row per finding with its reason
    rejected.csv        every input row not used, with file, sheet, row, column, value and reason
    warnings.csv        every recorded warning, with its row
    policy.csv          every threshold, weight and benchmark used, with unit and source
    summary.json        park totals and averages, as_of, year, counts
    idle_land.xlsx, *.csv, idle_land.gpkg   the lists (landeff.outputs.excel)
    report.html         the one-page summary (landeff.outputs.report)
    map.html            the interactive map (landeff.outputs.map)

Public outputs (``public=True``) are the same files named ``*_public`` with no enterprise figure nor
anything derived from one; ``rejected`` and ``warnings`` are internal quality reports and are not
written in public mode (they quote input values).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from ..io.write import write_csv, write_gpkg_layers, write_outputs
from . import confidential_finding_values, public_columns
from .excel import write_lists
from .report import write_report

if TYPE_CHECKING:
    from ..pipeline import Result

#: FAR of the 工业上楼 scenario shown in the report (the Hengshan park's figure after 工业上楼).
REPORT_SCENARIO_FAR = 1.37


def public_findings(findings: pd.DataFrame) -> pd.DataFrame:
    """Return findings without measured values or evidence that quote an enterprise figure."""
    out = findings.copy()
    hide = confidential_finding_values(out)
    if "value" in out:
        out["value"] = out["value"].astype(object).where(~hide, None)
    if "evidence" in out:
        out["evidence"] = out["evidence"].astype(object).where(~hide, None)
    return out


def _frame_for_file(frame: pd.DataFrame, public: bool) -> pd.DataFrame:
    return frame[public_columns(frame)] if public else frame


def save_result(
    result: Result, directory: Path, *, public: bool = False, lang: str = "zh",
    with_map: bool = True,
) -> Path:
    """Write every output of ``result`` into ``directory`` (see the module docstring)."""
    from ..scenario import scenario

    sfx = "_public" if public else ""
    parcels = _frame_for_file(result.parcels.reset_index(drop=True), public)
    enterprises = _frame_for_file(result.enterprises, public)
    findings = public_findings(result.findings) if public else result.findings
    summary = _public_summary(result.summary) if public else result.summary
    layers: dict[str, pd.DataFrame] = {
        "parcels": _drop_internal(parcels),
        "buildings": _drop_internal(result.buildings),
        "remainders": result.remainders,
        "findings": findings,
    }
    writers: dict[str, Any] = {
        f"parcels{sfx}.gpkg": lambda p: write_gpkg_layers(p, layers),
        f"enterprises{sfx}.csv": lambda p: write_csv(_drop_internal(enterprises), p),
        f"findings{sfx}.csv": lambda p: write_csv(findings, p),
        f"policy{sfx}.csv": lambda p: write_csv(result.policy.thresholds_frame(), p),
        f"summary{sfx}.json": lambda p: p.write_text(
            json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"),
    }
    if not public:
        writers["rejected.csv"] = lambda p: write_csv(result.rejected, p)
        writers["warnings.csv"] = lambda p: write_csv(result.warnings, p)
    write_outputs(directory, writers)
    write_lists(directory, result.findings, result.parcels, result.enterprises,
                result.remainders, lang=lang, public=public)
    scen = scenario(result, REPORT_SCENARIO_FAR)
    map_name = f"map{sfx}.html"
    write_report(
        directory / f"report{sfx}.html", result.summary, result.parcels, result.enterprises,
        result.findings, scenario=scen, map_href=map_name if with_map else None, lang=lang,
        public=public,
    )
    if with_map:
        result.to_map(directory / map_name, public=public, lang=lang)
    return directory


def _drop_internal(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop bookkeeping columns and turn lists into text, for files."""
    out = frame.drop(columns=[c for c in ("key", "row") if c in frame.columns])
    for col in out.columns:
        if out[col].dtype == object and out[col].map(lambda v: isinstance(v, list)).any():
            out[col] = out[col].map(lambda v: ";".join(map(str, v)) if isinstance(v, list) else v)
    if isinstance(frame, gpd.GeoDataFrame) and not isinstance(out, gpd.GeoDataFrame):
        out = gpd.GeoDataFrame(out, geometry=frame.geometry.name, crs=frame.crs)
    return out


def _public_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """Drop park totals of enterprise figures; keep per-mu aggregates of enough enterprises."""
    from ..metrics import FIGURES
    from .report import MIN_FIRMS_PUBLIC

    out = {k: v for k, v in summary.items() if k not in FIGURES}
    if int(summary.get("n_enterprises") or 0) < MIN_FIRMS_PUBLIC:
        out = {k: v for k, v in out.items() if not k.endswith("_per_mu") and k != "by_year"}
    elif "by_year" in out:
        out["by_year"] = {
            y: {k: v for k, v in fig.items() if k not in FIGURES}
            for y, fig in out["by_year"].items()
        }
    return out
