"""The Dask engine's GeoParquet path: layers read on the workers give the single engine's results."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import affinity

import landeff
from dask_fixtures import assert_same_result, generated_parks
from landeff import engine_dask
from landeff.engine_dask import evaluate_dask, partition_geoparquet, partition_inputs
from landeff.errors import InputError
from landeff.io.tables import read_table
from landeff.io.vector import read_layer

ROOT = Path(__file__).resolve().parents[1]
#: Grid cells (km) for the demo park, which has no park or county column. Its enterprise table
#: has no park_id either, so everything linked to an enterprise is one grading pool (one task);
#: 100 m cells leave several cells without enterprises, hence several tasks.
GRID_KM = 0.1
X0 = 500_000.0  # CGCS2000 GK CM 120E (EPSG:4549): the central meridian's false easting
Y0 = 3_300_000.0


@pytest.fixture
def client_path_fails(monkeypatch):
    """Make reading the layers on the client fail, to prove the GeoParquet path was taken."""

    def fail(*args, **kwargs):
        raise AssertionError("the layers were read on the client")

    monkeypatch.setattr(engine_dask, "_evaluate_on_client", fail)


# ---------------------------------------------------------------------------------------------
# the keys and boxes step, on hand-built geometries


def _hand_built(tmp_path: Path) -> dict[str, Path]:
    """Parks A-G in metres (EPSG:4549); see the test for what couples them."""
    triangle = shapely.Polygon([(X0 + 1000, Y0), (X0 + 1100, Y0), (X0 + 1000, Y0 + 100)])
    parcels = gpd.GeoDataFrame(
        {
            "parcel_id": ["A1", "A2", "B1", "C1", "D1", "E1", "F1", "G1"],
            "park_id": ["A", "A", "B", "C", "D", "E", "F", "G"],
            "holder_name": [None, None, None, None, None, "丙公司", None, "丙 公司"],
        },
        geometry=[
            shapely.box(X0, Y0, X0 + 100, Y0 + 100),
            shapely.box(X0 + 100, Y0, X0 + 200, Y0 + 100),
            shapely.box(X0 + 200, Y0, X0 + 300, Y0 + 100),  # touches A2 along x = 200
            triangle,  # its box reaches x = 1100, where D1 begins
            shapely.box(X0 + 1100, Y0, X0 + 1200, Y0 + 100),
            shapely.box(X0 + 3000, Y0, X0 + 3100, Y0 + 100),
            shapely.box(X0 + 3050, Y0 + 50, X0 + 3150, Y0 + 150),  # overlaps E1
            shapely.box(X0 + 9000, Y0, X0 + 9100, Y0 + 100),
        ],
        crs=4549,
    )
    buildings = gpd.GeoDataFrame(
        {"building_id": ["b1", "b2", "b3", "b4"]},
        geometry=[
            shapely.box(X0 + 180, Y0 + 10, X0 + 220, Y0 + 50),  # across A2 and B1
            # in C1's box but off the triangle (x + y > 1100 there), and on D1
            shapely.box(X0 + 1080, Y0 + 60, X0 + 1120, Y0 + 90),
            shapely.box(X0 + 20, Y0 + 20, X0 + 40, Y0 + 40),  # inside A1
            shapely.box(X0 + 20_000, Y0, X0 + 20_010, Y0 + 10),  # on no parcel
        ],
        crs=4549,
    )
    paths = {"parcels": tmp_path / "parcels.parquet", "buildings": tmp_path / "buildings.parquet"}
    parcels.to_parquet(paths["parcels"], write_covering_bbox=True)
    buildings.to_parquet(paths["buildings"])
    return paths


def test_keys_and_boxes_give_the_partitions_of_the_whole_layers(dask_client, tmp_path):
    paths = _hand_built(tmp_path)
    # 丙公司 holds E1 and G1 (its name folded: "丙 公司" is the same name)
    enterprises = read_table(pd.DataFrame({"name": ["丙公司"], "year": [2024]}), kind="enterprises")
    got = partition_geoparquet(paths["parcels"], buildings=paths["buildings"],
                               enterprises=enterprises, client=dask_client, n_tasks=8)
    # worked out by hand: b1 merges A and B; B1 only touches A2 (no overlap); b2 lies in C1's
    # box but touches only D1, so C and D stay apart; E1 and F1 overlap; the enterprise links
    # E1 and G1: components {A, B}, {C}, {D}, {E, F, G}
    assert got.key == "park_id"
    assert got.n_partitions == 7
    assert got.n_components == 4
    t = got.parcel_task
    assert t[0] == t[1] == t[2]
    assert t[3] != t[4]
    assert t[5] == t[6] == t[7]
    assert len({t[0], t[3], t[4], t[5]}) == 4  # 4 components, 8 tasks wanted: one each
    assert got.building_task.tolist() == [t[1], t[4], t[0], 0]  # b4 on no parcel: task 0
    # the same split as the layers read whole on the client
    whole = partition_inputs(read_layer(paths["parcels"]), buildings=read_layer(paths["buildings"]),
                             enterprises=enterprises, n_tasks=8)
    assert got.parcel_task.tolist() == whole.parcel_task.tolist()
    assert got.building_task.tolist() == whole.building_task.tolist()
    assert got.enterprise_task.tolist() == whole.enterprise_task.tolist()
    assert got.n_components == whole.n_components


def test_a_building_across_two_parks_merges_them(dask_client, tmp_path):
    paths = _hand_built(tmp_path)
    # without b1 (across A2 and B1), parks A and B are apart
    buildings = gpd.read_parquet(paths["buildings"])
    buildings.iloc[1:].to_parquet(tmp_path / "without_b1.parquet")
    apart = partition_geoparquet(paths["parcels"], buildings=tmp_path / "without_b1.parquet",
                                 client=dask_client, n_tasks=8)
    assert apart.parcel_task[1] != apart.parcel_task[2]
    together = partition_geoparquet(paths["parcels"], buildings=paths["buildings"],
                                    client=dask_client, n_tasks=8)
    assert together.parcel_task[1] == together.parcel_task[2]


def test_far_outside_is_taken_from_the_tasks_only_when_its_groups_stay_whole():
    # far_outside measures from the middle of each park_id (else county_code, else the layer);
    # groups are worked out here by hand from the keys
    def keys(park: list, county: list | None = None) -> pd.DataFrame:
        return pd.DataFrame({"park_id": park, "county_code": county or [None] * len(park)},
                            dtype=object)

    local = engine_dask._groups_within_tasks
    tasks = np.array([0, 0, 1, 1])
    assert local(keys(["A", "A", "B", None]), tasks)  # A in 0; B and the no-park group in 1
    assert not local(keys(["A", "A", "B", None]), np.array([0, 1, 1, 1]))  # A split
    assert not local(keys(["A", None, None, None]), tasks)  # task 1 would group by nothing
    assert local(keys([None] * 4, ["c1", "c1", "c2", "c2"]), tasks)
    assert not local(keys([None] * 4), tasks)  # the whole layer is one group
    assert local(keys([None] * 4), np.zeros(4, dtype=np.int64))


# ---------------------------------------------------------------------------------------------
# same results as the single engine


def _demo_as_parquet(tmp_path: Path, *, parcels: gpd.GeoDataFrame | None = None) -> dict:
    demo = landeff.read_demo()
    layer = gpd.read_file(demo["parcels"]) if parcels is None else parcels
    layer.to_parquet(tmp_path / "parcels.parquet")
    gpd.read_file(demo["buildings"]).to_parquet(tmp_path / "buildings.parquet",
                                                write_covering_bbox=True)
    return {**demo, "parcels": str(tmp_path / "parcels.parquet"),
            "buildings": str(tmp_path / "buildings.parquet")}


@pytest.mark.slow
def test_demo_park_same_as_single_engine(dask_client, tmp_path, client_path_fails):
    inputs = _demo_as_parquet(tmp_path)
    expected = landeff.evaluate(**inputs)
    # split by grid cells, several tasks; the distance check (no park or county: the whole
    # layer is one group) is run again on the whole layer
    tables = {k: read_table(inputs[k], kind=k) for k in ("enterprises", "contracts")}
    parts = partition_geoparquet(inputs["parcels"], buildings=inputs["buildings"], **tables,
                                 client=dask_client, partition_by="grid", grid_km=GRID_KM)
    assert parts.n_tasks > 1
    assert not parts.layer_checks_local
    whole = partition_inputs(read_layer(inputs["parcels"]),
                             buildings=read_layer(inputs["buildings"]), **tables,
                             partition_by="grid", grid_km=GRID_KM)
    for rows in ("parcel_task", "building_task", "enterprise_task", "contract_task"):
        assert getattr(parts, rows).tolist() == getattr(whole, rows).tolist()
    got = evaluate_dask(**inputs, scheduler=dask_client, partition_by="grid", grid_km=GRID_KM)
    assert_same_result(got, expected)
    assert got.parcels.crs == expected.parcels.crs
    assert got.buildings.crs == expected.buildings.crs


def _fixed_demo_parcels(case: str) -> gpd.GeoDataFrame:
    """Demo parcels that read_layer must fix, with the warnings it gives for them."""
    parcels = gpd.read_file(landeff.read_demo()["parcels"])
    if case == "projected, no ids":
        # GK CM 117E (EPSG:4548) is not the demo's zone (it lies near 112.9E): read_layer warns
        # that the CRS scales areas at the site; without 宗地编号 the parcels are numbered
        return parcels.to_crs(4548).drop(columns=["宗地编号"])
    return parcels.set_geometry(parcels.geometry.map(
        lambda g: shapely.transform(g, lambda c: c[:, ::-1])))  # (lat, lon) order


@pytest.mark.slow
@pytest.mark.parametrize("case", ["projected, no ids", "axes swapped"])
def test_demo_layer_fixes_same_as_single_engine(dask_client, tmp_path, client_path_fails, case):
    inputs = _demo_as_parquet(tmp_path, parcels=_fixed_demo_parcels(case))
    expected = landeff.evaluate(**inputs)
    codes = {"projected, no ids": {"crs_not_site_zone", "parcel_id_generated"},
             "axes swapped": {"axes_swapped"}}[case]
    assert codes <= set(expected.warnings["code"])  # the case is what it says
    got = evaluate_dask(**inputs, scheduler=dask_client, partition_by="grid", grid_km=GRID_KM)
    assert_same_result(got, expected)


@pytest.mark.slow
def test_demo_park_without_buildings_and_strict(dask_client, tmp_path, client_path_fails):
    inputs = _demo_as_parquet(tmp_path)
    inputs["buildings"] = None
    got = evaluate_dask(**inputs, scheduler=dask_client, partition_by="grid", grid_km=GRID_KM)
    assert_same_result(got, landeff.evaluate(**inputs))
    # the demo has warnings: strict mode raises once, for the whole run, counting them all
    with pytest.raises(InputError, match="strict mode") as single:
        landeff.evaluate(**inputs, strict=True)
    with pytest.raises(InputError, match="strict mode") as dask:
        evaluate_dask(**inputs, scheduler=dask_client, partition_by="grid", grid_km=GRID_KM,
                      strict=True)
    counts = str(single.value).splitlines()[0]  # "strict mode: N warning(s) and M rejected ..."
    assert str(dask.value).splitlines()[0] == counts


@pytest.mark.slow
@pytest.mark.parametrize("case", ["projected, no ids", "axes swapped"])
def test_demo_layer_fixes_on_the_client_path(dask_client, tmp_path, case):
    # the same layers as GeoPackage take the other path: read on the client, split, sent out;
    # the warnings about the whole layer are still given once, as the single engine gives them
    demo = landeff.read_demo()
    _fixed_demo_parcels(case).to_file(tmp_path / "parcels.gpkg", engine="pyogrio")
    inputs = {**demo, "parcels": str(tmp_path / "parcels.gpkg")}
    expected = landeff.evaluate(**inputs)
    got = evaluate_dask(**inputs, scheduler=dask_client, partition_by="grid", grid_km=GRID_KM)
    assert_same_result(got, expected)


@pytest.mark.slow
def test_garbled_text_is_read_on_the_client(dask_client, tmp_path, monkeypatch):
    parcels = gpd.read_file(landeff.read_demo()["parcels"])

    def garble(text):  # GBK bytes taken for Latin-1, as a wrong export writes them
        return text.encode("gbk").decode("latin-1") if isinstance(text, str) else text

    parcels = parcels.rename(columns=garble)
    for col in parcels.columns.drop("geometry"):
        parcels[col] = parcels[col].map(garble)
    inputs = _demo_as_parquet(tmp_path, parcels=parcels)
    expected = landeff.evaluate(**inputs)
    assert "mojibake_fixed" in set(expected.warnings["code"])
    calls = []
    on_client = engine_dask._evaluate_on_client

    def spy(*args, **kwargs):
        calls.append(1)
        return on_client(*args, **kwargs)

    monkeypatch.setattr(engine_dask, "_evaluate_on_client", spy)
    got = evaluate_dask(**inputs, scheduler=dask_client, partition_by="grid", grid_km=GRID_KM)
    assert calls == [1]
    assert_same_result(got, expected)


@pytest.fixture(scope="module")
def multi_park(tmp_path_factory):
    """Six generated parks of 400 parcels (benchmarks/generate.py), parcels one of them 100 km
    away from its park, as GeoParquet: parcels one file and a folder of three files."""
    data = generated_parks()
    d = tmp_path_factory.mktemp("multi_park_parquet")
    parcels = data["parcels"]
    parcels.loc[0, "geometry"] = affinity.translate(parcels.geometry.iloc[0], yoff=0.9)
    parcels.to_parquet(d / "parcels.parquet")
    folder = d / "parcels_parts.parquet"  # a suffix, so that read_layer reads the folder too
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(parcels)), 3)):
        parcels.iloc[rows].to_parquet(folder / f"part.{i}.parquet")
    data["buildings"].to_parquet(d / "buildings.parquet", write_covering_bbox=True)
    data["enterprises"].to_csv(d / "enterprises.csv", index=False)
    data["contracts"].to_csv(d / "contracts.csv", index=False)
    return {
        "parcels": str(d / "parcels.parquet"),
        "folder": str(folder),
        "buildings": str(d / "buildings.parquet"),
        "enterprises": str(d / "enterprises.csv"),
        "contracts": str(d / "contracts.csv"),
        "as_of": "2025-06-30",
    }


@pytest.mark.slow
@pytest.mark.parametrize(("partition_by", "parcels"), [("park_id", "parcels"),
                                                       ("county_code", "folder")])
def test_multi_park_same_as_single_engine(dask_client, multi_park, client_path_fails,
                                          partition_by, parcels):
    inputs = {k: v for k, v in multi_park.items() if k != "folder"}
    inputs["parcels"] = multi_park[parcels]
    expected = landeff.evaluate(**inputs)
    # the parcel moved 100 km is warned about, from the middle of its park
    assert "far_outside" in set(expected.warnings["code"])
    got = evaluate_dask(**inputs, scheduler=dask_client, partition_by=partition_by)
    assert_same_result(got, expected)
    graded = got.enterprises.dropna(subset=["rank"])
    assert graded["park_id"].nunique() == 6
    # generated parks lie 6 km+ apart, each within one county (two counties in all): every
    # park lies within one task, so the distance check is taken from the tasks
    parts = partition_geoparquet(
        inputs["parcels"], buildings=inputs["buildings"], client=dask_client,
        enterprises=read_table(inputs["enterprises"], kind="enterprises"),
        contracts=read_table(inputs["contracts"], kind="contracts"), partition_by=partition_by,
    )
    assert parts.layer_checks_local
    assert parts.n_components == {"park_id": 6, "county_code": 2}[partition_by]
