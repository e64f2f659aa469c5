"""Check that a code change leaves every result of an evaluation as it was.

A performance change must not change a result. Save the results of the code before the change,
then check the code after it against them::

    python benchmarks/same_results.py save  benchmarks/_data/n100000   # before
    python benchmarks/same_results.py check benchmarks/_data/n100000   # after

``save`` writes ``benchmarks/_out/results-<data>.pkl`` (git-ignored). ``check`` evaluates again
and compares every frame of the :class:`landeff.Result` (parcels, buildings, enterprises,
enterprise years, links, findings, remainders, warnings, rejected rows) and the summary: text,
dates and counts exactly, numbers to 1e-9 relative, geometries to 1e-9 of a coordinate. It also
runs on the bundled demo park (``demo`` instead of a folder). Exit status 1 on a difference.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

HERE = Path(__file__).resolve().parent
AS_OF = "2025-06-30"
YEAR = 2024
FRAMES = ("parcels", "buildings", "enterprises", "enterprise_years", "links", "findings",
          "remainders", "warnings", "rejected")


def _evaluate(data: str) -> Any:
    import landeff

    if data == "demo":
        return landeff.evaluate(**landeff.read_demo())
    d = Path(data)
    suffix = "parquet" if (d / "parcels.parquet").exists() else "gpkg"
    return landeff.evaluate(
        parcels=str(d / f"parcels.{suffix}"), buildings=str(d / f"buildings.{suffix}"),
        enterprises=str(d / "enterprises.csv"), contracts=str(d / "contracts.csv"),
        as_of=AS_OF, year=YEAR, name=d.name,
    )


def _snapshot(result: Any) -> dict[str, Any]:
    out: dict[str, Any] = {name: pd.DataFrame(getattr(result, name)) for name in FRAMES}
    out["summary"] = result.summary
    return out


def _differences(name: str, old: pd.DataFrame, new: pd.DataFrame) -> list[str]:
    if list(old.columns) != list(new.columns):
        gone = [c for c in old.columns if c not in new.columns]
        added = [c for c in new.columns if c not in old.columns]
        return [f"{name}: columns differ (gone {gone}, new {added}, or another order)"]
    if len(old) != len(new):
        return [f"{name}: {len(old)} rows before, {len(new)} now"]
    if not old.index.equals(new.index):
        return [f"{name}: the index differs"]
    out = []
    for column in old.columns:
        a, b = old[column], new[column]
        if isinstance(a.dtype, pd.api.types.CategoricalDtype) or a.dtype == object or (
            pd.api.types.is_string_dtype(a.dtype)
        ):
            av, bv = a.to_numpy(dtype=object), b.to_numpy(dtype=object)
            geoms = np.array([isinstance(v, shapely.Geometry) for v in av], dtype=bool)
            if geoms.any():
                bad = ~shapely.equals_exact(av[geoms].astype(object), bv[geoms].astype(object),
                                            tolerance=1e-9)
                if bad.any():
                    out.append(f"{name}.{column}: {int(bad.sum())} geometries differ")
                av, bv = av[~geoms], bv[~geoms]
            missing = "\0missing"
            av = np.where(pd.isna(av), missing, av).astype(object)
            bv = np.where(pd.isna(bv), missing, bv).astype(object)
            same = np.array([x == y for x, y in zip(av, bv, strict=True)], dtype=bool)
            if not np.all(same):
                at = int(np.flatnonzero(~np.asarray(same, dtype=bool))[0])
                out.append(f"{name}.{column}: {int((~same).sum())} values differ "
                           f"(first: {av[at]!r} -> {bv[at]!r})")
        elif hasattr(a, "geom_type"):
            bad = ~shapely.equals_exact(np.asarray(a.values, dtype=object),
                                        np.asarray(b.values, dtype=object), tolerance=1e-9)
            bad &= ~(a.isna().to_numpy() & b.isna().to_numpy())
            if bad.any():
                out.append(f"{name}.{column}: {int(bad.sum())} geometries differ")
        else:
            try:
                av = a.to_numpy(dtype=float, na_value=np.nan)
                bv = b.to_numpy(dtype=float, na_value=np.nan)
            except (TypeError, ValueError):
                av, bv = a.astype(str).to_numpy(), b.astype(str).to_numpy()
                if not np.array_equal(av, bv):
                    out.append(f"{name}.{column}: values differ")
                continue
            close = np.isclose(av, bv, rtol=1e-9, atol=0.0, equal_nan=True)
            if not close.all():
                at = int(np.flatnonzero(~close)[0])
                out.append(f"{name}.{column}: {int((~close).sum())} numbers differ "
                           f"(first: {av[at]!r} -> {bv[at]!r})")
        if str(a.dtype) != str(b.dtype):
            out.append(f"{name}.{column}: dtype {a.dtype} -> {b.dtype}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["save", "check"])
    ap.add_argument("data", help="a benchmark data folder (benchmarks/_data/n100000) or 'demo'")
    args = ap.parse_args()
    name = "demo" if args.data == "demo" else Path(args.data).name
    path = HERE / "_out" / f"results-{name}.pkl"
    snap = _snapshot(_evaluate(args.data))
    if args.action == "save":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(pickle.dumps(snap))
        print(f"saved {path}")
        return 0
    old = pickle.loads(path.read_bytes())
    problems = []
    for frame in FRAMES:
        problems += _differences(frame, old[frame], snap[frame])
    if old["summary"] != snap["summary"]:
        keys = sorted(k for k in set(old["summary"]) | set(snap["summary"])
                      if old["summary"].get(k) != snap["summary"].get(k))
        problems.append(f"summary differs at {keys}")
    for line in problems:
        print(line)
    print("same results" if not problems else f"{len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
