"""Writers of the deliverables (map, lists, report) and the one list of confidential columns.

Public outputs (``public=True``) are meant for release outside the tax office: they hold no
enterprise figure nor anything derived from one. Every writer decides what to leave out with
:func:`is_confidential` and :func:`confidential_finding_values`, so the rule lives in one place.

``make_map`` and ``save_map`` are imported lazily (folium is only loaded when a map is made).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..metrics import FIGURES, PER_MU, RATIOS

if TYPE_CHECKING:
    from .map import make_map, save_map

__all__ = [
    "CONFIDENTIAL_COLUMNS",
    "CONFIDENTIAL_FINDING_CODES",
    "PUBLIC_PER_MU_COLUMNS",
    "confidential_finding_values",
    "is_confidential",
    "make_map",
    "public_columns",
    "save_map",
]

#: Enterprise figures, the figures derived from them, and the evaluation that ranks them: never in a
#: public output. Columns named ``pts_*`` (score breakdown) or ``*_yoy`` (year-on-year change), and
#: every per-mu figure (``*_per_mu``) except the contract commitments in
#: :data:`PUBLIC_PER_MU_COLUMNS`, are confidential too (see :func:`is_confidential`).
CONFIDENTIAL_COLUMNS: frozenset[str] = frozenset(
    {
        *FIGURES,  # enterprise figures (tax office, statistics, utilities)
        "investment_done_wan",
        *PER_MU,  # per-mu figures
        *RATIOS,
        # evaluation derived from the figures (the class A/B/C/D itself stays public)
        "score",
        "consecutive_d",
    }
)

#: Per-mu figures that are contract terms (the land-supply contract commitments), not enterprise
#: figures: they stay public, like the thresholds of findings.
PUBLIC_PER_MU_COLUMNS: frozenset[str] = frozenset(
    {"committed_tax_wan_per_mu", "committed_output_wan_per_mu"}
)

#: Findings whose measured ``value`` is an enterprise figure whatever its unit.
CONFIDENTIAL_FINDING_CODES: frozenset[str] = frozenset(
    {"LOW_TAX", "BELOW_COMMITMENT", "STOPPED", "ZOMBIE", "GRADE_D", "INVESTMENT_SHORTFALL"}
)

# Units of a finding's value that make it an enterprise figure: money (元, 万元, 亿元), any per-mu
# figure, energy, electricity, emissions and head counts.
_CONFIDENTIAL_UNIT = re.compile(
    r"元|/\s*亩|per[_ ]mu|kwh|千瓦时|tce|标准?煤|^t$|^吨$|^人$", re.IGNORECASE
)


def is_confidential(column: str) -> bool:
    """Return True when a column holds an enterprise figure or something derived from one.

    Examples
    --------
    >>> is_confidential("tax_wan_per_mu"), is_confidential("far"), is_confidential("pts_tax")
    (True, False, True)
    >>> is_confidential("committed_tax_wan_per_mu")
    False
    """
    name = str(column)
    if name in CONFIDENTIAL_COLUMNS:
        return True
    if name in PUBLIC_PER_MU_COLUMNS:
        return False
    return name.startswith("pts_") or name.endswith(("_yoy", "_per_mu"))


def public_columns(columns: Any) -> list[str]:
    """Return the columns of ``columns`` (names or a frame) that a public output may show.

    Examples
    --------
    >>> public_columns(["parcel_id", "area_mu", "tax_wan", "grade", "score"])
    ['parcel_id', 'area_mu', 'grade']
    """
    names = list(columns.columns) if isinstance(columns, pd.DataFrame) else list(columns)
    return [c for c in names if not is_confidential(c)]


def confidential_finding_values(findings: pd.DataFrame) -> pd.Series:
    """Return a boolean Series: True where a finding's measured ``value`` must not be published.

    A value is confidential when its unit is money, per-mu, energy, electricity, emissions or
    people, or when the finding's code measures an enterprise figure
    (:data:`CONFIDENTIAL_FINDING_CODES`). The threshold stays public. Writers also drop the
    ``evidence`` text of such findings, since it may quote the figure.

    Examples
    --------
    >>> f = pd.DataFrame({"code": ["LOW_FAR", "LOW_TAX", "IDLE_STALLED"],
    ...                   "unit": ["", "万元/亩", "%"]})
    >>> confidential_finding_values(f).tolist()
    [False, True, False]
    """
    n = len(findings)
    if n == 0:
        return pd.Series(np.zeros(0, dtype=bool), index=findings.index)
    units = (
        findings["unit"].astype("string").fillna("").str.strip()
        if "unit" in findings
        else pd.Series("", index=findings.index, dtype="string")
    )
    by_unit = units.str.contains(_CONFIDENTIAL_UNIT, regex=True).fillna(False).astype(bool)
    codes = (
        findings["code"].astype("string").fillna("")
        if "code" in findings
        else pd.Series("", index=findings.index, dtype="string")
    )
    by_code = codes.isin(CONFIDENTIAL_FINDING_CODES).astype(bool)
    return (by_unit | by_code).rename("confidential")


def __getattr__(name: str) -> Any:
    if name in ("make_map", "save_map"):
        from . import map as _map

        return getattr(_map, name)
    msg = f"module 'landeff.outputs' has no attribute {name!r}"
    raise AttributeError(msg)
