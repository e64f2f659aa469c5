"""GeoParquet in and out: a GeoParquet input gives the same parcels as the GeoPackage one."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest

import landeff
from landeff.io.parquet import storable, write_parquet_outputs
from landeff.io.vector import read_layer
from landeff.outputs import is_confidential


@pytest.fixture(scope="module")
def demo_parquet(tmp_path_factory):
    """The demo park with its two layers converted to GeoParquet."""
    demo = landeff.read_demo()
    d = tmp_path_factory.mktemp("demo_parquet")
    for name in ("parcels", "buildings"):
        gpd.read_file(demo[name]).to_parquet(d / f"{name}.parquet")
        demo[name] = str(d / f"{name}.parquet")
    return demo


def test_read_layer_parquet_equals_gpkg(demo_parquet):
    gpkg = read_layer(landeff.read_demo()["parcels"])
    parquet = read_layer(demo_parquet["parcels"])
    assert parquet.crs == gpkg.crs
    pd.testing.assert_frame_equal(
        pd.DataFrame(parquet.drop(columns=["_file"])), pd.DataFrame(gpkg.drop(columns=["_file"])),
    )


@pytest.fixture(scope="module")
def results(demo_parquet):
    return landeff.evaluate(**landeff.read_demo()), landeff.evaluate(**demo_parquet)


def test_parquet_input_gives_the_same_parcels(results):
    from_gpkg, from_parquet = results
    assert from_parquet.summary == from_gpkg.summary
    pd.testing.assert_frame_equal(
        pd.DataFrame(from_parquet.parcels.drop(columns=["_file"])),
        pd.DataFrame(from_gpkg.parcels.drop(columns=["_file"])),
    )
    pd.testing.assert_frame_equal(
        from_parquet.findings.reset_index(drop=True), from_gpkg.findings.reset_index(drop=True)
    )


def test_write_parquet_outputs_round_trip(results, tmp_path):
    result = results[0]
    paths = write_parquet_outputs(result, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == sorted(
        ["parcels.parquet", "buildings.parquet", "enterprises.parquet", "findings.parquet",
         "remainders.parquet", "rejected.parquet", "warnings.parquet", "summary.parquet",
         "summary.json"]
    )
    parcels = gpd.read_parquet(tmp_path / "parcels.parquet")
    assert parcels.crs == result.parcels.crs
    assert len(parcels) == len(result.parcels)
    assert parcels["parcel_id"].tolist() == result.parcels.index.tolist()
    assert parcels.geometry.geom_equals_exact(
        result.parcels.geometry.reset_index(drop=True), tolerance=0).all()
    pd.testing.assert_series_equal(
        parcels["far"], result.parcels["far"].reset_index(drop=True), check_names=False
    )
    findings = pd.read_parquet(tmp_path / "findings.parquet")
    assert findings["finding_id"].tolist() == result.findings["finding_id"].tolist()
    assert json.loads((tmp_path / "summary.json").read_text(encoding="utf-8")) == json.loads(
        json.dumps(result.summary, default=str)
    )


def test_public_parquet_has_no_confidential_columns(results, tmp_path):
    paths = write_parquet_outputs(results[0], tmp_path, public=True)
    names = {p.name for p in paths}
    assert "warnings_public.parquet" not in names and "rejected_public.parquet" not in names
    for name in ("parcels_public.parquet", "enterprises_public.parquet"):
        cols = pd.read_parquet(tmp_path / name).columns
        assert not [c for c in cols if is_confidential(c)], name
    assert "tax_wan" not in pd.read_parquet(tmp_path / "parcels_public.parquet").columns


def test_storable_joins_lists_and_stringifies_mixed_columns():
    frame = pd.DataFrame({"ids": [["P1", "P2"], [], None], "mixed": [1, "a", None],
                          "n": [1.0, 2.0, None]})
    out = storable(frame)
    assert out["ids"].iloc[:2].tolist() == ["P1;P2", ""] and pd.isna(out["ids"].iloc[2])
    assert out["mixed"].iloc[:2].tolist() == ["1", "a"] and pd.isna(out["mixed"].iloc[2])
    assert out["n"].equals(frame["n"])
