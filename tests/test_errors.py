import numpy as np
import pandas as pd
import pytest

from landeff.errors import REJECTED_COLUMNS, WARNING_COLUMNS, Diagnostics, InputError


def rows(n, **cols):
    """A frame of ``n`` input rows with source positions (rows 2.. as a spreadsheet shows them)."""
    return pd.DataFrame({"_file": "e.csv", "_sheet": None, "_row": range(2, n + 2), **cols})


def test_bulk_and_single_warnings_keep_their_order_and_columns():
    d = Diagnostics()
    d.warn("first", "one warning", file="a.csv", row=np.int64(7), value=np.float64(1.5))
    frame = rows(3, tax_wan=[1.0, np.nan, -2.0])
    d.warn_rows(frame, "bulk", "same text", column="tax_wan")
    d.warn("last", "after the bulk", value=pd.Timestamp("2024-05-06"))
    w = d.warnings
    assert list(w.columns) == WARNING_COLUMNS
    assert w["code"].tolist() == ["first", "bulk", "bulk", "bulk", "last"]
    assert w["row"].tolist()[:4] == [7, 2, 3, 4]
    # missing values become None; numpy scalars Python ones; a timestamp its date
    assert w["value"].tolist() == [1.5, 1.0, None, -2.0, "2024-05-06"]
    assert type(w["value"].iloc[0]) is float
    assert w["column"].tolist()[1:4] == ["tax_wan"] * 3
    assert d.n_warnings == 5


def test_frames_are_the_same_as_from_one_record_at_a_time():
    # The frame built from columns must equal the one pandas builds from the records (dtypes too).
    frame = rows(4, code=["A", None, "C", "D"])
    bulk = Diagnostics()
    bulk.warn_rows(frame, "x", "m", column="code")
    single = Diagnostics()
    for _, r in frame.iterrows():
        single.warn("x", "m", file=r["_file"], sheet=r["_sheet"], row=r["_row"], column="code",
                    value=r["code"])
    expected = pd.DataFrame(single.warning_rows, columns=WARNING_COLUMNS)
    expected["row"] = expected["row"].astype("Int64")  # row numbers are always nullable integers
    pd.testing.assert_frame_equal(bulk.warnings, expected)
    pd.testing.assert_frame_equal(single.warnings, expected)


def test_per_row_messages_codes_and_values():
    d = Diagnostics()
    frame = rows(2)
    d.warn_rows(frame, ["a", "b"], ["row 2 is odd", "row 3 is odd"], column="geometry",
                values=["Self-intersection", "Ring Self-intersection"])
    d.reject(frame, ["merged", "conflict"], ["m1", "m2"], values=[[1, 2], "x"])
    w, r = d.warnings, d.rejected
    assert w[["code", "message", "value"]].values.tolist() == [
        ["a", "row 2 is odd", "Self-intersection"], ["b", "row 3 is odd", "Ring Self-intersection"]]
    assert list(r.columns) == REJECTED_COLUMNS
    assert r[["row", "reason_code", "value"]].values.tolist() == [[2, "merged", "1;2"],
                                                                  [3, "conflict", "x"]]
    with pytest.raises(ValueError, match="3 texts given for 2 rows"):
        d.warn_rows(frame, "c", ["1", "2", "3"])


def test_list_values_of_a_column_are_joined():
    d = Diagnostics()
    d.reject(rows(2, parcel_ids=[["P1", "P2"], []]), "no_parcel", "m", column="parcel_ids")
    assert d.rejected["value"].tolist() == ["P1;P2", ""]


def test_empty_frames_record_nothing_and_give_the_columns():
    d = Diagnostics()
    d.warn_rows(rows(0), "x", "m")
    d.reject(rows(0), "x", "m")
    assert d.warnings.empty and list(d.warnings.columns) == WARNING_COLUMNS
    assert d.rejected.empty and list(d.rejected.columns) == REJECTED_COLUMNS
    assert (d.n_warnings, d.n_rejected) == (0, 0)


def test_warning_rows_can_be_read_extended_and_replaced():
    d = Diagnostics()
    d.warn_rows(rows(2), "bulk", "m")
    records = d.warning_rows
    assert [r["row"] for r in records] == [2, 3]
    d.warn("later", "m2")  # recorded after the list was handed out: in it, and in the frame
    assert [r["code"] for r in d.warning_rows] == ["bulk", "bulk", "later"]
    d.warning_rows = [r for r in records if r["code"] == "later"]
    assert d.warnings["code"].tolist() == ["later"]
    d.rejected_rows = [{"file": "f", "sheet": None, "row": 5, "column": None, "value": None,
                        "reason_code": "r", "message": "m"}]
    assert d.rejected["row"].tolist() == [5]


def test_strict_mode_lists_the_first_records():
    d = Diagnostics(strict=True)
    d.warn_rows(rows(30), "bulk", "m")
    d.reject(rows(1), "bad", "why")
    with pytest.raises(InputError, match=r"30 warning\(s\) and 1 rejected") as err:
        d.raise_if_warnings()
    assert str(err.value).count("bulk: m") == 20 and "bad: why" in str(err.value)
    Diagnostics().raise_if_warnings()  # not strict: nothing raised


def test_extend_gives_the_frames_of_recording_in_one_place():
    # The same records, once into one Diagnostics and once split over two and joined.
    frame = rows(3, tax_wan=[1.0, 2.0, 3.0])

    def first(d):
        d.warn("a", "one", row=1)
        d.warn_rows(frame, "b", "bulk", column="tax_wan")
        d.reject(frame.iloc[:1], "r1", "first rejected", column="tax_wan")

    def second(d):
        d.warn("c", "two", row=9)
        d.warn("d", "three", row=10)
        d.reject(frame.iloc[1:], "r2", "second rejected")

    whole = Diagnostics()
    first(whole)
    second(whole)
    head, tail = Diagnostics(), Diagnostics()
    first(head)
    second(tail)
    head.extend(tail)
    pd.testing.assert_frame_equal(head.warnings, whole.warnings)
    pd.testing.assert_frame_equal(head.rejected, whole.rejected)
    assert head.warnings["code"].tolist() == ["a", "b", "b", "b", "c", "d"]
    assert head.rejected["reason_code"].tolist() == ["r1", "r2", "r2"]
    # the appended Diagnostics is left as it was
    assert tail.warnings["code"].tolist() == ["c", "d"]


def test_row_numbers_are_integers_with_or_without_empty_rows():
    d = Diagnostics()
    d.warn_rows(rows(2), "bulk", "two rows")
    d.warn("run", "about the whole run")  # no row
    w = d.warnings
    assert str(w["row"].dtype) == "Int64"
    assert w["row"].tolist()[:2] == [2, 3] and pd.isna(w["row"].iloc[2])
    # a row that is not a number (a PostGIS key, say) keeps the column as it was
    e = Diagnostics()
    e.warn("x", "text row", row="k-17")
    e.warn("y", "number row", row=4)
    assert e.warnings["row"].tolist() == ["k-17", 4]
