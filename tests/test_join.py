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
