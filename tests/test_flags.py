"""Findings rules on hand-built parcels: every code, and the edges of each rule."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from landeff.errors import Diagnostics, PolicyError
from landeff.flags import CODES, FINDING_COLUMNS, Findings, Remainders, find, remainder_pieces
from landeff.parallel import in_background
from landeff.policy import Threshold

AS_OF = pd.Timestamp("2025-06-30")
GK_120E = 4549  # CGCS2000 3-degree GK, CM 120E, no zone prefix
GK_108E = 4545  # CM 108E
NaT = pd.NaT

THRESHOLD_VALUES = {
    "stopped_kwh": (10000.0, "kWh"),
    "low_tax_wan_per_mu": (None, "万元/亩"),
    "coverage_min": (0.30, ""),
    "density_min": (0.30, ""),
    "remainder_margin_m": (10.0, "m"),
    "remainder_min_mu": (5.0, "亩"),
    "remainder_inward_buffer_m": (15.0, "m"),
    "late_years": (2.0, "年"),
    "shortfall_ratio": (0.5, ""),
}


def thresholds(**override: float | None) -> dict[str, Threshold]:
    out = {k: Threshold(v, u, f"test setting {k}") for k, (v, u) in THRESHOLD_VALUES.items()}
    for k, v in override.items():
        out[k] = Threshold(v, THRESHOLD_VALUES[k][1], f"park setting {k}")
    return out


# A healthy parcel: started and completed on time, in production, dense enough, paying its way.
HEALTHY = {
    "holder_uscc": "91320000000000000X",
    "supervision_no": "3201152019B00001",
    "industry_code": "34",
    "agreed_start": pd.Timestamp("2020-03-01"),
    "actual_start": pd.Timestamp("2020-02-15"),
    "agreed_completion": pd.Timestamp("2022-03-01"),
    "actual_completion": pd.Timestamp("2022-01-10"),
    "far_min": 1.0,
    "far": 1.5,
    "building_density": 0.45,
    "footprint_m2": 4500.0,
    "structure_yard_area_m2": np.nan,
    "n_buildings": 2,
    "n_active": 1,
    "tax_wan": 450.0,
    "tax_wan_per_mu": 30.0,
    "output_wan_per_mu": 500.0,
    "committed_tax_wan_per_mu": np.nan,
    "committed_output_wan_per_mu": np.nan,
    "investment_total_wan": 3000.0,
    "investment_done_wan": 3200.0,
    "land_price_wan": 500.0,
    "suspended_since": NaT,
    "developed_area_m2": np.nan,
    "recorded_area_m2": np.nan,
    "gov_cause": False,
}
# Not started: nothing built, no start recorded, completion not due yet.
NOT_STARTED = {
    "actual_start": NaT,
    "actual_completion": NaT,
    "agreed_completion": pd.Timestamp("2027-12-31"),
    "n_buildings": 0,
    "n_active": 0,
    "far": 0.0,
    "building_density": 0.0,
    "footprint_m2": 0.0,
    "tax_wan": np.nan,
    "tax_wan_per_mu": np.nan,
    "output_wan_per_mu": np.nan,
    "investment_done_wan": np.nan,
}


def parcels(*rows: dict, crs: int = GK_120E) -> gpd.GeoDataFrame:
    """Build a parcels frame: each row a 100 m × 100 m square (10000 m², 15 亩) unless given."""
    records, geoms = [], []
    for i, row in enumerate(rows):
        rec = {**HEALTHY, "parcel_id": f"P{i + 1}", **row}
        geom = rec.pop("geometry", None)
        if geom is None:
            x0 = 500000.0 + 1000.0 * i
            geom = shapely.box(x0, 3500000.0, x0 + 100.0, 3500100.0)
        rec.setdefault("area_m2", 10000.0)
        rec.setdefault("area_mu", rec["area_m2"] * 15 / 10000)
        rec.setdefault("area_epsg", crs)
        records.append(rec)
        geoms.append(geom)
    frame = pd.DataFrame(records).set_index("parcel_id")
    frame["gov_cause"] = frame["gov_cause"].astype("boolean")
    for col in (
        "agreed_start",
        "actual_start",
        "agreed_completion",
        "actual_completion",
        "suspended_since",
    ):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=crs)


def run(frame: pd.DataFrame, *, as_of: object = AS_OF, **kw: object) -> Findings:
    kw.setdefault("thresholds", thresholds())
    return find(frame, as_of=as_of, **kw)


def codes(result: Findings, parcel_id: str = "P1") -> list[str]:
    f = result.findings
    return sorted(f.loc[(f["level"] == "parcel") & (f["parcel_id"] == parcel_id), "code"])


def row(result: Findings, code: str, parcel_id: str = "P1") -> pd.Series:
    f = result.findings
    hit = f.loc[(f["code"] == code) & (f["parcel_id"] == parcel_id)]
    assert len(hit) == 1, f"expected one {code} on {parcel_id}, got {len(hit)}"
    return hit.iloc[0]


# -- shape of the result --------------------------------------------------------------------------


def test_healthy_parcel_has_no_findings():
    result = run(parcels({}))
    assert result.findings.empty
    assert list(result.findings.columns) == FINDING_COLUMNS
    assert result.per_parcel.loc["P1", "flags"] == ""
    assert pd.isna(result.per_parcel.loc["P1", "idle_stage"])
    assert list(result.remainders.columns) == ["parcel_id", "area_m2", "area_mu", "geometry"]


def test_columns_ids_and_as_of():
    frame = parcels(
        {**NOT_STARTED, "agreed_start": pd.Timestamp("2022-03-01")},
        {**NOT_STARTED, "agreed_start": pd.Timestamp("2025-03-01")},
    )
    f = run(frame).findings
    assert list(f.columns) == FINDING_COLUMNS
    assert f["finding_id"].is_unique
    assert (f["as_of"] == AS_OF).all()
    assert set(f["level"]) == {"parcel"}
    assert f["supervision_no"].eq("3201152019B00001").all()
    assert f["uscc"].eq("91320000000000000X").all()
    assert f["source"].str.len().gt(0).all() and f["evidence"].str.len().gt(0).all()
    for _, r in f.iterrows():
        code = CODES[r["code"]]
        assert (r["label_zh"], r["label_en"]) == (code.label_zh, code.label_en)


def test_thresholds_are_checked():
    th = thresholds()
    del th["stopped_kwh"]
    th["late_years"] = Threshold(None, "年", "x")
    with pytest.raises(PolicyError, match=r"missing key\(s\) stopped_kwh.*late_years have no"):
        run(parcels({}), thresholds=th)


def test_empty_input():
    result = run(parcels({}).iloc[:0])
    assert result.findings.empty and result.per_parcel.empty and result.remainders.empty


# -- IDLE_NOT_STARTED and OVERDUE_START -----------------------------------------------------------


def test_exactly_one_year_is_idle_with_fee():
    frame = parcels({**NOT_STARTED, "agreed_start": pd.Timestamp("2024-06-30")})
    result = run(frame)
    assert codes(result) == ["IDLE_NOT_STARTED"]
    r = row(result, "IDLE_NOT_STARTED")
    assert (r["stage"], r["value"], r["threshold"], r["unit"]) == ("fee", 1.0, 1.0, "年")
    assert r["fee_wan"] == pytest.approx(100.0)  # 20 % of the 500 万元 land price
    assert r["category"] == "闲置土地"
    assert r["evidence"].startswith("约定开工 2024-06-30，截至 2025-06-30 未开工，已满 1 年")
    assert "第二条" in r["source"] and "城市房地产管理法第二十六条" in r["source"]
    assert result.per_parcel.loc["P1", "idle_stage"] == "fee"
    assert result.per_parcel.loc["P1", "idle_fee_wan"] == pytest.approx(100.0)


def test_day_before_the_anniversary_is_overdue_start_only():
    frame = parcels({**NOT_STARTED, "agreed_start": pd.Timestamp("2024-06-30")})
    result = run(frame, as_of="2025-06-29")
    assert codes(result) == ["OVERDUE_START"]
    r = row(result, "OVERDUE_START")
    # 2024-06-30 -> 2025-06-30 is 365 days (no 29 February in between), so 364 on the day before
    assert (r["value"], r["unit"], r["category"]) == (364.0, "天", "项目监管")
    assert "2025-06-30 起满 1 年" in r["evidence"]
    assert pd.isna(result.per_parcel.loc["P1", "idle_stage"])


def test_agreed_start_day_itself_is_not_overdue():
    frame = parcels({**NOT_STARTED, "agreed_start": pd.Timestamp("2025-06-30")})
    assert run(frame).findings.empty


def test_leap_day_agreed_start():
    frame = parcels({**NOT_STARTED, "agreed_start": pd.Timestamp("2020-02-29")})
    # 2020-02-29 + 1 year = 2021-02-28 (民法典 article 202)
    assert codes(run(frame, as_of="2021-02-27")) == ["OVERDUE_START"]
    on_time = run(frame, as_of="2021-02-28")
    assert codes(on_time) == ["IDLE_NOT_STARTED"]
    assert row(on_time, "IDLE_NOT_STARTED")["stage"] == "fee"
    assert row(run(frame, as_of="2022-02-27"), "IDLE_NOT_STARTED")["stage"] == "fee"
    later = row(run(frame, as_of="2022-02-28"), "IDLE_NOT_STARTED")
    assert (later["stage"], later["value"]) == ("reclaim", 2.0)
    assert np.isnan(later["fee_wan"])  # at two years the land is taken back: no fee stage


def test_fee_arithmetic():
    frame = parcels(
        {**NOT_STARTED, "agreed_start": pd.Timestamp("2024-01-10"), "land_price_wan": 356.6},
        {**NOT_STARTED, "agreed_start": pd.Timestamp("2024-01-10"), "land_price_wan": 1306.62},
        {**NOT_STARTED, "agreed_start": pd.Timestamp("2024-01-10"), "land_price_wan": np.nan},
    )
    result = run(frame)
    fees = result.findings.set_index("parcel_id")["fee_wan"]
    assert fees["P1"] == pytest.approx(71.32)  # 356.6 × 0.2
    assert fees["P2"] == pytest.approx(261.324)  # 1306.62 × 0.2
    assert np.isnan(fees["P3"])
    assert "356.6 万元 × 20% = 71.32 万元" in row(result, "IDLE_NOT_STARTED", "P1")["evidence"]
    assert "土地价款未知" in row(result, "IDLE_NOT_STARTED", "P3")["evidence"]
    assert result.per_parcel["idle_fee_wan"].tolist()[:2] == pytest.approx([71.32, 261.324])


def test_buildings_count_as_started_with_a_warning():
    frame = parcels({**NOT_STARTED, "agreed_start": pd.Timestamp("2022-01-01"), "n_buildings": 1})
    diag = Diagnostics()
    result = run(frame, diagnostics=diag)
    assert "IDLE_NOT_STARTED" not in codes(result) and "OVERDUE_START" not in codes(result)
    w = diag.warnings.set_index("code")
    assert w.loc["start_from_buildings", "message"].startswith("parcel P1: no actual start date")


def test_recorded_start_stops_idle_but_a_start_after_as_of_does_not():
    started = {**NOT_STARTED, "agreed_start": pd.Timestamp("2022-01-01")}
    frame = parcels(
        {**started, "actual_start": pd.Timestamp("2022-05-01")},
        {**started, "actual_start": pd.Timestamp("2025-08-01")},
    )
    result = run(frame)
    assert codes(result, "P1") == []
    r = row(result, "IDLE_NOT_STARTED", "P2")
    assert r["stage"] == "reclaim"
    assert "实际开工 2025-08-01 在评价日之后" in r["evidence"]


# -- IDLE_STALLED ---------------------------------------------------------------------------------

STALLED = {
    "actual_start": pd.Timestamp("2021-03-01"),
    "actual_completion": NaT,
    "agreed_completion": pd.Timestamp("2027-12-31"),
    "n_active": 0,
    "n_buildings": 0,
    "recorded_area_m2": 9000.0,
    "suspended_since": pd.Timestamp("2024-06-30"),
    "investment_total_wan": np.nan,
    "investment_done_wan": np.nan,
}


def test_stalled_one_third_exactly_is_not_stalled():
    frame = parcels(
        {**STALLED, "developed_area_m2": 3000.0},  # 3 × 3000 == 9000: not below 1/3
        {**STALLED, "developed_area_m2": 2999.0},
    )
    result = run(frame)
    assert codes(result, "P1") == []
    r = row(result, "IDLE_STALLED", "P2")
    assert r["stage"] == "fee"  # suspended on 2024-06-30: one full year on 2025-06-30
    assert r["fee_wan"] == pytest.approx(100.0)
    assert r["value"] == pytest.approx(2999 / 9000) and r["threshold"] == pytest.approx(1 / 3)
    assert "已开发 2999 m²，占出让面积 9000 m² 的 33.3%（不足 1/3）" in r["evidence"]


def test_stalled_25_percent_exactly_is_not_stalled():
    frame = parcels(
        {**STALLED, "investment_total_wan": 1000.0, "investment_done_wan": 250.0},
        {**STALLED, "investment_total_wan": 1000.0, "investment_done_wan": 249.0},
    )
    result = run(frame)
    assert codes(result, "P1") == []
    r = row(result, "IDLE_STALLED", "P2")
    assert (r["value"], r["threshold"]) == (pytest.approx(0.249), 0.25)


def test_stalled_needs_a_full_year_of_suspension_and_counts_from_it():
    frame = parcels(
        {**STALLED, "developed_area_m2": 1000.0, "suspended_since": pd.Timestamp("2024-07-01")},
        {**STALLED, "developed_area_m2": 1000.0, "suspended_since": pd.Timestamp("2023-06-30")},
    )
    result = run(frame)
    assert codes(result, "P1") == []  # one day short of a full year
    # two full years of suspension: reclaim, although the agreed start was in 2020
    assert row(result, "IDLE_STALLED", "P2")["stage"] == "reclaim"


def test_stalled_investment_net_of_land_price():
    # totals include the 200 万元 land price: gross 440/1200 = 36.7 %, net 240/1000 = 24 %
    frame = parcels(
        {
            **STALLED,
            "investment_total_wan": 1200.0,
            "investment_done_wan": 440.0,
            "land_price_wan": 200.0,
        }
    )
    assert codes(run(frame)) == []
    result = run(frame, investment_includes_land_price=True)
    r = row(result, "IDLE_STALLED")
    assert r["value"] == pytest.approx(0.24)
    assert r["fee_wan"] == pytest.approx(40.0)  # 20 % of 200
    assert "（已扣除地价 200 万元）" in r["evidence"]


def test_stalled_without_progress_figures_is_warned():
    diag = Diagnostics()
    result = run(parcels({**STALLED}), diagnostics=diag)
    assert codes(result) == []
    assert "stalled_untestable" in diag.warnings["code"].tolist()


# -- article 8 ------------------------------------------------------------------------------------


def test_government_cause_adds_a_row_and_takes_the_fee_away():
    frame = parcels(
        {**NOT_STARTED, "agreed_start": pd.Timestamp("2024-03-01"), "gov_cause": True},
        {**STALLED, "developed_area_m2": 100.0, "gov_cause": True},
    )
    result = run(frame)
    for pid, code in (("P1", "IDLE_NOT_STARTED"), ("P2", "IDLE_STALLED")):
        assert codes(result, pid) == sorted(["GOV_CAUSE", code])
        idle = row(result, code, pid)
        assert idle["stage"] == "article8" and np.isnan(idle["fee_wan"])
        assert "第八条" in idle["evidence"]
        gov = row(result, "GOV_CAUSE", pid)
        assert (gov["stage"], gov["category"]) == ("article8", "闲置土地")
        assert "第八条" in gov["source"]
        assert result.per_parcel.loc[pid, "idle_stage"] == "article8"
        assert np.isnan(result.per_parcel.loc[pid, "idle_fee_wan"])
    assert result.per_parcel.loc["P1", "flags"] == "GOV_CAUSE;IDLE_NOT_STARTED"


# -- IDLE_SUSPECTED -------------------------------------------------------------------------------

SUSPECT = {**NOT_STARTED, "agreed_start": NaT, "agreed_completion": NaT}


def test_suspected_idle_rests_on_geometry_only():
    frame = parcels(
        {**SUSPECT},
        {**SUSPECT, "holder_uscc": np.nan, "supervision_no": np.nan},  # nobody holds it
        {**SUSPECT, "agreed_start": pd.Timestamp("2025-03-01")},  # the legal test applies
    )
    result = run(frame)
    r = row(result, "IDLE_SUSPECTED", "P1")
    assert (r["category"], r["stage"]) == ("疑似闲置", "suspected")
    assert np.isnan(r["fee_wan"])
    assert "仅凭图形" in r["evidence"] and "不列入正式闲置土地清单" in r["evidence"]
    assert result.per_parcel.loc["P1", "idle_stage"] == "suspected"
    assert codes(result, "P2") == []
    assert codes(result, "P3") == ["OVERDUE_START"]


# -- OVERDUE_COMPLETION, INVESTMENT_SHORTFALL, BELOW_COMMITMENT -----------------------------------

BUILDING = {"actual_completion": NaT, "agreed_completion": pd.Timestamp("2023-06-30")}


def test_overdue_completion_more_than_two_years_is_low_efficiency():
    frame = parcels({**BUILDING})
    on_the_day = row(run(frame), "OVERDUE_COMPLETION")
    # 2023-06-30 -> 2025-06-30 = 366 + 365 days (2024 is a leap year); exactly 2 years is not more
    assert (on_the_day["value"], on_the_day["category"]) == (731.0, "项目监管")
    after = row(run(frame, as_of="2025-07-01"), "OVERDUE_COMPLETION")
    assert (after["value"], after["category"]) == (732.0, "低效用地")
    assert "列为低效用地" in after["evidence"] and "park setting late_years" not in after["source"]
    assert "test setting late_years" in after["source"]


def test_investment_shortfall_and_the_half_mark():
    frame = parcels(
        {"investment_total_wan": 1000.0, "investment_done_wan": 600.0},
        {"investment_total_wan": 1000.0, "investment_done_wan": 500.0},  # exactly 50 %
        {"investment_total_wan": 1000.0, "investment_done_wan": 499.0},
        {
            "investment_total_wan": 1000.0,
            "investment_done_wan": 400.0,
            "actual_completion": NaT,
            "agreed_completion": pd.Timestamp("2026-01-01"),
        },  # not due
    )
    result = run(frame)
    got = {pid: row(result, "INVESTMENT_SHORTFALL", pid)["category"] for pid in ("P1", "P2", "P3")}
    assert got == {"P1": "项目监管", "P2": "项目监管", "P3": "低效用地"}
    r = row(result, "INVESTMENT_SHORTFALL", "P1")
    assert (r["value"], r["threshold"], r["unit"]) == (600.0, 1000.0, "万元")
    assert codes(result, "P4") == []


def test_below_commitment_with_a_tax_refund():
    frame = parcels(
        {"committed_tax_wan_per_mu": 20.0, "tax_wan_per_mu": 12.0},
        {"committed_tax_wan_per_mu": 20.0, "tax_wan_per_mu": 10.0},  # exactly 50 %
        {"committed_tax_wan_per_mu": 20.0, "tax_wan_per_mu": -1.5},  # a refund
        {"committed_tax_wan_per_mu": 20.0, "tax_wan_per_mu": -1.5, "n_active": 0},  # not producing
        {"committed_output_wan_per_mu": 400.0, "output_wan_per_mu": 500.0},
    )
    result = run(frame)
    assert row(result, "BELOW_COMMITMENT", "P1")["category"] == "项目监管"
    assert row(result, "BELOW_COMMITMENT", "P2")["category"] == "项目监管"
    refund = row(result, "BELOW_COMMITMENT", "P3")
    assert (refund["category"], refund["value"], refund["threshold"]) == ("低效用地", -1.5, 20.0)
    assert "退税" in refund["evidence"]
    assert "BELOW_COMMITMENT" not in codes(result, "P4")
    assert codes(result, "P5") == []


# -- LOW_FAR, LOW_COVERAGE, LOW_TAX ---------------------------------------------------------------


def test_low_far_contract_minimum_then_industry_minimum():
    asked: list[list[str]] = []

    def far_minimum(industry: pd.Series) -> pd.DataFrame:
        asked.append(industry.tolist())
        table = {"34": 0.7, "26": 0.6}
        return pd.DataFrame(
            {"far_min_industry": industry.map(table), "far_min_source": "2008 控制指标（测试）"},
            index=industry.index,
        )

    frame = parcels(
        {"far": 0.8, "far_min": 1.0},
        {"far": 0.65, "far_min": np.nan, "industry_code": "34"},
        {"far": 0.7, "far_min": 0.0, "industry_code": "34"},  # 0 = no contract minimum; 0.7 is ok
        {**NOT_STARTED, "far": 0.1, "far_min": 1.0, "agreed_start": pd.Timestamp("2025-03-01")},
        {"far": 0.5, "far_min": np.nan, "industry_code": "99"},  # no minimum known
    )
    result = run(frame, far_minimum=far_minimum)
    contract = row(result, "LOW_FAR", "P1")
    assert (contract["value"], contract["threshold"], contract["unit"]) == (0.8, 1.0, "")
    assert "约定容积率下限" in contract["source"]
    industry = row(result, "LOW_FAR", "P2")
    assert (industry["threshold"], industry["source"]) == (0.7, "2008 控制指标（测试）")
    assert "行业控制指标（行业代码 34）" in industry["evidence"]
    assert "LOW_FAR" not in codes(result, "P3") + codes(result, "P4") + codes(result, "P5")
    # only parcels without a contract minimum, in use (P2, P3, P5), each distinct code once
    assert asked == [["34", "99"]]


def test_low_coverage_true_coefficient_and_proxy():
    frame = parcels(
        {"footprint_m2": 2000.0, "structure_yard_area_m2": 500.0},  # 25 %
        {"footprint_m2": 2500.0, "structure_yard_area_m2": 500.0},  # exactly 30 %
        {"building_density": 0.2},  # no structures given: density as proxy
        {"building_density": 0.3},
    )
    result = run(frame)
    true = row(result, "LOW_COVERAGE", "P1")
    assert (true["value"], true["threshold"]) == (pytest.approx(0.25), 0.3)
    assert (
        "建筑系数 =（建筑占地 2000 m² + 构筑物及堆场 500 m²）÷ 宗地面积 10000 m² = 25%"
        in true["evidence"]
    )
    assert not true["evidence"].startswith("代理指标")
    proxy = row(result, "LOW_COVERAGE", "P3")
    assert proxy["evidence"].startswith("代理指标")
    assert "建筑密度代替建筑系数" in proxy["source"]
    assert codes(result, "P2") == [] and codes(result, "P4") == []


def test_low_tax_is_off_by_default_and_counts_refunds():
    frame = parcels({"tax_wan_per_mu": 8.0}, {"tax_wan_per_mu": -2.0}, {"tax_wan_per_mu": 12.0})
    assert run(frame).findings.empty
    result = run(frame, thresholds=thresholds(low_tax_wan_per_mu=10.0))
    assert [row(result, "LOW_TAX", p)["value"] for p in ("P1", "P2")] == [8.0, -2.0]
    assert "退税" in row(result, "LOW_TAX", "P2")["evidence"]
    assert row(result, "LOW_TAX", "P1")["source"] == "park setting low_tax_wan_per_mu"
    assert codes(result, "P3") == []


# -- enterprises ----------------------------------------------------------------------------------


def _enterprises() -> tuple[pd.DataFrame, pd.DataFrame]:
    now = pd.DataFrame(
        {
            "uscc": ["E1", "E2", "E3", "E4", "E5", "E6"],
            "name": ["甲", "乙", "丙", "丁", "戊", "己"],
            "year": 2024,
            "parcel_ids": [["P1"], ["P2"], ["P1", "P2"], ["P3"], ["P3"], ["P3"]],
            "tax_wan": [0.0, -2.0, 0.0, 0.1, np.nan, 50.0],
            "electricity_kwh": [9999.0, 500.0, 10000.0, 0.0, 0.0, 2e5],
            "grade": ["C", "C", "D", "B", "C", "A"],
            "score": [40.0, 35.0, 12.5, 70.0, 45.0, 95.0],
            "preset": "jiangsu-huaian-2024",
        }
    )
    before = pd.DataFrame(
        {
            "uscc": ["E1", "E2", "E2", "E1"],
            "year": [2023, 2023, 2022, 2022],
            "tax_wan": [0.0, 5.0, 0.0, 0.0],
            "electricity_kwh": [100.0, 5e4, 0.0, 0.0],
        }
    )
    return now, before


def test_stopped_zombie_grade_d_and_parcel_flags():
    now, before = _enterprises()
    frame = parcels({}, {}, {})
    result = run(frame, enterprises=now, enterprise_years=before, year=2024)
    f = result.findings
    ent = f.loc[f["level"] == "enterprise"]
    # E1: tax 0 and 9999 kWh (< 10000); E2: a refund, 500 kWh. E3 has 10000 kWh (not below),
    # E4 paid tax, E5 has no tax figure.
    assert sorted(ent.loc[ent["code"] == "STOPPED", "uscc"]) == ["E1", "E2"]
    stopped = ent.loc[(ent["code"] == "STOPPED") & (ent["uscc"] == "E2")].iloc[0]
    assert (stopped["value"], stopped["threshold"], stopped["unit"]) == (500.0, 10000.0, "kWh")
    assert "退税" in stopped["evidence"] and stopped["category"] == "企业"
    # E1 stopped 2022, 2023 and 2024: a zombie for 3 years; E2 was active in 2023
    zombie = ent.loc[ent["code"] == "ZOMBIE"]
    assert zombie["uscc"].tolist() == ["E1"] and zombie["value"].tolist() == [3.0]
    assert "2022–2024" in zombie["evidence"].iloc[0]
    grade_d = ent.loc[ent["code"] == "GRADE_D"].iloc[0]
    assert (grade_d["uscc"], grade_d["parcel_id"], grade_d["value"]) == ("E3", "P1;P2", 12.5)
    assert "jiangsu-huaian-2024" in grade_d["source"]
    flags = result.per_parcel["flags"]
    assert flags["P1"] == "GRADE_D;STOPPED;ZOMBIE"
    assert flags["P2"] == "GRADE_D;STOPPED"
    assert flags["P3"] == ""
    assert result.per_enterprise.loc["E1", "flags"] == "STOPPED;ZOMBIE"


def test_zombie_needs_consecutive_years():
    now, before = _enterprises()
    before = before.loc[~((before["uscc"] == "E1") & (before["year"] == 2023))]
    result = run(parcels({}, {}, {}), enterprises=now, enterprise_years=before, year=2024)
    assert "ZOMBIE" not in set(result.findings["code"])


def test_history_rows_inside_the_enterprise_frame_are_used():
    now, before = _enterprises()
    both = pd.concat([now, before], ignore_index=True)
    result = run(parcels({}, {}, {}), enterprises=both)  # year: the latest, 2024
    f = result.findings
    assert f.loc[f["code"] == "ZOMBIE", "uscc"].tolist() == ["E1"]
    assert sorted(f.loc[f["code"] == "STOPPED", "uscc"]) == ["E1", "E2"]


def test_enterprise_commitment_and_missing_building_data():
    ent = pd.DataFrame(
        {
            "uscc": ["E1", "E2", "E3"],
            "parcel_ids": ["P1", "P1", "P1"],
            "tax_wan": [30.0, 100.0, 0.0],
            "electricity_kwh": [5e4, 5e4, 0.0],  # E3 is stopped: no commitment test
            "tax_wan_per_mu": [6.0, 25.0, 0.0],
            "committed_tax_wan_per_mu": [20.0, 20.0, 20.0],
        }
    )
    frame = parcels({}).drop(columns="n_buildings")
    diag = Diagnostics()
    result = run(frame, enterprises=ent, year=2024, diagnostics=diag)
    f = result.findings
    below = f.loc[f["code"] == "BELOW_COMMITMENT"]
    # E1: 6 < 20, and 6 < 50 % × 20 = 10 -> 低效用地; E2 above; E3 stopped
    assert below[["level", "uscc", "category", "value", "threshold"]].values.tolist() == [
        ["enterprise", "E1", "低效用地", 6.0, 20.0]
    ]
    assert "2024 年亩均税收 6 万元/亩，低于企业承诺 20 万元/亩（30%）" in below["evidence"].iloc[0]
    assert result.per_parcel.loc["P1", "flags"] == "BELOW_COMMITMENT;STOPPED"
    assert "no_building_info" in set(diag.warnings["code"])


def test_vacant_building():
    frame = parcels({"n_active": 0}, {"n_active": 1})
    result = run(frame)
    r = row(result, "VACANT_BUILDING", "P1")
    assert (r["value"], r["unit"], r["category"]) == (2.0, "栋", "低效用地")
    assert codes(result, "P2") == []


def test_vacant_building_from_enterprises_when_no_count_is_given():
    now, _ = _enterprises()
    frame = parcels({}, {}, {}).drop(columns="n_active")
    result = run(frame, enterprises=now)
    # P1: E1 stopped, E3 active (10000 kWh); P2: E2 stopped, E3 active; P3: E4, E6 active
    assert "VACANT_BUILDING" not in set(result.findings["code"])
    only_stopped = now.loc[now["uscc"].isin(["E1", "E2", "E4"])]
    result = run(frame, enterprises=only_stopped)
    assert sorted(
        result.findings.loc[result.findings["code"] == "VACANT_BUILDING", "parcel_id"]
    ) == ["P1", "P2"]


# -- two findings on one parcel -------------------------------------------------------------------


def test_a_parcel_with_two_findings():
    frame = parcels({"far": 0.9, "committed_tax_wan_per_mu": 40.0})
    result = run(frame)
    assert codes(result) == ["BELOW_COMMITMENT", "LOW_FAR"]
    assert result.per_parcel.loc["P1", "flags"] == "BELOW_COMMITMENT;LOW_FAR"
    assert result.findings["finding_id"].tolist() == ["P1:BELOW_COMMITMENT", "P1:LOW_FAR"]


def test_never_started_and_past_completion_collects_every_finding_that_holds():
    # not started for 3 years and past its agreed completion: idle, overdue, and (being past the
    # completion date, with nothing built) FAR 0 and density 0 below the minimums
    frame = parcels(
        {
            **NOT_STARTED,
            "agreed_start": pd.Timestamp("2022-03-01"),
            "agreed_completion": pd.Timestamp("2024-03-01"),
        }
    )
    result = run(frame)
    assert codes(result) == ["IDLE_NOT_STARTED", "LOW_COVERAGE", "LOW_FAR", "OVERDUE_COMPLETION"]
    assert result.per_parcel.loc["P1", "flags"] == (
        "IDLE_NOT_STARTED;LOW_COVERAGE;LOW_FAR;OVERDUE_COMPLETION"
    )
    idle = row(result, "IDLE_NOT_STARTED")
    assert idle["evidence"].startswith("约定开工 2022-03-01，截至 2025-06-30 未开工，已满 3 年")
    assert "尚未开工" in row(result, "OVERDUE_COMPLETION")["evidence"]
    assert "已过约定竣工日期" in row(result, "LOW_FAR")["evidence"]


# -- UNDEVELOPED_REMAINDER ------------------------------------------------------------------------


def _remainder_case(x0: float, y0: float) -> tuple[list[shapely.Geometry], list[shapely.Geometry]]:
    """Three parcels and their buildings, in GK metres from (x0, y0).

    A: 200 × 100 m, a building strip over x 0–50: with its 10 m margin it covers x ≤ 60, leaving
       a 140 × 100 m = 14000 m² = 21 亩 piece.
    B: 100 × 100 m, building over x 0–60: leaves 30 × 100 = 3000 m² = 4.5 亩, under 5 亩.
    C: 300 × 100 m, building over y 0–75: leaves a 300 × 15 m strip = 4500 m² = 6.75 亩, which a
       15 m inward buffer empties.
    """
    box = shapely.box
    plots = [
        box(x0, y0, x0 + 200, y0 + 100),
        box(x0 + 1000, y0, x0 + 1100, y0 + 100),
        box(x0 + 2000, y0, x0 + 2300, y0 + 100),
    ]
    houses = [
        box(x0, y0, x0 + 50, y0 + 100),
        box(x0 + 1000, y0, x0 + 1060, y0 + 100),
        box(x0 + 2000, y0, x0 + 2300, y0 + 75),
    ]
    return plots, houses


def test_undeveloped_remainder():
    plots, houses = _remainder_case(500000.0, 3500000.0)
    frame = parcels(*({"geometry": g, "area_m2": g.area, "n_buildings": 1} for g in plots))
    buildings = gpd.GeoDataFrame({"parcel_id": ["P1", "P2", "P3"]}, geometry=houses, crs=GK_120E)
    result = run(frame, buildings=buildings)
    rem = result.remainders
    assert rem["parcel_id"].tolist() == ["P1"]
    assert rem.crs.equals(frame.crs)
    assert rem["area_m2"].iloc[0] == pytest.approx(14000.0, abs=1e-6)
    assert rem["area_mu"].iloc[0] == pytest.approx(21.0)
    expected = shapely.box(500060, 3500000, 500200, 3500100)
    assert rem.geometry.iloc[0].symmetric_difference(expected).area < 1e-6
    r = row(result, "UNDEVELOPED_REMAINDER", "P1")
    assert (r["value"], r["threshold"], r["unit"]) == (pytest.approx(21.0), 5.0, "亩")
    assert "1 块" in r["evidence"]
    assert codes(result, "P2") == [] and codes(result, "P3") == []


def test_undeveloped_remainder_in_each_parcels_zone():
    # the same layout in two GK zones, handed over in longitude/latitude (EPSG:4490)
    east_plots, east_houses = _remainder_case(500000.0, 3500000.0)
    west_plots, west_houses = _remainder_case(500000.0, 3000000.0)
    to_ll = {
        zone: lambda gs, zone=zone: gpd.GeoSeries(gs, crs=zone).to_crs(4490).tolist()
        for zone in (GK_120E, GK_108E)
    }
    plots = to_ll[GK_120E](east_plots[:1]) + to_ll[GK_108E](west_plots[:1])
    houses = to_ll[GK_120E](east_houses[:1]) + to_ll[GK_108E](west_houses[:1])
    frame = parcels(
        {"geometry": plots[0], "area_m2": 20000.0, "area_epsg": GK_120E},
        {"geometry": plots[1], "area_m2": 20000.0, "area_epsg": GK_108E},
        crs=4490,
    )
    buildings = gpd.GeoDataFrame({"parcel_id": ["P1", "P2"]}, geometry=houses, crs=4490)
    rem = run(frame, buildings=buildings).remainders
    assert rem["parcel_id"].tolist() == ["P1", "P2"]
    assert rem["area_m2"].tolist() == pytest.approx([14000.0, 14000.0], abs=1e-3)
    assert rem.crs.to_epsg() == 4490
    # measured in the wrong zone the western piece would not be 14000 m²
    wrong = gpd.GeoSeries([rem.geometry.iloc[1]], crs=4490).to_crs(GK_120E).area.iloc[0]
    assert abs(wrong - 14000.0) > 10.0
    # without area_epsg the zone comes from each parcel's longitude: same answer
    rem2 = run(frame.drop(columns="area_epsg"), buildings=buildings).remainders
    assert rem2["area_m2"].tolist() == pytest.approx([14000.0, 14000.0], abs=1e-3)


def test_remainder_without_building_layer_is_warned():
    diag = Diagnostics()
    result = run(parcels({}), diagnostics=diag)
    assert result.remainders.empty
    assert "remainder_no_buildings" in set(diag.warnings["code"])


# -- remainders computed apart: remainder_pieces, then find(remainders=...) ----------------------


def _same_findings(a: Findings, b: Findings) -> None:
    pd.testing.assert_frame_equal(a.findings, b.findings)
    pd.testing.assert_frame_equal(a.per_parcel, b.per_parcel)
    pd.testing.assert_frame_equal(a.per_enterprise, b.per_enterprise)
    pd.testing.assert_frame_equal(
        pd.DataFrame(a.remainders.drop(columns="geometry")),
        pd.DataFrame(b.remainders.drop(columns="geometry")),
    )
    assert a.remainders.crs == b.remainders.crs
    ga, gb = a.remainders.geometry.to_numpy(), b.remainders.geometry.to_numpy()
    assert shapely.equals_exact(ga, gb, tolerance=0).all()


def _remainder_frame() -> gpd.GeoDataFrame:
    plots, _ = _remainder_case(500000.0, 3500000.0)
    rows = [{"geometry": g, "area_m2": g.area, "n_buildings": 1} for g in plots]
    # P4: built, no start recorded (the idle rule warns before the remainder rule), and too
    # little unbuilt land for a remainder (10000 - 8000 m² < 5 亩)
    rows.append({"actual_start": NaT, "actual_completion": NaT, "footprint_m2": 8000.0})
    return parcels(*rows)


@pytest.mark.parametrize("layer", [True, False])
@pytest.mark.parametrize("how", ["result", "future"])
def test_precomputed_remainders_give_the_same_findings_and_warnings(how, layer):
    frame = _remainder_frame()
    _, houses = _remainder_case(500000.0, 3500000.0)
    buildings = (
        gpd.GeoDataFrame({"parcel_id": ["P1", "P2", "P3"]}, geometry=houses, crs=GK_120E)
        if layer
        else None
    )
    enterprises = pd.DataFrame(
        {"uscc": ["E1"], "parcel_ids": ["P1;P4"], "tax_wan": [0.0], "electricity_kwh": [10.0]}
    )
    diag = Diagnostics()
    direct = run(frame, enterprises=enterprises, buildings=buildings, diagnostics=diag)
    diag_apart = Diagnostics()
    if how == "future":
        given = in_background(remainder_pieces, frame, buildings, thresholds())
    else:
        given = remainder_pieces(frame, buildings, thresholds())
        assert isinstance(given, Remainders)
    apart = run(
        frame, enterprises=enterprises, buildings=buildings, diagnostics=diag_apart,
        remainders=given,
    )
    _same_findings(direct, apart)
    pd.testing.assert_frame_equal(diag.warnings, diag_apart.warnings)
    # by hand: the idle rule's warning on P4 comes first, then the remainder rule's
    expected = ["start_from_buildings"] + ([] if layer else ["remainder_no_buildings"])
    assert diag.warnings["code"].tolist() == expected
    # P1 keeps a 21 亩 piece (see _remainder_case); E1 (stopped) flags P1 and P4; P4 was due to
    # be completed on 2022-03-01 and is not
    assert direct.remainders["parcel_id"].tolist() == (["P1"] if layer else [])
    assert direct.per_parcel.loc["P1", "flags"] == (
        "STOPPED;UNDEVELOPED_REMAINDER" if layer else "STOPPED"
    )
    assert direct.per_parcel.loc["P4", "flags"] == "OVERDUE_COMPLETION;STOPPED"


def test_remainder_pieces_on_their_own():
    frame = _remainder_frame()
    _, houses = _remainder_case(500000.0, 3500000.0)
    buildings = gpd.GeoDataFrame({"parcel_id": ["P1", "P2", "P3"]}, geometry=houses, crs=GK_120E)
    result = remainder_pieces(frame, buildings, thresholds())
    assert result.positions.tolist() == [0]  # the piece of P1, the first parcel
    assert result.pieces["area_m2"].tolist() == pytest.approx([14000.0], abs=1e-6)
    assert result.diagnostics.n_warnings == 0
    diag = Diagnostics()
    none = remainder_pieces(frame, None, thresholds(), diagnostics=diag)
    assert none.pieces.empty and none.diagnostics is diag
    assert diag.warnings["code"].tolist() == ["remainder_no_buildings"]
    th = thresholds()
    del th["remainder_min_mu"]
    with pytest.raises(PolicyError, match="remainder_pieces.*remainder_min_mu"):
        remainder_pieces(frame, buildings, th)


def test_precomputed_remainders_must_fit_the_call():
    frame = _remainder_frame()
    _, houses = _remainder_case(500000.0, 3500000.0)
    buildings = gpd.GeoDataFrame({"parcel_id": ["P1", "P2", "P3"]}, geometry=houses, crs=GK_120E)
    given = remainder_pieces(frame, buildings, thresholds())
    with pytest.raises(ValueError, match="other thresholds"):
        run(
            frame,
            buildings=buildings,
            remainders=given,
            thresholds=thresholds(remainder_min_mu=4.0),
        )
    with pytest.raises(ValueError, match="index differs"):
        run(frame.iloc[::-1], buildings=buildings, remainders=given)
    with pytest.raises(TypeError, match="remainder_pieces"):
        run(frame, buildings=buildings, remainders=given.pieces)


def test_a_rest_under_the_minimum_is_not_taken_apart(monkeypatch):
    # P1 (200 × 100 m) with two 10 × 100 m buildings at x 60–70 and 130–140: with their 10 m
    # margins they cover x 50–80 and 120–150, leaving 50 + 40 + 50 = 140 m × 100 m in three
    # pieces of 5000, 4000 and 5000 m² (7.5, 6 and 7.5 亩). With a 25 亩 minimum (16667 m²) the
    # rest (14000 m²) is under it: no piece, whether the rest is taken apart or not.
    x0, y0 = 500000.0, 3500000.0
    plot = shapely.box(x0, y0, x0 + 200, y0 + 100)
    houses = [
        shapely.box(x0 + 60, y0, x0 + 70, y0 + 100),
        shapely.box(x0 + 130, y0, x0 + 140, y0 + 100),
    ]
    frame = parcels(
        {"geometry": plot, "area_m2": plot.area, "n_buildings": 2, "footprint_m2": 2000.0}
    )
    buildings = gpd.GeoDataFrame({"parcel_id": ["P1", "P1"]}, geometry=houses, crs=GK_120E)
    pieces = remainder_pieces(frame, buildings, thresholds()).pieces
    assert sorted(pieces["area_m2"].round(6)) == [4000.0, 5000.0, 5000.0]  # 5 亩 minimum
    taken_apart = []
    real = shapely.get_parts
    monkeypatch.setattr(
        shapely, "get_parts", lambda g, **kw: taken_apart.append(len(g)) or real(g, **kw)
    )
    big = remainder_pieces(frame, buildings, thresholds(remainder_min_mu=25.0))
    assert big.pieces.empty and taken_apart == [0]


# -- contracts without geometry -------------------------------------------------------------------


def test_contracts_only_ledger():
    table = pd.DataFrame(
        {
            "supervision_no": ["S1", "S2", "S3"],
            "agreed_start": pd.to_datetime(["2023-01-15", "2025-01-15", None]),
            "agreed_completion": pd.to_datetime(["2024-12-31", "2027-01-15", None]),
            "land_price_wan": [800.0, 100.0, 50.0],
            "holder_name": ["甲公司", "乙公司", "丙公司"],
        }
    )
    diag = Diagnostics()
    result = run(table, diagnostics=diag)
    f = result.findings
    assert sorted(zip(f["supervision_no"], f["code"], strict=True)) == [
        ("S1", "IDLE_NOT_STARTED"),
        ("S1", "OVERDUE_COMPLETION"),
        ("S2", "OVERDUE_START"),
    ]
    assert f["parcel_id"].isna().all()
    assert f["finding_id"].tolist()[0] == "S1:IDLE_NOT_STARTED"
    assert f["evidence"].str.contains("按图形的规则未检查").all()
    assert "no_geometry_rules_skipped" in set(diag.warnings["code"])
    assert row_by_no(f, "S1", "IDLE_NOT_STARTED")["stage"] == "reclaim"  # 2 years: 2025-01-15
    assert result.per_parcel["flags"].tolist() == [
        "IDLE_NOT_STARTED;OVERDUE_COMPLETION",
        "OVERDUE_START",
        "",
    ]
    # no suspected idle land without geometry, even for S3 (no dates, a holder)
    assert "IDLE_SUSPECTED" not in set(f["code"])


def row_by_no(f: pd.DataFrame, no: str, code: str) -> pd.Series:
    return f.loc[(f["supervision_no"] == no) & (f["code"] == code)].iloc[0]


def test_many_parcels_at_once():
    # vectorised: 3000 parcels with starts spread over five years give the hand-counted stages
    starts = pd.date_range("2020-07-01", periods=3000, freq="D")
    frame = pd.DataFrame(
        {
            "parcel_id": [f"P{i}" for i in range(3000)],
            "agreed_start": starts,
            "land_price_wan": 100.0,
        }
    ).set_index("parcel_id")
    result = run(frame)
    stage = result.per_parcel["idle_stage"]
    # reclaim: starts up to 2023-06-30 (two full years by 2025-06-30); fee: 2023-07-01..2024-06-30
    expected_reclaim = int((starts <= "2023-06-30").sum())
    expected_fee = int(((starts > "2023-06-30") & (starts <= "2024-06-30")).sum())
    assert (stage == "reclaim").sum() == expected_reclaim
    assert (stage == "fee").sum() == expected_fee
    overdue = result.findings["code"].eq("OVERDUE_START").sum()
    assert overdue == int(((starts > "2024-06-30") & (starts < "2025-06-30")).sum())


# --- the vectorised helpers give what the plain per-row code gives ---------------------------------


ID_TEXTS = ["P1", " P2 ", "P1;P2", "P3，P4、 P5", "", "  ", None, "P6;;P7；", "甲;乙,丙"]


@pytest.mark.parametrize("dtype", ["str", object])
def test_parcel_id_lists_split_like_split_ids(dtype):
    from landeff.flags import _joined_ids, _split_all, _split_ids

    values = pd.Series(ID_TEXTS * 3, dtype=dtype)
    rows, ids = _split_all(values)
    lists = values.map(_split_ids).tolist()
    assert rows.tolist() == [i for i, x in enumerate(lists) for _ in x]
    assert ids.tolist() == [v for x in lists for v in x]
    # by hand: "P3，P4、 P5" -> P3;P4;P5 and "P6;;P7；" -> P6;P7; blanks and None have no id
    joined = _joined_ids(values)
    assert joined.iloc[:9].tolist()[:4] == ["P1", "P2", "P1;P2", "P3;P4;P5"]
    assert joined.iloc[:9].isna().tolist() == [False] * 4 + [True] * 3 + [False] * 2
    assert joined.iloc[7] == "P6;P7"


def test_parcel_id_lists_from_python_lists():
    from landeff.flags import _split_all

    values = pd.Series([["P1", " P2"], [], ["", "P3"]], dtype=object)
    rows, ids = _split_all(values)
    assert rows.tolist() == [0, 0, 2]
    assert ids.tolist() == ["P1", "P2", "P3"]


def test_joined_codes_are_sorted_distinct_codes_per_position():
    from landeff.flags import _joined_codes

    rng = np.random.default_rng(3)
    codes = np.array(sorted(CODES))
    pairs = pd.DataFrame(
        {"_pos": rng.integers(0, 50, 400).astype(float), "code": rng.choice(codes, 400)}
    )
    got = _joined_codes(pairs["_pos"].to_numpy(), pairs["code"].to_numpy(dtype=object), 60)
    expected = [";".join(sorted(set(pairs.loc[pairs["_pos"] == i, "code"]))) for i in range(60)]
    assert got.tolist() == expected
    assert got[55] == ""  # positions 50..59 have no code
    assert _joined_codes(np.empty(0), np.empty(0, dtype=object), 3).tolist() == ["", "", ""]


def test_remainders_cut_in_runs_over_threads_are_the_same(monkeypatch):
    import landeff.flags as flags_module
    import landeff.parallel as parallel_module

    # 20 copies of the three parcels of _remainder_case, 5 km apart: each first parcel keeps its
    # 140 m × 100 m = 14000 m² piece (see _remainder_case), the other two none
    plots, houses, owners = [], [], []
    for k in range(20):
        p, h = _remainder_case(480000.0 + 5000.0 * (k % 5), 3480000.0 + 5000.0 * (k // 5))
        plots += p
        houses += h
        owners += [f"P{3 * k + i + 1}" for i in range(3)]
    frame = parcels(*({"geometry": g, "area_m2": g.area, "n_buildings": 1} for g in plots))
    buildings = gpd.GeoDataFrame({"parcel_id": owners}, geometry=houses, crs=GK_120E)
    one = remainder_pieces(frame, buildings, thresholds())
    # three runs of 20 parcels, whatever the machine; each run's parcels are recorded
    monkeypatch.setattr(
        parallel_module, "run_cuts", lambda n, min_rows=0: np.linspace(0, n, 4).astype("int64")
    )
    seen = []
    real = flags_module._pieces_of

    def recorded(plots, *args, **kwargs):
        seen.append(len(plots))
        return real(plots, *args, **kwargs)

    monkeypatch.setattr(flags_module, "_pieces_of", recorded)
    runs = remainder_pieces(frame, buildings, thresholds())
    assert seen == [20, 20, 20]
    assert one.positions.tolist() == list(range(0, 60, 3)) == runs.positions.tolist()
    assert one.pieces["area_m2"].tolist() == pytest.approx([14000.0] * 20, abs=1e-6)
    pd.testing.assert_frame_equal(
        pd.DataFrame(one.pieces.drop(columns="geometry")),
        pd.DataFrame(runs.pieces.drop(columns="geometry")),
    )
    assert shapely.equals_exact(
        one.pieces.geometry.to_numpy(), runs.pieces.geometry.to_numpy(), tolerance=0
    ).all()


def test_numbers_are_written_as_pandas_writes_them():
    from landeff.flags import _fmt

    rng = np.random.default_rng(7)
    edge = [
        0.0,
        -0.0,
        -0.001,
        0.004,
        1.5,
        2.0,
        1e15,
        1e16,
        123456789.125,
        np.inf,
        -np.inf,
        np.nan,
        1e-7,
        5e-324,
        0.1 + 0.2,
        -1234.5678,
        1e300,
    ]
    values = np.concatenate([edge, rng.normal(0, 1, 2000) * 10.0 ** rng.integers(-8, 18, 2000)])
    for digits in (0, 1, 2):
        # the pandas way, as the rules wrote numbers before (round, astype str, drop ".0")
        text = pd.Series(values).round(digits).astype("str")
        expected = text.str.replace(r"\.0+$", "", regex=True).fillna("—").tolist()
        assert _fmt(values, digits).to_pylist() == expected
    assert _fmt(np.array([0.0, -0.001]), 2).to_pylist() == ["0", "-0"]


def test_first_slots_find_the_first_row_of_each_id():
    from landeff.flags import _first_slots

    ids = np.array(["a", "b", None, "a", "c", np.nan, "b"], dtype=object)
    lookup = np.array(["b", "a", "x", None, "c", "c"], dtype=object)
    assert _first_slots(ids, lookup).tolist() == [1, 0, -1, -1, 4, 4]
    assert _first_slots(np.array([], dtype=object), lookup).tolist() == [-1] * 6


def test_per_distinct_asks_once_per_value():
    from landeff.flags import _per_distinct

    asked = []

    def lookup(codes: pd.Series) -> pd.DataFrame:
        asked.append(codes.tolist())
        return pd.DataFrame({"twice": codes.str.repeat(2)}, index=codes.index)

    values = pd.Series(["a", "b", "a", "c", "b"], index=[10, 11, 12, 13, 14], dtype="str")
    got = _per_distinct(lookup, values)
    assert asked == [["a", "b", "c"]]
    assert got["twice"].tolist() == ["aa", "bb", "aa", "cc", "bb"]
    assert got.index.tolist() == [10, 11, 12, 13, 14]


def test_cumcount_counts_earlier_rows_of_the_same_group():
    from landeff.flags import _cumcount

    groups = np.random.default_rng(2).integers(0, 7, 300)
    expected = pd.Series(groups).groupby(groups).cumcount().to_numpy()
    assert _cumcount(groups).tolist() == expected.tolist()
    assert _cumcount(np.array([], dtype=np.int64)).tolist() == []


def _shapes_and_boxes() -> tuple[np.ndarray, np.ndarray]:
    """Polygons, multipolygons, polygons with holes and an empty one, with random boxes."""
    rng = np.random.default_rng(11)
    blobs = shapely.buffer(shapely.points(rng.uniform(0, 100, (600, 2))), rng.uniform(1, 15, 600))
    holes = shapely.buffer(shapely.points(rng.uniform(0, 100, (200, 2))), 4.0)
    # polygons, multipolygons and polygons with holes, far from the origin as GK metres are
    geoms = [
        shapely.difference(shapely.union_all(blobs[i : i + 3]), holes[i // 3])
        for i in range(0, 600, 3)
    ]
    geoms = shapely.transform(
        np.array([*geoms, shapely.Polygon()], dtype=object), lambda xy: xy + [500000.0, 3500000.0]
    )
    lo = rng.uniform(0, 60, (len(geoms), 2)) + [500000.0, 3500000.0]
    return geoms, np.column_stack([lo, lo + rng.uniform(0.5, 50, (len(geoms), 2))])


@pytest.mark.parametrize("own_boxes", [False, True])
def test_area_in_boxes_is_the_area_of_the_intersection(own_boxes):
    from landeff.flags import CLIP_TAKES_ARRAY_BOUNDS, _area_in_boxes

    if own_boxes and not CLIP_TAKES_ARRAY_BOUNDS:
        pytest.skip("this shapely's clip_by_rect ufunc takes one rectangle only")
    geoms, boxes = _shapes_and_boxes()
    # checked independently: GEOS's general intersection with each box
    expected = shapely.area(shapely.intersection(geoms, shapely.box(*boxes.T)))
    before = shapely.to_wkb(geoms)
    got = _area_in_boxes(geoms, boxes, own_boxes=own_boxes)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-6)
    assert (shapely.to_wkb(geoms) == before).all()  # the geometries are left as they were
    flat = np.array([[500000.0, 3500000.0, 500000.0, 3500010.0]] * 2)
    flat[1] = np.nan  # the bounds of an empty geometry
    assert np.isnan(_area_in_boxes(geoms[:2], flat, own_boxes=own_boxes)).all()


def test_area_in_boxes_both_ways_agree():
    from landeff.flags import CLIP_TAKES_ARRAY_BOUNDS, _area_in_boxes

    if not CLIP_TAKES_ARRAY_BOUNDS:
        pytest.skip("this shapely's clip_by_rect ufunc takes one rectangle only")
    geoms, boxes = _shapes_and_boxes()
    boxes[::7, 2] = boxes[::7, 0]  # and some boxes without width
    ufunc = _area_in_boxes(geoms, boxes, own_boxes=True)
    public = _area_in_boxes(geoms, boxes, own_boxes=False)
    assert np.isnan(ufunc).sum() == len(range(0, len(geoms), 7))
    np.testing.assert_array_equal(np.isnan(ufunc), np.isnan(public))
    assert ufunc == pytest.approx(public, rel=1e-9, abs=1e-6, nan_ok=True)


def test_clip_ufunc_is_used_only_when_it_clips_each_row_to_its_own_box():
    from landeff.flags import CLIP_TAKES_ARRAY_BOUNDS, _clip_takes_array_bounds

    def first_box_only(geoms, xmin, ymin, xmax, ymax):  # as a scalar-only clip would do
        return shapely.clip_by_rect(geoms, xmin[0], ymin[0], xmax[0], ymax[0])

    def refuses(*args):
        raise TypeError("clip_by_rect() takes scalar bounds")

    assert not _clip_takes_array_bounds(first_box_only)
    assert not _clip_takes_array_bounds(refuses)
    # the detection at import agrees with what the ufunc really does on this machine
    assert _clip_takes_array_bounds() == CLIP_TAKES_ARRAY_BOUNDS
    clip = getattr(shapely.lib, "clip_by_rect", None)
    if clip is not None:
        try:
            one = clip(
                np.array([shapely.box(0, 0, 10, 10)] * 2, dtype=object),
                np.array([0.0, 2.0]), np.array([0.0, 2.0]), np.array([1.0, 5.0]),
                np.array([1.0, 5.0]),
            )  # fmt: skip
            works = shapely.area(one).tolist() == [1.0, 9.0]  # by hand: 1 × 1, 3 × 3
        except TypeError:
            works = False
        assert works == CLIP_TAKES_ARRAY_BOUNDS


def test_a_collection_of_one_polygon_buffers_as_the_polygon():
    # what the remainders rely on when they buffer a parcel's lone building as it is instead of
    # as a collection of one (GEOS makes the same offset curves from both): checked on GEOS here
    geoms, _ = _shapes_and_boxes()  # polygons, multipolygons, holes, an empty polygon
    alone = shapely.geometrycollections(geoms, indices=np.arange(len(geoms)))
    assert (shapely.get_num_geometries(alone) == 1).all()
    for distance in (10.0, 0.5):
        assert shapely.equals_exact(
            shapely.buffer(alone, distance), shapely.buffer(geoms, distance), tolerance=0
        ).all()


def test_remainders_with_none_one_or_several_buildings():
    # three parcels of 200 × 100 m, 10 m margins, 5 亩 (3333 m²) minimum, 15 m inward buffer:
    # P1: one building over x 0–50: the piece is x 60–200, 140 × 100 = 14000 m² (as in
    #     _remainder_case); P2: buildings over x 0–50 and x 150–200: the piece is x 60–140,
    #     80 × 100 = 8000 m²; P3: built (n_buildings 1) but no building in the layer: no cover,
    #     the whole parcel, 20000 m², is the piece.
    x0, y0 = 500000.0, 3500000.0
    plots = [shapely.box(x0 + 1000 * k, y0, x0 + 1000 * k + 200, y0 + 100) for k in range(3)]
    frame = parcels(*({"geometry": g, "area_m2": g.area, "n_buildings": 1} for g in plots))
    houses = [
        shapely.box(x0, y0, x0 + 50, y0 + 100),
        shapely.box(x0 + 1000, y0, x0 + 1050, y0 + 100),
        shapely.box(x0 + 1150, y0, x0 + 1200, y0 + 100),
    ]
    buildings = gpd.GeoDataFrame({"parcel_id": ["P1", "P2", "P2"]}, geometry=houses, crs=GK_120E)
    result = remainder_pieces(frame, buildings, thresholds())
    assert result.pieces["parcel_id"].tolist() == ["P1", "P2", "P3"]
    assert result.pieces["area_m2"].tolist() == pytest.approx([14000.0, 8000.0, 20000.0], abs=1e-6)
    expected = [
        shapely.box(x0 + 60, y0, x0 + 200, y0 + 100),
        shapely.box(x0 + 1060, y0, x0 + 1140, y0 + 100),
        plots[2],
    ]
    got = result.pieces.geometry.to_numpy()
    assert (shapely.area(shapely.symmetric_difference(got, expected)) < 1e-6).all()


def test_parcels_whose_box_outside_the_cover_is_small_are_not_differenced(monkeypatch):
    # _remainder_case: the bounding box of P2 outside its building and margin is 30 × 100 m =
    # 3000 m², under 5 亩 (3333 m²): P2 cannot have a remainder and is not differenced; P1 (14000
    # m²) and P3 (300 × 15 = 4500 m²) are. The result is the one of test_undeveloped_remainder.
    plots, houses = _remainder_case(500000.0, 3500000.0)
    frame = parcels(*({"geometry": g, "area_m2": g.area, "n_buildings": 1} for g in plots))
    buildings = gpd.GeoDataFrame({"parcel_id": ["P1", "P2", "P3"]}, geometry=houses, crs=GK_120E)
    differenced = []
    real = shapely.difference
    monkeypatch.setattr(
        shapely, "difference", lambda a, b, **kw: differenced.append(len(a)) or real(a, b, **kw)
    )
    pieces = remainder_pieces(frame, buildings, thresholds())
    assert differenced == [2]
    assert pieces.pieces["parcel_id"].tolist() == ["P1"]
    assert pieces.pieces["area_m2"].tolist() == pytest.approx([14000.0], abs=1e-6)


def test_text_held_in_several_chunks_gives_the_same_findings():
    import pyarrow as pa

    rows = [
        {
            **NOT_STARTED,
            "agreed_start": pd.Timestamp(f"202{i}-03-01"),
            "parcel_id": f"P{i}",
            "supervision_no": f"S{i}",
        }
        for i in range(4)
    ]
    whole = parcels(*rows)
    chunked = pd.concat([parcels(*rows[:2]), parcels(*rows[2:])])
    held = pa.array(chunked["supervision_no"].array)
    assert isinstance(held, pa.ChunkedArray) and held.num_chunks == 2
    a, b = run(whole), run(chunked)
    pd.testing.assert_frame_equal(a.findings, b.findings)
    pd.testing.assert_frame_equal(a.per_parcel, b.per_parcel)
    # P0..P2 (agreed 2020-2022) are idle, P3 (2023-03-01) too: over two years by 2025-06-30
    assert b.findings.loc[b.findings["code"] == "IDLE_NOT_STARTED", "supervision_no"].tolist() == [
        "S0",
        "S1",
        "S2",
        "S3",
    ]
