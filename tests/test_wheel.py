"""The demo ships inside the wheel: build it, install it in a fresh venv, run `landeff demo`."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_carries_the_demo_and_runs_it(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
        check=True,
    )
    wheel = next(dist.glob("landeff-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for f in (
        "parcels.gpkg",
        "buildings.gpkg",
        "enterprises.csv",
        "contracts.csv",
        "demo.toml",
        "demo-policy.toml",
    ):
        assert f"landeff/demo/{f}" in names
    assert "landeff/data/presets/jiangsu-huaian-2024.toml" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, str(wheel)], check=True)
    work = tmp_path / "work"
    work.mkdir()
    run = subprocess.run(
        [str(venv / "bin" / "landeff"), "demo", "--out", "out", "--map", "demo.html"],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert (work / "demo.html").stat().st_size > 10_000
    for f in ("parcels.gpkg", "enterprises.csv", "rejected.csv", "summary.json"):
        assert (work / "out" / f).exists(), f
    assert "IDLE_NOT_STARTED" in run.stdout
