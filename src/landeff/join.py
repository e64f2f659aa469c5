"""Join the layers: buildings clipped to parcels, enterprises linked to parcels, land attributed.

Rules (docs/schema.md, DOMAIN.md "Tenants"):

* A building is clipped at parcel edges; a building on two parcels is split by area, and a surveyed
  ``floor_area_m2`` is split by footprint share.
* An enterprise row belongs to the parcels in its ``parcel_ids``; where it has none, to the parcels
  whose ``holder_uscc`` is its ``uscc``; where codes are missing, to an exact match of the normalised
  name (with a warning). A row that links to nothing is rejected.
* Land: a tenant's land is parcel area × its rented floor area ÷ the parcel's floor area; the rest of
  the parcel is the holder's. A parcel's land is counted exactly once.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .crs import planar_area_m2
from .errors import Diagnostics
from .validate import normalise_name

#: Pieces of a building smaller than this (m²) after clipping are slivers of a shared edge.
SLIVER_M2 = 0.01
#: A storey higher than this (m) counts twice in the floor area counted for FAR.
DOUBLE_STOREY_M = 8.0


def clip_buildings(
    parcels: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    diagnostics: Diagnostics,
) -> gpd.GeoDataFrame:
    """Clip buildings to parcels and measure each piece.

    Parameters
    ----------
    parcels : GeoDataFrame
        Validated parcels with ``parcel_id`` and ``area_epsg`` (the zone each is measured in).
    buildings : GeoDataFrame
        Validated buildings with optional ``floors``, ``storey_height_m``, ``height_m``,
        ``floor_area_m2``.

    Returns
    -------
    GeoDataFrame
        One row per (building, parcel) piece, in the parcels' CRS: ``building_id, parcel_id,
        footprint_m2, floors, storey_height_m, floor_area_m2, far_floor_area_m2, double_storey``.
    """
    b = buildings.to_crs(parcels.crs) if buildings.crs != parcels.crs else buildings
    b = b.reset_index(drop=True)
    if "building_id" not in b:
        b["building_id"] = [f"B{i:06d}" for i in range(1, len(b) + 1)]
    b = _drop_duplicate_buildings(b, diagnostics=diagnostics)
    bgeom = b.geometry.values
    pgeom = parcels.geometry.values
    tree = shapely.STRtree(pgeom)
    bi, pi = tree.query(bgeom, predicate="intersects")
    pieces = shapely.intersection(bgeom[bi], pgeom[pi])
    zones = parcels["area_epsg"].to_numpy()[pi]
    piece_area = planar_area_m2(
        gpd.GeoSeries(pieces, crs=parcels.crs), pd.Series(zones, dtype=object)
    ).to_numpy()
    keep = piece_area > SLIVER_M2
    bi, pi, pieces, piece_area = bi[keep], pi[keep], pieces[keep], piece_area[keep]

    full_area = planar_area_m2(
        gpd.GeoSeries(bgeom, crs=parcels.crs),
        pd.Series(_zone_of_buildings(len(b), bi, zones[keep]), dtype=object),
    ).to_numpy()
    outside = np.setdiff1d(np.arange(len(b)), bi)
    if len(outside):
        diagnostics.reject(
            b.iloc[outside],
            "building_outside_parcels",
            "building lies on no parcel; it counts for no FAR or density",
            column="building_id",
        )
    share = np.divide(
        piece_area, full_area[bi], out=np.ones_like(piece_area), where=full_area[bi] > 0
    )
    share = np.minimum(share, 1.0)

    floors = _col(b, "floors")[bi]
    storey = _col(b, "storey_height_m")[bi]
    height = _col(b, "height_m")[bi]
    given_fa = _col(b, "floor_area_m2")[bi]
    no_floors = np.isnan(floors) & np.isnan(given_fa)
    if no_floors.any():
        missing = np.unique(bi[no_floors])
        diagnostics.warn_rows(
            b.iloc[missing],
            "floors_assumed",
            "building has neither 层数 (floors) nor 建筑面积; taken as one storey",
            column="building_id",
        )
    floors_used = np.where(np.isnan(floors), np.where(np.isnan(given_fa), 1.0, np.nan), floors)
    with np.errstate(invalid="ignore", divide="ignore"):
        storey_h = np.where(np.isnan(storey), height / floors_used, storey)
    floor_area = np.where(np.isnan(given_fa), piece_area * floors_used, given_fa * share)
    double = np.nan_to_num(storey_h, nan=0.0) > DOUBLE_STOREY_M
    far_floor = np.where(double, 2.0 * floor_area, floor_area)

    out = gpd.GeoDataFrame(
        {
            "building_id": b["building_id"].to_numpy()[bi],
            "parcel_id": parcels["parcel_id"].to_numpy()[pi],
            "footprint_m2": piece_area,
            "floors": floors_used,
            "storey_height_m": storey_h,
            "floor_area_m2": floor_area,
            "far_floor_area_m2": far_floor,
            "double_storey": double,
            "share_of_building": share,
        },
        geometry=pieces,
        crs=parcels.crs,
    )
    return out


def _drop_duplicate_buildings(b: gpd.GeoDataFrame, *, diagnostics: Diagnostics) -> gpd.GeoDataFrame:
    """Reject buildings digitised twice: the same footprint (to 1 cm) and the same storeys."""
    grid = 0.01 if b.crs is not None and b.crs.is_projected else 1e-7
    key = pd.Series(
        shapely.to_wkb(shapely.normalize(shapely.set_precision(b.geometry.values, grid))),
        index=b.index,
    )
    cols = [c for c in ("floors", "floor_area_m2", "height_m", "storey_height_m") if c in b]
    frame = pd.concat([key.rename("_geom"), b[cols]], axis=1)
    dup = frame.duplicated(keep="first") & key.notna()
    if dup.any():
        diagnostics.reject(
            b.loc[dup],
            "duplicate_building",
            "building digitised twice (same footprint and storeys as an earlier one); counted once",
            column="building_id",
        )
    return b.loc[~dup].reset_index(drop=True)


def _zone_of_buildings(n: int, bi: np.ndarray, zones: np.ndarray) -> np.ndarray:
    """Zone of each whole building: that of the first parcel it lies on (4545 placeholder if none)."""
    out = np.full(n, None, dtype=object)
    order = np.argsort(bi, kind="stable")[::-1]
    out[bi[order]] = zones[order]
    fallback = zones[0] if len(zones) else 4545
    out[pd.isna(out)] = fallback
    return out


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name in frame:
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    return np.full(len(frame), np.nan)


def footprint_by_parcel(pieces: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame) -> pd.Series:
    """Return each parcel's footprint: the area of the union of its building pieces (m²).

    Overlapping footprints count once. Only parcels whose pieces overlap are unioned.
    """
    if pieces.empty:
        return pd.Series(dtype=float)
    summed = pieces.groupby("parcel_id")["footprint_m2"].sum()
    geoms = pieces.geometry.values
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    pid = pieces["parcel_id"].to_numpy()
    pair = (a < b) & (pid[a] == pid[b])
    if not pair.any():
        return summed
    inter = shapely.area(shapely.intersection(geoms[a[pair]], geoms[b[pair]]))
    overlapping = np.unique(pid[a[pair]][inter > 0])
    if len(overlapping) == 0:
        return summed
    sub = pieces[pieces["parcel_id"].isin(overlapping)]
    unions = sub.dissolve(by="parcel_id")
    zone = parcels.set_index("parcel_id")["area_epsg"].reindex(unions.index)
    summed.loc[unions.index] = planar_area_m2(unions.geometry, zone).to_numpy()
    return summed


def link_enterprises(
    enterprises: pd.DataFrame,
    parcels: pd.DataFrame,
    *,
    diagnostics: Diagnostics,
    ambiguous_ids: set[str] | frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """Link each enterprise row to parcels.

    Returns
    -------
    DataFrame
        One row per (enterprise row, parcel): ``row`` (index into ``enterprises``), ``uscc``, ``key``,
        ``year``, ``parcel_id``, ``how`` (``parcel_ids``, ``holder_uscc``, ``holder_name``) and ``role``
        (``holder`` or ``tenant``).
    """
    known = set(parcels["parcel_id"])
    ent = enterprises.reset_index(drop=True)
    # 1. explicit parcel ids
    exploded = ent[["parcel_ids"]].explode("parcel_ids").dropna()
    exploded = exploded.rename(columns={"parcel_ids": "parcel_id"})
    exploded["row"] = exploded.index
    amb = exploded["parcel_id"].isin(ambiguous_ids)
    if amb.any():
        diagnostics.warn_rows(
            ent.loc[exploded.loc[amb, "row"]],
            "ambiguous_parcel_link",
            "names a parcel id that two parcels share; that link is not used",
            column="parcel_ids",
        )
    unknown = ~exploded["parcel_id"].isin(known) & ~amb
    if unknown.any():
        for _, r in exploded.loc[unknown].iterrows():
            src = ent.loc[r["row"]]
            diagnostics.warn(
                "unknown_parcel",
                f"{src['_file']}: row {src['_row']}: parcel {r['parcel_id']!r} is not in the parcel "
                "layer; that link is not used",
                file=src["_file"],
                sheet=src["_sheet"],
                row=src["_row"],
                column="parcel_ids",
                value=r["parcel_id"],
            )
    explicit = exploded.loc[~unknown & ~amb].assign(how="parcel_ids")
    has_explicit = ent.index.isin(explicit["row"]) | ent["parcel_ids"].map(len).gt(0)
    # 2. holder code
    rest = ent.loc[~has_explicit]
    holders = parcels[["parcel_id", "holder_uscc"]].dropna() if "holder_uscc" in parcels else None
    by_code = pd.DataFrame(columns=["row", "parcel_id", "how"])
    if holders is not None and len(rest):
        by_code = (
            rest.reset_index()[["index", "uscc"]]
            .rename(columns={"index": "row"})
            .merge(holders, left_on="uscc", right_on="holder_uscc")[["row", "parcel_id"]]
            .assign(how="holder_uscc")
        )
    # 3. holder name, where the enterprise has no code link
    rest = rest.loc[~rest.index.isin(by_code["row"])]
    by_name = pd.DataFrame(columns=["row", "parcel_id", "how"])
    if "holder_name" in parcels and len(rest):
        names = parcels[["parcel_id", "holder_name"]].dropna().copy()
        names["nkey"] = names["holder_name"].map(normalise_name)
        r = rest.reset_index()[["index", "name"]].rename(columns={"index": "row"})
        r["nkey"] = r["name"].map(normalise_name)
        by_name = r.dropna(subset=["nkey"]).merge(names, on="nkey")[["row", "parcel_id"]]
        by_name = by_name.assign(how="holder_name")
        if len(by_name):
            diagnostics.warn_rows(
                ent.loc[by_name["row"].unique()],
                "linked_by_name",
                "linked to its parcel(s) by the holder's name only (no matching 统一社会信用代码); "
                "check the link",
                column="name",
            )
    links = pd.concat([explicit, by_code, by_name], ignore_index=True)
    links["row"] = links["row"].astype(int)
    unlinked = ~ent.index.isin(links["row"])
    if unlinked.any():
        diagnostics.reject(
            ent.loc[unlinked],
            "no_parcel",
            "enterprise links to no parcel: no known 所在宗地编号, and no parcel whose holder has its "
            "统一社会信用代码 or name",
            column="uscc",
        )
    links = links.drop_duplicates(["row", "parcel_id"])
    links["uscc"] = ent["uscc"].to_numpy()[links["row"]]
    links["key"] = ent["key"].to_numpy()[links["row"]]
    links["year"] = ent["year"].to_numpy()[links["row"]]
    p = parcels.set_index("parcel_id")
    hold_code = (
        p["holder_uscc"].reindex(links["parcel_id"]).to_numpy() if "holder_uscc" in p else None
    )
    is_holder = links["how"].isin(["holder_uscc", "holder_name"]).to_numpy().copy()
    if hold_code is not None:
        is_holder |= (links["uscc"].to_numpy() == hold_code) & pd.notna(hold_code)
    if "holder_name" in p:
        hold_name = p["holder_name"].reindex(links["parcel_id"]).map(normalise_name).to_numpy()
        ent_name = ent["name"].map(normalise_name).to_numpy()[links["row"]]
        is_holder |= (ent_name == hold_name) & pd.notna(hold_name)
    links["role"] = np.where(is_holder, "holder", "tenant")
    return links.reset_index(drop=True)


def attribute_land(
    links: pd.DataFrame,
    enterprises: pd.DataFrame,
    parcels: pd.DataFrame,
    *,
    method: str = "floor_share",
    diagnostics: Diagnostics,
) -> pd.DataFrame:
    """Attribute each parcel's land to the enterprises on it, counting the parcel exactly once.

    Parameters
    ----------
    links : DataFrame
        From :func:`link_enterprises` (one year or several; attribution is per year).
    enterprises : DataFrame
        The validated enterprise rows (``rented_floor_area_m2`` read from here).
    parcels : DataFrame
        With ``parcel_id``, ``area_m2`` and ``floor_area_m2``.
    method : str
        ``floor_share`` (default), ``merge_holder`` (tenants' land goes to the holder) or
        ``separate`` (as floor_share; tenants are graded as their own group).

    Returns
    -------
    DataFrame
        ``links`` with ``land_m2`` and ``share`` (fraction of the enterprise's land on the parcel).
    """
    out = links.copy()
    p = parcels.set_index("parcel_id")
    area = p["area_m2"].reindex(out["parcel_id"]).to_numpy(dtype=float)
    fa = p["floor_area_m2"].reindex(out["parcel_id"]).fillna(0).to_numpy(dtype=float)
    rented_total = (
        pd.to_numeric(enterprises["rented_floor_area_m2"], errors="coerce").to_numpy(dtype=float)
        if "rented_floor_area_m2" in enterprises
        else np.full(len(enterprises), np.nan)
    )
    rented_row = rented_total[out["row"].to_numpy()]
    # An enterprise renting on several parcels: its rented area is split in proportion to floor area.
    out["_fa"] = fa
    fa_sum = out.groupby("row")["_fa"].transform("sum").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        rented = np.where(fa_sum > 0, rented_row * fa / fa_sum, np.nan)
    tenant = out["role"].to_numpy() == "tenant"
    if method == "merge_holder":
        rented = np.where(tenant, np.nan, rented)
    with np.errstate(invalid="ignore", divide="ignore"):
        floor_share = np.where(tenant & (fa > 0), rented / fa, np.nan)
    no_area = tenant & np.isnan(floor_share)
    if method != "merge_holder" and no_area.any():
        rows = enterprises.iloc[np.unique(out["row"].to_numpy()[no_area])]
        diagnostics.warn_rows(
            rows,
            "tenant_share_unknown",
            "tenant without 租用建筑面积 (or on a parcel with no floor area): it shares the holder's "
            "land equally with the holder",
            column="uscc",
        )
    out["_fs"] = np.where(tenant, floor_share, np.nan)
    grp = out.groupby(["year", "parcel_id"])
    fs_sum = grp["_fs"].transform("sum").to_numpy()
    over = fs_sum > 1.0 + 1e-9
    if over.any():
        over_rows = enterprises.iloc[np.unique(out["row"].to_numpy()[over & tenant])]
        diagnostics.warn_rows(
            over_rows,
            "tenants_exceed_building",
            "tenants on this parcel rent more floor area than its buildings have; their shares are "
            "scaled down to the parcel",
            column="rented_floor_area_m2",
        )
    scale = np.where(over, 1.0 / np.where(over, fs_sum, 1.0), 1.0)
    fs = np.nan_to_num(out["_fs"].to_numpy()) * scale
    residual_land = area * (1.0 - np.minimum(np.nan_to_num(fs_sum), 1.0))
    # Who shares the residual: the holder and the tenants without a known share.
    residual_member = ~tenant | no_area
    if method == "merge_holder":
        residual_member = ~tenant
    out["_rm"] = residual_member.astype(int)
    n_res = out.groupby(["year", "parcel_id"])["_rm"].transform("sum").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        land = np.where(
            residual_member,
            np.where(n_res > 0, residual_land / np.maximum(n_res, 1), 0.0),
            fs * area,
        )
    out["land_m2"] = np.nan_to_num(land)
    tot = out.groupby("row")["land_m2"].transform("sum").to_numpy()
    nlinks = out.groupby("row")["land_m2"].transform("size").to_numpy()
    out["share"] = np.where(tot > 0, out["land_m2"] / np.where(tot > 0, tot, 1), 1.0 / nlinks)
    return out.drop(columns=["_fa", "_fs", "_rm"])
