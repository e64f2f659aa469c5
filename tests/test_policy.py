"""Policies: presets, extends/override, errors, FAR minimums through the crosswalk."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd
import pytest

from landeff.errors import PolicyError
from landeff.policy import Policy, Threshold, list_presets, load_policy

REQUIRED = {
    "stopped_kwh": (10000.0, "kWh/年"),
    "low_tax_wan_per_mu": (None, "万元/亩"),
    "coverage_min": (0.30, ""),
    "density_min": (0.30, ""),
    "remainder_margin_m": (10.0, "m"),
    "remainder_min_mu": (5.0, "亩"),
    "remainder_inward_buffer_m": (15.0, "m"),
    "late_years": (2.0, "年"),
    "shortfall_ratio": (0.5, ""),
    "below_scale_min_mu": (3.0, "亩"),
    "exempt_production_years": (2.0, "年"),
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_threshold_fields_are_kept() -> None:
    assert [f.name for f in dataclasses.fields(Threshold)] == ["value", "unit", "source"]


def test_list_presets() -> None:
    names = [n for n, _ in list_presets()]
    assert names == ["jiangsu-huaian-2024", "zhejiang-huangyan-2022"]
    assert all(title for _, title in list_presets())


@pytest.mark.parametrize("name", ["jiangsu-huaian-2024", "zhejiang-huangyan-2022"])
def test_presets_carry_every_threshold_with_unit_and_source(name: str) -> None:
    p = load_policy(name)
    for key, (value, unit) in REQUIRED.items():
        t = p.thresholds[key]
        assert (t.value, t.unit) == (value, unit), key
        assert t.source, key
    assert p.tenant_attribution == "floor_share"
    assert p.area_source == "measured"
    assert p.industry_code_edition == 2017
    assert p.investment_includes_land_price is False
    assert p.t_divisions == ("44", "45", "46")
    assert p.source and p.title and p.shares_source


def test_default_is_jiangsu() -> None:
    p = load_policy()
    assert p.name == "jiangsu-huaian-2024"
    assert p.extends is None
    assert p.benchmark == "park_previous_year"
    assert p.benchmark_factor == 2.0
    assert dict(p.shares) == {"A": 20.0, "B": 40.0, "C": 35.0, "D": 5.0}
    for label in ("规上", "规下"):
        weights = {i.name: i.weight for i in p.groups[label].indicators}
        assert weights == {"tax_wan_per_mu": 45, "revenue_wan_per_mu": 35, "tax_yuan_per_kwh": 20}
        assert all(i.benchmark is None for i in p.groups[label].indicators)


def test_zhejiang_weights_and_benchmarks() -> None:
    p = load_policy("zhejiang-huangyan-2022")
    above = {i.name: (i.weight, i.benchmark.value, i.missing) for i in p.groups["规上"].indicators}
    assert above == {
        "tax_wan_per_mu": (30, 24.097, "zero"),
        "value_added_wan_per_mu": (20, 136.16, "zero"),
        "value_added_wan_per_tce": (20, 2.694, "zero"),
        "value_added_wan_per_t": (10, 4929.81, "group_mean"),
        "value_added_wan_per_employee": (10, 18.14, "zero"),
        "rd_ratio": (10, 0.0302, "zero"),
    }
    below = {i.name: (i.weight, i.benchmark.value) for i in p.groups["规下"].indicators}
    assert below == {"tax_wan_per_mu": (50, 11.5932), "tax_yuan_per_kwh": (50, 0.2352)}
    units = {i.name: i.benchmark.unit for i in p.groups["规下"].indicators}
    assert units == {"tax_wan_per_mu": "万元/亩", "tax_yuan_per_kwh": "元/kWh"}
    assert dict(p.shares) == {"A": 20.0, "B": 45.0, "C": 30.0, "D": 5.0}
    assert "park setting" in p.shares_source


def test_policy_is_frozen_and_passes_through() -> None:
    p = load_policy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        p.thresholds["stopped_kwh"] = Threshold(1, "kWh", "x")  # type: ignore[index]
    assert load_policy(p) is p
    assert isinstance(hash(p), int)


def test_extends_and_override(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "my-park.toml",
        """
extends = "jiangsu-huaian-2024"
tenant_attribution = "separate"

[thresholds]
below_scale_min_mu = 5
low_tax_wan_per_mu = { value = 8, source = "园区管委会 2024 会议纪要" }
new_rule_m = { value = 3, unit = "m" }

[evaluation.shares]
A = 25
B = 45
C = 25

[groups.above]
tax_wan_per_mu = { weight = 50 }
revenue_wan_per_mu = { benchmark = 300 }
""",
    )
    p = load_policy(path)
    assert p.name == "my-park"
    assert p.extends == "jiangsu-huaian-2024"
    assert p.tenant_attribution == "separate"
    t = p.thresholds["below_scale_min_mu"]
    assert (t.value, t.unit, t.source) == (5.0, "亩", "park setting (my-park.toml)")
    assert p.thresholds["low_tax_wan_per_mu"] == Threshold(
        8.0, "万元/亩", "园区管委会 2024 会议纪要"
    )
    assert p.thresholds["new_rule_m"] == Threshold(3.0, "m", "park setting (my-park.toml)")
    # untouched thresholds keep the preset's values and sources
    assert p.thresholds["stopped_kwh"] == load_policy().thresholds["stopped_kwh"]
    # D = 5 comes from the preset (deep merge)
    assert dict(p.shares) == {"A": 25.0, "B": 45.0, "C": 25.0, "D": 5.0}
    assert p.shares_source == "park setting (my-park.toml)"
    above = {i.name: i for i in p.groups["规上"].indicators}
    assert above["tax_wan_per_mu"].weight == 50
    assert above["revenue_wan_per_mu"].weight == 35
    assert above["revenue_wan_per_mu"].benchmark == Threshold(
        300.0, "万元/亩", "park setting (my-park.toml)"
    )
    # the 规下 group is untouched
    below = {i.name: i.weight for i in p.groups["规下"].indicators}
    assert below == {"tax_wan_per_mu": 45, "revenue_wan_per_mu": 35, "tax_yuan_per_kwh": 20}
    # the preset itself is not changed by loading a file that extends it
    assert load_policy().thresholds["below_scale_min_mu"].value == 3.0


def test_threshold_off(tmp_path: Path) -> None:
    p = load_policy(
        write(
            tmp_path,
            "off.toml",
            "extends = 'jiangsu-huaian-2024'\n[thresholds]\nbelow_scale_min_mu = 'off'\n",
        )
    )
    assert p.thresholds["below_scale_min_mu"] == Threshold(None, "亩", "park setting (off.toml)")
    # the stopped rule cannot be switched off: flags always read it
    bad = write(
        tmp_path, "bad.toml", "extends = 'jiangsu-huaian-2024'\n[thresholds]\nstopped_kwh = 'off'\n"
    )
    with pytest.raises(PolicyError, match=r"'thresholds\.stopped_kwh\.value' has value 'off'"):
        load_policy(bad)
    whole = write(
        tmp_path,
        "half.toml",
        "extends = 'jiangsu-huaian-2024'\n[thresholds]\nexempt_production_years = 1.5\n",
    )
    with pytest.raises(PolicyError, match="a whole number of years"):
        load_policy(whole)


def test_extends_a_file_next_to_it_and_weight_zero_drops(tmp_path: Path) -> None:
    write(
        tmp_path,
        "county.toml",
        'extends = "zhejiang-huangyan-2022"\n[groups.below.tax_yuan_per_kwh]\nweight = 0\n',
    )
    p = load_policy(write(tmp_path, "park.toml", 'extends = "county.toml"\nname = "园区A"\n'))
    assert p.name == "园区A"
    assert p.extends == "county"
    assert [i.name for i in p.groups["规下"].indicators] == ["tax_wan_per_mu"]


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("extends = 'jiangsu-huaian-2024'\n[thresholds\n", r"bad\.toml: not valid TOML"),
        ("extends = 'jiangsu-huaian-2024'\ncolour = 'red'\n", r"bad\.toml: unknown key 'colour'"),
        (
            "extends = 'jiangsu-huaian-2024'\ntenant_attribution = 'share'\n",
            r"bad\.toml: key 'tenant_attribution' has value 'share'; expected one of "
            r"'floor_share', 'merge_holder', 'separate'",
        ),
        (
            "extends = 'jiangsu-huaian-2024'\n[evaluation.shares]\nA = 30\n",
            r"bad\.toml: key 'evaluation\.shares' .*summing to 100 \(they sum to 110\)",
        ),
        (
            "extends = 'jiangsu-huaian-2024'\n[thresholds.stopped_kwh]\nvalue = 5\nunit = 'MWh'\n",
            r"bad\.toml: key 'thresholds\.stopped_kwh\.unit' has value 'MWh'.*'kWh/年'",
        ),
        (
            "extends = 'jiangsu-huaian-2024'\n[thresholds]\ncoverage_min = 'thirty'\n",
            r"bad\.toml: key 'thresholds\.coverage_min' has value 'thirty'; expected a table",
        ),
        (
            "extends = 'jiangsu-huaian-2024'\n[groups.above.tax_wan_per_mu]\nweight = -1\n",
            r"bad\.toml: key 'groups\.above\.tax_wan_per_mu\.weight' has value -1; expected a "
            r"number ≥ 0",
        ),
        (
            "extends = 'jiangsu-huaian-2024'\n[groups.above.jobs_per_mu]\nweight = 1\n",
            r"bad\.toml: unknown key 'groups\.above\.jobs_per_mu'",
        ),
        (
            "extends = 'jiangsu-huaian-2024'\n[evaluation]\nbenchmark = 'fixed'\n",
            r"bad\.toml: key 'groups\.above\.tax_wan_per_mu\.benchmark' has value None; "
            r"expected a benchmark \(in 万元/亩\)",
        ),
        ("extends = 'shandong-2019'\n", r"neither a preset .* nor an existing TOML file"),
        (
            "extends = 'jiangsu-huaian-2024'\nindustry_code_edition = 2011\n",
            r"key 'industry_code_edition' has value 2011; expected 2017 or 2002",
        ),
    ],
)
def test_bad_policy_files(tmp_path: Path, text: str, pattern: str) -> None:
    path = write(tmp_path, "bad.toml", text)
    with pytest.raises(PolicyError, match=pattern):
        load_policy(path)


def test_extends_loop_and_missing_file(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(PolicyError, match="loops back"):
        load_policy(tmp_path / "a.toml")
    with pytest.raises(PolicyError, match="neither a preset"):
        load_policy(tmp_path / "nothing.toml")
    with pytest.raises(PolicyError, match="jiangsu-huaian-2024, zhejiang-huangyan-2022"):
        load_policy("hunan-2025")


def test_far_minimum_crosswalk() -> None:
    p = load_policy()
    codes = pd.Series(
        [
            "29",
            "2913",
            "C2922",
            "3911",
            "38",
            "3441",
            "3471",
            "1952",
            "195",
            "1910",
            "43",
            "4411",
            None,
            "abc",
        ],
        index=list("abcdefghijklmn"),
    )
    out = p.far_minimum(codes)
    assert list(out.index) == list("abcdefghijklmn")
    # by hand from DOMAIN.md's 2008 table:
    expected = [
        0.8,  # 2017 29 rubber+plastics → 2002 29 (0.8) and 30 (1.0): the lower applies
        0.8,  # 2017 291 rubber → 2002 29
        1.0,  # 2017 292 plastics → 2002 30
        1.0,  # 2017 39 electronics → 2002 40
        0.7,  # 2017 38 electrical machinery → 2002 39
        0.7,  # 2017 34 general equipment → 2002 35 (0.7) and 41 (1.0): lower
        1.0,  # 2017 347 office machinery → 2002 41
        1.0,  # 2017 1952 leather shoes → 2002 19
        0.8,  # 2017 195 footwear → 2002 18/19/30 (1.0) and 29 rubber shoes (0.8): lower
        1.0,  # 2017 191 leather tanning → 2002 19
        math.nan,  # 2017 43 repair: no 2002 manufacturing row
        math.nan,  # utilities
        math.nan,
        math.nan,
    ]
    pd.testing.assert_series_equal(
        out["far_min_industry"], pd.Series(expected, index=codes.index, name="far_min_industry")
    )
    assert "the lower applies" in out.loc["a", "far_min_source"]
    assert "国土资发〔2008〕24号" in out.loc["a", "far_min_source"]
    assert "no 2002 manufacturing" in out.loc["k", "far_min_source"]
    assert out["far_min_source"].iloc[-3:].isna().all()


def test_far_minimum_2002_edition(tmp_path: Path) -> None:
    p = load_policy(
        write(
            tmp_path, "old.toml", "extends = 'jiangsu-huaian-2024'\nindustry_code_edition = 2002\n"
        )
    )
    out = p.far_minimum(pd.Series(["39", "3911", "40", "29", "30", "25", "38"]))
    # 2002 codes straight into the 2008 table (38 does not exist in 2002)
    assert out["far_min_industry"].tolist()[:6] == [0.7, 0.7, 1.0, 0.8, 1.0, 0.5]
    assert math.isnan(out["far_min_industry"].iloc[6])
    assert "GB/T 4754-2002 division 39" in out["far_min_source"].iloc[0]


def test_thresholds_frame_and_as_dict() -> None:
    p = load_policy("zhejiang-huangyan-2022")
    frame = p.thresholds_frame().set_index("key")
    assert frame.loc["benchmark.规下.tax_yuan_per_kwh", "value"] == 0.2352
    assert frame.loc["benchmark.规下.tax_yuan_per_kwh", "unit"] == "元/kWh"
    assert frame.loc["share.B", "value"] == 45.0
    d = p.as_dict()
    assert d["thresholds"]["low_tax_wan_per_mu"]["value"] is None
    assert d["groups"]["规上"][0]["label_zh"] == "亩均税收"
    assert isinstance(p, Policy)
