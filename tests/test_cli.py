import json

import pandas as pd
import pytest
from click.testing import CliRunner

import landeff
from landeff.cli import main


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    run = CliRunner().invoke(
        main, ["demo", "--out", str(out / "o"), "--map", str(out / "demo.html")]
    )
    assert run.exit_code == 0, run.output
    return out, run.output


def test_help_explains_every_option():
    runner = CliRunner()
    top = runner.invoke(main, ["--help"])
    assert top.exit_code == 0
    for cmd in ("evaluate", "demo", "map", "scenario", "policies"):
        assert cmd in top.output
    ev = runner.invoke(main, ["evaluate", "--help"]).output
    for opt in (
        "--parcels",
        "--buildings",
        "--enterprises",
        "--contracts",
        "--year",
        "--as-of",
        "--policy",
        "--crs",
        "--area-crs",
        "--out",
        "--strict",
        "--public",
    ):
        assert opt in ev


def test_demo_prints_counts_per_code_and_grade(demo_out):
    out, text = demo_out
    r = landeff.evaluate(**landeff.read_demo())
    for code, n in r.summary["findings"].items():
        assert f"{code}" in text and str(n) in text
    assert "评价等级" in text and "A " in text
    assert (out / "demo.html").exists()
    summary = json.loads((out / "o" / "summary.json").read_text(encoding="utf-8"))
    assert summary["as_of"] == "2025-06-30" and summary["year"] == 2024
    for f in (
        "parcels.gpkg",
        "enterprises.csv",
        "rejected.csv",
        "findings.csv",
        "idle_land.xlsx",
        "report.html",
        "map.html",
    ):
        assert (out / "o" / f).exists(), f


def test_evaluate_writes_outputs_and_csv_has_bom(tmp_path):
    d = landeff.read_demo()
    args = [
        "evaluate",
        "--parcels",
        d["parcels"],
        "--buildings",
        d["buildings"],
        "--enterprises",
        d["enterprises"],
        "--contracts",
        d["contracts"],
        "--as-of",
        "2025-06-30",
        "--out",
        str(tmp_path / "o"),
        "--no-map",
        "--lang",
        "en",
    ]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    assert "tax per mu" in run.output
    raw = (tmp_path / "o" / "enterprises.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    e = pd.read_csv(tmp_path / "o" / "enterprises.csv", encoding="utf-8-sig")
    assert {"uscc", "name", "land_mu", "tax_wan", "tax_wan_per_mu", "revenue_wan_per_mu"} <= set(e)
    assert not (tmp_path / "o" / "map.html").exists()


def test_strict_turns_warnings_into_a_failing_exit(tmp_path):
    d = landeff.read_demo()
    run = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--parcels",
            d["parcels"],
            "--enterprises",
            d["enterprises"],
            "--as-of",
            "2025-06-30",
            "--strict",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert run.exit_code != 0
    assert "strict mode" in run.output
    assert not (tmp_path / "o").exists()


def test_missing_file_error_is_plain(tmp_path):
    run = CliRunner().invoke(
        main, ["evaluate", "--parcels", str(tmp_path / "nope.gpkg"), "--out", str(tmp_path / "o")]
    )
    assert run.exit_code == 2
    assert "does not exist" in run.output


def test_policies_lists_presets():
    run = CliRunner().invoke(main, ["policies"])
    assert "jiangsu-huaian-2024" in run.output and "zhejiang-huangyan-2022" in run.output


def test_scenario_command(tmp_path):
    d = landeff.read_demo()
    run = CliRunner().invoke(
        main,
        [
            "scenario",
            "--parcels",
            d["parcels"],
            "--buildings",
            d["buildings"],
            "--as-of",
            "2025-06-30",
            "--target-far",
            "1.37",
            "--out",
            str(tmp_path / "s.csv"),
        ],
    )
    assert run.exit_code == 0, run.output
    per = pd.read_csv(tmp_path / "s.csv", encoding="utf-8-sig")
    assert (per["land_freed_mu"] >= 0).all()
    assert "land_freed_mu" in run.output
