"""Atomic writers, the CSV formula guard and GeoPackage layers (landeff.io.write)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from landeff.errors import InputError
from landeff.io.write import (
    atomic_path,
    guard_formulas,
    write_csv,
    write_gpkg_layers,
    write_outputs,
)


def _listing(folder: Path) -> list[str]:
    """Every entry of ``folder``, hidden ones included."""
    return sorted(p.name for p in folder.iterdir())


def _csv_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM for Excel"
    return list(csv.reader(io.StringIO(raw[3:].decode("utf-8"), newline="")))


# --- atomic_path ------------------------------------------------------------------------------


def test_atomic_path_replaces_file_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.endswith("out.txt")  # the extension is kept for format-sniffing writers
        assert not tmp.exists()
        tmp.write_text("new", encoding="utf-8")
        assert target.read_text(encoding="utf-8") == "old"  # nothing visible until the end
    assert target.read_text(encoding="utf-8") == "new"
    assert _listing(tmp_path) == ["out.txt"]


def test_atomic_path_failure_half_way_keeps_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    before = bytes(range(256)) * 10
    target.write_bytes(before)
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as tmp:
        with tmp.open("wb") as fh:
            fh.write(b"partial")  # half a file ...
        raise RuntimeError("disk full")  # ... then the writer fails
    assert target.read_bytes() == before
    assert _listing(tmp_path) == ["out.bin"]  # no temporary file left behind


def test_atomic_path_writer_that_writes_nothing_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(OSError, match="without creating a file"), atomic_path(target):
        pass
    assert target.read_text(encoding="utf-8") == "old"
    assert _listing(tmp_path) == ["out.txt"]


def test_atomic_path_creates_missing_folder(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "x.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("x", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "x"


# --- write_outputs ----------------------------------------------------------------------------


def test_write_outputs_failure_half_way_leaves_previous_set_intact(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"old a")
    (tmp_path / "b.csv").write_bytes(b"old b")
    (tmp_path / "keep.txt").write_bytes(b"not ours")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def fail(path: Path) -> None:
        path.write_bytes(b"half of b")
        raise ValueError("bad value in row 7")

    writers = {
        "a.csv": lambda p: p.write_bytes(b"new a"),  # succeeds first
        "b.csv": fail,  # fails half-way
        "c.csv": lambda p: p.write_bytes(b"new c"),
    }
    with pytest.raises(ValueError, match="row 7"):
        write_outputs(tmp_path, writers)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert _listing(tmp_path) == ["a.csv", "b.csv", "keep.txt"]  # no staging folder left


def test_write_outputs_moves_every_file_in_on_success(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"old a")
    paths = write_outputs(
        tmp_path / ".",
        {"a.csv": lambda p: p.write_bytes(b"new a"), "b.csv": lambda p: p.write_bytes(b"b")},
    )
    assert [p.name for p in paths] == ["a.csv", "b.csv"]
    assert (tmp_path / "a.csv").read_bytes() == b"new a"
    assert (tmp_path / "b.csv").read_bytes() == b"b"
    assert _listing(tmp_path) == ["a.csv", "b.csv"]


@pytest.mark.parametrize("name", ["sub/a.csv", "../a.csv", "", ".."])
def test_write_outputs_rejects_names_with_folders(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError, match="plain file name"):
        write_outputs(tmp_path, {name: lambda p: p.write_bytes(b"x")})


# --- CSV formula guard ------------------------------------------------------------------------


def test_write_csv_formula_guard_and_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "名称": ["=1+1", "-abc", "+86 10 1234", "@SUM(A1)", "\tx", "\ry", "正常", "a=b", "-5"],
            "税收(万元)": [-5.0, 1.5, -0.25, 0.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "件数": [-5, 1, 2, 3, 4, 5, 6, 7, 8],
        }
    )
    path = write_csv(frame, tmp_path / "x.csv")
    rows = _csv_rows(path)
    assert rows[0] == ["名称", "税收(万元)", "件数"]
    names = [r[0] for r in rows[1:]]
    # Each text starting with = + - @ tab CR gets one leading apostrophe; other text is unchanged,
    # and "-5" as text is a plain number a spreadsheet reads as -5 (no formula).
    assert names == [
        "'=1+1", "'-abc", "'+86 10 1234", "'@SUM(A1)", "'\tx", "'\ry", "正常", "a=b", "-5",
    ]
    assert [r[1] for r in rows[1:3]] == ["-5.0", "1.5"]  # negative numbers stay numbers
    assert rows[1][2] == "-5"


def test_guard_formulas_mixed_column_keeps_numbers() -> None:
    values = pd.Series(["=A1", -5, "-abc", 2.5, None, "ok"], dtype=object)
    out = guard_formulas(values)
    assert out.tolist()[:4] == ["'=A1", -5, "'-abc", 2.5]
    assert out.iloc[4] is None
    assert out.iloc[5] == "ok"


def test_guard_formulas_string_dtype() -> None:
    values = pd.Series(["=1+1", None, "x"], dtype="string")
    out = guard_formulas(values)
    assert out.iloc[0] == "'=1+1"
    assert out.iloc[2] == "x"


def test_write_csv_dates_lists_and_header_guard(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "=危险表头": ["a", "b"],
            "约定开工日期": pd.to_datetime(["2020-02-29", None]),
            "宗地": [["P1", "=P2"], ["P3"]],
        }
    )
    rows = _csv_rows(write_csv(frame, tmp_path / "d.csv"))
    assert rows[0][0] == "'=危险表头"
    assert rows[1][1] == "2020-02-29"
    assert rows[2][1] == ""
    assert rows[1][2] == "P1;=P2"  # a joined list starts with P: not a formula
    assert rows[2][2] == "P3"


def test_write_csv_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "x.csv"
    target.write_bytes(b"previous")

    class Boom:
        def __str__(self) -> str:
            raise RuntimeError("cannot format")

    bad = pd.DataFrame({"a": [Boom()]})
    with pytest.raises(RuntimeError, match="cannot format"):
        write_csv(bad, target)
    assert target.read_bytes() == b"previous"
    assert _listing(tmp_path) == ["x.csv"]


# --- GeoPackage -------------------------------------------------------------------------------


def _layer() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"宗地编号": ["P1", "=P2"], "面积(亩)": [9.0, 30.0], "宗地": [["a", "b"], None]},
        geometry=[shapely.box(0, 0, 60, 100), None],
        crs=4547,
    )


def test_write_gpkg_layers_round_trip(tmp_path: Path) -> None:
    path = write_gpkg_layers(
        tmp_path / "x.gpkg",
        {"idle_land": _layer(), "grades": pd.DataFrame({"grade": ["A", "D"], "n": [3, 1]})},
    )
    assert [str(n) for n, _ in pyogrio.list_layers(path)] == ["idle_land", "grades"]
    back = gpd.read_file(path, layer="idle_land")
    assert back["宗地编号"].tolist() == ["P1", "=P2"]  # no spreadsheet guard in a GIS layer
    assert back["宗地"].tolist()[0] == "a;b"
    assert back.crs.to_epsg() == 4547
    assert back.geometry.iloc[0].area == pytest.approx(6000.0)  # 60 m x 100 m
    assert back.geometry.iloc[1] is None
    grades = pyogrio.read_dataframe(path, layer="grades")
    assert grades["n"].tolist() == [3, 1]


def test_write_gpkg_layers_failure_half_way_keeps_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "x.gpkg"
    write_gpkg_layers(target, {"old": _layer()})
    before = target.read_bytes()
    with pytest.raises(AttributeError):
        # the first layer is written, the second is not a frame at all
        write_gpkg_layers(target, {"new": _layer(), "broken": "not a frame"})  # type: ignore[dict-item]
    assert target.read_bytes() == before
    assert _listing(tmp_path) == ["x.gpkg"]


def test_write_gpkg_layers_needs_a_layer(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no layers"):
        write_gpkg_layers(tmp_path / "x.gpkg", {})
