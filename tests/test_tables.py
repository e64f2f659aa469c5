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
