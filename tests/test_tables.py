import pandas as pd
import pytest
from openpyxl import Workbook

from landeff.errors import InputError
from landeff.io.tables import read_table

TEXT = "统一社会信用代码,企业名称,年度,实缴税金(万元)\n91350100M000100Y43,衡山甲公司,2024,12.5\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_encodings(tmp_path, encoding):
    p = tmp_path / "e.csv"
    p.write_bytes(TEXT.encode(encoding))
    t = read_table(p, kind="enterprises")
    assert t.columns[:4].tolist() == ["统一社会信用代码", "企业名称", "年度", "实缴税金(万元)"]
    assert t["企业名称"].iloc[0] == "衡山甲公司"
    assert t["_row"].iloc[0] == 2


def test_forced_wrong_encoding_is_a_clear_error(tmp_path):
    p = tmp_path / "e.csv"
    p.write_bytes(TEXT.encode("gbk"))
    with pytest.raises(InputError, match="--encoding"):
        read_table(p, kind="enterprises", encoding="utf-8")


def test_xlsx_with_title_rows_keeps_spreadsheet_row_numbers(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "2024年"
    ws.append(["衡山高新区企业亩均效益数据"])
    ws.merge_cells("A1:D1")
    ws.append([None])
    ws.append(["统一社会信用代码", "企业名称", "年度", "实缴税金(万元)"])
    ws.append(["91350100M000100Y43", "甲", 2024, 12.5])
    ws.append([None, None, None, None])
    ws.append(["91350100M000100Y43", "乙", 2023, 7])
    p = tmp_path / "e.xlsx"
    wb.save(p)
    t = read_table(p, kind="enterprises")
    assert t["企业名称"].tolist() == ["甲", "乙"]
    assert t["_row"].tolist() == [4, 6]
    assert t["_sheet"].iloc[0] == "2024年"


def test_missing_sheet_names_the_sheets(tmp_path):
    wb = Workbook()
    wb.active.append(["统一社会信用代码"])
    p = tmp_path / "e.xlsx"
    wb.save(p)
    with pytest.raises(InputError, match="Use --sheet"):
        read_table(p, kind="enterprises", sheet="nope")


def test_dataframe_input_gets_row_positions():
    t = read_table(pd.DataFrame({"企业名称": ["甲", "乙"]}), kind="enterprises")
    assert t["_row"].tolist() == [2, 3]
    assert t["_file"].iloc[0] == "<DataFrame>"


# --------------------------------------------------------------------------------------------
# Long CSV files are read with pyarrow; the rows must be those the csv module reads.
# --------------------------------------------------------------------------------------------

HEADER = ["统一社会信用代码", "企业名称", "年度", "实缴税金(万元)"]


def general_reader(path, kind="enterprises", encoding=None, delimiter=","):
    """The csv module's reading of the same file (the reader used for short files)."""
    import csv
    import io

    from landeff.io.tables import _frame_from_rows, decode_bytes

    text, _ = decode_bytes(path.read_bytes(), file=str(path), encoding=encoding)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    return _frame_from_rows(rows, kind=kind, file=str(path), sheet=None, first_row_number=1)


def as_objects(frame):
    out = frame.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.StringDtype):
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def long_csv(lines):
    body = [f'9135010{i:04d}M00010,"甲{i}, 有限公司",2024,{i}.5' for i in range(40)]
    return lines(body)


@pytest.mark.parametrize(
    ("name", "make", "encoding"),
    [
        ("plain", lambda b: [",".join(HEADER), *b], "utf-8"),
        ("bom", lambda b: [",".join(HEADER), *b], "utf-8-sig"),
        ("gbk", lambda b: [",".join(HEADER), *b], "gbk"),
        ("title rows", lambda b: ["衡山高新区2024年企业数据", "", ",".join(HEADER), *b], "utf-8"),
        ("blank lines", lambda b: [",".join(HEADER), *b[:5], "", *b[5:20], ",,,", *b[20:], "", ""],
         "utf-8"),
        ("quoted newline", lambda b: [",".join(HEADER), *b[:3], '913501,"甲\n乙",2024,1', *b[3:]],
         "utf-8"),
        ("wider title", lambda b: ["标题,,,,,,", ",".join(HEADER), *b], "utf-8"),
        ("ragged", lambda b: [",".join(HEADER), *b[:25], "913501,丙", *b[25:]], "utf-8"),
        ("two-row header", lambda b: ["统一社会信用代码,企业名称,年度,税收", ",,,金额(万元)", *b], "utf-8"),
    ],
)
def test_long_csv_reads_as_the_csv_module_reads_it(tmp_path, name, make, encoding):
    p = tmp_path / "e.csv"
    p.write_bytes(("\r\n".join(long_csv(make)) + "\r\n").encode(encoding))
    from landeff.io.tables import _read_csv_fast, decode_bytes

    data = p.read_bytes()
    text, used = decode_bytes(data, file=str(p))
    took_fast_path = _read_csv_fast(data, text, used, ",", kind="enterprises", file=str(p))
    assert (took_fast_path is None) == (name == "ragged")  # pyarrow reads rectangles only
    fast = read_table(p, kind="enterprises")
    slow = general_reader(p)
    pd.testing.assert_frame_equal(as_objects(fast), as_objects(slow))
    assert fast.attrs["header_rows"] == slow.attrs["header_rows"]
    assert fast.attrs["read_warnings"] == slow.attrs["read_warnings"]


def test_long_csv_row_numbers_skip_blank_lines(tmp_path):
    p = tmp_path / "e.csv"
    lines = long_csv(lambda b: [",".join(HEADER), *b[:10], "", *b[10:]])
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    t = read_table(p, kind="enterprises")
    # Header on line 1, data on lines 2-11, a blank line 12, then lines 13-42.
    assert t["_row"].tolist() == list(range(2, 12)) + list(range(13, 43))
    assert t["企业名称"].iloc[0] == "甲0, 有限公司"  # the quoted comma stays in the name
    assert t["实缴税金(万元)"].iloc[-1] == "39.5"  # cells are text, as the csv module gives them


def test_long_semicolon_csv(tmp_path):
    p = tmp_path / "e.csv"
    lines = [";".join(HEADER)] + [f"9135010{i:04d}M00010;甲{i};2024;{i}" for i in range(30)]
    p.write_text("\n".join(lines), encoding="utf-8")
    fast = read_table(p, kind="enterprises")
    pd.testing.assert_frame_equal(as_objects(fast), as_objects(general_reader(p, delimiter=";")))
    assert len(fast) == 30


# --------------------------------------------------------------------------------------------
# A long file whose head is UTF-8 is decoded only up to HEAD_BYTES; pyarrow checks the rest.
# --------------------------------------------------------------------------------------------


def long_utf8_file(tmp_path, body_lines, *, head=None, encoding="utf-8"):
    p = tmp_path / "e.csv"
    lines = [*(head or [",".join(HEADER)]), *body_lines]
    p.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return p


BODY = [f'9135010{i:04d}M00010,"甲{i}, 有限公司",2024,{i}.5' for i in range(2000)]


@pytest.mark.parametrize(
    ("name", "head", "body", "encoding"),
    [
        ("plain", None, BODY, "utf-8"),
        ("bom", None, BODY, "utf-8-sig"),
        ("title rows", ["衡山高新区2024年企业数据", ""], BODY, "utf-8"),
        ("quoted newline past the head", None, [*BODY, '913501,"甲\n乙",2024,1'], "utf-8"),
    ],
)
def test_long_utf8_csv_decoded_from_its_head_reads_as_the_csv_module_reads_it(
    tmp_path, monkeypatch, name, head, body, encoding
):
    import landeff.io.tables as tables

    monkeypatch.setattr(tables, "HEAD_BYTES", 8192)  # the file is about 80 kB
    if head is not None:
        head = [*head, ",".join(HEADER)]
    p = long_utf8_file(tmp_path, body, head=head, encoding=encoding)
    assert len(p.read_bytes()) > 8 * tables.HEAD_BYTES
    fast = tables._read_long_utf8_csv(p.read_bytes(), kind="enterprises", file=str(p))
    assert fast is not None  # the head-only path was taken
    slow = general_reader(p)
    pd.testing.assert_frame_equal(as_objects(fast), as_objects(slow))
    assert fast.attrs["header_rows"] == slow.attrs["header_rows"]
    assert fast.attrs["encoding"] == encoding
    pd.testing.assert_frame_equal(as_objects(read_table(p, kind="enterprises")), as_objects(slow))


def test_long_csv_with_gbk_past_a_utf8_head_is_read_as_gbk(tmp_path, monkeypatch):
    import landeff.io.tables as tables

    monkeypatch.setattr(tables, "HEAD_BYTES", 8192)
    p = tmp_path / "e.csv"
    # ASCII (so UTF-8) for the first 3000 rows; GBK Chinese after them.
    rows = [f"9135010{i:04d}M00010,company {i},2024,{i}" for i in range(3000)]
    rows += [f"9135010{i:04d}M00010,甲{i}公司,2024,{i}" for i in range(3000, 3010)]
    p.write_bytes(("\n".join([",".join(HEADER), *rows]) + "\n").encode("gbk"))
    assert tables._read_long_utf8_csv(p.read_bytes(), kind="enterprises", file=str(p)) is None
    got = read_table(p, kind="enterprises")
    assert got.attrs["encoding"] == "gb18030"
    assert got["企业名称"].iloc[-1] == "甲3009公司"
    pd.testing.assert_frame_equal(as_objects(got), as_objects(general_reader(p)))


def test_header_score_counts_aliases_and_their_beginnings():
    from landeff.io.tables import _alias_starts, _header_score
    from landeff.schema import alias_table, split_unit

    aliases = alias_table("enterprises")

    def by_definition(cells):  # an alias, or (4 characters or more) the beginning of one
        return sum(
            1 for c in cells if c is not None and (
                split_unit(c)[0] in aliases
                or len(split_unit(c)[0]) >= 4
                and any(a.startswith(split_unit(c)[0]) for a in aliases)))

    cells = [*aliases, *(a[:k] for a in aliases for k in range(1, len(a) + 1)), "统一社会信用",
             "统一社会信用代码(万元)", "tax_", "tax_wa", "x" * 9, "", None, 3.5, "91350100M000100Y43"]
    starts = _alias_starts(aliases)
    for cell in cells:
        assert _header_score([cell], aliases, starts) == by_definition([cell]), cell
    assert _header_score(cells, aliases) == by_definition(cells)


@pytest.mark.parametrize("first", ["wide rows", "a quoted name past the head"])
def test_long_csv_whose_first_rows_do_not_fit_the_head_is_decoded_whole(tmp_path, monkeypatch, first):
    import landeff.io.tables as tables

    monkeypatch.setattr(tables, "HEAD_BYTES", 8192)
    if first == "wide rows":  # 16 rows of about 600 bytes: the header search rows pass the head
        rows = [f'9135010{i:04d}M00010,"{"甲" * 190}",2024,{i}' for i in range(16)]
    else:  # the 17th record (the last the header search reads) runs over lines past the head
        rows = [*BODY[:15], '913501,"乙' + "\n乙" * 2000 + '",2024,1']
    p = long_utf8_file(tmp_path, [*rows, *BODY])
    assert tables._read_long_utf8_csv(p.read_bytes(), kind="enterprises", file=str(p)) is None
    got = read_table(p, kind="enterprises")
    pd.testing.assert_frame_equal(as_objects(got), as_objects(general_reader(p)))
    assert got.attrs["encoding"] == "utf-8"
