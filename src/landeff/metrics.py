"""Measures: parcel FAR and density, enterprise land, per-mu figures and the ratios of DOMAIN.md."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .crs import M2_PER_MU
from .join import group_sums, positions, two_labels

#: Enterprise figures summed onto parcels and per enterprise (万元, tce, kWh, t, 人).
FIGURES = (
    "tax_wan",
    "revenue_wan",
    "output_wan",
    "value_added_wan",
    "energy_tce",
    "electricity_kwh",
    "emissions_t",
    "rd_wan",
    "employees",
)
#: Per-mu figures (万元/亩) and the figure each divides.
PER_MU = {
    "tax_wan_per_mu": "tax_wan",
    "revenue_wan_per_mu": "revenue_wan",
    "output_wan_per_mu": "output_wan",
    "value_added_wan_per_mu": "value_added_wan",
}


#: Efficiency ratios of DOMAIN.md, in their customary units (see :func:`ratios`).
RATIOS = (
    "value_added_wan_per_tce",
    "value_added_wan_per_t",
    "tax_yuan_per_kwh",
    "value_added_wan_per_employee",
    "rd_ratio",
)


def _div(num: pd.Series | np.ndarray, den: pd.Series | np.ndarray) -> np.ndarray:
    """Divide, giving NaN where the denominator is 0 or missing."""
    n = np.asarray(num, dtype=float)
    d = np.asarray(den, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((d != 0) & ~np.isnan(d), n / np.where(d == 0, 1, d), np.nan)


def ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the efficiency ratios of an enterprise (or parcel, or park) frame.

    Columns: ``value_added_wan_per_tce`` (单位能耗增加值), ``value_added_wan_per_t`` (单位排放增加值),
    ``tax_yuan_per_kwh`` (单位电耗税收, tax in 元), ``value_added_wan_per_employee`` (全员劳动生产率)
    and ``rd_ratio`` (R&D ÷ revenue, a plain ratio).

    Examples
    --------
    >>> df = pd.DataFrame({"tax_wan": [10.0], "electricity_kwh": [500000.0], "value_added_wan": [300.0],
    ...                    "energy_tce": [100.0], "emissions_t": [0.0], "employees": [30.0],
    ...                    "rd_wan": [12.0], "revenue_wan": [400.0]})
    >>> ratios(df).round(4).iloc[0].tolist()
    [3.0, nan, 0.2, 10.0, 0.03]
    """
    g = {c: frame[c] if c in frame else pd.Series(np.nan, index=frame.index) for c in FIGURES}
    return pd.DataFrame(
        {
            "value_added_wan_per_tce": _div(g["value_added_wan"], g["energy_tce"]),
            "value_added_wan_per_t": _div(g["value_added_wan"], g["emissions_t"]),
            "tax_yuan_per_kwh": _div(g["tax_wan"] * 1e4, g["electricity_kwh"]),
            "value_added_wan_per_employee": _div(g["value_added_wan"], g["employees"]),
            "rd_ratio": _div(g["rd_wan"], g["revenue_wan"]),
        },
        index=frame.index,
    )


def per_mu(frame: pd.DataFrame, land_mu: pd.Series | np.ndarray) -> pd.DataFrame:
    """Return the per-mu figures (万元/亩) of ``frame`` over ``land_mu``."""
    return pd.DataFrame(
        {name: _div(frame.get(fig, np.nan), land_mu) for name, fig in PER_MU.items()},
        index=frame.index,
    )


def is_active(frame: pd.DataFrame, *, stopped_kwh: float) -> pd.Series:
    """Return whether each enterprise row shows activity: tax or revenue or output > 0, or power use.

    Electricity at or above ``stopped_kwh`` (kWh a year) counts as activity.
    """

    def col(name: str) -> pd.Series:
        return frame[name] if name in frame else pd.Series(np.nan, index=frame.index)

    money = (col("tax_wan") > 0) | (col("revenue_wan") > 0) | (col("output_wan") > 0)
    power = col("electricity_kwh") >= stopped_kwh
    return (money | power).fillna(False).astype(bool)


def measure_parcels(
    parcels: pd.DataFrame,
    pieces: pd.DataFrame,
    footprint_m2: pd.Series,
) -> pd.DataFrame:
    """Return the building measures of each parcel.

    Parameters
    ----------
    parcels : DataFrame
        With ``parcel_id`` and ``area_m2``.
    pieces : DataFrame
        Building pieces from :func:`landeff.join.clip_buildings`.
    footprint_m2 : Series
        Union footprint per parcel (:func:`landeff.join.footprint_by_parcel`).

    Returns
    -------
    DataFrame
        Indexed by ``parcel_id``: ``footprint_m2, floor_area_m2, far_floor_area_m2, far`` (unitless:
        floor area counted for FAR ÷ parcel area) and ``building_density`` (footprint ÷ area),
        ``n_buildings``.
    """
    idx = pd.Index(parcels["parcel_id"], name="parcel_id")
    n = len(idx)
    # sums per parcel over integer positions: the same groups, each summed in row order, as a
    # groupby on the ids followed by a reindex to the parcels
    at = positions(pieces["parcel_id"], idx)
    on = at >= 0
    sums = (
        pieces.loc[on, ["floor_area_m2", "far_floor_area_m2"]]
        .groupby(at[on])
        .sum()
        .reindex(range(n), fill_value=0.0)
    )
    # distinct buildings per parcel: each (parcel, building) pair counted once
    building, _ = pd.factorize(pieces["building_id"])  # a missing id (-1) is not a building
    both = on & (building >= 0)
    pairs = pd.unique(at[both] * len(building) + building[both])
    n_buildings = np.bincount(pairs // max(len(building), 1), minlength=n)
    fp_at = positions(footprint_m2.index, idx)
    footprint = np.zeros(n)
    footprint[fp_at[fp_at >= 0]] = footprint_m2.to_numpy(dtype=float)[fp_at >= 0]
    out = pd.DataFrame(
        {
            "footprint_m2": np.where(np.isnan(footprint), 0.0, footprint),
            "floor_area_m2": sums["floor_area_m2"].to_numpy(),
            "far_floor_area_m2": sums["far_floor_area_m2"].to_numpy(),
            "n_buildings": n_buildings.astype(int),
        },
        index=idx,
    )
    area = parcels["area_m2"].to_numpy(dtype=float)
    out["far"] = _div(out["far_floor_area_m2"], area)
    out["building_density"] = _div(out["footprint_m2"], area)
    return out


def measure_enterprises(enterprises: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """Return one row per enterprise row with its land, per-mu figures and ratios.

    ``land_m2`` sums the enterprise's attributed land over its parcels; ``role`` is ``holder`` where it
    holds any of them, else ``tenant``.
    """
    ent = enterprises.reset_index(drop=True)  # copy-on-write: the caller's frame is not changed
    n = len(ent)
    row = np.asarray(links["row"], dtype="int64")
    mine = (row >= 0) & (row < n)  # links of rows that are not in ``enterprises`` count for nothing
    land_m2 = group_sums(links["land_m2"].to_numpy(dtype=float), np.where(mine, row, -1), n)
    ent["land_m2"] = np.where(np.isnan(land_m2), 0.0, land_m2)  # no link, or a NaN sum: 0
    ent["land_mu"] = ent["land_m2"] / M2_PER_MU
    holds = _is(links["role"], "holder")[mine]
    ent["role"] = two_labels(
        np.bincount(row[mine], weights=holds, minlength=n) > 0, "holder", "tenant"
    )
    ent["parcel_ids"] = _joined_ids(links, n)
    for fig in FIGURES:
        if fig not in ent:
            ent[fig] = np.nan
    ent = pd.concat([ent, per_mu(ent, ent["land_mu"]), ratios(ent)], axis=1)
    return ent


def _joined_ids(links: pd.DataFrame, n: int) -> pd.Series | np.ndarray:
    """Return the parcel ids of rows ``0 .. n - 1``, sorted and ';'-joined (None: no parcel).

    A row with one link takes its id as it is; only rows with several are joined in Python.
    """

    def join(ids: pd.Series) -> str:
        return ";".join(sorted(ids))

    if links.empty:
        return links.groupby("row")["parcel_id"].agg(join).reindex(range(n))
    rows = np.asarray(links["row"], dtype="int64")
    several = pd.Series(rows).duplicated(keep=False).to_numpy()
    mine = (rows >= 0) & (rows < n)
    out = np.full(n, None, dtype=object)
    one = ~several & mine
    out[rows[one]] = links["parcel_id"].to_numpy(dtype=object)[one]
    if (several & mine).any():
        joined = links.loc[several & mine].groupby("row")["parcel_id"].agg(join)
        out[joined.index.to_numpy()] = joined.to_numpy(dtype=object)
    return out


def _is(values: pd.Series, text: str) -> np.ndarray:
    """Return ``values.to_numpy() == text`` (missing: False), compared without making Python texts."""
    return values.eq(text).to_numpy(dtype=bool, na_value=False)


def spread_to_parcels(
    enterprises: pd.DataFrame,
    links: pd.DataFrame,
    parcel_index: pd.Index,
    *,
    stopped_kwh: float,
    parcel_at: np.ndarray | None = None,
) -> pd.DataFrame:
    """Sum each enterprise's figures onto its parcels in proportion to its land on each.

    ``links["row"]`` holds labels of ``enterprises``' index. ``parcel_at``, if given, is
    ``positions(links["parcel_id"], parcel_index)``, already computed by the caller.

    Returns a frame indexed like ``parcel_index`` with the summed figures, ``n_enterprises``,
    ``n_active``, ``holder_land_m2`` and ``tenant_land_m2``.
    """
    ent = enterprises[[f for f in FIGURES if f in enterprises]].reindex(links["row"].to_numpy())
    share = links["share"].to_numpy(dtype=float)
    parts = {}
    for fig in FIGURES:
        vals = ent[fig].to_numpy(dtype=float) if fig in ent else np.full(len(ent), np.nan)
        parts[fig] = vals * share
    active = is_active(ent, stopped_kwh=stopped_kwh).to_numpy()
    parts["n_enterprises"] = np.ones(len(ent), dtype="int64")
    parts["n_active"] = active.astype(int)
    land = links["land_m2"].to_numpy(dtype=float)
    parts["holder_land_m2"] = np.where(_is(links["role"], "holder"), land, 0.0)
    parts["tenant_land_m2"] = np.where(_is(links["role"], "tenant"), land, 0.0)
    # summed per parcel position: the groups (and each one's order of addition) of a groupby on
    # the parcel ids followed by a reindex to ``parcel_index``
    # (counts: how many links a parcel has, and how many active; 0 on a parcel without links)
    at = positions(links["parcel_id"], parcel_index) if parcel_at is None else parcel_at
    n = len(parcel_index)
    group = np.where(at >= 0, at, -1)
    counted = ("n_enterprises", "n_active")
    summed = [c for c in parts if c not in counted]
    sums = group_sums(np.column_stack([parts[c] for c in summed]), group, n, min_count=1)
    columns = {c: sums[:, k] for k, c in enumerate(summed)}
    for c in counted:
        columns[c] = np.bincount(group[group >= 0], weights=parts[c][group >= 0], minlength=n)
        columns[c] = columns[c].astype(int)
    out = pd.DataFrame({c: columns[c] for c in parts}, index=parcel_index)
    for c in ("holder_land_m2", "tenant_land_m2"):
        out[c] = out[c].fillna(0.0)
    return out
