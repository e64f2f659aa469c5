"""The Dask engine: partitions keep coupled rows together; results equal the single engine's."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import landeff
from dask_fixtures import assert_same_result, generated_parks
from landeff.engine_dask import evaluate_dask, partition_inputs
from landeff.errors import InputError
from landeff.io.tables import read_table
from landeff.io.vector import read_layer

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------
# partitioning, on frames built by hand


def _layer(rows: dict[str, list], boxes: list[tuple[float, float, float, float]]):
    """A raw layer in CGCS2000 GK CM 120E (metres), as read_layer gives it."""
    gdf = gpd.GeoDataFrame(rows, geometry=[shapely.box(*b) for b in boxes], crs=4549)
    return read_layer(gdf)


X0 = 500_000.0  # GK false easting: the central meridian
Y0 = 3_300_000.0


def _parcels():
    # parks A (A1, A2), B (B1, touching A2), C (C1) and D (D1), 100 m squares far apart by park
    boxes = [
        (X0, Y0, X0 + 100, Y0 + 100),
        (X0 + 100, Y0, X0 + 200, Y0 + 100),
        (X0 + 200, Y0, X0 + 300, Y0 + 100),
        (X0 + 5000, Y0, X0 + 5100, Y0 + 100),
        (X0 + 9000, Y0, X0 + 9100, Y0 + 100),
    ]
    rows = {
        "parcel_id": ["A1", "A2", "B1", "C1", "D1"],
        "park_id": ["A", "A", "B", "C", "D"],
        "holder_uscc": [None, None, None, None, "91000000000000000X"],
        "supervision_no": [None, None, None, None, "SUP-D1"],
    }
    return _layer(rows, boxes)


def _tables(ent_park: list[str] | None = None):
    ent = {
        "uscc": ["91000000000000000X", "91000000000000000X", "92000000000000000Y"],
        "name": ["甲公司", "甲公司", "乙公司"],
        "year": [2023, 2024, 2024],
        "parcel_ids": ["C1", "C1", "Z9"],
    }
    if ent_park is not None:
        ent["park_id"] = ent_park
    enterprises = read_table(pd.DataFrame(ent), kind="enterprises")
    contracts = read_table(pd.DataFrame({"supervision_no": ["SUP-D1", "SUP-NONE"]}),
                           kind="contracts")
    return enterprises, contracts


def test_partitions_keep_coupled_rows_together():
    parcels = _parcels()
    # b1 straddles A2 and B1 (so parks A and B must share a task); b2 lies on no parcel
    buildings = _layer(
        {"building_id": ["b1", "b2"]},
        [(X0 + 180, Y0 + 10, X0 + 220, Y0 + 50), (X0 + 20_000, Y0, X0 + 20_010, Y0 + 10)],
    )
    enterprises, contracts = _tables()
    parts = partition_inputs(parcels, buildings=buildings, enterprises=enterprises,
                             contracts=contracts, n_tasks=8)
    assert parts.key == "park_id"
    assert parts.n_partitions == 4  # A, B, C, D
    # {A, B} by the building, {C, D} by the enterprise (parcel_ids C1, holder of D1)
    assert parts.n_components == 2
    t = parts.parcel_task
    assert t[0] == t[1] == t[2] and t[3] == t[4] and t[0] != t[3]
    assert parts.building_task.tolist() == [t[1], 0]  # b2 goes where unmatched rows go
    # both years of 甲 with C1/D1; 乙 links to no parcel (task 0, rejected there)
    assert parts.enterprise_task.tolist() == [t[3], t[3], 0]
    assert parts.contract_task.tolist() == [t[4], 0]


def test_one_park_per_task_is_merged_when_the_table_has_several_parks():
    # grading pools are labelled with the park only when a run holds two parks or more, so a task
    # must never hold enterprises of a single park when the whole table holds several
    parcels = _parcels()
    enterprises, contracts = _tables(ent_park=["C", "C", "A"])
    enterprises.loc[2, "parcel_ids"] = "A1"
    parts = partition_inputs(parcels, enterprises=enterprises, contracts=contracts, n_tasks=8)
    # components {A}, {B}, {C, D}: the enterprises of A and of C would each be alone in a task,
    # so those two tasks are merged; B (no enterprises) may stay apart
    assert parts.n_components == 3
    t = parts.parcel_task
    assert len(set(parts.enterprise_task.tolist())) == 1
    assert t[0] == t[1] == t[3] == t[4] == parts.enterprise_task[0]


def test_grid_partitioning_when_there_is_no_park_or_county():
    parcels = _parcels().drop(columns=["park_id"])
    parts = partition_inputs(parcels, n_tasks=8, grid_km=1.0)
    assert parts.key == "grid"
    # A1, A2, B1 lie within 300 m (one or two 1-km cells), C1 and D1 4-5 km away in cells of
    # their own: at least 3 cells, and A1/A2 (both in x 0-200 m) share one
    assert parts.n_partitions >= 3
    assert len(set(parts.parcel_task[[0, 3, 4]].tolist())) == 3


def test_unknown_partition_key_is_an_error():
    with pytest.raises(InputError, match="partition_by='parcel'"):
        partition_inputs(_parcels(), partition_by="parcel")
    with pytest.raises(InputError, match="no such column"):
        partition_inputs(_parcels(), partition_by="county_code")


# ---------------------------------------------------------------------------------------------
# same results as the single-machine engine


@pytest.mark.slow
def test_demo_park_same_as_single_engine(dask_client):
    demo = landeff.read_demo()
    expected = landeff.evaluate(**demo)
    # the demo park has no park or county column: a grid of 300 m cells splits it
    got = evaluate_dask(**demo, scheduler=dask_client, partition_by="grid", grid_km=0.3)
    assert_same_result(got, expected)
    assert set(got.timings) >= {"read", "validate", "project", "join", "measure", "flag"}


@pytest.fixture(scope="module")
def multi_park(tmp_path_factory):
    """Six generated parks of 400 parcels (benchmarks/generate.py), as files."""
    data = generated_parks()
    d = tmp_path_factory.mktemp("multi_park")
    data["parcels"].to_file(d / "parcels.gpkg", engine="pyogrio")
    data["buildings"].to_parquet(d / "buildings.parquet")
    data["enterprises"].to_csv(d / "enterprises.csv", index=False)
    data["contracts"].to_csv(d / "contracts.csv", index=False)
    return {
        "parcels": str(d / "parcels.gpkg"),
        "buildings": str(d / "buildings.parquet"),
        "enterprises": str(d / "enterprises.csv"),
        "contracts": str(d / "contracts.csv"),
        "as_of": "2025-06-30",
    }


@pytest.fixture(scope="module")
def multi_park_single(multi_park):
    return landeff.evaluate(**multi_park)


@pytest.mark.slow
@pytest.mark.parametrize("partition_by", ["park_id", "county_code"])
def test_multi_park_same_as_single_engine(dask_client, multi_park, multi_park_single,
                                          partition_by):
    got = evaluate_dask(**multi_park, scheduler=dask_client, partition_by=partition_by)
    assert_same_result(got, multi_park_single)  # warnings too: grading warns per firm row
    # six parks, graded per park: each park's 规上 pool ranks from 1
    graded = got.enterprises.dropna(subset=["rank"])
    assert graded["park_id"].nunique() == 6
    assert (graded.groupby(["park_id", "group"])["rank"].min() == 1).all()


def test_partitions_of_generated_parks_are_the_parks(multi_park):
    raw = read_layer(multi_park["parcels"])
    parts = partition_inputs(
        raw,
        buildings=read_layer(multi_park["buildings"]),
        enterprises=read_table(multi_park["enterprises"], kind="enterprises"),
        contracts=read_table(multi_park["contracts"], kind="contracts"),
        n_tasks=4,
    )
    # generated parks are 6 km+ apart and every enterprise stays in its park: 6 components
    assert parts.n_partitions == parts.n_components == 6
    per_park = pd.Series(parts.parcel_task).groupby(raw["park_id"].to_numpy()).nunique()
    assert (per_park == 1).all()
    # packed into 4 tasks of 2, 2, 1 and 1 parks; the two single-park tasks are merged
    assert np.bincount(parts.parcel_task).tolist() == [800, 800, 800]


@pytest.mark.slow
def test_evaluate_engine_dask_goes_through_the_public_api(dask_client):
    demo = landeff.read_demo()
    got = landeff.evaluate(**demo, engine="dask", scheduler=dask_client)
    assert_same_result(got, landeff.evaluate(**demo))
    with pytest.raises(InputError, match="engine"):
        landeff.evaluate(**demo, engine="spark")
