"""Read the 中国土地市场网 (landchina.com) 供地结果 export into a contracts table.

The export this reader knows is the JSON a common scraper writes: GBK bytes holding two JSON arrays
back to back. The first array holds the detail records (one land-supply result each, keyed by its
电子监管号); the second holds list-page rows (serial number, location, link, district, area, use,
supply method, date), which are not contracts. Detail records become rows of the contracts table;
list-page rows are never dropped silently: :func:`read_landchina` records each of them as a rejected
row (reason ``LANDCHINA_LIST_ROW``) when given a :class:`~landeff.errors.Diagnostics`, and
:func:`read_landchina_list` returns them as a frame of their own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import Diagnostics, InputError
from ..validate import parse_dates, parse_numbers
from .tables import decode_bytes

#: Land-use values that mean industrial land: the 土地用途 name, or the 三调 / GB/T 21010-2017 code.
INDUSTRIAL_USES = frozenset({"工业用地", "0601"})

#: Detail-record key -> canonical contract column (text columns).
_TEXT_FIELDS = {
    "idnumber": "supervision_no",
    "holder": "holder_name",
    "use": "land_use",
    "name": "project_name",
    "district": "district",
    "supply": "supply_method",
    "industry": "industry",
    "location": "location",
    "source": "land_source",
    "grade": "land_grade",
    "duration": "term_years_text",
    "approvedby": "approved_by",
    "url": "url",
}
#: Detail-record key -> canonical date column (Chinese dates such as 2019年12月31日).
_DATE_FIELDS = {
    "time4handover_plan": "agreed_handover",
    "time4commencement_plan": "agreed_start",
    "time4completion_plan": "agreed_completion",
    "time4commencement_reality": "actual_start",
    "time4completion_reality": "actual_completion",
    "date4sign": "contract_date",
}
#: Columns of :func:`read_landchina`'s result, in order.
CONTRACT_COLUMNS = [
    "supervision_no",
    "holder_name",
    "land_use",
    "is_industrial",
    "recorded_area_m2",
    "land_price_wan",
    "far_min",
    "far_max",
    "contract_date",
    "agreed_handover",
    "agreed_start",
    "agreed_completion",
    "actual_start",
    "actual_completion",
    "project_name",
    "district",
    "supply_method",
    "industry",
    "location",
    "land_source",
    "land_grade",
    "term_years_text",
    "approved_by",
    "payment_plan",
    "url",
    "_file",
    "_sheet",
    "_row",
]
#: Columns of :func:`read_landchina_list`'s result.
LIST_COLUMNS = [
    "serial_number",
    "location",
    "district",
    "recorded_area_m2",
    "land_use",
    "supply_method",
    "date",
    "url",
    "_file",
    "_sheet",
    "_row",
]
M2_PER_HECTARE = 10000.0
DETAIL_SHEET = "array1"
LIST_SHEET = "array2"


def _load_arrays(path: str | os.PathLike[str]) -> tuple[str, list[list[dict[str, Any]]]]:
    """Return the file name and every JSON array in the file, in order."""
    file = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        msg = f"{file}: cannot read the 中国土地市场网 export ({err}). Check the path."
        raise InputError(msg) from err
    text, _ = decode_bytes(data, file=file, encoding="gbk")
    decoder = json.JSONDecoder()
    arrays: list[list[dict[str, Any]]] = []
    pos = 0
    while True:
        while pos < len(text) and (text[pos].isspace() or text[pos] == "\ufeff"):
            pos += 1
        if pos >= len(text):
            break
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            msg = (
                f"{file}: not a 中国土地市场网 JSON export: {err.msg} at line {err.lineno}, column "
                f"{err.colno}. The reader expects one or more JSON arrays of records back to back."
            )
            raise InputError(msg) from err
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            msg = (
                f"{file}: JSON value number {len(arrays) + 1} is not an array of records "
                f"(found {type(value).__name__}); this is not a 供地结果 export."
            )
            raise InputError(msg)
        arrays.append(value)
    if not arrays:
        msg = f"{file}: the file is empty; expected the 中国土地市场网 供地结果 JSON export."
        raise InputError(msg)
    return file, arrays


def _is_detail(records: list[dict[str, Any]]) -> bool:
    return bool(records) and all("idnumber" in r for r in records)


def _text(values: pd.Series) -> pd.Series:
    """Return stripped text with empty or blank cells as missing."""
    out = values.astype("str").str.strip()
    return out.where(values.notna() & (out != ""))


def _warn_bad(
    frame: pd.DataFrame, bad: pd.Series, column: str, key: str, what: str, diag: Diagnostics | None
) -> None:
    if diag is not None and bad.any():
        diag.warn_rows(
            frame.loc[bad],
            "landchina_bad_value",
            f"field {key!r} ({column}) is not {what}; left empty",
            column=column,
        )


def _payment_plan(value: Any) -> Any:
    """Return the 分期支付 plan as compact JSON text (None when there is none)."""
    if not value:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def read_landchina(
    path: str | os.PathLike[str], *, diagnostics: Diagnostics | None = None
) -> pd.DataFrame:
    """Read a 中国土地市场网 供地结果 export into a contracts table keyed by ``supervision_no``.

    Parameters
    ----------
    path : path-like
        The export (GBK bytes, JSON arrays back to back).
    diagnostics : Diagnostics, optional
        Receives a warning per unreadable value and a rejected row per list-page record (the second
        array), so nothing is dropped silently. :func:`read_landchina_list` returns those records.

    Returns
    -------
    DataFrame
        One row per detail record with :data:`CONTRACT_COLUMNS`: ``recorded_area_m2`` (面积 公顷 ×
        10000), ``land_price_wan`` (成交价格 万元; empty where none is given, and for 划拨 records
        whose price is 0), ``far_min``/``far_max`` (``0.00`` or empty = none, NaN), the dates
        (NaT where empty), ``is_industrial`` (土地用途 工业用地 or code 0601), and the source
        position ``_file``, ``_sheet`` (``array1``) and ``_row`` (1-based position in the array).

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> rec = {"idnumber": "3205062019B00001", "use": "工业用地", "supply": "挂牌出让",
    ...        "area": "1.5", "price": "300.0000", "plot_ratio_minimum": "1.20",
    ...        "plot_ratio_maximum": "0.00", "time4commencement_plan": "2020年02月29日",
    ...        "time4completion_reality": " ", "date4sign": "2019年12月31日"}
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "output.json"
    >>> _ = p.write_bytes(json.dumps([rec], ensure_ascii=False).encode("gbk"))
    >>> t = read_landchina(p)
    >>> row = t.iloc[0]
    >>> float(row["recorded_area_m2"]), float(row["far_min"]), bool(row["is_industrial"])
    (15000.0, 1.2, True)
    >>> str(t.loc[0, "agreed_start"].date()), bool(pd.isna(t.loc[0, "far_max"]))
    ('2020-02-29', True)
    """
    file, arrays = _load_arrays(path)
    detail_arrays = [i for i, records in enumerate(arrays) if _is_detail(records)]
    if not detail_arrays:
        msg = (
            f"{file}: no array of detail records (with 'idnumber', the 电子监管号) was found; "
            "this reader expects the 供地结果 detail export."
        )
        raise InputError(msg)
    frames = []
    for i in detail_arrays:
        raw = pd.DataFrame.from_records(arrays[i])
        raw["_file"] = file
        raw["_sheet"] = f"array{i + 1}"
        raw["_row"] = np.arange(1, len(raw) + 1)
        frames.append(raw)
    raw = pd.concat(frames, ignore_index=True)
    out = _details(raw, diagnostics)
    if diagnostics is not None:
        for i, records in enumerate(arrays):
            if i in detail_arrays or not records:
                continue
            rows = _list_frame(records, file, f"array{i + 1}")
            diagnostics.reject(
                rows,
                "LANDCHINA_LIST_ROW",
                "list-page row of the 中国土地市场网 export (no 电子监管号, no contract terms); "
                "kept out of the contracts table, read it with read_landchina_list()",
                column="url",
            )
    return out


def _details(raw: pd.DataFrame, diag: Diagnostics | None) -> pd.DataFrame:
    out = pd.DataFrame(index=raw.index)
    for key, column in _TEXT_FIELDS.items():
        out[column] = (
            _text(raw[key]) if key in raw else pd.Series(None, index=raw.index, dtype="str")
        )
    for key, column in _DATE_FIELDS.items():
        values = _text(raw[key]) if key in raw else pd.Series(None, index=raw.index, dtype="str")
        parsed, bad = parse_dates(values)
        _warn_bad(raw, bad, column, key, "a date such as 2019年12月31日", diag)
        out[column] = parsed
    numbers = {}
    for key in ("area", "price", "plot_ratio_minimum", "plot_ratio_maximum"):
        values = _text(raw[key]) if key in raw else pd.Series(None, index=raw.index, dtype="str")
        parsed, bad = parse_numbers(values)
        _warn_bad(raw, bad, key, key, "a number", diag)
        numbers[key] = parsed
    out["recorded_area_m2"] = numbers["area"] * M2_PER_HECTARE
    allocated = out["supply_method"].fillna("").str.contains("划拨")
    price = numbers["price"]
    out["land_price_wan"] = price.where(~(allocated & (price == 0)))
    out["far_min"] = numbers["plot_ratio_minimum"].where(numbers["plot_ratio_minimum"] > 0)
    out["far_max"] = numbers["plot_ratio_maximum"].where(numbers["plot_ratio_maximum"] > 0)
    out["is_industrial"] = out["land_use"].isin(INDUSTRIAL_USES)
    plan = raw["paid_plan"] if "paid_plan" in raw else pd.Series(None, index=raw.index)
    out["payment_plan"] = pd.Series([_payment_plan(v) for v in plan], index=raw.index, dtype="str")
    for column in ("_file", "_sheet", "_row"):
        out[column] = raw[column]
    if diag is not None:
        dup = out["supervision_no"].notna() & out["supervision_no"].duplicated(keep=False)
        if dup.any():
            diag.warn_rows(
                out.loc[dup],
                "landchina_duplicate_supervision_no",
                "电子监管号 occurs more than once in the export; the records are kept as they are",
                column="supervision_no",
            )
        missing = out["supervision_no"].isna()
        if missing.any():
            diag.warn_rows(
                out.loc[missing],
                "landchina_no_supervision_no",
                "record without 电子监管号 (idnumber); it cannot be linked to a parcel",
                column="supervision_no",
            )
    return out[CONTRACT_COLUMNS]


def _list_frame(records: list[dict[str, Any]], file: str, sheet: str) -> pd.DataFrame:
    raw = pd.DataFrame.from_records(records)

    def text(key: str) -> pd.Series:
        if key not in raw:
            return pd.Series(None, index=raw.index, dtype="str")
        return _text(raw[key])

    area, _ = parse_numbers(text("area"))
    dates, _ = parse_dates(text("date"))
    return pd.DataFrame(
        {
            "serial_number": text("serial_number"),
            "location": text("location"),
            "district": text("district"),
            "recorded_area_m2": area * M2_PER_HECTARE,
            "land_use": text("use"),
            "supply_method": text("supply"),
            "date": dates,
            "url": text("link"),
            "_file": file,
            "_sheet": sheet,
            "_row": np.arange(1, len(raw) + 1),
        },
        index=raw.index,
    )[LIST_COLUMNS]


def read_landchina_list(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Return the list-page rows of a 中国土地市场网 export (the arrays without 电子监管号).

    These rows (serial number, location, link, district, area in 公顷 → ``recorded_area_m2``, use,
    supply method, date) carry no contract terms; :func:`read_landchina` leaves them out of the
    contracts table and reports them as rejected rows.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "output.json"
    >>> rows = json.dumps([{"idnumber": "1"}]) + json.dumps([{"serial_number": "1.", "area": "0.5",
    ...     "date": "2018/12/24", "use": "工业用地"}])
    >>> _ = p.write_bytes(rows.encode("gbk"))
    >>> rows = read_landchina_list(p)
    >>> float(rows.loc[0, "recorded_area_m2"]), rows.loc[0, "land_use"], rows.loc[0, "_sheet"]
    (5000.0, '工业用地', 'array2')
    """
    file, arrays = _load_arrays(path)
    frames = [
        _list_frame(records, file, f"array{i + 1}")
        for i, records in enumerate(arrays)
        if records and not _is_detail(records)
    ]
    if not frames:
        return pd.DataFrame(columns=LIST_COLUMNS)
    return pd.concat(frames, ignore_index=True)
