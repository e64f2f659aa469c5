"""工业上楼 target-FAR scenario, with numbers worked out by hand."""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from landeff.errors import InputError
from landeff.scenario import scenario


def parcels() -> gpd.GeoDataFrame:
    # 15 亩 = 10000 m², 30 亩 = 20000 m², 6 亩 = 4000 m², 9 亩 = 6000 m²
    return gpd.GeoDataFrame(
        {
            "area_mu": [15.0, 30.0, 6.0, 9.0],
            "far_floor_area_m2": [5000.0, 30000.0, 0.0, 6000.0],
            "tax_wan": [100.0, 300.0, 0.0, np.nan],
        },
        geometry=[shapely.box(0, 0, 1, 1)] * 4,
        index=pd.Index(["A", "B", "C", "D"], name="parcel_id"),
        crs=4547,
    )


def test_scenario_per_parcel_and_park() -> None:
    per, park = scenario(parcels(), 1.0)
    assert list(per.index) == ["A", "B", "C", "D"]
    # A: FAR 0.5; needs 5000 m² = 7.5 亩 at FAR 1.0; frees 7.5; gains 10000 - 5000 = 5000 m²
    # B: FAR 1.5 ≥ 1.0: keeps its 30 亩, frees 0, gains 0
    # C: no floor area: needs 0, frees all 6 亩, gains 4000 m²
    # D: FAR exactly 1.0: frees 0, gains 0
    assert per["far"].tolist() == pytest.approx([0.5, 1.5, 0.0, 1.0])
    assert per["land_needed_mu"].tolist() == pytest.approx([7.5, 30.0, 0.0, 9.0])
    assert per["land_freed_mu"].tolist() == pytest.approx([7.5, 0.0, 6.0, 0.0])
    assert per["floor_area_gained_m2"].tolist() == pytest.approx([5000.0, 0.0, 4000.0, 0.0])
    assert (per["target_far"] == 1.0).all()
    # park: 60 亩, floor 41000 m² on 40000 m² → FAR 1.025; needed 46.5 亩, freed 13.5
    # (7.5 of it on built parcels); tax 400 万元: 400/60 = 6.667 today, 400/46.5 = 8.602 at target
    assert park["area_mu"] == pytest.approx(60.0)
    assert park["far"] == pytest.approx(1.025)
    assert park["land_needed_mu"] == pytest.approx(46.5)
    assert park["land_freed_mu"] == pytest.approx(13.5)
    assert park["land_freed_built_mu"] == pytest.approx(7.5)
    assert park["floor_area_gained_m2"] == pytest.approx(9000.0)
    assert park["tax_wan"] == pytest.approx(400.0)
    assert park["tax_wan_per_mu"] == pytest.approx(400 / 60)
    assert park["tax_wan_per_mu_at_target"] == pytest.approx(400 / 46.5)
    assert (park["n_parcels"], park["n_measured"]) == (4, 4)


def test_scenario_higher_target() -> None:
    per, park = scenario(parcels(), 2.0)
    # A needs 5000/2 = 2500 m² = 3.75 亩 → frees 11.25; gains 20000 - 5000 = 15000 m²
    # B: 30000/2 = 15000 m² = 22.5 亩 → frees 7.5; gains 40000 - 30000 = 10000 m²
    assert per.loc["A", "land_freed_mu"] == pytest.approx(11.25)
    assert per.loc["B", "land_freed_mu"] == pytest.approx(7.5)
    assert per.loc["B", "floor_area_gained_m2"] == pytest.approx(10000.0)
    assert park["land_needed_mu"] == pytest.approx(3.75 + 22.5 + 0 + 4.5)


def test_floor_area_fallbacks_and_missing_rows() -> None:
    frame = pd.DataFrame(
        {
            "area_m2": [10000.0, 10000.0, np.nan],
            "floor_area_m2": [np.nan, 8000.0, 100.0],
            "far": [0.6, 0.1, 0.5],
        }
    )
    per, park = scenario(frame, 1.2)
    # row 0: floor from far 0.6 × 10000 = 6000 m² → needs 5000 m² = 7.5 亩 of 15 亩
    # row 1: floor_area_m2 8000 wins over far → needs 6666.7 m² = 10 亩, frees 5
    assert per["floor_area_m2"].iloc[:2].tolist() == [6000.0, 8000.0]
    assert per["land_freed_mu"].iloc[:2].tolist() == pytest.approx([7.5, 5.0])
    assert np.isnan(per["land_freed_mu"].iloc[2])
    assert park["n_measured"] == 2
    # no tax column: the park's 亩均税收 is unknown, not 0
    assert park["tax_wan"] is None and park["tax_wan_per_mu_at_target"] is None


def test_accepts_a_result_object() -> None:
    per, _ = scenario(SimpleNamespace(parcels=parcels()), 1.0)
    assert per.loc["A", "land_freed_mu"] == pytest.approx(7.5)


@pytest.mark.parametrize("target", [0, -1.0, float("nan"), "high"])
def test_bad_target(target: object) -> None:
    with pytest.raises(InputError, match="target FAR"):
        scenario(parcels(), target)  # type: ignore[arg-type]


def test_missing_columns() -> None:
    with pytest.raises(InputError, match="area_mu or area_m2"):
        scenario(pd.DataFrame({"far": [1.0]}), 1.0)
    with pytest.raises(InputError, match="far_floor_area_m2, floor_area_m2 or far"):
        scenario(pd.DataFrame({"area_mu": [1.0]}), 1.0)


def test_park_far_at_target_counts_gained_floor_area():
    # 15 亩 = 10000 m² with 5000 m² floor (FAR 0.5) and 15 亩 with 20000 m² (FAR 2.0), target 1.0:
    # gained 5000 m² on the first only -> (25000 + 5000) / 20000 = 1.5
    p = pd.DataFrame({"area_mu": [15.0, 15.0], "floor_area_m2": [5000.0, 20000.0]})
    _, park = scenario(p, 1.0)
    assert park["far_at_target"] == pytest.approx(1.5)
