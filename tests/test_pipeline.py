"""End to end on hand-built parks: every number here is worked out by hand."""

import datetime as dt

import geopandas as gpd
import pandas as pd
import pytest
import shapely

import landeff
from landeff.crs import M2_PER_MU
from landeff.errors import CRSError, InputError
from landeff.pipeline import choose_year

X0, Y0 = 500000.0, 3010000.0  # EPSG:4547, on the central meridian
GOOD = "91350100M000100Y43"


def box(x, y, w, h):
    return shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)


@pytest.fixture
def park():
    # A: 100 x 100 m = 15 亩, held by GOOD; one 40 x 50 m building of 3 storeys (FAR 0.6)
    parcels = gpd.GeoDataFrame(
        {
            "宗地编号": ["A", "B"],
            "权利人统一社会信用代码": [GOOD, None],
            "土地用途": ["工业用地"] * 2,
        },
        geometry=[box(0, 0, 100, 100), box(200, 0, 100, 50)],
        crs=4547,
    )
    buildings = gpd.GeoDataFrame({"层数": [3]}, geometry=[box(10, 10, 40, 50)], crs=4547)
    ent = pd.DataFrame(
        {
            "统一社会信用代码": [GOOD, GOOD],
            "企业名称": ["甲", "甲"],
            "年度": [2023, 2024],
            "实缴税金(万元)": [30.0, 45.0],
            "营业收入(万元)": [600.0, 900.0],
            "用电量(千瓦时)": [1e6, 2e6],
            "规上": ["是", "是"],
            "投产时间": ["2015-01-01"] * 2,
        }
    )
    return {"parcels": parcels, "buildings": buildings, "enterprises": ent}


def test_hand_built_park(park):
    r = landeff.evaluate(**park, as_of="2025-06-30")
    assert r.year == 2024
    a = r.parcels.loc["A"]
    assert a["area_mu"] == pytest.approx(15.0)
    assert a["far"] == pytest.approx(0.6)
    assert a["building_density"] == pytest.approx(0.2)
    assert a["tax_wan_per_mu"] == pytest.approx(45.0 / 15.0)
    assert a["revenue_wan_per_mu"] == pytest.approx(60.0)
    e = r.enterprises.iloc[0]
    assert (e["uscc"], e["land_mu"], e["tax_wan_per_mu"]) == (GOOD, pytest.approx(15.0), 3.0)
    assert e["tax_yuan_per_kwh"] == pytest.approx(45.0 * 1e4 / 2e6)
    assert r.summary["land_mu"] == pytest.approx(22.5)
    assert r.summary["tax_wan_per_mu"] == pytest.approx(3.0)
    assert r.summary["far_overall"] == pytest.approx(0.6)  # built land is parcel A only
    assert r.summary["by_year"]["2023"]["tax_wan_per_mu"] == pytest.approx(2.0)
    assert len(r.parcels) == 2 and r.rejected.empty
    assert set(r.timings) >= {"read", "validate", "project", "join", "measure", "flag"}


def test_same_per_mu_from_a_table_in_yuan(park):
    yuan = park["enterprises"].rename(
        columns={"实缴税金(万元)": "实缴税金(元)", "营业收入(万元)": "营业收入（元）"}
    )
    yuan["实缴税金(元)"] *= 1e4
    yuan["营业收入（元）"] *= 1e4
    a = landeff.evaluate(**park, as_of="2025-06-30").parcels
    b = landeff.evaluate(**{**park, "enterprises": yuan}, as_of="2025-06-30").parcels
    pd.testing.assert_series_equal(a["tax_wan_per_mu"], b["tax_wan_per_mu"])
    pd.testing.assert_series_equal(a["revenue_wan_per_mu"], b["revenue_wan_per_mu"])


def test_geographic_input_measures_like_projected(park):
    geo = {
        **park,
        "parcels": park["parcels"].to_crs(4490),
        "buildings": park["buildings"].to_crs(4490),
    }
    a = landeff.evaluate(**park, as_of="2025-06-30").parcels
    b = landeff.evaluate(**geo, as_of="2025-06-30").parcels
    assert b.crs.to_epsg() == 4490  # output geometry stays in the input CRS
    assert b["area_m2"].tolist() == pytest.approx(a["area_m2"].tolist(), rel=1e-6)
    assert b["far"].tolist() == pytest.approx(a["far"].tolist(), rel=1e-6)


def test_shapefile_without_prj_needs_crs(park, tmp_path):
    p = tmp_path / "parcels.shp"
    park["parcels"].rename(columns={"宗地编号": "宗地号"})[["宗地号", "geometry"]].to_file(
        p, encoding="utf-8"
    )  # 宗地号: an alias short enough for a DBF field name
    p.with_suffix(".prj").unlink()
    with pytest.raises(CRSError, match=r"parcels\.shp.*--crs"):
        landeff.evaluate(parcels=p, as_of="2025-06-30")
    r = landeff.evaluate(parcels=p, as_of="2025-06-30", input_crs=4547)
    assert r.parcels.loc["A", "area_mu"] == pytest.approx(15.0)


def test_as_of_is_required_in_the_api(park):
    with pytest.raises(InputError, match="as_of"):
        landeff.evaluate(**park)


def test_contract_ledger_without_geometry():
    con = pd.DataFrame(
        {
            "电子监管号": ["3604002019B00001", "3604002019B00002"],
            "约定开工时间": ["2019年3月1日", "2024年12月1日"],
            "出让面积(公顷)": [2.0, 1.0],
            "成交价格(万元)": [900, 400],
        }
    )
    r = landeff.evaluate(contracts=con, as_of="2021-03-01")
    f = r.findings.set_index("parcel_id")
    # 2019-03-01 + 2 full years = 2021-03-01: reclaim stage on the anniversary itself
    assert f.loc["3604002019B00001", "code"] == "IDLE_NOT_STARTED"
    assert f.loc["3604002019B00001", "stage"] == "reclaim"
    assert "3604002019B00002" not in f.index
    assert r.parcels.loc["3604002019B00001", "area_mu"] == pytest.approx(30.0)


def test_year_defaults_to_latest_full_year():
    years = pd.Series([2022, 2023, 2024, 2025])
    assert choose_year(years, dt.date(2025, 6, 30)) == 2024
    assert choose_year(years, dt.date(2025, 12, 31)) == 2025
    assert choose_year(pd.Series([2025]), dt.date(2025, 6, 30)) == 2025


def test_demo_accounts_for_every_row_and_counts_land_once():
    inputs = landeff.read_demo()
    r = landeff.evaluate(**inputs)
    raw = pd.read_csv(inputs["enterprises"], encoding="utf-8-sig")
    assert len(r.enterprise_years) + (r.rejected["file"] == inputs["enterprises"]).sum() == len(raw)
    assert len(r.parcels) == len(gpd.read_file(inputs["parcels"]))
    # tax total of 2024 straight from the CSV
    assert r.summary["tax_wan"] == pytest.approx(
        raw.loc[raw["年度"] == 2024, "实缴税金(万元)"].sum()
    )
    # land attributed to enterprises never exceeds the parcels they are on, parcel by parcel
    links = r.links
    per_parcel = links.groupby("parcel_id")["land_m2"].sum()
    assert (per_parcel <= r.parcels.loc[per_parcel.index, "area_m2"] * (1 + 1e-9)).all()
    assert r.summary["enterprise_land_mu"] == pytest.approx(per_parcel.sum() / M2_PER_MU)
    # every rule of the rules issue shows at least once on the demo park
    codes = set(r.findings["code"])
    assert codes >= {
        "IDLE_NOT_STARTED",
        "IDLE_STALLED",
        "IDLE_SUSPECTED",
        "GOV_CAUSE",
        "OVERDUE_START",
        "OVERDUE_COMPLETION",
        "INVESTMENT_SHORTFALL",
        "BELOW_COMMITMENT",
        "LOW_FAR",
        "LOW_COVERAGE",
        "LOW_TAX",
        "STOPPED",
        "ZOMBIE",
        "VACANT_BUILDING",
        "UNDEVELOPED_REMAINDER",
        "GRADE_D",
    }


def test_ledger_with_a_repeated_supervision_number_keeps_both_and_says_so():
    con = pd.DataFrame({"电子监管号": ["3604002019B00001"] * 2,
                        "约定开工时间": ["2019-03-01", "2019-04-01"]})
    r = landeff.evaluate(contracts=con, as_of="2021-03-01")
    assert sorted(r.parcels.index) == ["3604002019B00001", "3604002019B00001#2"]
    w = r.warnings[r.warnings["code"] == "duplicate_parcel_id"]
    assert w["row"].tolist() == [3]


def test_recorded_area_off_by_more_than_one_percent_is_warned_with_its_row(park):
    park["parcels"]["宗地面积(平方米)"] = [10_200.0, 5_040.0]  # A: 2 % off; B: 0.8 % off
    r = landeff.evaluate(**park, as_of="2025-06-30")
    w = r.warnings[r.warnings["code"] == "recorded_area_differs"]
    assert w["row"].tolist() == [1]
    assert "10200.0 m² differs from the measured 10000.0 m² by 2.0 %" in w["message"].iloc[0]


def test_empty_polygon_in_a_projected_layer_is_kept_and_warned(tmp_path):
    # GEOS refuses the x of an empty point (the centroid of an empty polygon); the zone of such a
    # parcel is unknown, its area empty, and the other parcel is measured as usual (100 m × 100 m)
    layer = gpd.GeoDataFrame(
        {"parcel_id": ["A", "B"]},
        geometry=[shapely.Polygon(), shapely.box(500000, 3500000, 500100, 3500100)],
        crs=4549,
    )
    layer.to_file(tmp_path / "p.gpkg")
    r = landeff.evaluate(parcels=tmp_path / "p.gpkg", as_of="2025-06-30")
    assert r.parcels["parcel_id"].tolist() == ["A", "B"]
    assert pd.isna(r.parcels.loc["A", "area_m2"])
    assert r.parcels.loc["B", "area_m2"] == pytest.approx(10000.0, rel=1e-3)
    assert r.warnings.loc[r.warnings["code"] == "empty_geometry", "row"].tolist() == [1]
