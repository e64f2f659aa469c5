"""PostGIS reading and writing, against a real PostgreSQL + PostGIS (tests/pg_fixtures.py)."""

from __future__ import annotations

import uuid

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import landeff
from landeff.errors import InputError
from landeff.io.postgis import (
    read_counts,
    read_postgis_layer,
    read_postgis_table,
    redact_url,
    write_result_postgis,
)
from landeff.io.tables import read_table

pytestmark = pytest.mark.postgis


@pytest.fixture(scope="module")
def engine(postgis_url):
    from sqlalchemy import create_engine

    eng = create_engine(postgis_url.replace("postgresql://", "postgresql+psycopg://", 1))
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def demo_schema(engine):
    """The demo park loaded into PostGIS as a land bureau would keep it: schema ``demo``.

    Layers go in with their own columns and CRS; the tables go in with their cells as text, as they
    were read from the CSV files (so the same values reach validation).
    """
    from sqlalchemy import text

    demo = landeff.read_demo()
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA IF NOT EXISTS demo"))
        for name in ("parcels", "buildings"):
            gpd.read_file(demo[name]).to_postgis(name, conn, schema="demo", if_exists="replace")
        for name in ("enterprises", "contracts"):
            raw = read_table(demo[name], kind=name).drop(columns=["_file", "_sheet", "_row"])
            raw.astype(object).where(raw.notna(), None).to_sql(
                name, conn, schema="demo", if_exists="replace", index=False
            )
    return demo


def test_redact_url_drops_only_the_password():
    assert redact_url("postgresql://gis:p%40ss@db:5433/land?sslmode=require") == (
        "postgresql://gis@db:5433/land?sslmode=require"
    )
    assert redact_url("postgresql://gis@db/land") == "postgresql://gis@db/land"


def test_layer_round_trip_keeps_geometry_attributes_and_crs(postgis_url, demo_schema):
    expected = gpd.read_file(demo_schema["parcels"])
    got = read_postgis_layer(postgis_url, table="demo.parcels")
    assert got.crs.to_epsg() == expected.crs.to_epsg() == 4490
    assert len(got) == len(expected)
    # WKB round trip: coordinates are stored as doubles, so equality is exact
    assert shapely.equals_exact(got.geometry.values, expected.geometry.values, tolerance=0).all()
    for col in ("宗地编号", "权利人统一社会信用代码", "宗地面积"):
        pd.testing.assert_series_equal(
            got[col].reset_index(drop=True), expected[col].reset_index(drop=True),
            check_dtype=False, check_names=False,
        )
    assert got["_sheet"].unique().tolist() == ["demo.parcels"]
    assert got["_row"].tolist() == list(range(1, len(expected) + 1))
    assert got["_file"].iloc[0] == redact_url(postgis_url)
    password = postgis_url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert password not in got["_file"].iloc[0]


def test_sql_query_selects_rows(postgis_url, demo_schema):
    expected = gpd.read_file(demo_schema["parcels"])
    wanted = expected["宗地面积"] > 20000
    got = read_postgis_layer(
        postgis_url, sql='SELECT * FROM demo.parcels WHERE "宗地面积" > 20000 ORDER BY "宗地编号"'
    )
    assert sorted(got["宗地编号"]) == sorted(expected.loc[wanted, "宗地编号"])
    assert got["_sheet"].unique().tolist() == ["sql"]


def test_table_reader_keeps_cells_and_positions(postgis_url, demo_schema):
    raw = read_table(demo_schema["enterprises"], kind="enterprises")
    got = read_postgis_table(postgis_url, table="demo.enterprises")
    assert len(got) == len(raw)
    assert got["统一社会信用代码"].tolist() == raw["统一社会信用代码"].tolist()
    assert got["_row"].tolist() == list(range(1, len(raw) + 1))


def test_missing_table_names_the_table(postgis_url, demo_schema):
    with pytest.raises(InputError, match="no table 'demo.nosuch'.*parcels"):
        read_postgis_layer(postgis_url, table="demo.nosuch")


def test_table_and_sql_together_is_an_error(postgis_url):
    with pytest.raises(InputError, match="either a table"):
        read_postgis_layer(postgis_url, table="demo.parcels", sql="SELECT 1")


def test_query_without_geometry_is_an_error(postgis_url, demo_schema):
    with pytest.raises(InputError, match="no geometry column"):
        read_postgis_layer(postgis_url, sql="SELECT 1 AS x")


def test_layer_without_srid_needs_input_crs(postgis_url, engine):
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS public.nosrid"))
        conn.execute(text("CREATE TABLE public.nosrid (id int, geom geometry)"))
        conn.execute(text("INSERT INTO public.nosrid VALUES (1, 'POLYGON((0 0,1 0,1 1,0 0))')"))
    with pytest.raises(landeff.CRSError, match="no coordinate reference system"):
        read_postgis_layer(postgis_url, table="public.nosrid")
    got = read_postgis_layer(postgis_url, table="public.nosrid", input_crs=4549)
    assert got.crs.to_epsg() == 4549


@pytest.fixture(scope="module")
def both_results(postgis_url, demo_schema):
    demo = dict(demo_schema)
    from_files = landeff.evaluate(**demo)
    demo.update(
        parcels=read_postgis_layer(postgis_url, table="demo.parcels"),
        buildings=read_postgis_layer(postgis_url, table="demo.buildings"),
        enterprises=read_postgis_table(postgis_url, table="demo.enterprises"),
        contracts=read_postgis_table(postgis_url, table="demo.contracts"),
    )
    from_db = landeff.evaluate(**demo)
    return from_files, from_db


def test_evaluate_from_postgis_equals_evaluate_from_files(both_results):
    from_files, from_db = both_results
    assert from_db.summary == from_files.summary
    cols = ["area_m2", "far", "tax_wan_per_mu", "grade"]
    pd.testing.assert_frame_equal(
        from_db.parcels[cols].sort_index(), from_files.parcels[cols].sort_index()
    )
    # the same rows are rejected, at the same places (a PostGIS row is 1-based, a CSV row
    # counts the header as row 1)
    rej_db = from_db.rejected.sort_values(["sheet", "row"]) if len(from_db.rejected) else None
    rej_f = from_files.rejected.sort_values(["sheet", "row"]) if len(from_files.rejected) else None
    if rej_f is None:
        assert rej_db is None
    else:
        assert rej_db is not None
        assert rej_db["reason_code"].tolist() == rej_f["reason_code"].tolist()


def test_write_results_and_read_counts(postgis_url, both_results, engine):
    result = both_results[0]
    schema = f"out_{uuid.uuid4().hex[:8]}"
    written = write_result_postgis(result, postgis_url, schema=schema)
    counts = read_counts(postgis_url, written)
    assert counts == {
        f"{schema}.parcels": len(result.parcels),
        f"{schema}.buildings": len(result.buildings),
        f"{schema}.enterprises": len(result.enterprises),
        f"{schema}.findings": len(result.findings),
        f"{schema}.remainders": len(result.remainders),
        f"{schema}.rejected": len(result.rejected),
        f"{schema}.warnings": len(result.warnings),
        f"{schema}.summary": 1,
    }
    back = read_postgis_layer(postgis_url, table=f"{schema}.parcels")
    assert back.crs == result.parcels.crs
    np.testing.assert_allclose(
        back.set_index("parcel_id").loc[result.parcels.index, "area_m2"], result.parcels["area_m2"]
    )
    # writing again replaces the tables (no duplicates)
    write_result_postgis(result, postgis_url, schema=schema)
    assert read_counts(postgis_url, [f"{schema}.parcels"])[f"{schema}.parcels"] == len(
        result.parcels)


def test_public_edition_holds_no_enterprise_figures(postgis_url, both_results, engine):
    from sqlalchemy import inspect

    result = both_results[0]
    schema = f"pub_{uuid.uuid4().hex[:8]}"
    written = write_result_postgis(result, postgis_url, schema=schema, public=True)
    assert f"{schema}.warnings" not in written and f"{schema}.rejected" not in written
    insp = inspect(engine)
    parcel_cols = {c["name"] for c in insp.get_columns("parcels", schema=schema)}
    assert "far" in parcel_cols and "grade" in parcel_cols
    assert not parcel_cols & {"tax_wan", "tax_wan_per_mu", "score", "revenue_wan"}
    ent_cols = {c["name"] for c in insp.get_columns("enterprises", schema=schema)}
    assert not ent_cols & {"tax_wan", "electricity_kwh", "score"}


def test_cli_reads_from_and_writes_to_postgis(postgis_url, demo_schema, engine):
    from click.testing import CliRunner
    from sqlalchemy import text

    from landeff.cli import main

    args = ["evaluate", "--as-of", "2025-06-30", "--year", "2024",
            "--out", postgis_url, "--out-schema", "cli_out"]
    for name in ("parcels", "buildings", "enterprises", "contracts"):
        args += [f"--{name}", postgis_url, f"--{name}-table", f"demo.{name}"]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    assert "IDLE_NOT_STARTED" in run.output
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM cli_out.parcels")).scalar_one()
    assert n == len(gpd.read_file(landeff.read_demo()["parcels"]))
