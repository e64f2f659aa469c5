import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --------------------------------------------------------------------------------------------
# The column parsers agree with the rules for one cell, written out here as the reference.
# --------------------------------------------------------------------------------------------



def number_reference(cell):
    """The documented rule for one cell: NFKC, strip, drop , and spaces, words for empty, %."""
    import unicodedata

    if cell is None:
        return np.nan, False
    text = unicodedata.normalize("NFKC", cell).strip().replace(",", "").replace(" ", "")
    if text in {"", "-", "—", "--", "/", "无", "null", "None", "nan", "NaN"}:
        return np.nan, False
    try:
        return (float(text[:-1]) / 100, False) if text.endswith("%") else (float(text), False)
    except ValueError:
        return np.nan, True


NUMBER_TEXT = st.text(alphabet="0123456789+-.eE,% _\u3000１２nafiNIxy", max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(NUMBER_TEXT, st.none()), min_size=1, max_size=30))
def test_parse_numbers_follows_the_rule_for_each_cell(cells):
    for values in (pd.Series(cells, dtype=object), pd.Series(cells, dtype="str")):
        got, bad = parse_numbers(values)
        want = [number_reference(c) for c in cells]
        np.testing.assert_array_equal(got.to_numpy(), np.array([w[0] for w in want], dtype=float))
        assert bad.tolist() == [w[1] for w in want]


def test_parse_numbers_reads_plain_numbers_exactly():
    # pyarrow converts plain numbers; they must round as Python's float() does, digit for digit.
    rng = np.random.default_rng(1)
    texts = [repr(float(x)) for x in rng.normal(0, 1e6, 2000)]
    texts += [f"{x:.17g}" for x in rng.uniform(0, 1, 2000)] + ["1e400", "-0", "+.5", "7."]
    got, bad = parse_numbers(pd.Series(texts, dtype="str"))
    assert got.tolist() == [float(t) for t in texts] and not bad.any()


def test_dates_outside_what_pandas_holds_are_not_understood():
    # These crashed the stage before (pandas keeps nanoseconds from 1677 to 2262); now: warned.
    d, bad = parse_dates(pd.Series(["1500-01-01", "2019-02-30", " 2019-12-31 ", "3000年1月"]))
    assert bad.tolist() == [True, True, False, True]
    assert str(d.iloc[2].date()) == "2019-12-31"


def date_reference(cell):
    """The documented rule for one text cell: NFKC, strip, then 2019年12月31日, 2019-12-31 (also / or
    .), 20191231 or a 5-digit Excel serial; a date pandas cannot hold is not understood."""
    import re
    import unicodedata

    if cell is None:
        return pd.NaT, False
    text = unicodedata.normalize("NFKC", cell).strip()
    if not text:
        return pd.NaT, False
    m = (re.match(r"^(\d{4})年(\d{1,2})月(?:(\d{1,2})日?)?$", text)
         or re.match(r"^(\d{4})[-/.](\d{1,2})(?:[-/.](\d{1,2}))?(?:[ T].*)?$", text)
         or re.match(r"^(\d{4})(\d{2})(\d{2})$", text))
    if m is None and re.fullmatch(r"\d{5}(\.0)?", text):
        return pd.Timestamp("1899-12-30") + pd.Timedelta(days=int(float(text))), False
    if m is None:
        return pd.NaT, True
    try:
        ts = pd.Timestamp(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1))
    except ValueError:
        return pd.NaT, True
    return (ts, False) if pd.Timestamp.min <= ts <= pd.Timestamp.max else (pd.NaT, True)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.text(alphabet="0123456789-/.年月日 ", max_size=12),
    st.builds("{:04d}-{:02d}-{:02d}".format, st.integers(1, 9999), st.integers(0, 13),
              st.integers(0, 32)),
    st.sampled_from(["2019-12-31", "2020-02-29", "2021-02-29", "2019-1-5", "２０１９年１２月"]),
    st.none()), min_size=1, max_size=20))
def test_parse_dates_follows_the_rule_for_each_cell(cells):
    for values in (pd.Series(cells, dtype=object), pd.Series(cells, dtype="str")):
        got, bad = parse_dates(values)
        want = [date_reference(c) for c in cells]
        assert [None if pd.isna(x) else x for x in got] == [
            None if pd.isna(w[0]) else w[0] for w in want]
        assert bad.tolist() == [w[1] for w in want]


def test_flags_from_a_long_text_column():
    from landeff.validate import parse_bools

    cells = ["是", " Y ", "ＹＥＳ", "否", "规下", "", "也许", None, "TRUE", "0"] * 50
    got, bad = parse_bools(pd.Series(cells, dtype="str"))
    first = got.iloc[:10].tolist()
    assert first == [True, True, True, False, False, pd.NA, pd.NA, pd.NA, True, False]
    assert bad.iloc[:10].tolist() == [False] * 6 + [True] + [False] * 3
    assert got.tolist() == first * 50


def test_credit_code_check_many_agrees_with_one_by_one():
    from landeff.validate import USCC_ALPHABET, uscc_valid_many

    rng = np.random.default_rng(2)
    codes = ["".join(rng.choice(list(USCC_ALPHABET), 17)) for _ in range(300)]
    codes = [c + USCC_ALPHABET[i % 31] for i, c in enumerate(codes)]  # about 1 in 31 is right
    codes += [GOOD, GOOD.lower(), GOOD[:-1], GOOD + "0", GOOD[:-1] + "Ｘ", "I" + GOOD[1:], ""]
    got = uscc_valid_many(codes + [None, 9.1e17])
    assert got.tolist() == [uscc_valid(c) for c in codes] + [False, False]
    assert 0 < got.sum() < len(codes)


def test_text_of_a_long_column_of_few_values():
    # Columns of few distinct values are folded once per value; the result is per cell as before.
    from landeff.validate import _text

    cells = [" ｐ1 ", "P2", None, "", "园区\u3000A"] * 2000
    got = _text(pd.Series(cells, dtype="str"))
    assert got.iloc[:5].tolist() == ["p1", "P2", None, None, "园区 A"]
    assert got.tolist() == got.iloc[:5].tolist() * 2000
    assert got.dtype == object


def test_repeated_enterprise_years_are_recorded_group_by_group():
    d = Diagnostics()
    other = "91440300MA5F000000"
    rows = [
        [other, "乙", 2024, 5],  # row 2: conflict with row 4
        [GOOD, "甲", 2024, 10],  # row 3
        [other, "乙", 2024, 6],  # row 4
        [GOOD, "甲", 2024, 10],  # row 5: repeats row 3: merged
        [None, "丙", 2024, 1],  # row 6
        [None, " 丙 ", 2024, 1],  # row 7: the same name once folded: merged
    ]
    out = prepare_enterprises(raw(rows, ["统一社会信用代码", "企业名称", "年度", "税收(万元)"]),
                              default_year=None, diagnostics=d)
    assert sorted(out["_row"]) == [3, 6]
    # Groups in the order they first appear (乙, 甲, 丙), each group's rows in order.
    assert d.rejected[["row", "reason_code"]].values.tolist() == [
        [2, "duplicate_conflict"], [4, "duplicate_conflict"], [5, "duplicate_merged"],
        [7, "duplicate_merged"]]
    merged = d.warnings[d.warnings["code"] == "duplicate_merged"]
    assert merged["row"].tolist() == [5, 7]
    assert "repeats row 3" in merged["message"].iloc[0] and "repeats row 6" in merged["message"].iloc[1]


def test_a_real_code_with_an_e_between_digits_is_not_a_lost_number():
    from landeff.validate import check_uscc

    d = Diagnostics()
    frame = pd.DataFrame({"uscc": ["910939660001E53999", "9.13E+17", "9.1343E17"],
                          "_file": "e.csv", "_sheet": None, "_row": [2, 3, 4]})
    kept = check_uscc(frame, "uscc", diagnostics=d)
    assert kept["uscc"].tolist() == ["910939660001E53999"]
    assert d.rejected["row"].tolist() == [3, 4]
