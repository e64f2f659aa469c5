"""read_landchina: the 中国土地市场网 供地结果 export, and the idle rules on its real records."""

from __future__ import annotations

import calendar
import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from landeff.errors import Diagnostics, InputError
from landeff.flags import find
from landeff.io.landchina import CONTRACT_COLUMNS, read_landchina, read_landchina_list
from landeff.policy import load_policy

# ../shared beside the repository root (tests/ -> repo -> ..)
SHARED = Path(__file__).parents[1] / ".." / "shared"
REAL = SHARED / "realdata" / "landchina_supply_results" / "output.json"
needs_real = pytest.mark.skipif(
    not REAL.exists(),
    reason=f"real 中国土地市场网 export not found at {REAL} (the ../shared data folder is absent)",
)

# The default preset's thresholds: the ledger is checked as a park would check it.
THRESHOLDS = load_policy().thresholds


def _write(tmp_path: Path, *arrays: list[dict], sep: str = "") -> Path:
    path = tmp_path / "output.json"
    text = sep.join(json.dumps(a, ensure_ascii=False, indent=1) for a in arrays)
    path.write_bytes(text.encode("gbk"))
    return path


# -- built files -----------------------------------------------------------------------------------


def _record(**kw: object) -> dict:
    rec = {
        "idnumber": "3201152019B00001",
        "holder": "南京某机械有限公司",
        "use": "工业用地",
        "supply": "挂牌出让",
        "area": "2.000000",
        "price": "1200.0000",
        "plot_ratio_minimum": "1.00",
        "plot_ratio_maximum": "",
        "time4commencement_plan": "2020年02月29日",
        "time4completion_plan": "2022年02月28日",
        "time4commencement_reality": "",
        "time4completion_reality": " ",
        "date4sign": "2019年12月31日",
        "name": "年产1万台机械项目",
        "district": "江宁区",
        "industry": "通用设备制造业",
        "paid_plan": {"1": ["2020年01月30日", "1200.0000"]},
    }
    rec.update(kw)
    return rec


def test_two_arrays_back_to_back(tmp_path: Path):
    listing = [{"serial_number": "1.", "location": "某镇", "link": "http://x", "area": "0.5",
                "use": "公共设施用地", "supply": "划拨", "date": "2018/12/24"}]
    path = _write(tmp_path, [_record()], listing)
    diag = Diagnostics()
    table = read_landchina(path, diagnostics=diag)
    assert list(table.columns) == CONTRACT_COLUMNS
    assert len(table) == 1
    row = table.iloc[0]
    assert row["supervision_no"] == "3201152019B00001"
    assert row["recorded_area_m2"] == pytest.approx(20000.0)  # 2 公顷 × 10000
    assert row["land_price_wan"] == pytest.approx(1200.0)
    assert row["far_min"] == 1.0
    assert np.isnan(row["far_max"])  # "" = no upper limit
    assert row["agreed_start"] == pd.Timestamp("2020-02-29")
    assert row["agreed_completion"] == pd.Timestamp("2022-02-28")
    assert pd.isna(row["actual_start"]) and pd.isna(row["actual_completion"])  # "" and " "
    assert row["contract_date"] == pd.Timestamp("2019-12-31")
    assert bool(row["is_industrial"])
    assert (row["_sheet"], row["_row"]) == ("array1", 1)
    assert json.loads(row["payment_plan"]) == {"1": ["2020年01月30日", "1200.0000"]}
    # the list-page row is not a contract, and is not lost: it is a rejected row with its place
    rejected = diag.rejected
    assert rejected[["sheet", "row", "reason_code", "value"]].values.tolist() == [
        ["array2", 1, "LANDCHINA_LIST_ROW", "http://x"]
    ]
    listed = read_landchina_list(path)
    assert listed.loc[0, "recorded_area_m2"] == pytest.approx(5000.0)
    assert listed.loc[0, "date"] == pd.Timestamp("2018-12-24")


def test_allocation_without_price_and_zero_far(tmp_path: Path):
    path = _write(
        tmp_path,
        [
            _record(idnumber="A", supply="划拨", price="0.0000", plot_ratio_minimum="0.00",
                    plot_ratio_maximum="0.00"),
            _record(idnumber="B", supply="划拨", price=""),
            _record(idnumber="C", supply="划拨", price="35.5000"),
            _record(idnumber="D", use="0601", supply="协议出让"),
            _record(idnumber="E", use="仓储用地"),
        ],
    )
    table = read_landchina(path).set_index("supervision_no")
    assert table["land_price_wan"].isna().tolist() == [True, True, False, False, False]
    assert table.loc["C", "land_price_wan"] == pytest.approx(35.5)  # a real 划拨 price is kept
    assert np.isnan(table.loc["A", "far_min"]) and np.isnan(table.loc["A", "far_max"])
    assert table["is_industrial"].tolist() == [True, True, True, True, False]


def test_bad_values_are_warned_not_dropped(tmp_path: Path):
    path = _write(tmp_path, [_record(area="约2公顷", time4completion_plan="2022年13月40日")])
    diag = Diagnostics()
    table = read_landchina(path, diagnostics=diag)
    assert len(table) == 1
    assert np.isnan(table.loc[0, "recorded_area_m2"])
    assert pd.isna(table.loc[0, "agreed_completion"])
    assert sorted(diag.warnings["column"]) == ["agreed_completion", "area"]
    assert set(diag.warnings["row"]) == {1}


def test_not_an_export(tmp_path: Path):
    path = tmp_path / "x.json"
    path.write_bytes("{\"a\": 1}".encode("gbk"))
    with pytest.raises(InputError, match=r"x\.json: JSON value number 1 is not an array"):
        read_landchina(path)
    path.write_bytes(b"[1, 2")
    with pytest.raises(InputError, match="not a 中国土地市场网 JSON export"):
        read_landchina(path)
    with pytest.raises(InputError, match="cannot read"):
        read_landchina(tmp_path / "missing.json")
    path.write_bytes(json.dumps([{"serial_number": "1."}]).encode("gbk"))
    with pytest.raises(InputError, match="no array of detail records"):
        read_landchina(path)


# -- the real export -------------------------------------------------------------------------------


def _raw_records() -> list[dict]:
    """Read array 1 of the real file independently of the reader (for the expected values)."""
    text = REAL.read_bytes().decode("gbk")
    first, end = json.JSONDecoder().raw_decode(text)
    return first


def _cn_date(text: str) -> dt.date | None:
    m = re.fullmatch(r"(\d{4})年(\d{2})月(\d{2})日", text.strip())
    return dt.date(int(m[1]), int(m[2]), int(m[3])) if m else None


@needs_real
def test_real_export_loads():
    diag = Diagnostics()
    table = read_landchina(REAL, diagnostics=diag)
    assert len(table) == 203  # array 1, per PROVENANCE.txt
    assert table["supervision_no"].is_unique
    assert (table["land_use"] == "工业用地").sum() == 35
    assert table["_file"].unique().tolist() == [str(REAL)]
    # array 2 (38 list-page rows for Guangzhou) is reported, not silently dropped
    assert len(diag.rejected) == 38
    assert set(diag.rejected["reason_code"]) == {"LANDCHINA_LIST_ROW"}
    assert len(read_landchina_list(REAL)) == 38
    assert diag.warnings.empty  # every date, area and price in the file parses

    by_no = table.set_index("supervision_no")
    coded = by_no.loc[by_no["land_use"] == "0601"]
    assert coded.index.tolist() == ["4514002016B00269-1"]
    assert bool(coded["is_industrial"].iloc[0])
    assert table["is_industrial"].sum() == 36  # 35 工业用地 + the 0601 record

    # the industrial 划拨 record: no price in the file, so no land price (and later no fee)
    alloc = by_no.loc[by_no["is_industrial"] & (by_no["supply_method"] == "划拨")]
    assert alloc.index.tolist() == ["6529012018A00694"]
    assert alloc["land_price_wan"].isna().all()
    assert alloc["holder_name"].isna().all()  # the file leaves 土地使用权人 empty

    # one record checked field by field against the raw JSON strings
    r = by_no.loc["3505812018B01335"]
    assert r["recorded_area_m2"] == pytest.approx(0.4298 * 10000)
    assert r["land_price_wan"] == pytest.approx(256.65)
    assert (r["far_min"], r["far_max"]) == (1.2, 2.2)
    assert r["agreed_start"] == pd.Timestamp("2019-12-31")
    assert r["agreed_completion"] == pd.Timestamp("2020-12-31")
    assert r["supply_method"] == "协议出让"
    # far_max "0.00" means no upper limit
    assert np.isnan(by_no.loc["3204822018B02943", "far_max"])
    assert table["actual_start"].isna().all() and table["actual_completion"].isna().all()


def _anniversary(day: dt.date, years: int) -> dt.date:
    """Plain 民法典 article 202: same date, or the month's last day where it does not exist."""
    y = day.year + years
    return dt.date(y, day.month, min(day.day, calendar.monthrange(y, day.month)[1]))


def _expected(records: list[dict], as_of: dt.date) -> tuple[Counter, set, set]:
    """Independent count: idle stages and overdue starts, from the raw agreed start dates."""
    stages: Counter = Counter()
    overdue: set = set()
    reclaim: set = set()
    for rec in records:
        if rec["use"] not in ("工业用地", "0601"):
            continue
        start = _cn_date(rec["time4commencement_plan"])
        assert start is not None  # every industrial record has an agreed start (PROVENANCE.txt)
        if as_of >= _anniversary(start, 2):
            stages["reclaim"] += 1
            reclaim.add(rec["idnumber"])
        elif as_of >= _anniversary(start, 1):
            stages["fee"] += 1
        elif as_of > start:
            overdue.add(rec["idnumber"])
    return stages, overdue, reclaim


# The counts the plain computation gives, written out so the test shows them. By hand, 2020-12-31:
# reclaim needs an agreed start on or before 2018-12-31 (only 6529012018A00694); overdue starts lie
# in 2020 (2020-02-01 and 2020-04-30); the other 33 started by 2019-12-31 (3505812018B01335 on that
# very day: its first anniversary is as_of itself, so it is idle, stage fee).
SHOWN_COUNTS = {
    dt.date(2020, 12, 31): ({"fee": 33, "reclaim": 1}, 2),
    dt.date(2021, 6, 30): ({"fee": 13, "reclaim": 23}, 0),
}


@needs_real
@pytest.mark.parametrize("as_of", [dt.date(2020, 12, 31), dt.date(2021, 6, 30)])
def test_real_contracts_idle_as_of(as_of: dt.date):
    records = _raw_records()
    stages, overdue, reclaim = _expected(records, as_of)
    assert (dict(stages), len(overdue)) == SHOWN_COUNTS[as_of]
    table = read_landchina(REAL)
    contracts = table.loc[table["is_industrial"]].set_index("supervision_no")
    assert len(contracts) == 36
    diag = Diagnostics()
    result = find(contracts, as_of=as_of, thresholds=THRESHOLDS, diagnostics=diag)
    f = result.findings
    idle = f.loc[f["code"] == "IDLE_NOT_STARTED"]
    assert idle["stage"].value_counts().to_dict() == dict(stages)
    assert set(idle.loc[idle["stage"] == "reclaim", "supervision_no"]) == reclaim
    assert set(f.loc[f["code"] == "OVERDUE_START", "supervision_no"]) == overdue
    # every industrial record gets exactly one of the two start findings (none has started yet)
    not_yet_due = 0
    for r in records:
        start = _cn_date(r["time4commencement_plan"])
        if r["use"] in ("工业用地", "0601") and start is not None and as_of <= start:
            not_yet_due += 1
    assert sum(stages.values()) + len(overdue) == 36 - not_yet_due
    # a fee only at the fee stage, and only where a price is known (20 %)
    fees = idle.loc[idle["stage"] == "fee"].set_index("supervision_no")
    prices = contracts.loc[fees.index, "land_price_wan"]
    assert np.allclose(fees["fee_wan"], prices * 0.2, equal_nan=True)
    assert idle.loc[idle["stage"] == "reclaim", "fee_wan"].isna().all()
    # overdue completion: agreed completion before as_of, computed plainly
    late = set()
    for r in records:
        done_by = _cn_date(r["time4completion_plan"])
        if r["use"] in ("工业用地", "0601") and done_by is not None and done_by < as_of:
            late.add(r["idnumber"])
    assert set(f.loc[f["code"] == "OVERDUE_COMPLETION", "supervision_no"]) == late
    # no geometry: the area rules were skipped, and the findings say so
    assert set(f["code"]) <= {"IDLE_NOT_STARTED", "OVERDUE_START", "OVERDUE_COMPLETION"}
    assert f["evidence"].str.contains("无宗地图形").all()
    assert "no_geometry_rules_skipped" in set(diag.warnings["code"])
    assert (f["as_of"] == pd.Timestamp(as_of)).all()


@needs_real
def test_real_edge_records():
    table = read_landchina(REAL)
    contracts = table.loc[table["is_industrial"]].set_index("supervision_no")
    # 划拨 record, agreed start 2018-12-31: on 2020-12-31 exactly two full years -> reclaim
    end_2020 = find(contracts, as_of="2020-12-31", thresholds=THRESHOLDS).findings
    row = end_2020.loc[(end_2020["supervision_no"] == "6529012018A00694")
                       & (end_2020["code"] == "IDLE_NOT_STARTED")].iloc[0]
    assert (row["stage"], row["value"]) == ("reclaim", 2.0)
    assert np.isnan(row["fee_wan"])
    # the 0601 record, agreed start 2019-06-30, price 1306.62 万元
    row = end_2020.loc[(end_2020["supervision_no"] == "4514002016B00269-1")
                       & (end_2020["code"] == "IDLE_NOT_STARTED")].iloc[0]
    assert row["stage"] == "fee"
    assert row["fee_wan"] == pytest.approx(1306.62 * 0.2)  # 261.324
    assert "约定开工 2019-06-30，截至 2020-12-31 未开工，已满 1 年" in row["evidence"]
    mid_2021 = find(contracts, as_of="2021-06-30", thresholds=THRESHOLDS)
    stage = mid_2021.per_parcel.loc["4514002016B00269-1", "idle_stage"]
    assert stage == "reclaim"  # 2021-06-30 is the second anniversary itself
    day_before = find(contracts, as_of="2021-06-29", thresholds=THRESHOLDS)
    assert day_before.per_parcel.loc["4514002016B00269-1", "idle_stage"] == "fee"
