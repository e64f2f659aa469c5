"""The plain geopandas script a competent analyst would write for the same measures.

Read the two layers and the enterprise table; project once to an equal-area CRS for China (Albers,
CGCS2000/GRS80 ellipsoid) and take areas; join building points (representative points) to parcels;
sum footprints, floor areas and enterprise figures per parcel; merge; per-mu figures, FAR and density.
No validation, no clipping at parcel edges, no tenants, no rules. Timed per stage with the same
stage names as ``landeff`` (``read``, ``project``, ``join``, ``measure``).

Usage: ``python benchmarks/baseline.py benchmarks/_data/n100000 [--format parquet]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd

#: Albers equal-area for China on the CGCS2000 (GRS80) ellipsoid.
CHINA_ALBERS = "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +ellps=GRS80 +units=m +no_defs"
M2_PER_MU = 10000.0 / 15.0
FIGURES = ["tax_wan(万元)", "revenue_wan(万元)", "output_wan(万元)", "value_added_wan(万元)"]


def run_baseline(data_dir: Path, *, fmt: str = "gpkg", year: int = 2024) -> tuple[pd.DataFrame,
                                                                                    dict[str, float]]:
    """Run the plain script on one synthetic set; return the per-parcel frame and stage seconds."""
    t: dict[str, float] = {}
    s = time.perf_counter()
    if fmt == "parquet":
        parcels = gpd.read_parquet(data_dir / "parcels.parquet")
        buildings = gpd.read_parquet(data_dir / "buildings.parquet")
    else:
        parcels = gpd.read_file(data_dir / "parcels.gpkg")
        buildings = gpd.read_file(data_dir / "buildings.gpkg")
    ent = pd.read_csv(data_dir / "enterprises.csv",
                      dtype={"uscc": str, "parcel_ids": str, "industry_code": str})
    t["read"] = time.perf_counter() - s

    s = time.perf_counter()
    parcels = parcels.to_crs(CHINA_ALBERS)
    buildings = buildings.to_crs(CHINA_ALBERS)
    parcels["area_m2"] = parcels.area
    parcels["area_mu"] = parcels["area_m2"] / M2_PER_MU
    buildings["footprint_m2"] = buildings.area
    buildings["floor_area_m2"] = buildings["footprint_m2"] * buildings["floors"].fillna(1)
    t["project"] = time.perf_counter() - s

    s = time.perf_counter()
    points = buildings.set_geometry(buildings.representative_point())
    joined = gpd.sjoin(points, parcels[["parcel_id", "geometry"]], predicate="within")
    t["join"] = time.perf_counter() - s

    s = time.perf_counter()
    per_parcel = joined.groupby("parcel_id").agg(
        footprint_m2=("footprint_m2", "sum"),
        floor_area_m2=("floor_area_m2", "sum"),
        n_buildings=("building_id", "size"),
    )
    current = ent[ent["year"] == year].copy()
    holder_parcel = parcels.dropna(subset=["holder_uscc"]).set_index("holder_uscc")["parcel_id"]
    current["parcel_id"] = current["parcel_ids"].fillna(current["uscc"].map(holder_parcel))
    money = current.groupby("parcel_id")[FIGURES].sum()
    out = parcels.merge(per_parcel, on="parcel_id", how="left").merge(money, on="parcel_id",
                                                                       how="left")
    out["far"] = out["floor_area_m2"].fillna(0) / out["area_m2"]
    out["building_density"] = out["footprint_m2"].fillna(0) / out["area_m2"]
    for fig in FIGURES:
        out[fig.split("(")[0] + "_per_mu"] = out[fig] / out["area_mu"]
    t["measure"] = time.perf_counter() - s
    return out, t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--format", choices=["gpkg", "parquet"], default="gpkg")
    args = ap.parse_args()
    out, t = run_baseline(args.data_dir, fmt=args.format)
    print(json.dumps({"rows": len(out), "timings": t, "total": sum(t.values())}))


if __name__ == "__main__":
    main()
