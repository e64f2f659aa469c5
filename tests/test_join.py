"""Hand-built parcels in EPSG:4547 (CGCS2000 GK CM 114E, planar metres), so areas are exact."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from landeff.crs import M2_PER_MU
from landeff.errors import Diagnostics
from landeff.join import attribute_land, clip_buildings, footprint_by_parcel, link_enterprises
from landeff.metrics import measure_parcels

X0, Y0 = 500000.0, 3010000.0  # on the central meridian: no scale distortion


def box(x, y, w, h):
    return shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)


def parcels_frame(rows):
    gdf = gpd.GeoDataFrame(rows, crs=4547)
    gdf["area_epsg"] = 4547
    gdf["area_m2"] = gdf.geometry.area
    return gdf


@pytest.fixture
def two_parcels():
    # A: 100 m x 100 m = 10000 m² = 15 亩; B: 100 m x 50 m east of A.
    return parcels_frame(
        {
            "parcel_id": ["A", "B"],
            "holder_uscc": ["H1", "H2"],
            "holder_name": ["甲公司", "乙公司"],
            "geometry": [box(0, 0, 100, 100), box(100, 0, 100, 50)],
        }
    )


def test_far_with_the_8_metre_rule_and_straddling_building(two_parcels):
    d = Diagnostics()
    b = gpd.GeoDataFrame(
        {
            "building_id": ["b1", "b2", "b3"],
            "floors": [3.0, 1.0, 2.0],
            "storey_height_m": [4.0, 9.0, np.nan],
            "height_m": [np.nan, np.nan, 8.0],
            # b1 40x50 inside A; b2 single 9 m storey 20x20 inside A; b3 20x10 straddles A|B by half
            "geometry": [box(10, 10, 40, 50), box(60, 60, 20, 20), box(90, 20, 20, 10)],
        },
        crs=4547,
    )
    pieces = clip_buildings(two_parcels, b, diagnostics=d)
    assert sorted(zip(pieces["building_id"], pieces["parcel_id"], strict=True)) == [
        ("b1", "A"),
        ("b2", "A"),
        ("b3", "A"),
        ("b3", "B"),
    ]
    fp = footprint_by_parcel(pieces, two_parcels)
    m = measure_parcels(two_parcels, pieces, fp)
    # A: footprint 2000 + 400 + 100 = 2500; floor area 6000 + 400 + 200 = 6600;
    # counted for FAR: 6000 + 2*400 (9 m storey) + 200 (b3 storey 8/2 = 4 m) = 7000 -> FAR 0.7
    assert m.loc["A", "footprint_m2"] == pytest.approx(2500)
    assert m.loc["A", "floor_area_m2"] == pytest.approx(6600)
    assert m.loc["A", "far_floor_area_m2"] == pytest.approx(7000)
    assert m.loc["A", "far"] == pytest.approx(0.70)
    assert m.loc["A", "building_density"] == pytest.approx(0.25)
    # B: half of b3, 100 m² x 2 floors = 200 over 5000 m²
    assert m.loc["B", "far"] == pytest.approx(0.04)
    assert d.warnings.empty


def test_given_floor_area_is_split_by_footprint_share(two_parcels):
    b = gpd.GeoDataFrame(
        {
            "building_id": ["s"],
            "floor_area_m2": [1000.0],  # 20 m in A, 20 m in B
            "geometry": [box(80, 0, 40, 10)],
        },
        crs=4547,
    )
    pieces = clip_buildings(two_parcels, b, diagnostics=Diagnostics())
    fa = dict(zip(pieces["parcel_id"], pieces["floor_area_m2"], strict=True))
    assert fa == pytest.approx({"A": 500.0, "B": 500.0})


def test_overlapping_footprints_count_once(two_parcels):
    b = gpd.GeoDataFrame(
        {
            "building_id": ["p", "q"],
            "floors": [1.0, 1.0],
            "geometry": [box(0, 0, 20, 20), box(10, 10, 20, 20)],
        },
        crs=4547,
    )
    pieces = clip_buildings(two_parcels, b, diagnostics=Diagnostics())
    fp = footprint_by_parcel(pieces, two_parcels)
    assert fp["A"] == pytest.approx(400 + 400 - 100)
    m = measure_parcels(two_parcels, pieces, fp)
    assert m.loc["A", "floor_area_m2"] == pytest.approx(800)  # floors are not unioned


def test_building_on_no_parcel_is_rejected_with_reason(two_parcels):
    d = Diagnostics()
    b = gpd.GeoDataFrame(
        {"building_id": ["far"], "floors": [1.0], "geometry": [box(1000, 1000, 10, 10)]}, crs=4547
    )
    b["_file"], b["_sheet"], b["_row"] = "b.gpkg", "buildings", 1
    pieces = clip_buildings(two_parcels, b, diagnostics=d)
    assert pieces.empty
    assert d.rejected["reason_code"].tolist() == ["building_outside_parcels"]


def enterprises(rows):
    e = pd.DataFrame(rows)
    e["_file"], e["_sheet"] = "e.csv", None
    e["_row"] = range(2, len(e) + 2)
    e["key"] = e["uscc"]
    return e


def test_tenant_and_holder_land_count_the_parcel_once(two_parcels):
    d = Diagnostics()
    two_parcels["floor_area_m2"] = [6000.0, 0.0]
    ent = enterprises(
        {
            "uscc": ["H1", "T1", "T2"],
            "name": ["甲公司", "租户一", "租户二"],
            "year": [2024] * 3,
            "parcel_ids": [[], ["A"], ["A"]],
            "rented_floor_area_m2": [np.nan, 1500.0, 600.0],
        }
    )
    links = link_enterprises(ent, two_parcels, diagnostics=d)
    links = attribute_land(links, ent, two_parcels, diagnostics=d)
    land = links.set_index("uscc")["land_m2"]
    # T1: 10000 x 1500/6000 = 2500; T2: 10000 x 600/6000 = 1000; holder: the rest, 6500
    assert land.to_dict() == pytest.approx({"H1": 6500.0, "T1": 2500.0, "T2": 1000.0})
    assert land.sum() == pytest.approx(two_parcels.loc[0, "area_m2"])
    assert links.set_index("uscc")["role"].to_dict() == {
        "H1": "holder",
        "T1": "tenant",
        "T2": "tenant",
    }
    assert land["T1"] / M2_PER_MU == pytest.approx(3.75)


def test_tenants_renting_more_than_the_building_are_scaled_down(two_parcels):
    d = Diagnostics()
    two_parcels["floor_area_m2"] = [1000.0, 0.0]
    ent = enterprises(
        {
            "uscc": ["T1", "T2"],
            "name": ["一", "二"],
            "year": [2024] * 2,
            "parcel_ids": [["A"], ["A"]],
            "rented_floor_area_m2": [900.0, 600.0],
        }
    )
    links = attribute_land(
        link_enterprises(ent, two_parcels, diagnostics=d), ent, two_parcels, diagnostics=d
    )
    land = links.set_index("uscc")["land_m2"]
    assert land.to_dict() == pytest.approx({"T1": 6000.0, "T2": 4000.0})  # 900:600 of 10000
    assert "tenants_exceed_building" in set(d.warnings["code"])


def test_links_by_code_then_name_and_unlinked_rows_are_rejected(two_parcels):
    d = Diagnostics()
    two_parcels["floor_area_m2"] = [0.0, 0.0]
    ent = enterprises(
        {
            "uscc": ["H1", None, "ZZ"],
            "name": ["x", "乙 公司", "无地公司"],
            "year": [2024] * 3,
            "parcel_ids": [[], [], ["NOPE"]],
        }
    )
    links = link_enterprises(ent, two_parcels, diagnostics=d)
    assert sorted(zip(links["row"], links["parcel_id"], links["how"], strict=True)) == [
        (0, "A", "holder_uscc"),
        (1, "B", "holder_name"),
    ]
    assert d.rejected["reason_code"].tolist() == ["no_parcel"]
    assert {"linked_by_name", "unknown_parcel"} <= set(d.warnings["code"])


def test_enterprise_on_two_parcels_is_spread_by_land(two_parcels):
    from landeff.metrics import measure_enterprises, spread_to_parcels

    d = Diagnostics()
    two_parcels["floor_area_m2"] = [0.0, 0.0]
    ent = enterprises(
        {
            "uscc": ["H1"],
            "name": ["甲"],
            "year": [2024],
            "parcel_ids": [["A", "B"]],
            "tax_wan": [30.0],
        }
    )
    links = attribute_land(
        link_enterprises(ent, two_parcels, diagnostics=d), ent, two_parcels, diagnostics=d
    )
    me = measure_enterprises(ent, links)
    # land 10000 + 5000 m² = 22.5 亩; 30 万元 / 22.5 = 1.3333 万元/亩
    assert me["land_mu"].iloc[0] == pytest.approx(22.5)
    assert me["tax_wan_per_mu"].iloc[0] == pytest.approx(30 / 22.5)
    spread = spread_to_parcels(me, links, pd.Index(["A", "B"]), stopped_kwh=10000)
    assert spread["tax_wan"].tolist() == pytest.approx([20.0, 10.0])
    per_mu_a = spread.loc["A", "tax_wan"] / 15
    per_mu_b = spread.loc["B", "tax_wan"] / 7.5
    assert per_mu_a == pytest.approx(per_mu_b)


def test_building_digitised_twice_counts_once(two_parcels):
    d = Diagnostics()
    g = box(10, 10, 20, 20)
    b = gpd.GeoDataFrame(
        {"building_id": ["x", "x2", "y"], "floors": [2.0, 2.0, 3.0], "geometry": [g, g, g]},
        crs=4547,
    )
    pieces = clip_buildings(two_parcels, b, diagnostics=d)
    # x2 repeats x exactly and is rejected; y has the same footprint but other storeys: kept
    assert sorted(pieces["building_id"]) == ["x", "y"]
    assert d.rejected["reason_code"].tolist() == ["duplicate_building"]


# --- the fast paths of clip_buildings must give exactly what the plain computation gives -----------


def _reference_duplicates(b: gpd.GeoDataFrame, grid: float) -> list[bool]:
    """The plain rule, for every building: footprint snapped to the grid + storeys, first kept."""
    key = pd.Series(
        shapely.to_wkb(shapely.normalize(shapely.set_precision(b.geometry.values, grid))),
        index=b.index,
    )
    cols = [c for c in ("floors", "floor_area_m2", "height_m", "storey_height_m") if c in b]
    frame = pd.concat([key.rename("_geom"), b[cols]], axis=1)
    return (frame.duplicated(keep="first") & key.notna()).tolist()


def _tricky_buildings(crs: int, unit: float) -> gpd.GeoDataFrame:
    """Buildings in ``crs`` (unit: one metre in its coordinates); duplicates of every kind."""
    x0, y0 = (X0, Y0) if crs == 4547 else (112.87, 27.23)

    def rect(x, y, w, h):
        return shapely.box(x0 + x * unit, y0 + y * unit, x0 + (x + w) * unit, y0 + (y + h) * unit)

    a = rect(10, 10, 20, 10)
    a_rotated = shapely.Polygon(list(a.exterior.coords)[2:-1] + list(a.exterior.coords)[:3])
    a_reversed = a.reverse()
    a_nudged = shapely.affinity.translate(a, 0.001 * unit, 0.001 * unit)  # 1 mm: same at 1 cm
    a_moved = shapely.affinity.translate(a, 0.05 * unit, 0)  # 5 cm: another footprint
    sliver1 = shapely.Polygon([(x0, y0), (x0 + 30 * unit, y0 + 0.001 * unit), (x0 + 30 * unit, y0)])
    sliver2 = shapely.affinity.translate(sliver1, 0, 40 * unit)  # far away, also collapses
    ring = shapely.Polygon(
        rect(50, 50, 20, 20).exterior.coords, [rect(55, 55, 5, 5).exterior.coords]
    )
    geoms = [
        a,
        a_rotated,
        a_reversed,
        a_nudged,
        a_moved,
        a,
        sliver1,
        sliver2,
        ring,
        ring,
        None,
        None,
    ]
    floors = [2.0, 2.0, 2.0, 2.0, 2.0, 3.0, 1.0, 1.0, np.nan, np.nan, 1.0, 1.0]
    return gpd.GeoDataFrame(
        {"building_id": [f"b{i}" for i in range(len(geoms))], "floors": floors},
        geometry=geoms,
        crs=crs,
    )


@pytest.mark.parametrize(("crs", "unit", "grid"), [(4547, 1.0, 0.01), (4490, 1e-5, 1e-7)])
def test_duplicate_buildings_match_the_plain_rule(crs, unit, grid):
    from landeff.join import _duplicate_buildings

    b = _tricky_buildings(crs, unit)
    valid = shapely.is_valid(np.asarray(b.geometry.values, dtype=object))
    d = Diagnostics()
    got = _duplicate_buildings(b, valid, diagnostics=d).tolist()
    assert got == _reference_duplicates(b, grid)
    # worked out by hand: a turned, reversed and moved by 1 mm repeat a (kept: the first);
    # a moved by 5 cm is another footprint; a with 3 floors differs; the second sliver snaps to
    # the same empty footprint as the first; the second ring repeats the first; no geometry: kept
    assert got == [False, True, True, True, False, False, False, True, False, True, False, False]
    assert d.rejected["reason_code"].tolist() == ["duplicate_building"] * 5


def test_random_near_duplicates_match_the_plain_rule():
    from landeff.join import _duplicate_buildings

    rng = np.random.default_rng(7)
    n = 400
    x, y = rng.uniform(0, 300, n), rng.uniform(0, 300, n)
    geoms = shapely.box(X0 + x, Y0 + y, X0 + x + rng.uniform(0.001, 20, n), Y0 + y + 10)
    copy = rng.integers(0, n, n // 2)  # copies, some moved by up to 2 cm (about the grid)
    offsets = rng.choice([0.0, 0.004, 0.006, 0.02], size=(len(copy), 2))
    copies = [
        shapely.affinity.translate(geoms[i], dx, dy)
        for i, (dx, dy) in zip(copy, offsets, strict=True)
    ]
    b = gpd.GeoDataFrame(
        {"floors": rng.integers(1, 3, n + len(copy)).astype(float)},
        geometry=list(geoms) + copies,
        crs=4547,
    )
    valid = shapely.is_valid(np.asarray(b.geometry.values, dtype=object))
    got = _duplicate_buildings(b, valid, diagnostics=Diagnostics())
    expected = _reference_duplicates(b, 0.01)
    assert got.tolist() == expected
    assert sum(expected) > 20  # the case is not vacuous


def _random_polygon(rng, cx, cy, r0, r1, n):
    angle = np.sort(rng.uniform(0, 2 * np.pi, n))
    radius = rng.uniform(r0, r1, n)
    pts = np.c_[cx + radius * np.cos(angle), cy + radius * np.sin(angle)]
    pts = np.roll(pts, rng.integers(0, n), axis=0)  # any first vertex
    return pts[::-1] if rng.random() < 0.5 else pts  # either orientation


def test_pieces_inside_a_parcel_are_what_intersection_returns():
    from landeff.crs import PolygonRings
    from landeff.join import _clip_pairs

    rng = np.random.default_rng(11)
    parcel = shapely.Polygon(_random_polygon(rng, X0, Y0, 80, 90, 9))
    buildings = []
    for _ in range(300):
        n = int(rng.integers(3, 10))
        shell = _random_polygon(rng, X0 + rng.uniform(-30, 30), Y0 + rng.uniform(-30, 30), 5, 10, n)
        holes = (
            [_random_polygon(rng, 0, 0, 1, 2, 4) + shell.mean(axis=0)] if rng.random() < 0.3 else []
        )
        buildings.append(shapely.Polygon(shell, holes))
    # and the awkward ones: collinear and repeated vertices, a triangle, a multipolygon, one on the edge
    buildings += [
        shapely.Polygon([(X0, Y0), (X0 + 5, Y0), (X0 + 10, Y0), (X0 + 10, Y0 + 5), (X0, Y0 + 5)]),
        shapely.Polygon([(X0, Y0), (X0 + 5, Y0), (X0 + 5, Y0), (X0 + 10, Y0 + 5), (X0, Y0 + 5)]),
        shapely.Polygon([(X0, Y0), (X0, Y0), (X0 + 10, Y0), (X0, Y0 + 5)]),
        shapely.Polygon([(X0, Y0), (X0 + 9, Y0 + 1), (X0 + 2, Y0 + 7)]),
        shapely.MultiPolygon(
            [shapely.box(X0, Y0, X0 + 3, Y0 + 3), shapely.box(X0 + 5, Y0, X0 + 8, Y0 + 3)]
        ),
        shapely.box(X0 + 70, Y0, X0 + 100, Y0 + 10),
    ]
    b = np.array([g for g in buildings if g.is_valid], dtype=object)
    p = np.full(len(b), parcel, dtype=object)
    pairs = np.arange(len(b))
    got, inside, _ = _clip_pairs(b, p, pairs, pairs, shapely.is_valid(b), PolygonRings.of(b))
    expected = shapely.intersection(b, p)
    assert inside.sum() > 250  # mostly the fast path
    assert shapely.equals_exact(got, expected, tolerance=0).all()
    assert (shapely.area(got) == shapely.area(expected)).all()


def test_enterprise_parcel_ids_are_sorted_and_joined(two_parcels):
    from landeff.metrics import measure_enterprises

    d = Diagnostics()
    two_parcels["floor_area_m2"] = [0.0, 0.0]
    ent = enterprises(
        {
            "uscc": ["H1", "H2", "X"],
            "name": ["甲公司", "乙公司", "丙"],
            "year": [2024] * 3,
            "parcel_ids": [["B", "A"], [], ["Z"]],  # H2 links by its code; X links to nothing
        }
    )
    links = attribute_land(
        link_enterprises(ent, two_parcels, diagnostics=d), ent, two_parcels, diagnostics=d
    )
    me = measure_enterprises(ent, links)
    # H1 names B then A: written sorted, A;B. H2 holds B by code. X has no parcel: missing.
    assert me["parcel_ids"].iloc[:2].tolist() == ["A;B", "B"]
    assert pd.isna(me["parcel_ids"].iloc[2])
    assert me["parcel_ids"].dtype == "str"


def test_pieces_measured_as_intersections_in_each_parcels_zone():
    """Overlapping parcels in two GK zones: every piece and building area as the plain way."""
    from landeff.crs import planar_area_m2

    parcels = parcels_frame(
        {"parcel_id": ["A", "B"], "geometry": [box(0, 0, 100, 100), box(50, 0, 100, 100)]}
    )
    parcels["area_epsg"] = [4547, 4548]  # B measured in the next zone (CM 117E)
    b = gpd.GeoDataFrame(
        {
            "building_id": ["in_both", "in_a", "over_edge", "in_b_rotated", "sliver_in_a"],
            "floors": [1.0, 2.0, 3.0, 4.0, 1.0],
            "floor_area_m2": [np.nan, np.nan, 900.0, np.nan, np.nan],
            "geometry": [
                box(60, 10, 10, 10),
                box(10, 10, 10, 10),
                box(90, 40, 20, 10),
                shapely.affinity.rotate(box(70, 60, 20, 10), 30),
                box(99.9995, 80, 10, 10),  # 0.005 m² on A: a sliver, dropped; the rest on B
            ],
        },
        crs=4547,
    )
    pieces = clip_buildings(parcels, b, diagnostics=Diagnostics())
    # the plain way: intersect every pair, measure in the parcel's zone; a whole building in the
    # zone of the first parcel it keeps a piece on
    bi, pi = shapely.STRtree(parcels.geometry.values).query(b.geometry.values, "intersects")
    plain = shapely.intersection(b.geometry.values[bi], parcels.geometry.values[pi])
    zone = parcels["area_epsg"].to_numpy()[pi]
    area = planar_area_m2(gpd.GeoSeries(plain, crs=4547), pd.Series(zone, dtype=object))
    kept = area.to_numpy() > 0.01  # SLIVER_M2
    bi, pi, plain, zone = bi[kept], pi[kept], plain[kept], zone[kept]
    expected = pd.DataFrame(
        {"building_id": b["building_id"].to_numpy()[bi], "footprint_m2": area.to_numpy()[kept]}
    )
    first = expected.assign(z=zone).drop_duplicates("building_id").set_index("building_id")["z"]
    whole = planar_area_m2(b.geometry, pd.Series(b["building_id"].map(first), dtype=object))
    expected["share"] = expected["footprint_m2"] / whole.to_numpy()[bi]
    assert "sliver_in_a" in set(expected["building_id"]) and len(first) == 5
    assert pieces["building_id"].tolist() == expected["building_id"].tolist()
    assert pieces["footprint_m2"].tolist() == expected["footprint_m2"].tolist()  # exactly
    assert pieces["share_of_building"].tolist() == np.minimum(expected["share"], 1.0).tolist()
    assert shapely.equals_exact(pieces.geometry.values, plain, tolerance=0).all()
    # by hand: in_both (10 m x 10 m) lies in the overlap of A (x 0-100) and B (x 50-150): 100 m²
    # in A's zone, on its central meridian, and about 0.2 % more in B's zone 3 degrees away
    in_both = pieces.loc[pieces["building_id"] == "in_both", "footprint_m2"].tolist()
    assert in_both[0] == pytest.approx(100.0)
    assert 100.1 < in_both[1] < 100.4


# --- the vectorised helpers give what the plain computation gives -------------------------------

NAMES = [
    "合成企业0000000有限公司",  # the fast path: ASCII and CJK Unified Ideographs only
    "Acme-Co.(China)",
    "某某（上海）有限公司",  # full-width brackets: NFKC makes them ASCII
    "甲 公司",
    "甲\u3000公司",  # ideographic space
    "\t乙公司\n",
    "丙\u00a0公司",  # no-break space
    "丁\u2028公司",  # line separator: whitespace that NFKC keeps
    "\u32b1株式会社",  # circled number: NFKC 36
    "\uf900公司",  # a CJK compatibility ideograph: NFKC changes it
    "cafe\u0301",  # a combining accent: NFKC composes it
    "ﬁne",
    "",
    "   ",
    None,
    np.nan,
    "合成企业0000000有限公司",  # repeated: folded once
    "\ud800bad",  # a lone surrogate: Arrow cannot hold it, folded the plain way
]


@pytest.mark.parametrize("as_str", [False, True])
def test_fold_names_is_normalise_name(as_str):
    from landeff.validate import normalise_name, normalise_names

    values = pd.Series(NAMES[:-1] if as_str else NAMES, dtype="str" if as_str else object)
    expected = [normalise_name(v) for v in values]
    assert list(normalise_names(values)) == expected
    assert expected[2] == "某某(上海)有限公司" and expected[4] == "甲公司" and expected[13] is None
    # numbers in a name column go the plain way (1 and 1.0 must not be folded as one)
    mixed = pd.Series([1, 1.0, "a b", None], dtype=object)
    assert list(normalise_names(mixed)) == ["1", "1.0", "ab", None]


def test_positions_fast_path_and_fallback():
    from landeff.join import positions

    pool = np.array(["P1", "P2", "P3"], dtype=object)
    values = np.array(["P3", "X", "P1", None, "P3"], dtype=object)
    # by hand: P3 is at 2, X nowhere, P1 at 0, a missing id nowhere
    assert positions(values, pool).tolist() == [2, -1, 0, -1, 2]
    assert positions(values, pd.Series(pool, dtype="str")).tolist() == [2, -1, 0, -1, 2]
    # a pool with a missing id goes through Index.get_indexer: a missing value is still not found
    with_gap = np.array(["P1", None, "P3"], dtype=object)
    assert positions(values, with_gap).tolist() == [2, -1, 0, -1, 2]
    with pytest.raises(pd.errors.InvalidIndexError):
        positions(values, np.array(["P1", "P1"], dtype=object))


def test_explode_ids_lists_and_other_cells_agree():
    from landeff.join import _explode_ids

    lists = pd.Series([["A", "B"], [], [None], ["C"], ["A", None]])
    fast, listed = _explode_ids(lists)
    plain, listed_plain = _explode_ids(lists.map(tuple))  # tuples: through DataFrame.explode
    # the same ids and rows (explode gives tuples' ids the str dtype, lists' stay objects)
    pd.testing.assert_frame_equal(fast, plain, check_dtype=False)
    assert fast["parcel_id"].dtype == object
    assert fast.to_dict("list") == {"parcel_id": ["A", "B", "C", "A"], "row": [0, 0, 3, 4]}
    assert listed.tolist() == listed_plain.tolist() == [True, False, True, True, True]


def test_ring_orientation_from_the_sign_of_the_area_and_for_slivers_from_geos():
    from landeff.join import _is_ccw

    rng = np.random.default_rng(5)
    rings = [
        shapely.LinearRing(_random_polygon(rng, X0, Y0, 5, 10, int(rng.integers(3, 12))))
        for _ in range(200)
    ]
    # slivers whose area is too small for the sign of the sum to be trusted: GEOS decides
    rings += [
        shapely.LinearRing([(X0, Y0), (X0 + 2, Y0 + 1e-9), (X0 + 4, Y0)]),
        shapely.LinearRing([(X0, Y0), (X0 + 4, Y0), (X0 + 2, Y0 + 1e-9)]),
        shapely.LinearRing([(112.0, 27.0), (112.0 + 1e-4, 27.0), (112.00005, 27.0 + 1e-13)]),
    ]
    rings = np.array([r for r in rings if shapely.Polygon(r).is_valid], dtype=object)
    sizes = shapely.get_num_coordinates(rings)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    got = _is_ccw(shapely.get_coordinates(rings), offsets)
    assert got.tolist() == shapely.is_ccw(rings).tolist()
    assert got[-3:].tolist() == [False, True, True]  # by hand: right turn, left turn, left turn


def test_clip_assuming_valid_buildings_gives_the_same_pieces(two_parcels):
    b = gpd.GeoDataFrame(
        {
            "building_id": ["in", "edge", "holed"],
            "floors": [1.0, 2.0, 3.0],
            "geometry": [
                box(10, 10, 20, 20),
                box(90, 20, 20, 10),
                shapely.Polygon(
                    box(30, 30, 20, 20).exterior.coords, [box(35, 35, 5, 5).exterior.coords]
                ),
            ],
        },
        crs=4547,
    )
    tested = clip_buildings(two_parcels, b, diagnostics=Diagnostics())
    assumed = clip_buildings(two_parcels, b, diagnostics=Diagnostics(), assume_valid=True)
    pd.testing.assert_frame_equal(tested, assumed)
    # by hand: 20 m x 20 m; 20 m x 10 m cut in half on A and B; 20 m x 20 m less a 5 m x 5 m hole
    assert tested["footprint_m2"].tolist() == pytest.approx([400.0, 100.0, 100.0, 375.0])


def test_unknown_parcel_is_warned_with_its_file_row_and_id(two_parcels):
    d = Diagnostics()
    ent = enterprises(
        {
            "uscc": ["H1", "T1"],
            "name": ["甲公司", "租户"],
            "year": [2024] * 2,
            "parcel_ids": [["A"], ["A", "NOPE"]],
        }
    )
    links = link_enterprises(ent, two_parcels, diagnostics=d)
    assert links["parcel_id"].tolist() == ["A", "A"]
    w = d.warnings
    assert w[["code", "file", "row", "column", "value"]].values.tolist() == [
        ["unknown_parcel", "e.csv", 3, "parcel_ids", "NOPE"]
    ]
    assert w["message"].iloc[0] == (
        "e.csv: row 3: parcel 'NOPE' is not in the parcel layer; that link is not used"
    )


def test_holder_and_tenant_by_folded_name(two_parcels):
    d = Diagnostics()
    two_parcels["holder_name"] = ["甲（中国）公司", "乙公司"]
    ent = enterprises(
        {
            "uscc": ["X1", "X2"],
            "name": ["甲(中国) 公司", "丙公司"],
            "year": [2024] * 2,
            "parcel_ids": [["A"], ["A"]],
        }
    )
    links = link_enterprises(ent, two_parcels, diagnostics=d)
    # X1's name folds to the holder's name of A (full-width brackets, a space): the holder
    assert links["role"].tolist() == ["holder", "tenant"]


def test_land_of_links_to_parcels_not_in_the_layer(two_parcels):
    two_parcels["floor_area_m2"] = [1000.0, 0.0]
    links = pd.DataFrame(
        {
            "row": [0, 1, 2],
            "parcel_id": ["A", "A", "GONE"],
            "year": [2024] * 3,
            "role": ["holder", "tenant", "holder"],
            "uscc": ["H", "T", "G"],
        }
    )
    ent = pd.DataFrame({"rented_floor_area_m2": [np.nan, 250.0, np.nan]})
    out = attribute_land(links, ent, two_parcels, diagnostics=Diagnostics())
    # by hand: T rents 250 of A's 1000 m² of floor: 2500 of A's 10000 m²; H the other 7500;
    # GONE has no area: no land, and its holder's share is taken as whole
    assert out["land_m2"].tolist() == pytest.approx([7500.0, 2500.0, 0.0])
    assert out["share"].tolist() == [1.0, 1.0, 1.0]


def test_distinct_buildings_per_parcel(two_parcels):
    pieces = pd.DataFrame(
        {
            "parcel_id": ["A", "A", "A", "B", "A"],
            "building_id": ["b1", "b1", "b2", "b1", None],
            "floor_area_m2": [1.0, 2.0, 4.0, 8.0, 16.0],
            "far_floor_area_m2": [1.0] * 5,
        }
    )
    m = measure_parcels(two_parcels, pieces, pd.Series({"A": 50.0}))
    # by hand: A has b1 (twice) and b2 and a piece with no id: 2 buildings; B has b1
    assert m["n_buildings"].tolist() == [2, 1]
    assert m["floor_area_m2"].tolist() == [23.0, 8.0]
    assert m["footprint_m2"].tolist() == [50.0, 0.0]
    assert m["building_density"].tolist() == [50.0 / 10000.0, 0.0]


@pytest.mark.parametrize("mask", [[True, False, False, True], []])
def test_two_labels_make_the_column_np_where_makes(mask):
    from landeff.join import two_labels

    mask = np.array(mask, dtype=bool)
    frame = pd.DataFrame({"n": range(len(mask))})
    frame["plain"] = np.where(mask, "holder", "tenant")
    frame["arrow"] = two_labels(mask, "holder", "tenant")
    pd.testing.assert_series_equal(frame["arrow"], frame["plain"], check_names=False)


def test_pairs_on_one_parcel_listed_or_through_the_tree_are_the_same():
    from landeff.join import _pairs_on_one_parcel

    rng = np.random.default_rng(9)
    n = 300
    code = rng.integers(-1, 40, n)  # 40 parcels with about 7 pieces each; -1: no parcel
    x, y = rng.uniform(0, 60, n), rng.uniform(0, 60, n)
    geoms = shapely.box(x, y, x + rng.uniform(1, 15, n), y + rng.uniform(1, 15, n))
    bounds = shapely.bounds(geoms)
    # the plain rule, pair by pair: one parcel, a < b, bounding boxes meet
    expected = [
        (a, b)
        for a in range(n)
        for b in range(a + 1, n)
        if code[a] == code[b] >= 0
        and bounds[a, 0] <= bounds[b, 2]
        and bounds[b, 0] <= bounds[a, 2]
        and bounds[a, 1] <= bounds[b, 3]
        and bounds[b, 1] <= bounds[a, 3]
    ]
    assert len(expected) > 50  # not vacuous
    for max_listed in (0, 5, 1000):  # all through the tree, mixed, all listed
        a, b = _pairs_on_one_parcel(code, bounds, geoms, max_listed=max_listed)
        assert list(zip(a.tolist(), b.tolist(), strict=True)) == expected


@pytest.mark.parametrize("min_count", [0, 1])
def test_group_sums_add_as_groupby_sum_does(min_count):
    from landeff.join import _transform_sum, group_sums

    rng = np.random.default_rng(5)
    n, n_groups = 3000, 1200  # groups of 0, 1 and several rows; some rows in no group (-1)
    group = rng.integers(-1, n_groups, n)
    values = rng.normal(0, 1e6, (n, 3)) * rng.choice([1.0, 1e-12, 1e12], (n, 3))
    special = rng.random((n, 3))
    values[special < 0.05] = np.nan
    values[(special > 0.05) & (special < 0.08)] = -0.0
    values[(special > 0.08) & (special < 0.085)] = np.inf
    # the plain way: groupby on the rows with a group, then a reindex to every group
    on = group >= 0
    plain = pd.DataFrame(values[on]).groupby(group[on]).sum(min_count=min_count)
    plain = plain.reindex(range(n_groups)).to_numpy()
    got = group_sums(values, group, n_groups, min_count=min_count)
    assert got.shape == plain.shape
    # the same bits (-0.0 and 0.0 differ), NaN in the same places
    assert np.array_equal(np.isnan(got), np.isnan(plain))
    same = ~np.isnan(plain)
    assert np.array_equal(got[same].view("int64"), plain[same].view("int64"))
    assert np.bincount(group[on], minlength=n_groups).max() > 3  # groups of several rows
    one = group_sums(values[:, 1], group, n_groups, min_count=min_count)
    assert np.array_equal(one, got[:, 1], equal_nan=True)
    if min_count == 0:
        transformed = pd.Series(values[:, 0]).groupby(np.where(on, group, np.nan))
        expected = transformed.transform("sum").to_numpy()
        got_t = _transform_sum(values[:, 0], group)
        assert np.array_equal(np.isnan(got_t), np.isnan(expected))
        assert np.array_equal(got_t[on].view("int64"), expected[on].view("int64"))


def test_spread_with_parcel_positions_given_is_the_same(two_parcels):
    from landeff.join import positions
    from landeff.metrics import spread_to_parcels

    ent = pd.DataFrame({"tax_wan": [10.0, np.nan, 4.0], "electricity_kwh": [0.0, 2e4, np.nan]})
    links = pd.DataFrame(
        {
            "row": [0, 1, 2, 2],
            "parcel_id": ["A", "A", "B", "X"],  # X: no such parcel
            "share": [1.0, 1.0, 0.25, 0.75],
            "role": ["holder", "tenant", "holder", "holder"],
            "land_m2": [6000.0, 4000.0, 5000.0, 1.0],
        }
    )
    index = pd.Index(["A", "B", "C"], name="parcel_id")
    plain = spread_to_parcels(ent, links, index, stopped_kwh=1e4)
    given = spread_to_parcels(
        ent, links, index, stopped_kwh=1e4, parcel_at=positions(links["parcel_id"], index)
    )
    pd.testing.assert_frame_equal(plain, given, check_exact=True)
    # by hand: A has rows 0 (tax 10) and 1 (no tax, 20000 kWh: active); B has a quarter of row 2
    assert plain["tax_wan"].tolist()[:2] == [10.0, 1.0]
    assert np.isnan(plain["tax_wan"].iloc[2])  # C: no enterprise
    assert plain["n_enterprises"].tolist() == [2, 1, 0]
    assert plain["n_active"].tolist() == [2, 1, 0]
    assert plain["holder_land_m2"].tolist() == [6000.0, 5000.0, 0.0]
    assert plain["tenant_land_m2"].tolist() == [4000.0, 0.0, 0.0]


def test_intersecting_pairs_are_the_predicate_query_and_contains_properly():
    from landeff.join import _intersecting_pairs

    rng = np.random.default_rng(3)
    # parcels: a 6 x 6 grid of 50 m squares (shared edges), one with a hole
    px, py = np.meshgrid(np.arange(6) * 50.0, np.arange(6) * 50.0)
    parcels = list(
        shapely.box(X0 + px.ravel(), Y0 + py.ravel(), X0 + px.ravel() + 50, Y0 + py.ravel() + 50)
    )
    parcels[7] = shapely.Polygon(parcels[7].exterior.coords, [box(60, 10, 10, 10).exterior.coords])
    pgeom = np.array(parcels, dtype=object)
    # buildings: inside, across edges, on an edge exactly, in the hole, bow-ties (invalid),
    # multipolygons, an empty one and a missing one
    n = 400
    x, y = rng.uniform(-10, 300, n).round(0), rng.uniform(-10, 300, n).round(0)
    w, h = rng.choice([0.5, 5.0, 20.0, 50.0], n), rng.choice([0.5, 5.0, 20.0], n)
    buildings = list(shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h))
    buildings += [
        box(50, 0, 10, 10),  # on the edge between two parcels
        box(62, 12, 6, 6),  # in the hole
        box(60, 10, 10, 10),  # the hole exactly
        shapely.Polygon(
            [(X0 + 10, Y0 + 10), (X0 + 60, Y0 + 40), (X0 + 60, Y0 + 10), (X0 + 10, Y0 + 40)]
        ),
        shapely.MultiPolygon([box(5, 5, 5, 5), box(120, 120, 5, 5)]),
        shapely.Polygon(),
        None,
    ]
    bgeom = np.array(buildings, dtype=object)
    valid = shapely.is_valid(bgeom)
    tested = valid & (shapely.get_type_id(bgeom) == 3)
    # the plain way: the predicate query, then contains_properly on each pair tested
    bi, pi = shapely.STRtree(pgeom).query(bgeom, predicate="intersects")
    inside = tested[bi].copy()
    inside[inside] = shapely.contains_properly(pgeom[pi[inside]], bgeom[bi[inside]])
    got_b, got_p, got_inside = _intersecting_pairs(bgeom, pgeom, tested)
    assert got_b.tolist() == bi.tolist() and got_p.tolist() == pi.tolist()
    assert got_inside.tolist() == inside.tolist()
    assert 50 < inside.sum() < len(bi) - 50  # pairs inside and on edges: not vacuous
    assert not shapely.is_prepared(bgeom).any()  # left as they were


def test_group_sums_of_no_rows():
    # an empty task (a partition without links) sums nothing: every group NaN, or nothing at all
    from landeff.join import _transform_sum, group_sums

    assert np.isnan(group_sums(np.array([]), np.array([], dtype="int64"), 2)).all()
    assert group_sums(np.zeros((0, 3)), np.array([], dtype="int64"), 1).shape == (1, 3)
    assert len(_transform_sum(np.array([]), np.array([], dtype="int64"))) == 0


# --- the same work in runs over threads (three pretended CPUs) ----------------------------------


@pytest.fixture
def three_cpus(monkeypatch):
    import landeff.parallel

    monkeypatch.setattr(landeff.parallel, "usable_cpus", lambda: 3)


def _grid_and_scattered_buildings(n: int, seed: int):
    """A 20 x 20 grid of 50 m parcels (shared edges) and ``n`` boxes over it, some across edges."""
    rng = np.random.default_rng(seed)
    px, py = np.meshgrid(np.arange(20) * 50.0, np.arange(20) * 50.0)
    pgeom = shapely.box(X0 + px.ravel(), Y0 + py.ravel(), X0 + px.ravel() + 50, Y0 + py.ravel() + 50)
    x, y = rng.uniform(-10, 1000, n).round(1), rng.uniform(-10, 1000, n).round(1)
    w, h = rng.choice([0.5, 5.0, 20.0, 60.0], n), rng.choice([0.5, 5.0, 20.0], n)
    return pgeom, shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)


def test_query_in_runs_is_one_query(three_cpus):
    from landeff.parallel import query_in_runs, run_cuts

    pgeom, bgeom = _grid_and_scattered_buildings(2500, 1)
    assert len(run_cuts(len(bgeom))) == 4  # three runs
    tree = shapely.STRtree(pgeom)
    assert np.array_equal(query_in_runs(tree, bgeom), tree.query(bgeom))
    got = query_in_runs(tree, bgeom, predicate="intersects")
    assert np.array_equal(got, tree.query(bgeom, predicate="intersects"))
    # 2500 boxes on 400 parcels, a third of them across an edge: many pairs, found in all runs
    assert len(got[0]) > 3000 and got[0].max() > 2 * 2500 // 3
    # prepared inputs are queried in one call (same pairs)
    shapely.prepare(bgeom[:10])
    try:
        assert np.array_equal(
            query_in_runs(tree, bgeom, predicate="dwithin", distance=1.0),
            tree.query(bgeom, predicate="dwithin", distance=1.0),
        )
    finally:
        shapely.destroy_prepared(bgeom[:10])


def test_contains_properly_in_runs_and_with_prepared_parcels(three_cpus):
    from landeff.join import contains_properly_pairs

    pgeom, bgeom = _grid_and_scattered_buildings(2500, 2)
    bi, pi = shapely.STRtree(pgeom).query(bgeom)
    expected = shapely.contains_properly(pgeom[pi], bgeom[bi])
    assert 1000 < expected.sum() < len(bi) - 500  # inside and across edges
    assert contains_properly_pairs(pgeom[pi], bgeom[bi]).tolist() == expected.tolist()
    shapely.prepare(pgeom)  # a caller's prepared parcels: tested in one call
    try:
        assert contains_properly_pairs(pgeom[pi], bgeom[bi]).tolist() == expected.tolist()
        assert shapely.is_prepared(pgeom).all()  # and left prepared
    finally:
        shapely.destroy_prepared(pgeom)


def test_clip_buildings_in_runs_gives_the_pieces_of_one_run(monkeypatch):
    import landeff.parallel

    pgeom, bgeom = _grid_and_scattered_buildings(3000, 4)
    rng = np.random.default_rng(4)
    parcels = parcels_frame({"parcel_id": [f"P{i}" for i in range(len(pgeom))], "geometry": pgeom})
    copies = rng.integers(0, len(bgeom), 300)  # buildings digitised twice: rejected
    buildings = gpd.GeoDataFrame(
        {"floors": np.r_[rng.integers(1, 4, len(bgeom)), np.ones(300)].astype(float)},
        geometry=np.r_[bgeom, bgeom[copies]],
        crs=4547,
    )
    buildings.loc[len(bgeom) :, "floors"] = buildings["floors"].to_numpy()[copies]
    results = []
    for cpus in (1, 3):
        monkeypatch.setattr(landeff.parallel, "usable_cpus", lambda cpus=cpus: cpus)
        d = Diagnostics()
        results.append((clip_buildings(parcels, buildings, diagnostics=d), d.rejected))
    (one, rejected_one), (runs, rejected_runs) = results
    assert len(one) > 3000  # pieces of buildings across parcel edges too
    assert (rejected_one["reason_code"] == "duplicate_building").sum() >= 250
    pd.testing.assert_frame_equal(rejected_one, rejected_runs)
    pd.testing.assert_frame_equal(one.drop(columns="geometry"), runs.drop(columns="geometry"))
    assert shapely.equals_exact(one.geometry.values, runs.geometry.values, tolerance=0).all()
