from pathlib import Path

import pytest

from landeff.errors import Diagnostics
from landeff.schema import FIELDS, UNITS, alias_table, schema_markdown, split_unit
from landeff.validate import map_headers

DOCS = Path(__file__).resolve().parents[1] / "docs" / "schema.md"

ISSUE_TABLE = {
    # canonical: (kind, headers) from the foundation issue's table
    "parcel_id": ("parcels", ["宗地编号", "宗地代码", "地块编号"]),
    "supervision_no": ("parcels", ["电子监管号"]),
    "holder_uscc": ("parcels", ["统一社会信用代码", "权利人统一社会信用代码"]),
    "holder_name": ("parcels", ["土地使用权人", "权利人"]),
    "uscc": ("enterprises", ["统一社会信用代码"]),
    "name": ("enterprises", ["企业名称"]),
    "parcel_ids": ("enterprises", ["所在宗地编号", "宗地编号"]),
    "rented_floor_area_m2": ("enterprises", ["租用建筑面积"]),
    "land_use": ("parcels", ["土地用途", "用地性质"]),
    "industry_code": ("enterprises", ["行业代码"]),
    "recorded_area_m2": ("parcels", ["宗地面积", "出让面积", "证载面积"]),
    "floors": ("buildings", ["层数"]),
    "storey_height_m": ("buildings", ["层高"]),
    "height_m": ("buildings", ["高度"]),
    "floor_area_m2": ("buildings", ["建筑面积"]),
    "year": ("enterprises", ["年度"]),
    "tax_wan": ("enterprises", ["税收", "实缴税金"]),
    "revenue_wan": ("enterprises", ["营业收入", "销售收入"]),
    "output_wan": ("enterprises", ["工业总产值"]),
    "value_added_wan": ("enterprises", ["工业增加值"]),
    "energy_tce": ("enterprises", ["综合能耗"]),
    "electricity_kwh": ("enterprises", ["用电量"]),
    "emissions_t": ("enterprises", ["排放量"]),
    "rd_wan": ("enterprises", ["研发经费"]),
    "employees": ("enterprises", ["从业人员"]),
    "above_scale": ("enterprises", ["规上"]),
    "production_start": ("enterprises", ["投产时间"]),
    "contract_date": ("contracts", ["合同签订日期"]),
    "agreed_start": ("contracts", ["约定开工时间", "约定动工日期"]),
    "agreed_completion": ("contracts", ["约定竣工时间"]),
    "actual_start": ("contracts", ["实际开工时间"]),
    "actual_completion": ("contracts", ["实际竣工时间"]),
    "far_min": ("contracts", ["容积率下限"]),
    "far_max": ("contracts", ["容积率上限"]),
    "investment_total_wan": ("contracts", ["约定投资总额"]),
    "investment_done_wan": ("contracts", ["已完成投资"]),
    "land_price_wan": ("contracts", ["成交价格"]),
    "suspended_since": ("contracts", ["停工日期"]),
    "developed_area_m2": ("contracts", ["已开发面积"]),
    "gov_cause": ("contracts", ["政府原因"]),
    "committed_tax_wan_per_mu": ("contracts", ["承诺亩均税收"]),
    "committed_output_wan_per_mu": ("contracts", ["承诺亩均产值"]),
    "grade_history": ("enterprises", ["评价等级"]),
    "structure_yard_area_m2": ("contracts", ["构筑物及堆场面积"]),
}


@pytest.mark.parametrize(
    ("canonical", "kind", "header"), [(c, k, h) for c, (k, hs) in ISSUE_TABLE.items() for h in hs]
)
def test_every_alias_in_the_issue_maps(canonical, kind, header):
    assert alias_table(kind)[header] == canonical


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.name)
def test_every_declared_alias_maps_to_its_field_in_each_kind(field):
    for kind in field.kinds:
        table = alias_table(kind)
        assert table[field.name] == field.name
        for alias in field.aliases:
            # an alias two fields share resolves to the earlier one; else to this field
            owner = table[alias.lower()]
            assert owner == field.name or FIELDS.index(
                next(f for f in FIELDS if f.name == owner)
            ) < FIELDS.index(field)


def test_unit_in_header_full_and_half_width():
    assert split_unit("实缴税金（元）") == ("实缴税金", "元")
    assert split_unit("宗地面积(公顷)") == ("宗地面积", "公顷")
    assert split_unit("用电量【万千瓦时】") == ("用电量", "万千瓦时")
    assert split_unit("承诺亩均税收(万元/亩)") == ("承诺亩均税收", "万元/亩")


def test_truncated_dbf_name_matches_by_prefix():
    d = Diagnostics()
    found = map_headers(["统一社会信", "宗地编号"], "parcels", file="x.shp", diagnostics=d)
    assert found["统一社会信"] == ("holder_uscc", None)
    assert found["宗地编号"] == ("parcel_id", None)


def test_unit_factors_round_trip():
    for _family, (_canonical, table) in UNITS.items():
        for _spelling, factor in table.items():
            assert factor > 0
            assert (123.45 * factor) / factor == pytest.approx(123.45)
    assert UNITS["area"][1]["公顷"] / UNITS["area"][1]["亩"] == pytest.approx(15.0)


def test_docs_schema_is_in_sync():
    assert DOCS.read_text(encoding="utf-8") == schema_markdown(), (
        "docs/schema.md is stale: run `python -m landeff.schema > docs/schema.md`"
    )


def test_schema_doc_lists_every_field():
    text = schema_markdown()
    for f in FIELDS:
        assert f"`{f.name}`" in text
