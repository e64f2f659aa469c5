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

from .crs import planar_area_m2, project_by_zone
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
    valid = shapely.is_valid(np.asarray(b.geometry.values, dtype=object))
    dup = _duplicate_buildings(b, valid, diagnostics=diagnostics)
    if dup.any():
        b, valid = b.loc[~dup].reset_index(drop=True), valid[~dup]
    bgeom = np.asarray(b.geometry.values, dtype=object)
    pgeom = np.asarray(parcels.geometry.values, dtype=object)
    tree = shapely.STRtree(pgeom)
    bi, pi = tree.query(bgeom, predicate="intersects")
    zones = parcels["area_epsg"].to_numpy()[pi]
    pieces, simple, layout = _clip_pairs(bgeom[bi], pgeom[pi], valid[bi])
    # every building projected once, in the zone of the first parcel it touches; a piece that is
    # a whole building (reordered) in that same zone is measured from those coordinates
    first_zone = _zone_of_buildings(len(b), bi, zones)
    b_planar = np.asarray(
        project_by_zone(
            gpd.GeoSeries(bgeom, crs=parcels.crs), pd.Series(first_zone, dtype=object)
        ).values,
        dtype=object,
    )
    piece_area = np.full(len(bi), np.nan)
    measured = np.zeros(len(bi), dtype=bool)
    if layout is not None:
        at = np.flatnonzero(simple)
        usable = (zones[at] == first_zone[bi[at]]) & ~shapely.is_missing(b_planar[bi[at]])
        same_shape = np.where(usable, b_planar[bi[at]], bgeom[bi[at]])  # keeps the layout aligned
        planar_pieces = _from_layout(shapely.get_coordinates(same_shape), layout)
        usable &= layout[2]  # rewritten by this layout (not left to intersection)
        piece_area[at[usable]] = shapely.area(planar_pieces[usable])
        measured[at[usable]] = True
    piece_area[~measured] = planar_area_m2(
        gpd.GeoSeries(pieces[~measured], crs=parcels.crs),
        pd.Series(zones[~measured], dtype=object),
    ).to_numpy()
    keep = piece_area > SLIVER_M2
    bi, pi, pieces, piece_area = bi[keep], pi[keep], pieces[keep], piece_area[keep]

    zone_b = _zone_of_buildings(len(b), bi, zones[keep])
    full_area = shapely.area(b_planar)
    moved = zone_b != first_zone
    if moved.any():
        full_area[moved] = planar_area_m2(
            gpd.GeoSeries(bgeom[moved], crs=parcels.crs), pd.Series(zone_b[moved], dtype=object)
        ).to_numpy()
    on_parcel = np.zeros(len(b), dtype=bool)
    on_parcel[bi] = True
    outside = np.flatnonzero(~on_parcel)
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


def _clip_pairs(
    buildings: np.ndarray, parcels: np.ndarray, valid: np.ndarray
) -> tuple[
    np.ndarray, np.ndarray, tuple[np.ndarray, tuple[np.ndarray, np.ndarray], np.ndarray] | None
]:
    """Return each building (of a building-parcel pair) clipped to its parcel.

    Only buildings on a parcel edge are intersected. A valid polygon inside its parcel, off its
    boundary, is its own piece, written as ``intersection`` writes it (:func:`_overlay_layout`).
    Returns the pieces, the mask of those pairs, and their layout (None if there are none).
    """
    simple = valid & (shapely.get_type_id(buildings) == 3) & ~shapely.has_z(buildings)
    if hasattr(shapely, "has_m"):  # shapely >= 2.1 reads M values; leave those to intersection
        simple &= ~shapely.has_m(buildings)
    simple &= shapely.contains_properly(parcels, buildings)
    pieces = np.full(len(buildings), None, dtype=object)
    layout = None
    if simple.any():
        layout = _overlay_layout(buildings[simple])
        pieces[simple] = _from_layout(shapely.get_coordinates(buildings[simple]), layout)
    done = simple & ~shapely.is_missing(pieces)
    pieces[~done] = shapely.intersection(buildings[~done], parcels[~done])
    return pieces, simple, layout


def _overlay_layout(
    polygons: np.ndarray,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Return how GEOS overlay rewrites valid 2D polygons that it leaves unchanged.

    ``intersection`` of a polygon with one that contains it returns the same rings, each oriented
    (shell clockwise, holes counter-clockwise; a ring is reversed from its first vertex) and
    starting at its second vertex. Returned: for each output coordinate, the index of the input
    coordinate (in ``shapely.get_coordinates`` order), the ring and polygon offsets, and whether
    each polygon can be rewritten so (not with repeated consecutive vertices, which overlay drops).
    """
    n = len(polygons)
    holes = shapely.get_num_interior_rings(polygons)
    first_ring = np.concatenate([[0], np.cumsum(holes + 1)])
    n_rings = int(first_ring[-1])
    ring_size = np.empty(n_rings, dtype="int64")
    ccw = np.empty(n_rings, dtype=bool)
    plain = holes == 0
    ring_size[first_ring[:-1][plain]] = shapely.get_num_coordinates(polygons[plain])
    ccw[first_ring[:-1][plain]] = shapely.is_ccw(shapely.get_exterior_ring(polygons[plain]))
    if not plain.all():
        rings, owner = shapely.get_rings(polygons[~plain], return_index=True)
        within = np.arange(len(rings)) - np.searchsorted(owner, owner)
        at = first_ring[:-1][np.flatnonzero(~plain)][owner] + within
        ring_size[at] = shapely.get_num_coordinates(rings)
        ccw[at] = shapely.is_ccw(rings)
    ring_of = np.repeat(np.arange(n_rings), ring_size)
    owner_of_ring = np.repeat(np.arange(n), holes + 1)
    start = np.concatenate([[0], np.cumsum(ring_size)[:-1]])
    j = np.arange(len(ring_of)) - start[ring_of]  # position in the ring, 0 .. m (closing vertex)
    m = (ring_size - 1)[ring_of]  # distinct vertices of the ring
    shell = np.zeros(n_rings, dtype=bool)
    shell[first_ring[:-1]] = True
    reverse = (ccw == shell)[ring_of]
    jj = np.where(j == m, 0, j)
    source = start[ring_of] + np.where(reverse, m - 1 - jj, (jj + 1) % np.maximum(m, 1))
    coords = shapely.get_coordinates(polygons)
    same_as_next = np.zeros(len(coords), dtype=bool)
    same_as_next[:-1] = (coords[1:] == coords[:-1]).all(axis=1) & (ring_of[1:] == ring_of[:-1])
    bad_ring = np.bincount(ring_of[same_as_next], minlength=n_rings) > 0
    ok = np.bincount(owner_of_ring[bad_ring], minlength=n) == 0
    offsets = (np.concatenate([[0], np.cumsum(ring_size)]), first_ring)
    return source, offsets, ok


def _from_layout(
    coords: np.ndarray, layout: tuple[np.ndarray, tuple[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """Return the polygons of :func:`_overlay_layout` built from ``coords`` (None where not ok)."""
    source, offsets, ok = layout
    polygons = shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords[source], offsets)
    return np.where(ok, polygons, None)


def _duplicate_buildings(
    b: gpd.GeoDataFrame, valid: np.ndarray, *, diagnostics: Diagnostics
) -> np.ndarray:
    """Reject buildings digitised twice: the same footprint (to 1 cm) and the same storeys.

    The footprint key (geometry snapped to the grid, normalised, as WKB) is built only for the
    buildings that could share one (:func:`_duplicate_candidates`). Returns the rejected rows' mask.
    """
    grid = 0.01 if b.crs is not None and b.crs.is_projected else 1e-7
    cols = [c for c in ("floors", "floor_area_m2", "height_m", "storey_height_m") if c in b]
    geoms = np.asarray(b.geometry.values, dtype=object)
    cand = _duplicate_candidates(geoms, valid, _row_groups(b[cols]), grid)
    dup = np.zeros(len(b), dtype=bool)
    if not cand.any():
        return dup
    key = pd.Series(shapely.to_wkb(shapely.normalize(shapely.set_precision(geoms[cand], grid))))
    frame = pd.concat([key.rename("_geom"), b.loc[cand, cols].reset_index(drop=True)], axis=1)
    dup[cand] = (frame.duplicated(keep="first") & key.notna()).to_numpy()
    if dup.any():
        diagnostics.reject(
            b.loc[dup],
            "duplicate_building",
            "building digitised twice (same footprint and storeys as an earlier one); counted once",
            column="building_id",
        )
    return dup


def _row_groups(frame: pd.DataFrame) -> np.ndarray:
    """Return a group number per row: equal numbers for rows ``DataFrame.duplicated`` finds equal."""
    if frame.shape[1] == 0:
        return np.zeros(len(frame), dtype="int64")
    group = np.zeros(len(frame), dtype="int64")
    for column in frame.columns:
        labels = pd.factorize(frame[column])[0].astype("int64") + 1  # missing: -1 -> 0
        group = pd.factorize(group * (int(labels.max(initial=0)) + 1) + labels)[0].astype("int64")
    return group


def _duplicate_candidates(
    geoms: np.ndarray, valid: np.ndarray, groups: np.ndarray, grid: float
) -> np.ndarray:
    """Return which geometries may have the same snapped footprint as another of the same group.

    ``set_precision`` moves every point by less than ``2 * grid`` (vertices are rounded to the
    grid, edges pass through the rounded cells), so two geometries that snap to the same non-empty
    footprint lie within ``4 * grid`` of each other; a valid polygon can only snap to an empty one
    when no point of it lies more than ``2 * grid`` inside its boundary, that is when its area is at
    most ``4 * grid * perimeter + 4π * grid²`` per ring (bounded generously below). Invalid and
    non-polygonal geometries are always candidates. All other geometries have a unique key, and
    need none.
    """
    n = len(geoms)
    present = ~shapely.is_missing(geoms)
    if n < 2 or not present.any():
        return np.zeros(n, dtype=bool)
    area = shapely.area(geoms)
    bound = 8.0 * grid * shapely.length(geoms) + 16.0 * grid**2 * shapely.get_num_coordinates(geoms)
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    cand = present & (~polygonal | ~valid | ~(area > bound))
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="dwithin", distance=4.0 * grid)
    near = (i != j) & (groups[i] == groups[j])
    cand[i[near]] = True
    return cand


def _zone_of_buildings(n: int, bi: np.ndarray, zones: np.ndarray) -> np.ndarray:
    """Zone of each whole building: that of the first parcel it lies on (4545 placeholder if none)."""
    out = np.full(n, None, dtype=object)
    buildings, first = np.unique(bi, return_index=True)
    out[buildings] = zones[first]
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
    amb = pd.Series(_isin(exploded["parcel_id"], ambiguous_ids), index=exploded.index)
    if amb.any():
        diagnostics.warn_rows(
            ent.loc[exploded.loc[amb, "row"]],
            "ambiguous_parcel_link",
            "names a parcel id that two parcels share; that link is not used",
            column="parcel_ids",
        )
    unknown = ~pd.Series(_isin(exploded["parcel_id"], known), index=exploded.index) & ~amb
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
        names["nkey"] = _normalised(names["holder_name"])
        r = rest.reset_index()[["index", "name"]].rename(columns={"index": "row"})
        r["nkey"] = _normalised(r["name"])
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
    todo = ~is_holder
    if "holder_name" in p and todo.any():
        hold_name = _normalised(p["holder_name"].reindex(links["parcel_id"].to_numpy()[todo]))
        ent_name = _normalised(ent["name"].iloc[links["row"].to_numpy()[todo]])
        is_holder[todo] = (ent_name == hold_name) & pd.notna(hold_name)
    links["role"] = np.where(is_holder, "holder", "tenant")
    return links.reset_index(drop=True)


def _isin(values: pd.Series, pool: set[str] | frozenset[str]) -> np.ndarray:
    """Return ``values.isin(pool)`` as a bool array (hashing objects: Arrow-string isin is slow)."""
    if not pool:
        return np.zeros(len(values), dtype=bool)
    return pd.Index(np.asarray(values, dtype=object), dtype=object).isin(
        np.asarray(list(pool), dtype=object)
    )


def _normalised(values: pd.Series) -> np.ndarray:
    """Return :func:`~landeff.validate.normalise_name` of each value (once per distinct text)."""
    if not isinstance(values.dtype, pd.StringDtype):
        return np.asarray(values.map(normalise_name), dtype=object)
    codes, uniques = pd.factorize(values)
    folded = np.array([normalise_name(u) for u in uniques] + [None], dtype=object)
    return folded[codes]  # a missing value has code -1: the None at the end


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
    # group keys computed once: the enterprise row, and (year, parcel)
    by_row = out["row"].to_numpy()
    by_parcel = out.groupby(["year", "parcel_id"], sort=False).ngroup().to_numpy()
    by_parcel = np.where(by_parcel >= 0, by_parcel, np.nan)  # a missing year or id: no group
    fa_sum = out["_fa"].groupby(by_row).transform("sum").to_numpy()
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
    fs_sum = out["_fs"].groupby(by_parcel).transform("sum").to_numpy()
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
    n_res = out["_rm"].groupby(by_parcel).transform("sum").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        land = np.where(
            residual_member,
            np.where(n_res > 0, residual_land / np.maximum(n_res, 1), 0.0),
            fs * area,
        )
    out["land_m2"] = np.nan_to_num(land)
    tot = out["land_m2"].groupby(by_row).transform("sum").to_numpy()
    nlinks = out["land_m2"].groupby(by_row).transform("size").to_numpy()
    out["share"] = np.where(tot > 0, out["land_m2"] / np.where(tot > 0, tot, 1), 1.0 / nlinks)
    return out.drop(columns=["_fa", "_fs", "_rm"])
