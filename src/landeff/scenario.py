"""工业上楼 scenario: what raising every parcel to a target FAR would free and gain.

Definitions (per parcel; FAR is unitless, floor area in m², land in 亩):

- ``floor_area_m2``: the parcel's FAR floor area (``far_floor_area_m2``, storeys above 8 m counted
  twice), else ``floor_area_m2``, else ``far × area``;
- ``land_needed_mu``: the land the same floor area needs at the target FAR, floor area ÷ target,
  but never more than the parcel (a parcel at or above the target keeps its land);
- ``land_freed_mu``: parcel area − land needed (0 where FAR ≥ target; a parcel with no floor area
  frees all its land);
- ``floor_area_gained_m2``: target × parcel area − floor area (0 where FAR ≥ target): the floor
  area the same land would carry at the target;
- park 亩均税收 at the target: Σ tax ÷ Σ land needed, beside today's Σ tax ÷ Σ area (both over
  the parcels with an area and a floor area; None when no parcel has a tax figure).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .crs import M2_PER_MU
from .errors import InputError

__all__ = ["scenario"]


def scenario(parcels: Any, target_far: float) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Return the target-FAR scenario per parcel and for the park.

    Parameters
    ----------
    parcels : pandas.DataFrame or GeoDataFrame or Result
        Parcels with ``area_mu`` (or ``area_m2``), a floor area (``far_floor_area_m2`` or
        ``floor_area_m2``) or ``far``, and optionally ``tax_wan``; an object with a ``parcels``
        attribute (a pipeline ``Result``) is accepted too.
    target_far : float
        Target FAR (unitless, > 0).

    Returns
    -------
    per_parcel : pandas.DataFrame
        Indexed like ``parcels``: ``area_mu, floor_area_m2, far, target_far, land_needed_mu,
        land_freed_mu, floor_area_gained_m2, tax_wan``.
    park : dict
        JSON-safe totals: ``n_parcels, n_measured, target_far, area_mu, floor_area_m2, far,
        land_needed_mu, land_freed_mu, land_freed_built_mu, floor_area_gained_m2, tax_wan,
        tax_wan_per_mu, tax_wan_per_mu_at_target``.

    Examples
    --------
    >>> p = pd.DataFrame({"area_mu": [15.0], "far_floor_area_m2": [5000.0], "tax_wan": [100.0]})
    >>> per, park = scenario(p, 1.0)
    >>> float(per["land_freed_mu"].iloc[0]), park["tax_wan_per_mu_at_target"]
    (7.5, 13.333333333333334)
    """
    frame = parcels.parcels if hasattr(parcels, "parcels") else parcels
    try:
        target = float(target_far)
    except (TypeError, ValueError) as err:
        msg = f"target FAR {target_far!r} is not a number; give e.g. 1.5"
        raise InputError(msg) from err
    if not np.isfinite(target) or target <= 0:
        msg = f"target FAR {target_far!r} must be a number above 0 (e.g. 1.5)"
        raise InputError(msg)

    idx = frame.index
    num = _numbers(frame)
    if "area_mu" in frame:
        area_mu = num("area_mu")
    elif "area_m2" in frame:
        area_mu = num("area_m2") / M2_PER_MU
    else:
        msg = "scenario(): the parcels need an area_mu or area_m2 column (run the measure stage)"
        raise InputError(msg)
    area_m2 = area_mu * M2_PER_MU
    floor = pd.Series(np.nan, index=idx, dtype="float64")
    for col in ("far_floor_area_m2", "floor_area_m2"):
        if col in frame:
            floor = floor.fillna(num(col))
    if "far" in frame:
        floor = floor.fillna(num("far") * area_m2)
    if not {"far_floor_area_m2", "floor_area_m2", "far"} & set(frame.columns):
        msg = (
            "scenario(): the parcels need far_floor_area_m2, floor_area_m2 or far "
            "(run the measure stage)"
        )
        raise InputError(msg)
    tax = num("tax_wan") if "tax_wan" in frame else pd.Series(np.nan, index=idx, dtype="float64")

    measured = area_mu.notna() & (area_mu > 0) & floor.notna()
    far = (floor / area_m2).where(measured)
    needed = np.minimum(floor / target / M2_PER_MU, area_mu).where(measured)
    freed = (area_mu - needed).where(measured)
    gained = (target * area_m2 - floor).clip(lower=0.0).where(measured)

    per = pd.DataFrame(
        {
            "area_mu": area_mu,
            "floor_area_m2": floor,
            "far": far,
            "target_far": target,
            "land_needed_mu": needed,
            "land_freed_mu": freed,
            "floor_area_gained_m2": gained,
            "tax_wan": tax,
        },
        index=idx,
    )

    m = per[measured]
    # no tax figures at all: the park's 亩均税收 is unknown, not 0
    tax_sum = float(m["tax_wan"].sum()) if m["tax_wan"].notna().any() else float("nan")
    area_sum = float(m["area_mu"].sum())
    needed_sum = float(m["land_needed_mu"].sum())
    park = {
        "n_parcels": int(len(per)),
        "n_measured": int(measured.sum()),
        "target_far": target,
        "area_mu": _safe(area_sum),
        "floor_area_m2": _safe(m["floor_area_m2"].sum()),
        "far": _safe(m["floor_area_m2"].sum() / (area_sum * M2_PER_MU) if area_sum else np.nan),
        "land_needed_mu": _safe(needed_sum),
        "land_freed_mu": _safe(m["land_freed_mu"].sum()),
        "land_freed_built_mu": _safe(m.loc[m["floor_area_m2"] > 0, "land_freed_mu"].sum()),
        "floor_area_gained_m2": _safe(m["floor_area_gained_m2"].sum()),
        "far_at_target": _safe(
            (m["floor_area_m2"].sum() + m["floor_area_gained_m2"].sum()) / (area_sum * M2_PER_MU)
            if area_sum else np.nan
        ),
        "tax_wan": _safe(tax_sum),
        "tax_wan_per_mu": _safe(tax_sum / area_sum if area_sum else np.nan),
        "tax_wan_per_mu_at_target": _safe(tax_sum / needed_sum if needed_sum else np.nan),
    }
    return per, park


def _numbers(frame: pd.DataFrame) -> Any:
    def num(col: str) -> pd.Series:
        return pd.to_numeric(frame[col], errors="coerce").astype("float64")

    return num


def _safe(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
