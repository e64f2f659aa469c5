"""Map styling: grade colours, finding outlines, metric classes (mapclassify), building floors."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ._map_data import TEXT

#: Fixed colours of the evaluation classes; ``""`` is 未评价 (not graded).
GRADE_COLORS: dict[str, str] = {
    "A": "#1a9641",
    "B": "#a6d96a",
    "C": "#fdae61",
    "D": "#d7191c",
    "T": "#2b83ba",
    "": "#bdbdbd",
}
NO_DATA_COLOR = "#bdbdbd"


@dataclass(frozen=True)
class Outline:
    key: str
    zh: str
    en: str
    color: str
    weight: float
    dash: str | None
    hatch: bool
    codes: frozenset[str]


#: Finding categories drawn on parcels, most serious first (a parcel shows the first that applies).
OUTLINES: tuple[Outline, ...] = (
    Outline("idle", "闲置土地", "Idle land", "#b2182b", 3.0, None, True,
             frozenset({"IDLE_NOT_STARTED", "IDLE_STALLED", "GOV_CAUSE"})),
    Outline("suspected", "疑似闲置", "Suspected idle", "#7b3294", 3.0, "6 4", True,
             frozenset({"IDLE_SUSPECTED"})),
    Outline("low", "低效用地", "Low efficiency", "#e66101", 2.5, None, False,
             frozenset({"LOW_FAR", "LOW_COVERAGE", "LOW_TAX", "STOPPED", "ZOMBIE",
                        "VACANT_BUILDING", "GRADE_D", "BELOW_COMMITMENT"})),
    Outline("supervision", "项目监管", "Contract supervision", "#2166ac", 2.5, "8 3", False,
             frozenset({"OVERDUE_START", "OVERDUE_COMPLETION", "INVESTMENT_SHORTFALL"})),
)
NORMAL_LINE = {"color": "#4d4d4d", "weight": 0.7, "dash": None, "hatch": False}
#: Finding ``category`` values that mean low efficiency whatever the code (DOMAIN.md: 低效).
LOW_CATEGORIES = frozenset({"低效", "低效用地", "low", "low_efficiency"})

FLOOR_BINS = ((1, 1), (2, 3), (4, 6), (7, 9), (10, np.inf))
FLOOR_COLORS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
REMAINDER_COLOR = "#1b7837"


# --------------------------------------------------------------------------------------------
# colouring
# --------------------------------------------------------------------------------------------
def _fmt_break(x: float, decimals: int) -> str:
    return f"{x:,.{decimals}f}"


def numeric_classes(
    values: pd.Series, scheme: str, k: int, decimals: int, lang: str
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Classify a numeric column with mapclassify; return class per row and legend items."""
    import branca.colormap as bcm
    import mapclassify

    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(x)
    cls = np.zeros(len(x), dtype=np.int64)
    items: list[dict[str, Any]] = []
    uniq = np.unique(x[ok])
    if len(uniq) == 0:
        n_classes = 0
    elif len(uniq) == 1:
        n_classes = 1
        items.append({"label": _fmt_break(float(uniq[0]), decimals)})
    else:
        k_eff = min(k, len(uniq))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                classifier = mapclassify.classify(x[ok], scheme, k=k_eff)
        except (ValueError, KeyError, TypeError) as err:
            msg = (
                f"scheme={scheme!r} cannot classify these values ({err}). Use a mapclassify scheme "
                "such as 'quantiles', 'equal_interval', 'natural_breaks' or 'fisher_jenks'."
            )
            raise InputError(msg) from err
        bins = np.asarray(classifier.bins, dtype=float)
        cls[ok] = np.asarray(classifier.yb, dtype=np.int64)
        n_classes = len(bins)
        lower = float(x[ok].min())
        for i, upper in enumerate(bins):
            lo = lower if i == 0 else float(bins[i - 1])
            label = f"{_fmt_break(lo, decimals)} – {_fmt_break(float(upper), decimals)}"
            items.append({"label": label})
    ramp = bcm.linear.YlGnBu_09.scale(0, 1)  # type: ignore[attr-defined]
    for i, item in enumerate(items):
        t = 0.15 + 0.85 * (i / max(n_classes - 1, 1))
        item["fill"] = ramp.rgb_hex_str(t)
    cls[~ok] = n_classes
    if (~ok).any() or n_classes == 0:
        items.append({"label": TEXT[lang]["noData"], "fill": NO_DATA_COLOR})
    counts = np.bincount(cls, minlength=len(items))
    for item, count in zip(items, counts, strict=False):
        item["n"] = int(count)
    return cls, items


def outline_classes(
    n: int, finding_parcels: np.ndarray, finding_codes: pd.Series, finding_cats: pd.Series
) -> np.ndarray:
    """Return 0 (no finding) or 1 + the :data:`OUTLINES` index of each parcel's worst category."""
    rank = np.full(len(finding_parcels), len(OUTLINES) + 1, dtype=np.int64)
    codes = finding_codes.astype("string").fillna("").to_numpy(dtype=object)
    cats = finding_cats.astype("string").fillna("").str.strip().str.lower().to_numpy(dtype=object)
    for i, outline in enumerate(OUTLINES):
        hit = np.isin(codes, list(outline.codes))
        if outline.key == "low":
            hit |= np.isin(cats, [c.lower() for c in LOW_CATEGORIES])
        rank = np.where(hit, np.minimum(rank, i + 1), rank)
    out = np.full(n, len(OUTLINES) + 1, dtype=np.int64)
    valid = (finding_parcels >= 0) & (finding_parcels < n)
    np.minimum.at(out, finding_parcels[valid], rank[valid])
    out[out > len(OUTLINES)] = 0
    return out


def grade_classes(grades: np.ndarray, lang: str) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Return the class of each normalised grade (A B C D T 未评价) and the legend items."""
    text = TEXT[lang]
    order = ["A", "B", "C", "D", "T", ""]
    cls = pd.Index(order).get_indexer(pd.Index(grades))
    counts = np.bincount(cls, minlength=len(order))
    items = [
        {"label": (g + text["gradeSuffix"]) if g else text["noGrade"], "fill": GRADE_COLORS[g],
         "n": int(c)}
        for g, c in zip(order, counts, strict=True)
    ]
    return cls, items


def line_styles() -> list[dict[str, Any]]:
    """Return the stroke of each outline class: 0 no finding, then :data:`OUTLINES` in order."""
    return [dict(NORMAL_LINE)] + [
        {"color": o.color, "weight": o.weight, "dash": o.dash, "hatch": o.hatch} for o in OUTLINES
    ]


def finding_legend(line_cls: np.ndarray, lang: str) -> list[dict[str, Any]]:
    """Return legend items for the outline classes that occur, with their parcel counts."""
    counts = np.bincount(line_cls, minlength=len(OUTLINES) + 1)
    return [
        {"label": o.zh if lang == "zh" else o.en, "line": o.color, "weight": 2,
         "dash": bool(o.dash), "hatch": o.hatch, "fill": "#ffffff", "n": int(counts[i + 1])}
        for i, o in enumerate(OUTLINES)
        if counts[i + 1] > 0
    ]


def floor_classes(
    floors: np.ndarray, lang: str
) -> tuple[np.ndarray, list[str], list[dict[str, Any]]]:
    """Return each building's floor class, the class colours and the legend items."""
    text = TEXT[lang]
    none = len(FLOOR_BINS)
    cls = np.full(len(floors), none, dtype=np.int64)
    for i, (lo, hi) in enumerate(FLOOR_BINS):
        cls[(floors >= lo) & (floors <= hi) & (cls == none)] = i
    colors = [*FLOOR_COLORS, NO_DATA_COLOR]
    counts = np.bincount(cls, minlength=len(colors))
    labels = [
        (f"{lo}" if lo == hi else f"{lo}–{int(hi)}" if np.isfinite(hi) else f"≥ {lo}")
        + f" {text['floorsUnit']}"
        for lo, hi in FLOOR_BINS
    ] + [text["noData"]]
    items = [
        {"label": lab, "fill": c, "n": int(cnt)}
        for lab, c, cnt in zip(labels, colors, counts, strict=True)
        if cnt > 0
    ]
    return cls, colors, items
