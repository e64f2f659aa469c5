"""`make bench`: landeff against the plain geopandas script, per stage, with peak memory.

For each size N (default 1k, 10k, 100k parcels; ``--sizes 10000,1000000`` or ``make bench
SIZES=...``) the synthetic parks of ``generate.py`` are written once to ``benchmarks/_data``. Then,
each in a fresh Python process, the baseline script (``baseline.py``) and ``landeff.evaluate`` run
on the same files; optionally (``--engines ...,dask``) the Dask engine too. Each child reports its
stage seconds and its peak resident memory: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at the end
of the child (the high-water mark of the whole process, imports included); for the Dask engine also
``RUSAGE_CHILDREN`` (the largest worker process, once the LocalCluster has shut down).

Printed: the stage table, and the ratios the issue sets as goals:

* core: landeff (read + project + join + measure) ÷ baseline (the same stages) -- goal ≤ 1.5× at 100k;
* whole: landeff (read ... flag) ÷ baseline total -- goal ≤ 4× at 100k;
* growth from 10k to the largest N against N log N;
* peak memory at 1M -- goal ≤ 16 GiB.

The raw figures go to ``benchmarks/_out/bench-<time>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CORE = ("read", "project", "join", "measure")
STAGES = ("read", "validate", "project", "join", "measure", "flag")
AS_OF = "2025-06-30"
YEAR = 2024
MARK = "BENCH_JSON "


# ---------------------------------------------------------------------------------------------
# children (one measurement per process)


def _peak_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # Linux: KiB


def child(args: argparse.Namespace) -> None:
    data = Path(args.data)
    suffix = "parquet" if args.format == "parquet" else "gpkg"
    out: dict[str, Any] = {}
    if args.child == "baseline":
        from baseline import run_baseline

        start = time.perf_counter()
        _, timings = run_baseline(data, fmt=args.format, year=YEAR)
        out["wall"] = time.perf_counter() - start
        out["timings"] = timings
    else:
        import landeff

        inputs = {
            "parcels": str(data / f"parcels.{suffix}"),
            "buildings": str(data / f"buildings.{suffix}"),
            "enterprises": str(data / "enterprises.csv"),
            "contracts": str(data / "contracts.csv"),
            "as_of": AS_OF,
            "year": YEAR,
            "name": data.name,
        }
        start = time.perf_counter()
        if args.child == "dask":
            from landeff.engine_dask import evaluate_dask

            result = evaluate_dask(**inputs, n_workers=args.workers,
                                   tasks_per_worker=args.tasks_per_worker)
        else:
            result = landeff.evaluate(**inputs)
        out["wall"] = time.perf_counter() - start
        out["timings"] = dict(result.timings)
        out["n_findings"] = len(result.findings)
        out["n_warnings"] = len(result.warnings)
        out["n_rejected"] = len(result.rejected)
        out["n_parcels"] = len(result.parcels)
        if args.write:
            from landeff.io.parquet import write_parquet_outputs

            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                write_parquet_outputs(result, tmp)
                out["write_parquet"] = time.perf_counter() - start
        del result
    out["peak_mib"] = _peak_mib(resource.RUSAGE_SELF)
    out["peak_children_mib"] = _peak_mib(resource.RUSAGE_CHILDREN)
    print(MARK + json.dumps(out), flush=True)


# ---------------------------------------------------------------------------------------------
# parent


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    for mod in ("geopandas", "shapely", "pandas", "pyogrio", "pyarrow", "numpy", "dask",
                "distributed", "dask_geopandas"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": round(mem_gib, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def _limit(gib: float | None) -> Any:
    """Return a preexec function capping the child's address space (a MemoryError, not the OOM
    killer, when a run needs more than ``gib``)."""
    if not gib:
        return None

    def apply() -> None:
        cap = int(gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return apply


def _spawn(kind: str, data: Path, fmt: str, *, workers: int, write: bool, timeout: float,
           memory_gib: float | None = None, tasks_per_worker: int = 4) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--data", str(data),
           "--format", fmt, "--workers", str(workers), "--tasks-per-worker", str(tasks_per_worker)]
    if write:
        cmd.append("--write")
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                          preexec_fn=_limit(memory_gib))
    elapsed = time.perf_counter() - start
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        return {"error": f"{kind} {data.name} {fmt} failed ({proc.returncode}):\n{tail}"}
    out = json.loads(lines[-1][len(MARK):])
    out["process"] = elapsed
    return out


def _core(m: dict[str, Any]) -> float:
    return sum(m["timings"].get(s, 0.0) for s in CORE)


def _whole(m: dict[str, Any]) -> float:
    return sum(m["timings"].get(s, 0.0) for s in STAGES)


def _fmt_n(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else (
        f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n))


def _table(results: list[dict[str, Any]]) -> str:
    head = ("| N | format | run | read | validate | project | join | measure | flag | "
            "core | whole | peak MiB |")
    lines = [head, "|" + "---|" * 12]
    for r in results:
        m = r["m"]
        if "error" in m:
            lines.append(f"| {_fmt_n(r['n'])} | {r['format']} | {r['kind']} | failed |"
                         + " |" * 8)
            continue
        t = m["timings"]
        cells = [f"{t[s]:.2f}" if s in t else "" for s in STAGES]
        peak = m["peak_mib"]
        dask = r["kind"] == "dask"
        peak_txt = f"{peak:.0f} + worker {m['peak_children_mib']:.0f}" if dask else f"{peak:.0f}"
        whole = m["wall"] if dask else _whole(m)  # dask: partition and combine are extra
        lines.append(
            f"| {_fmt_n(r['n'])} | {r['format']} | {r['kind']} | " + " | ".join(cells)
            + f" | {_core(m):.2f} | {whole:.2f} | {peak_txt} |"
        )
    return "\n".join(lines)


def _ratios(results: list[dict[str, Any]], sizes: list[int], formats: list[str]) -> str:
    def get(n: int, fmt: str, kind: str) -> dict[str, Any] | None:
        for r in results:
            if r["n"] == n and r["format"] == fmt and r["kind"] == kind and "error" not in r["m"]:
                return r["m"]
        return None

    lines = ["| N | format | core ÷ baseline (goal ≤ 1.5 at 100k) | whole ÷ baseline "
             "(goal ≤ 4 at 100k) | dask whole ÷ landeff whole |", "|---|---|---|---|---|"]
    for n in sizes:
        for fmt in formats:
            le, bl, dk = get(n, fmt, "landeff"), get(n, fmt, "baseline"), get(n, fmt, "dask")
            if le is None or bl is None:
                continue
            core = _core(le) / _core(bl)
            whole = _whole(le) / sum(bl["timings"].values())
            dask_txt = (f"{(dk['wall']) / le['wall']:.2f}" if dk is not None else "")
            lines.append(f"| {_fmt_n(n)} | {fmt} | {core:.2f} | {whole:.2f} | {dask_txt} |")
    lo = 10_000 if 10_000 in sizes else min(sizes)
    hi = max(sizes)
    if hi > lo:
        nlogn = (hi * math.log(hi)) / (lo * math.log(lo))
        lines += ["", f"Growth {_fmt_n(lo)} → {_fmt_n(hi)} (N log N would be ×{nlogn:.1f}; "
                  f"linear ×{hi / lo:.0f}):", ""]
        for fmt in formats:
            for kind in ("landeff", "baseline", "dask"):
                a, b = get(lo, fmt, kind), get(hi, fmt, kind)
                if a is None or b is None:
                    continue
                ta = _whole(a) if kind != "baseline" else sum(a["timings"].values())
                tb = _whole(b) if kind != "baseline" else sum(b["timings"].values())
                if kind == "dask":
                    ta, tb = a["wall"], b["wall"]
                verdict = "within N log N" if tb / ta <= nlogn else "grows faster than N log N"
                lines.append(f"- {fmt} {kind}: ×{tb / ta:.1f} ({verdict})")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000",
                    help="comma-separated parcel counts (default 1000,10000,100000)")
    ap.add_argument("--formats", default="gpkg,parquet", help="gpkg and/or parquet")
    ap.add_argument("--engines", default="baseline,landeff",
                    help="baseline, landeff and/or dask (default baseline,landeff)")
    ap.add_argument("--repeat", type=int, default=0,
                    help="runs per measurement, best kept (default 3 below 100k, else 1)")
    ap.add_argument("--workers", type=int, default=2, help="Dask LocalCluster workers")
    ap.add_argument("--tasks-per-worker", type=int, default=4, help="Dask tasks per worker")
    ap.add_argument("--write", action="store_true", help="also time write_parquet_outputs")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per child")
    ap.add_argument("--memory-limit-gib", type=float, default=None,
                    help="cap each child's address space (RLIMIT_AS), e.g. 16 for the 1M goal")
    ap.add_argument("--child", choices=["baseline", "landeff", "dask"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--format", default="gpkg", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return

    from generate import write_parks

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    machine = _machine()
    print(f"machine: {machine['cpu']}, {machine['cores']} cores "
          f"({machine['affinity']} usable), {machine['memory_gib']} GiB; Python "
          f"{machine['python']}", flush=True)
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    meta: dict[int, dict[str, Any]] = {}
    for n in sizes:
        t0 = time.perf_counter()
        d = write_parks(n)
        meta[n] = json.loads((d / "meta.json").read_text())
        print(f"\nN={n}: {meta[n]['n_buildings']} buildings, {meta[n]['n_enterprise_rows']} "
              f"enterprise rows, {meta[n]['n_contracts']} contracts, {meta[n]['n_parks']} parks "
              f"(data ready in {time.perf_counter() - t0:.1f} s)", flush=True)
        repeat = args.repeat or (3 if n < 100_000 else 1)
        for fmt in formats:
            for kind in engines:
                best: dict[str, Any] | None = None
                for _ in range(repeat):
                    m = _spawn(kind, d, fmt, workers=args.workers, write=args.write,
                               timeout=args.timeout, memory_gib=args.memory_limit_gib,
                               tasks_per_worker=args.tasks_per_worker)
                    if "error" in m:
                        print(m["error"], flush=True)
                        best = m
                        break
                    if best is None or m["wall"] < best["wall"]:
                        peak = max(m["peak_mib"], best["peak_mib"]) if best else m["peak_mib"]
                        best = m
                        best["peak_mib"] = peak
                assert best is not None
                results.append({"n": n, "format": fmt, "kind": kind, "m": best})
                if "error" not in best:
                    print(f"  {fmt:8s} {kind:8s} wall {best['wall']:7.2f} s  peak "
                          f"{best['peak_mib']:7.0f} MiB", flush=True)
    print("\nStage seconds (best of the repeats; core = read+project+join+measure; whole = "
          "read..flag; baseline has no validate/flag; dask: stages summed over tasks and scaled "
          "to the cluster's wall time, whole = wall time with partitioning and combining; peak "
          "= client + largest worker):\n")
    print(_table(results))
    print("\nRatios:\n")
    print(_ratios(results, sizes, formats))
    total = time.perf_counter() - started
    print(f"\nbenchmark wall time {total:.0f} s")
    out = HERE / "_out"
    out.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out / f"bench-{stamp}.json"
    path.write_text(json.dumps({"machine": machine, "data": meta, "results": results,
                                "seconds": total}, indent=2, ensure_ascii=False))
    print(f"figures written to {path}")


if __name__ == "__main__":
    main()
