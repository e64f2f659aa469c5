"""Synthetic parks for the benchmarks: N parcels, 0-3 buildings each, enterprise and contract rows.

Parks of about ``parcels_per_park`` parcels sit on a grid between 112-121E and 27-31N (four CGCS2000
3-degree Gauss-Krüger zones). Every park has a ``park_id`` and a ``county_code``; each parcel is a
jittered quadrilateral of about 100 m x 85 m (13 亩) on a 130 m x 110 m street grid. Buildings are
boxes inside their parcel; about 3 % reach over the parcel edge into the street (clipped by landeff).
Enterprise rows: one holder per built parcel and some tenants, for two years (2023 and 2024), with
canonical column names (units in brackets). Contracts for 40 % of parcels.

Everything is drawn from one seeded ``numpy.random.Generator``: the same N and seed give the same
files. Layers are in CGCS2000 geographic (EPSG:4490) and written as GeoPackage and GeoParquet.

Usage: ``python benchmarks/generate.py 100000 [--out benchmarks/_data]``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

VERSION = 3
SEED = 20240601
DATA_DIR = Path(__file__).resolve().parent / "_data"
CRS = 4490
LON_RANGE = (112.0, 121.0)
LAT_RANGE = (27.0, 31.0)
M_PER_DEG_LAT = 111_320.0
#: Street grid pitch (m) and parcel size ranges (m).
PITCH_X_M, PITCH_Y_M = 130.0, 110.0
USCC_ALPHABET = np.array(list("0123456789ABCDEFGHJKLMNPQRTUWXY"))
USCC_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)])
YEARS = (2023, 2024)


def _uscc(rng: np.random.Generator, n: int, *, offset: int = 0) -> np.ndarray:
    """Return n unified social credit codes with a valid check character, unique per row + offset."""
    body = np.empty((n, 17), dtype=np.int64)
    body[:, 0] = 9  # 9 = 工商
    body[:, 1] = 1  # 1 = 企业
    body[:, 2:8] = rng.integers(0, 10, size=(n, 6))  # 行政区划码 (digits)
    body[:, 8:17] = rng.integers(0, 31, size=(n, 9))  # 主体标识码
    # make every code unique: encode the row number into positions 8..13 (base 31)
    k = np.arange(n) + offset
    for pos in range(13, 7, -1):
        body[:, pos] = k % 31
        k = k // 31
    total = (body * USCC_WEIGHTS).sum(axis=1)
    check = (31 - total % 31) % 31
    chars = USCC_ALPHABET[np.concatenate([body, check[:, None]], axis=1)]
    return np.array(["".join(row) for row in chars], dtype=object)


def _park_centres(n_parks: int) -> tuple[np.ndarray, np.ndarray]:
    """Return park centre longitudes and latitudes on a grid spanning the region."""
    span_x = LON_RANGE[1] - LON_RANGE[0]
    span_y = LAT_RANGE[1] - LAT_RANGE[0]
    cols = max(1, math.ceil(math.sqrt(n_parks * span_x / span_y)))
    rows = max(1, math.ceil(n_parks / cols))
    i = np.arange(n_parks)
    lon = LON_RANGE[0] + span_x * ((i % cols) + 0.5) / cols
    lat = LAT_RANGE[0] + span_y * ((i // cols) + 0.5) / rows
    return lon, lat


def make_parks(
    n_parcels: int, *, seed: int = SEED, parcels_per_park: int = 1000
) -> dict[str, pd.DataFrame]:
    """Return the synthetic layers and tables (parcels, buildings, enterprises, contracts).

    Parameters
    ----------
    n_parcels : int
        Number of parcels in all.
    seed : int
        Seed of the random generator.
    parcels_per_park : int
        Parcels per park (the last park takes the remainder).

    Returns
    -------
    dict
        ``parcels`` and ``buildings`` (GeoDataFrames, EPSG:4490), ``enterprises`` and
        ``contracts`` (DataFrames with canonical column names).
    """
    rng = np.random.default_rng(seed)
    n_parks = max(1, math.ceil(n_parcels / parcels_per_park))
    park_of = np.arange(n_parcels) // parcels_per_park
    local = np.arange(n_parcels) - park_of * parcels_per_park
    side = math.ceil(math.sqrt(parcels_per_park))
    clon, clat = _park_centres(n_parks)
    lat0 = clat[park_of]
    m_per_deg_lon = M_PER_DEG_LAT * np.cos(np.radians(lat0))
    # parcel lower-left corner (m from the park centre), then size and corner jitter
    gx = (local % side - side / 2) * PITCH_X_M
    gy = (local // side - side / 2) * PITCH_Y_M
    w = rng.uniform(90.0, 120.0, n_parcels)
    h = rng.uniform(70.0, 100.0, n_parcels)
    jit = rng.uniform(-3.0, 3.0, size=(n_parcels, 4, 2))
    corners_m = np.stack(
        [
            np.stack([gx, gy], axis=1),
            np.stack([gx + w, gy], axis=1),
            np.stack([gx + w, gy + h], axis=1),
            np.stack([gx, gy + h], axis=1),
        ],
        axis=1,
    ) + jit
    lon = clon[park_of][:, None] + corners_m[:, :, 0] / m_per_deg_lon[:, None]
    lat = lat0[:, None] + corners_m[:, :, 1] / M_PER_DEG_LAT
    ring = np.stack([lon, lat], axis=2)
    ring = np.concatenate([ring, ring[:, :1, :]], axis=1)
    parcel_geom = shapely.polygons(ring)

    parcel_id = np.array([f"P{i:07d}" for i in range(n_parcels)], dtype=object)
    park_id = np.array([f"YQ{p:04d}" for p in park_of], dtype=object)
    county_code = np.array([f"{330100 + (p // 3) * 2:06d}" for p in park_of], dtype=object)
    industry = rng.choice(np.array(["13", "17", "26", "30", "34", "35", "39", "40"]), n_parcels)
    held = rng.random(n_parcels) < 0.9
    holder_uscc = _uscc(rng, n_parcels)
    holder_name = np.array([f"合成企业{i:07d}有限公司" for i in range(n_parcels)], dtype=object)
    supervision = np.array([f"3301{2010 + i % 14}B{i:08d}" for i in range(n_parcels)], dtype=object)
    parcels = gpd.GeoDataFrame(
        {
            "parcel_id": parcel_id,
            "park_id": park_id,
            "county_code": county_code,
            "supervision_no": supervision,
            "holder_uscc": np.where(held, holder_uscc, None),
            "holder_name": np.where(held, holder_name, None),
            "land_use": "工业用地",
            "industry_code": industry,
        },
        geometry=parcel_geom,
        crs=CRS,
    )

    # buildings: 0-3 per parcel (mean 1.5), stacked in strips inside the parcel
    k = rng.choice(4, size=n_parcels, p=[0.2, 0.3, 0.3, 0.2])
    owner = np.repeat(np.arange(n_parcels), k)
    slot = np.arange(len(owner)) - np.repeat(np.cumsum(k) - k, k)
    nb = len(owner)
    strip_h = (h[owner] - 10.0) / k[owner]
    bx0 = gx[owner] + 5.0 + rng.uniform(0.0, 10.0, nb)
    bw = (w[owner] - 20.0) * rng.uniform(0.5, 0.9, nb)
    by0 = gy[owner] + 5.0 + slot * strip_h + 2.0
    bh = (strip_h - 4.0) * rng.uniform(0.6, 1.0, nb)
    over = rng.random(nb) < 0.03  # reach 5-15 m over the right-hand edge into the street
    bx0 = np.where(over, gx[owner] + w[owner] - bw + rng.uniform(5.0, 15.0, nb), bx0)
    mlon = m_per_deg_lon[owner]
    blon0 = clon[park_of[owner]] + bx0 / mlon
    blon1 = clon[park_of[owner]] + (bx0 + bw) / mlon
    blat0 = lat0[owner] + by0 / M_PER_DEG_LAT
    blat1 = lat0[owner] + (by0 + bh) / M_PER_DEG_LAT
    building_geom = shapely.box(blon0, blat0, blon1, blat1)
    floors = rng.integers(1, 9, nb).astype(float)
    floors[rng.random(nb) < 0.01] = np.nan
    storey = np.where(rng.random(nb) < 0.1, 9.0, 4.5)
    buildings = gpd.GeoDataFrame(
        {
            "building_id": np.array([f"B{i:08d}" for i in range(nb)], dtype=object),
            "floors": floors,
            "storey_height_m": storey,
        },
        geometry=building_geom,
        crs=CRS,
    )

    # enterprises: the holder of each held parcel, plus tenants on 15 % of built parcels
    hold_idx = np.flatnonzero(held)
    ten_parcel = np.flatnonzero((k > 0) & (rng.random(n_parcels) < 0.15))
    n_ten = rng.integers(1, 3, len(ten_parcel))
    ten_idx = np.repeat(ten_parcel, n_ten)
    n_hold, n_t = len(hold_idx), len(ten_idx)
    ent_parcel = np.concatenate([hold_idx, ten_idx])
    ent_uscc = np.concatenate([holder_uscc[hold_idx], _uscc(rng, n_t, offset=n_parcels)])
    ent_name = np.concatenate(
        [holder_name[hold_idx], np.array([f"合成租户{i:07d}有限公司" for i in range(n_t)], dtype=object)]
    )
    n_ent = n_hold + n_t
    explicit = rng.random(n_ent) < 0.7
    explicit[n_hold:] = True  # a tenant is found only by its parcel id
    parcel_ids = np.where(explicit, parcel_id[ent_parcel], "")
    area_m2 = w[ent_parcel] * h[ent_parcel]
    rented = np.where(np.arange(n_ent) >= n_hold, rng.uniform(300.0, 2000.0, n_ent), np.nan)
    above = rng.random(n_ent) < 0.55
    start = pd.to_datetime("2008-01-01") + pd.to_timedelta(rng.integers(0, 5800, n_ent), unit="D")
    tables = []
    base_tax = rng.lognormal(np.log(12.0), 0.9, n_ent) * area_m2 / 666.67
    stopped = rng.random(n_ent) < 0.03
    for yi, year in enumerate(YEARS):
        growth = 1.0 + 0.05 * yi + rng.normal(0.0, 0.08, n_ent)
        tax = np.where(stopped & (yi == len(YEARS) - 1), 0.0, base_tax * growth)
        revenue = tax * rng.uniform(15.0, 30.0, n_ent)
        tables.append(
            pd.DataFrame(
                {
                    "uscc": ent_uscc,
                    "name": ent_name,
                    "year": year,
                    "park_id": park_id[ent_parcel],
                    "parcel_ids": parcel_ids,
                    "rented_floor_area_m2(平方米)": np.round(rented, 1),
                    "tax_wan(万元)": np.round(tax, 2),
                    "revenue_wan(万元)": np.round(revenue, 2),
                    "output_wan(万元)": np.round(revenue * rng.uniform(0.9, 1.1, n_ent), 2),
                    "value_added_wan(万元)": np.round(revenue * rng.uniform(0.2, 0.35, n_ent), 2),
                    "energy_tce(吨标准煤)": np.round(revenue * rng.uniform(0.05, 0.2, n_ent), 1),
                    "electricity_kwh(千瓦时)": np.round(
                        np.where(stopped & (yi == len(YEARS) - 1), 500.0,
                                 revenue * rng.uniform(200.0, 900.0, n_ent)), 0),
                    "emissions_t(吨)": np.round(revenue * rng.uniform(0.0005, 0.003, n_ent), 3),
                    "rd_wan(万元)": np.round(revenue * rng.uniform(0.0, 0.05, n_ent), 2),
                    "employees(人)": np.round(revenue / rng.uniform(80.0, 200.0, n_ent) + 3),
                    "above_scale": np.where(above, "是", "否"),
                    "production_start": start.strftime("%Y-%m-%d"),
                    "industry_code": industry[ent_parcel],
                }
            )
        )
    enterprises = pd.concat(tables, ignore_index=True)

    # contracts for 40 % of parcels
    ci = np.flatnonzero(rng.random(n_parcels) < 0.4)
    nc = len(ci)
    signed = pd.to_datetime("2015-01-01") + pd.to_timedelta(rng.integers(0, 3300, nc), unit="D")
    agreed_start = signed + pd.to_timedelta(180, unit="D")
    agreed_done = agreed_start + pd.to_timedelta(730, unit="D")
    built = k[ci] > 0
    actual_start = agreed_start + pd.to_timedelta(rng.integers(-60, 200, nc), unit="D")
    actual_done = actual_start + pd.to_timedelta(rng.integers(500, 1000, nc), unit="D")
    total = np.round(area_m2_of(w[ci], h[ci]) / 666.67 * rng.uniform(200.0, 400.0, nc), 1)
    contracts = pd.DataFrame(
        {
            "parcel_id": parcel_id[ci],
            "supervision_no": supervision[ci],
            "contract_date": signed.strftime("%Y-%m-%d"),
            "agreed_start": agreed_start.strftime("%Y-%m-%d"),
            "agreed_completion": agreed_done.strftime("%Y-%m-%d"),
            "actual_start": np.where(built, actual_start.strftime("%Y-%m-%d"), ""),
            "actual_completion": np.where(
                built & (actual_done < pd.Timestamp("2025-06-30")),
                actual_done.strftime("%Y-%m-%d"), ""),
            "far_min": rng.choice(np.array([0.7, 0.8, 1.0, 1.2]), nc),
            "investment_total_wan(万元)": total,
            "investment_done_wan(万元)": np.round(
                total * np.where(built, rng.uniform(0.3, 1.1, nc), rng.uniform(0.0, 0.2, nc)), 1),
            "land_price_wan(万元)": np.round(total * rng.uniform(0.1, 0.2, nc), 1),
        }
    )
    return {
        "parcels": parcels,
        "buildings": buildings,
        "enterprises": enterprises,
        "contracts": contracts,
    }


def area_m2_of(w: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Return the nominal (unjittered) parcel area in m²."""
    return w * h


def write_parks(n_parcels: int, *, out: Path = DATA_DIR, seed: int = SEED,
                parcels_per_park: int = 1000, force: bool = False) -> Path:
    """Write the synthetic set for ``n_parcels`` under ``out/n{N}`` (skipped when already there).

    Files: ``parcels.gpkg``, ``buildings.gpkg``, ``parcels.parquet``, ``buildings.parquet``
    (GeoParquet), ``enterprises.csv``, ``contracts.csv`` and ``meta.json``.
    """
    d = out / f"n{n_parcels}"
    meta = {"version": VERSION, "n_parcels": n_parcels, "seed": seed,
            "parcels_per_park": parcels_per_park}
    meta_path = d / "meta.json"
    if not force and meta_path.exists():
        old = json.loads(meta_path.read_text())
        if {k: old.get(k) for k in meta} == meta:
            return d
    d.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = make_parks(n_parcels, seed=seed, parcels_per_park=parcels_per_park)
    for name in ("parcels", "buildings"):
        gdf = data[name]
        gpkg = d / f"{name}.gpkg"
        gpkg.unlink(missing_ok=True)
        gdf.to_file(gpkg, layer=name, driver="GPKG", engine="pyogrio", use_arrow=True)
        gdf.to_parquet(d / f"{name}.parquet", write_covering_bbox=True, row_group_size=100_000)
    data["enterprises"].to_csv(d / "enterprises.csv", index=False, encoding="utf-8")
    data["contracts"].to_csv(d / "contracts.csv", index=False, encoding="utf-8")
    meta.update(
        n_buildings=len(data["buildings"]),
        n_enterprise_rows=len(data["enterprises"]),
        n_contracts=len(data["contracts"]),
        n_parks=int(data["parcels"]["park_id"].nunique()),
        seconds=round(time.perf_counter() - t0, 1),
    )
    meta_path.write_text(json.dumps(meta, indent=2))
    return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sizes", help="comma-separated parcel counts, e.g. 1000,10000")
    ap.add_argument("--out", type=Path, default=DATA_DIR)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    for n in (int(s) for s in args.sizes.split(",")):
        d = write_parks(n, out=args.out, seed=args.seed, force=args.force)
        print(d, json.loads((d / "meta.json").read_text()))


if __name__ == "__main__":
    main()
