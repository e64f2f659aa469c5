import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from landeff.errors import Diagnostics, InputError
from landeff.io.tables import read_table
from landeff.validate import (
    parse_dates,
    parse_numbers,
    prepare_enterprises,
    prepare_parcels,
    standardise,
    uscc_valid,
)

GOOD = "91350100M000100Y43"  # the GB 32100-2015 worked example


def raw(rows, columns):
    return read_table(pd.DataFrame(rows, columns=columns), kind="enterprises")


def test_uscc_check_character():
    assert uscc_valid(GOOD)
    assert not uscc_valid(GOOD[:-1] + "4")
    assert not uscc_valid("91350100M000100Y4")  # 17 characters
    assert not uscc_valid("91350100M000100I43")  # I is not in the alphabet


def test_money_in_yuan_header_gives_the_same_values_as_wan():
    d = Diagnostics()
    a = standardise(
        raw([[GOOD, 2024, 1234500]], ["统一社会信用代码", "年度", "实缴税金（元）"]),
        "enterprises",
        diagnostics=d,
    )
    b = standardise(
        raw([[GOOD, 2024, 123.45]], ["统一社会信用代码", "年度", "实缴税金(万元)"]),
        "enterprises",
        diagnostics=d,
    )
    assert a["tax_wan"].iloc[0] == pytest.approx(123.45)
    assert b["tax_wan"].iloc[0] == pytest.approx(123.45)
    assert d.warnings.empty


def test_header_without_unit_takes_default_with_a_warning():
    d = Diagnostics()
    out = standardise(
        raw([[GOOD, 2024, 50]], ["统一社会信用代码", "年度", "税收"]), "enterprises", diagnostics=d
    )
    assert out["tax_wan"].iloc[0] == 50
    w = d.warnings
    assert w["code"].tolist() == ["unit_assumed"]
    assert "万元" in w["message"].iloc[0]


def test_unknown_unit_is_a_clear_error():
    with pytest.raises(InputError, match="does not know"):
        standardise(
            raw([[GOOD, 1]], ["统一社会信用代码", "税收(美元)"]),
            "enterprises",
            diagnostics=Diagnostics(),
        )


@pytest.mark.parametrize(
    ("header", "value", "m2"),
    [
        ("宗地面积(平方米)", 666.6667, 666.6667),
        ("宗地面积(亩)", 1, 10000 / 15),
        ("宗地面积（公顷）", 1.5, 15000),
    ],
)
def test_area_units(header, value, m2):
    gdf = gpd.GeoDataFrame({header: [value]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4547)
    from landeff.io.vector import read_layer

    out = standardise(read_layer(gdf), "parcels", diagnostics=Diagnostics())
    assert out["recorded_area_m2"].iloc[0] == pytest.approx(m2)


def test_numbers_as_text():
    v, bad = parse_numbers(pd.Series(["1,234.50", "１２３", "  7 ", "-3.5", "—", None, "x1"]))
    assert v.iloc[:4].tolist() == [1234.5, 123.0, 7.0, -3.5]
    assert v.iloc[4:6].isna().all()
    assert bad.tolist() == [False] * 6 + [True]


def test_dates_in_every_common_form():
    d, bad = parse_dates(
        pd.Series(
            [
                "2019年12月31日",
                "2019-12-31",
                "2019/12/31",
                "2019.12.31",
                "20191231",
                43830,
                dt.date(2019, 12, 31),
                "2019年12月",
                "２０１９年１２月３１日",
                "not a date",
            ]
        )
    )
    assert [x.date() for x in d.iloc[:7]] == [dt.date(2019, 12, 31)] * 7
    assert d.iloc[7].date() == dt.date(2019, 12, 1)
    assert d.iloc[8].date() == dt.date(2019, 12, 31)
    assert bad.tolist() == [False] * 9 + [True]


def test_bad_date_is_warned_with_its_row():
    d = Diagnostics()
    frame = read_table(
        pd.DataFrame({"宗地编号": ["A"], "约定开工时间": ["明年"]}), kind="contracts"
    )
    out = standardise(frame, "contracts", diagnostics=d)
    assert pd.isna(out["agreed_start"].iloc[0])
    w = d.warnings.iloc[0]
    assert (w["code"], w["row"], w["value"]) == ("date_not_understood", 2, "明年")


def test_enterprise_rows_are_accounted_for():
    d = Diagnostics()
    rows = [
        [GOOD, "甲公司", 2024, 10],
        [GOOD, "甲公司", 2024, 10],  # exact repeat: merged
        ["91440300MA5F000000", "乙", 2024, 5],  # repeated with different values: both rejected
        ["91440300MA5F000000", "乙", 2024, 6],
        [None, None, 2024, 1],  # no identity
        ["9.13E+17", "丙", 2024, 1],  # code eaten by Excel
        ["合计", None, None, 32],  # totals row
        ["91350100M000100Y44", "丁", 2024, 3],  # bad check character: kept, warned
    ]
    frame = raw(rows, ["统一社会信用代码", "企业名称", "年度", "税收(万元)"])
    out = prepare_enterprises(frame, default_year=None, diagnostics=d)
    rej = d.rejected
    assert len(out) + len(rej) == len(rows)
    assert sorted(out["_row"]) == [2, 9]
    assert dict(zip(rej["row"], rej["reason_code"], strict=True)) == {
        3: "duplicate_merged",
        4: "duplicate_conflict",
        5: "duplicate_conflict",
        6: "no_identity",
        7: "uscc_lost",
        8: "non_data",
    }
    assert "uscc_check" in set(d.warnings["code"])


def test_parcels_without_ids_get_row_ids_and_duplicates_are_suffixed():
    d = Diagnostics()
    gdf = gpd.GeoDataFrame(
        {"宗地编号": ["A", "A", None]}, geometry=[shapely.box(0, 0, 1, 1)] * 3, crs=4547
    )
    from landeff.io.vector import read_layer

    out = prepare_parcels(read_layer(gdf), diagnostics=d)
    assert out["parcel_id"].tolist() == ["A", "A#2", "P00003"]
    assert {"duplicate_parcel_id", "parcel_id_generated"} <= set(d.warnings["code"])


def test_invalid_bow_tie_is_repaired_keeping_polygons():
    d = Diagnostics()
    bow = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    gdf = gpd.GeoDataFrame({"宗地编号": ["X"]}, geometry=[bow], crs=4547)
    from landeff.io.vector import read_layer

    out = prepare_parcels(read_layer(gdf), diagnostics=d)
    g = out.geometry.iloc[0]
    assert g.is_valid and g.geom_type in {"Polygon", "MultiPolygon"}
    assert g.area == pytest.approx(50.0)  # two triangles of 25 m²
    assert "geometry_repaired" in set(d.warnings["code"])
    assert np.isfinite(g.area)
