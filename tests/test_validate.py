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


# --------------------------------------------------------------------------------------------
# Fast paths: a column of text (pyarrow-backed, as read from CSV, GeoParquet or GeoPackage) is
# parsed and checked in pyarrow; the same cells in an object column go cell by cell. Both must give
# what the rule for one cell, written out here, gives.
# --------------------------------------------------------------------------------------------

WHITE = "\t\n\x0b\x1c \xa0\u2003\u3000\u2028"  # ASCII and Unicode white space
FOLD_TEXT = st.text(alphabet="aZ09P-_." + WHITE + "ｐＡ１园区\u0308", max_size=8)


def fold_reference(cell, upper):
    """The rule for one text cell: NFKC, strip, upper-case for codes; nothing left is missing."""
    import unicodedata

    if cell is None:
        return None
    text = unicodedata.normalize("NFKC", cell).strip()
    return (text.upper() if upper else text) or None


def both_kinds(cells):
    """The same cells as a pyarrow-backed text column and as an object column."""
    return pd.Series(cells, dtype="str"), pd.Series(cells, dtype=object)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(FOLD_TEXT, st.none()), min_size=1, max_size=20), st.booleans())
def test_text_and_codes_fold_alike_in_pyarrow_and_cell_by_cell(cells, long):
    from landeff.validate import _codes, _text

    if long:  # long and of few values: folded once per distinct value
        cells = cells * (9000 // len(cells) + 1)
    for fold, upper in ((_text, False), (_codes, True)):
        want = [fold_reference(c, upper) for c in cells]
        for values in both_kinds(cells):
            got = fold(values)
            assert got.dtype == object and got.tolist() == want


TOTAL_TEXT = st.text(alphabet="合计总小累x:：tTOoaAlｔ" + WHITE + "\u0308", max_size=9)


def total_reference(cell):
    """A totals label: NFKC, white space removed, then 合计/总计/小计/累计/total, maybe a colon."""
    import re
    import unicodedata

    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", cell))
    return bool(re.match(r"^(合计|总计|小计|累计|total)[:：]?$", text, re.IGNORECASE))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(TOTAL_TEXT, st.sampled_from(["合计", " 总 计：", "ＴＯＴＡＬ", "合\u3000计",
                                                      "合 \u3000 \t 计\xa0 ：", " t o t a l : "]),
                          st.none()), min_size=1, max_size=20))
def test_totals_cells_are_found_alike_in_pyarrow_and_cell_by_cell(cells):
    from landeff.validate import _total_cells, _total_cells_one_by_one

    want = [c is not None and total_reference(c) for c in cells]
    text, objects = both_kinds(cells)
    assert _total_cells(text).tolist() == want  # pyarrow
    assert _total_cells(objects).tolist() == want  # pyarrow, from an object column of text
    assert _total_cells_one_by_one(objects).tolist() == want
    mixed = pd.Series([*cells, 3.5, ["合计"]], dtype=object)  # not all text: cell by cell
    assert _total_cells(mixed).tolist() == [*want, False, False]


def test_white_space_screen_misses_no_white_space_character():
    import pyarrow as pa

    from landeff.io.tables import PY_WHITESPACE
    from landeff.validate import _may_hold_white_space

    assert "".join(c for c in map(chr, range(0x110000)) if c.isspace()) == PY_WHITESPACE
    for c in PY_WHITESPACE:
        arr = pa.array(["x", f"合{c}计", "y"])
        assert _may_hold_white_space(arr) and _may_hold_white_space(arr.slice(1, 1))
        assert not _may_hold_white_space(arr.slice(2))  # the bytes of a slice only
    assert not _may_hold_white_space(pa.array(["合成企业有限公司", "P0001;P2", "ｔｏｔａｌ", None]))


CODE_CELLS = [GOOD, GOOD.lower(), f" {GOOD} ", GOOD[:-1] + "4", "９１３５０１００Ｍ０００１００Ｙ４３",
              "910939660001E53999", "9.13501E+17", "9.13501e+17", "1E+17", "-9E-3", "+1.5E10",
              "١.٢E+5", "1.5E10", "9.1E+17.5", "ABCDEFGHJKLMNPQRT1", GOOD[:-1] + "Ｘ", "", "合计", None]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(CODE_CELLS), min_size=1, max_size=25))
def test_credit_code_checks_alike_in_pyarrow_and_cell_by_cell(cells):
    from landeff.validate import check_uscc

    results = []
    for values in both_kinds(cells):
        d = Diagnostics()
        frame = pd.DataFrame({"uscc": values, "_file": "e.csv", "_sheet": None,
                              "_row": range(2, len(cells) + 2)})
        kept = check_uscc(frame, "uscc", diagnostics=d)
        results.append((kept["uscc"].tolist(), kept["_row"].tolist(), d.rejected.to_dict("list"),
                        d.warnings.to_dict("list")))
    assert results[0] == results[1]
    # The rule for one code, after folding: lost if in scientific notation, checked if not.
    import re

    for code, row in zip(*results[0][:2], strict=True):
        assert not re.match(r"^[+-]?\d+(\.\d+)?[eE][+-]\d+$|^[+-]?\d+\.\d+[eE]\d+$", code or "")
        assert code == fold_reference(cells[row - 2], upper=True)


def test_code_flags_of_text_agree_with_the_python_rules():
    import pyarrow as pa

    from landeff.validate import _code_flags

    # Folded codes as check_uscc sees them, and what a reader could hand over unfolded: a code
    # ending in a line break (Python's $ matches before it), digits of other scripts (\d in Python).
    codes = pd.Series([c for c in CODE_CELLS if c is not None] + ["9E+5\n", "٣E+5", None] * 3,
                      dtype=object)
    fast = _code_flags(codes, pa.array(codes, type=pa.large_string(), from_pandas=True))
    slow = _code_flags(codes, None)
    assert fast[0].tolist() == slow[0].tolist() and fast[1].tolist() == slow[1].tolist()
    assert fast[0].sum() >= 8 and fast[1].sum() >= 2  # both kinds are there


def test_credit_code_check_of_text_agrees_with_one_by_one():
    import pyarrow as pa

    from landeff.validate import USCC_ALPHABET, _uscc_valid_text

    rng = np.random.default_rng(3)
    codes = ["".join(rng.choice(list(USCC_ALPHABET), 17)) for _ in range(300)]
    codes = [c + USCC_ALPHABET[i % 31] for i, c in enumerate(codes)]
    codes += [GOOD, GOOD.lower(), GOOD[:-1], GOOD + "0", GOOD[:-1] + "Ｘ", "é" + GOOD[2:], "", None]
    for arr in (pa.array(codes), pa.array(codes, type=pa.large_string())):
        for part in (arr, arr.slice(5), arr.slice(3, 200)):  # offsets into the buffers
            want = [c is not None and uscc_valid(c) for c in part.to_pylist()]
            assert _uscc_valid_text(part).tolist() == want
    assert sum(uscc_valid(c) for c in codes if c) > 5


def test_iso_date_columns_are_read_in_one_go_as_cell_by_cell():
    rng = np.random.default_rng(4)
    days = pd.Timestamp("1980-01-01") + pd.to_timedelta(rng.integers(0, 20000, 500), unit="D")
    cells = [d.strftime("%Y-%m-%d") for d in days] + ["", " 2020-02-29 ", "\u3000", None]
    fast, fast_bad = parse_dates(pd.Series(cells, dtype="str"))  # every cell ISO or blank
    slow, slow_bad = parse_dates(pd.Series([*cells, "2019年1月"], dtype="str"))
    assert fast.tolist() == slow.iloc[:-1].tolist() and not fast_bad.any() and not slow_bad.any()
    assert fast.iloc[:500].tolist() == list(days) and fast.iloc[-4:].isna().tolist() == [
        True, False, True, True]
    # A day the month lacks, or a year pandas cannot hold: not understood, as one by one.
    for odd in ("2019-02-29", "1600-01-01"):
        got, bad = parse_dates(pd.Series([*cells[:3], odd], dtype="str"))
        assert got.iloc[:3].tolist() == list(days[:3]) and bad.tolist() == [False] * 3 + [True]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet="P12a;，、 \u3000,", max_size=8), st.none()),
                min_size=1, max_size=20))
def test_id_lists_alike_in_pyarrow_and_cell_by_cell(cells):
    import re
    import unicodedata

    from landeff.validate import _id_lists

    want = [[] if c is None else
            [p for p in re.split(r"[,;，；、\s]+", unicodedata.normalize("NFKC", c).strip()) if p]
            for c in cells]
    for values in both_kinds(cells):
        assert _id_lists(values).tolist() == want


def awkward_enterprise_rows(n):
    """Rows with totals, lost and bad codes, repeats, names with spaces, blank and odd cells."""
    rng = np.random.default_rng(5)
    pick = lambda pool: [pool[i] for i in rng.integers(0, len(pool), n)]  # noqa: E731
    return pd.DataFrame({
        "统一社会信用代码": pick(CODE_CELLS),
        "企业名称": pick(["甲公司", " 乙 公司 ", "合计", "ABC Co Ltd", "ｔｏｔａｌ：", "", None]),
        "年度": pick(["2024", "2023", " 2024 ", "", "二〇二四"]),
        "税收(万元)": pick(["1.5", "2,000", "-3", "", "１２", "x"]),
        "园区": pick(["YQ1", "YQ2", " yq1", "小计"]),
        "所在宗地编号": pick(["P1", "P1;P2", "P2，P3", "", None]),
        "投产日期": pick(["2019-12-31", "2019年1月", ""]),
        "规上": pick(["是", "否", "Y", "也许"]),
    })


@pytest.mark.parametrize("n", [40, 9000])  # 9000: long enough to fold few values once each
def test_enterprises_prepared_alike_from_text_and_object_columns(n):
    rows = awkward_enterprise_rows(n)
    results = []
    for dtype in ("str", object):
        d = Diagnostics()
        frame = read_table(rows.astype(dtype), kind="enterprises")
        out = prepare_enterprises(frame, default_year=2024, diagnostics=d)
        results.append((out, d))
    (a, da), (b, db) = results
    pd.testing.assert_frame_equal(a.drop(columns="_file"), b.drop(columns="_file"))
    pd.testing.assert_frame_equal(da.warnings, db.warnings)
    pd.testing.assert_frame_equal(da.rejected, db.rejected)
    assert {"non_data", "uscc_lost"} <= set(da.rejected["reason_code"])
    assert "uscc_check" in set(da.warnings["code"])


def test_parcels_and_contracts_prepared_alike_from_text_and_object_columns():
    from landeff.validate import prepare_contracts

    rng = np.random.default_rng(6)
    n = 300
    cols = {"宗地编号": [f" P{i} " if i % 7 else None for i in range(n)],
            "权利人统一社会信用代码": [CODE_CELLS[i] for i in rng.integers(0, len(CODE_CELLS), n)],
            "受让人": [["甲", "合计", None, " 乙 "][i % 4] for i in range(n)]}
    geoms = [shapely.box(120 + i * 1e-3, 30, 120.0005 + i * 1e-3, 30.0005) for i in range(n)]
    results = []
    for dtype in ("str", object):
        table = pd.DataFrame(cols).astype(dtype).assign(_file="x", _sheet=None,
                                                        _row=range(2, n + 2))
        d = Diagnostics()
        par = prepare_parcels(gpd.GeoDataFrame(table, geometry=geoms, crs=4490), diagnostics=d)
        con = prepare_contracts(table.copy(), diagnostics=d)
        results.append((par.drop(columns="geometry"), con, d))
    for x, y in zip(results[0][:2], results[1][:2], strict=True):
        pd.testing.assert_frame_equal(x, y)
    pd.testing.assert_frame_equal(results[0][2].warnings, results[1][2].warnings)
    pd.testing.assert_frame_equal(results[0][2].rejected, results[1][2].rejected)
    assert "uscc_lost" in set(results[0][2].warnings["code"])


def test_far_outside_measures_exactly_where_the_limit_is_in_reach():
    from pyproj import Geod

    from landeff.checks import far_outside

    # Parcels 0-120 km east and north-east of a park's middle, 200 of them within 1 % of the 50 km
    # limit; 700 at the middle itself keep it there (it is the median).
    rng = np.random.default_rng(7)
    geod = Geod(ellps="GRS80")
    km = np.r_[np.zeros(700), rng.uniform(0, 120, 400), rng.uniform(49.5, 50.5, 200)]
    lon, lat, _ = geod.fwd(np.full(len(km), 118.0), np.full(len(km), 31.0),
                           rng.uniform(0, 90, len(km)), km * 1000)
    g = gpd.GeoDataFrame({"parcel_id": [f"P{i}" for i in range(len(km))], "park_id": "A"},
                         geometry=gpd.points_from_xy(lon, lat), crs=4490)
    d_exact, d_fast = Diagnostics(), Diagnostics()
    exact = far_outside(g, diagnostics=d_exact).to_numpy()
    fast = far_outside(g, diagnostics=d_fast, exact=False).to_numpy()
    pd.testing.assert_frame_equal(d_exact.warnings, d_fast.warnings)
    assert 250 < len(d_exact.warnings) < 500
    # Within 1 % of the limit on the sphere (so surely from 49.75 km on the ellipsoid), or beyond:
    # measured on the ellipsoid.
    near = exact >= 49.75
    assert (fast[near] == exact[near]).all()
    assert np.allclose(fast, exact, rtol=0.006)  # elsewhere on the sphere, within 0.6 %


def test_parcel_checks_in_runs_over_threads_are_those_of_one_run(monkeypatch):
    """Geometry validity, the box queries of the overlap and tile-edge checks and the centroids
    are worked in runs of rows (three pretended CPUs here): the same warnings in the same order."""
    import landeff.parallel
    from landeff.io.vector import read_layer
    from landeff.validate import prepare_buildings

    rng = np.random.default_rng(8)
    n = 2400
    x, y = rng.uniform(0, 3000, n).round(1), rng.uniform(0, 3000, n).round(1)
    geoms = list(shapely.box(500_000 + x, 3_300_000 + y, 500_030 + x, 3_300_020 + y))
    bow = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    odd = rng.choice(n, 60, replace=False)  # 40 bow-ties (invalid) and 20 slivers
    for k in odd[:40]:
        geoms[k] = shapely.affinity.translate(bow, 500_000 + x[k], 3_300_000 + y[k])
    for k in odd[40:]:
        geoms[k] = shapely.box(500_000 + x[k], 3_300_000 + y[k], 500_030 + x[k], 3_300_000.2 + y[k])
    layer = gpd.GeoDataFrame({"宗地编号": [f"P{i}" for i in range(n)]}, geometry=geoms, crs=4549)
    results = []
    for cpus in (1, 3):
        monkeypatch.setattr(landeff.parallel, "usable_cpus", lambda cpus=cpus: cpus)
        d = Diagnostics()
        parcels = prepare_parcels(read_layer(layer), diagnostics=d)
        buildings = prepare_buildings(read_layer(layer.to_crs(4490)), diagnostics=d)
        results.append((parcels, buildings, d.warnings))
    (p1, b1, w1), (p3, b3, w3) = results
    pd.testing.assert_frame_equal(w1, w3)
    assert {"geometry_repaired", "sliver", "parcel_overlap"} <= set(w1["code"])
    assert (w1["code"] == "geometry_repaired").sum() == 80  # 40 bow-ties in each layer
    for a, b in ((p1, p3), (b1, b3)):
        assert shapely.equals_exact(a.geometry.values, b.geometry.values, tolerance=0).all()
