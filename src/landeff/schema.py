"""Canonical field names, their Chinese aliases and units: the table behind docs/schema.md."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: Table kinds a field can appear in.
KINDS = ("parcels", "buildings", "enterprises", "contracts")

# Unit families: canonical unit, then {unit spelling: factor to the canonical unit}.
UNITS: dict[str, tuple[str, dict[str, float]]] = {
    "money": ("万元", {"元": 1e-4, "万元": 1.0, "亿元": 1e4}),
    "area": (
        "m²",
        {
            "平方米": 1.0,
            "m2": 1.0,
            "m²": 1.0,
            "㎡": 1.0,
            "亩": 10000.0 / 15.0,
            "公顷": 10000.0,
            "ha": 10000.0,
            "平方公里": 1e6,
            "km2": 1e6,
        },
    ),
    "electricity": ("kWh", {"千瓦时": 1.0, "度": 1.0, "kwh": 1.0, "万千瓦时": 1e4, "万度": 1e4}),
    "energy": ("tce", {"吨标准煤": 1.0, "吨标煤": 1.0, "tce": 1.0, "万吨标准煤": 1e4}),
    "mass": ("t", {"吨": 1.0, "t": 1.0, "千克": 1e-3, "kg": 1e-3}),
    "people": ("人", {"人": 1.0}),
    "length": ("m", {"米": 1.0, "m": 1.0}),
    "money_per_mu": ("万元/亩", {"万元/亩": 1.0, "元/亩": 1e-4, "万元/公顷": 1.0 / 15.0}),
    "ratio": ("", {}),
    "count": ("", {"层": 1.0}),
}


@dataclass(frozen=True)
class Field:
    """One canonical field.

    Parameters
    ----------
    name : str
        Canonical name (the API).
    kinds : tuple of str
        Tables the field may appear in.
    dtype : str
        ``id`` (text code), ``text``, ``number``, ``date``, ``bool``, ``year``, ``id_list``.
    unit : str
        Unit family key of :data:`UNITS` for numbers, else ``""``.
    aliases : tuple of str
        Accepted headers (Chinese and English).
    description : str
        Plain-words meaning, for docs/schema.md.
    """

    name: str
    kinds: tuple[str, ...]
    dtype: str
    unit: str
    aliases: tuple[str, ...]
    description: str


P, B, E, C = "parcels", "buildings", "enterprises", "contracts"
PC = (P, C)
CONTRACT = (P, C)

FIELDS: tuple[Field, ...] = (
    # identifiers
    Field("parcel_id", (P, B, C), "id", "", ("宗地编号", "宗地代码", "地块编号", "宗地号"),
          "Parcel (宗地) identifier; unique in the parcels layer."),
    Field("parcel_ids", (E,), "id_list", "", ("所在宗地编号", "宗地编号", "所在宗地", "宗地代码"),
          "Parcels an enterprise operates on, split on , ; ， ； 、"),
    Field("supervision_no", (P, C), "id", "", ("电子监管号", "监管号"),
          "Land-supply record number on 中国土地市场网; links a parcel to its contract."),
    Field("holder_uscc", (P, C), "id", "", ("权利人统一社会信用代码", "统一社会信用代码", "使用权人统一社会信用代码"),
          "Unified social credit code of the land-use right holder."),
    Field("holder_name", (P, C), "text", "", ("土地使用权人", "权利人", "使用权人", "受让人", "受让单位"),
          "Land-use right holder."),
    Field("uscc", (E,), "id", "", ("统一社会信用代码", "社会统一信用代码", "信用代码"),
          "Enterprise unified social credit code (GB 32100-2015)."),
    Field("name", (E,), "text", "", ("企业名称", "单位名称", "纳税人名称"), "Enterprise name."),
    Field("building_id", (B,), "id", "", ("建筑编号", "建筑物编号", "楼栋编号"), "Building identifier."),
    Field("park_id", (P, E), "id", "", ("园区", "园区编号", "园区代码", "开发区"),
          "Park the parcel belongs to (partitions large runs)."),
    Field("county_code", (P,), "id", "", ("行政区代码", "县区代码", "行政区划代码"), "County code."),
    # parcel descriptors
    Field("land_use", (P, C), "text", "", ("土地用途", "用地性质", "用途"),
          "Land use (工业用地, 仓储用地, or a 三调 code such as 0601)."),
    Field("industry_code", (P, E, C), "id", "", ("行业代码", "国民经济行业代码", "行业分类代码"),
          "Industry code, GB/T 4754-2017 unless the policy says 2002."),
    Field("recorded_area_m2", (P, C), "number", "area", ("宗地面积", "出让面积", "证载面积", "供地面积"),
          "Area on the certificate or contract."),
    # buildings
    Field("floors", (B,), "number", "count", ("层数", "楼层数", "地上层数", "floor"), "Number of storeys."),
    Field("storey_height_m", (B,), "number", "length", ("层高",), "Storey height."),
    Field("height_m", (B,), "number", "length", ("高度", "建筑高度", "height"), "Building height."),
    Field("floor_area_m2", (B,), "number", "area", ("建筑面积", "总建筑面积"),
          "Floor area, when surveyed (else footprint × floors)."),
    # enterprise figures
    Field("rented_floor_area_m2", (E,), "number", "area", ("租用建筑面积", "租赁面积", "租用面积"),
          "Floor area a tenant rents in another's building."),
    Field("year", (E,), "year", "", ("年度", "年份", "统计年度"), "Year of the figures."),
    Field("tax_wan", (E,), "number", "money", ("税收", "实缴税金", "税收总额", "实缴税收", "纳税总额"),
          "Taxes paid."),
    Field("revenue_wan", (E,), "number", "money", ("营业收入", "销售收入", "主营业务收入"), "Revenue."),
    Field("output_wan", (E,), "number", "money", ("工业总产值", "总产值", "产值"), "Gross industrial output."),
    Field("value_added_wan", (E,), "number", "money", ("工业增加值", "增加值"), "Value added."),
    Field("energy_tce", (E,), "number", "energy", ("综合能耗", "能耗", "能源消费量"), "Energy use."),
    Field("electricity_kwh", (E,), "number", "electricity", ("用电量", "电耗", "总用电量"), "Electricity use."),
    Field("emissions_t", (E,), "number", "mass", ("排放量", "主要污染物排放量", "污染物排放量"),
          "Main pollutant emissions."),
    Field("rd_wan", (E,), "number", "money", ("研发经费", "研发经费支出", "R&D经费"), "R&D spend."),
    Field("employees", (E,), "number", "people", ("从业人员", "从业人员数", "年平均从业人数", "职工人数"),
          "Average employees."),
    Field("above_scale", (E,), "bool", "", ("规上", "是否规上", "规上企业", "规模以上"),
          "Above-designated-size (规上) enterprise."),
    Field("production_start", (E,), "date", "", ("投产时间", "投产日期", "投产年月"),
          "Date production started."),
    Field("grade_history", (E,), "text", "", ("评价等级", "历年评价等级", "往年等级"),
          "Past years' classes, e.g. '2022:D;2023:D' or 'D,D' (oldest first)."),
    Field("stopped_since", (E,), "date", "", ("停产日期", "停产时间"), "Date production stopped."),
    # contract fields
    Field("contract_date", CONTRACT, "date", "", ("合同签订日期", "签订日期"), "Contract signing date."),
    Field("agreed_start", CONTRACT, "date", "", ("约定开工时间", "约定动工日期", "约定开工日期", "约定动工时间"),
          "Agreed start of development (约定动工开发日期)."),
    Field("agreed_completion", CONTRACT, "date", "", ("约定竣工时间", "约定竣工日期"), "Agreed completion."),
    Field("actual_start", CONTRACT, "date", "", ("实际开工时间", "实际开工日期", "实际动工日期"),
          "Actual start of development."),
    Field("actual_completion", CONTRACT, "date", "", ("实际竣工时间", "实际竣工日期"), "Actual completion."),
    Field("far_min", CONTRACT, "number", "ratio", ("容积率下限", "约定容积率下限", "最小容积率"),
          "Contract FAR minimum."),
    Field("far_max", CONTRACT, "number", "ratio", ("容积率上限", "约定容积率上限", "最大容积率"),
          "Contract FAR maximum (0 or empty = none)."),
    Field("investment_total_wan", CONTRACT, "number", "money", ("约定投资总额", "投资总额", "合同投资总额"),
          "Agreed total investment."),
    Field("investment_done_wan", CONTRACT, "number", "money", ("已完成投资", "完成投资", "累计完成投资"),
          "Investment made so far."),
    Field("land_price_wan", CONTRACT, "number", "money", ("成交价格", "出让价款", "土地价款", "出让金"),
          "Land price."),
    Field("suspended_since", CONTRACT, "date", "", ("停工日期", "停工时间"), "Date work was suspended."),
    Field("developed_area_m2", CONTRACT, "number", "area", ("已开发面积", "已动工开发面积"),
          "Area already developed."),
    Field("gov_cause", CONTRACT, "bool", "", ("政府原因", "是否政府原因"),
          "Delay caused by government (闲置土地处置办法 article 8)."),
    Field("committed_tax_wan_per_mu", (E, P, C), "number", "money_per_mu", ("承诺亩均税收", "约定亩均税收"),
          "Per-mu tax the holder committed to."),
    Field("committed_output_wan_per_mu", (E, P, C), "number", "money_per_mu", ("承诺亩均产值", "约定亩均产值"),
          "Per-mu output the holder committed to."),
    Field("structure_yard_area_m2", CONTRACT, "number", "area", ("构筑物及堆场面积", "构筑物堆场面积"),
          "Area of structures and storage yards (for 建筑系数)."),
)

FIELDS_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
CONTRACT_FIELDS: tuple[str, ...] = tuple(
    f.name for f in FIELDS if f.kinds == CONTRACT and f.name not in ("land_use",)
)

_UNIT_RE = re.compile(r"^(?P<base>.*?)\s*[(\[【（]\s*(?P<unit>[^)\]】）]*)\s*[)\]】）]\s*$")


def normalise_header(header: object) -> str:
    """Return a header folded for matching: NFKC, no spaces, ASCII case folded.

    Examples
    --------
    >>> normalise_header(" 税收（万元） ")
    '税收(万元)'
    """
    text = unicodedata.normalize("NFKC", str(header))
    text = re.sub(r"\s+", "", text)
    return text.lower()


def split_unit(header: object) -> tuple[str, str | None]:
    """Split a header into its base name and the unit in parentheses, if any.

    Examples
    --------
    >>> split_unit("实缴税金（元）")
    ('实缴税金', '元')
    >>> split_unit("宗地编号")
    ('宗地编号', None)
    """
    text = normalise_header(header)
    m = _UNIT_RE.match(text)
    if m and m.group("base"):
        return m.group("base"), m.group("unit")
    for sep in ("/",):
        base, _, unit = text.partition(sep)
        if unit and _unit_factor_any(unit) is not None:
            return base, unit
    return text, None


def _unit_factor_any(unit: str) -> float | None:
    for _, (_, table) in UNITS.items():
        if unit in table:
            return table[unit]
    return None


def unit_factor(field: Field, unit: str | None) -> float | None:
    """Return the factor from ``unit`` to the field's canonical unit, or None when unknown.

    Examples
    --------
    >>> unit_factor(FIELDS_BY_NAME["tax_wan"], "元")
    0.0001
    """
    if not field.unit or unit is None:
        return None
    table = UNITS[field.unit][1]
    key = normalise_header(unit)
    return table.get(key)


def alias_table(kind: str) -> dict[str, str]:
    """Return ``{normalised alias: canonical name}`` for one table kind.

    The canonical name itself is always accepted. An alias that two fields of the same kind share
    (such as 宗地编号) resolves to the first field listed in :data:`FIELDS`.
    """
    table: dict[str, str] = {}
    for f in FIELDS:
        if kind not in f.kinds:
            continue
        for alias in (f.name, *f.aliases):
            table.setdefault(normalise_header(alias), f.name)
    return table


def schema_markdown() -> str:
    """Return docs/schema.md: every canonical field with its tables, type, unit and aliases."""
    lines = [
        "# Input schema: canonical fields, Chinese headers and units",
        "",
        "Generated from `landeff.schema.FIELDS` (`python -m landeff.schema > docs/schema.md`); a test "
        "keeps it in sync.",
        "",
        "Headers are matched after folding full-width characters and spaces. A unit in parentheses "
        "is honoured, e.g. `实缴税金（元）` or `宗地面积(公顷)`; a header without a unit takes the "
        "field's default unit, with a warning. DBF field names cut to 10 bytes (`统一社会信`) match "
        "by prefix when only one field starts that way. Input columns whose names clash with output "
        "columns are kept as `input_<name>`.",
        "",
        "| canonical | tables | type | default unit | accepted headers | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for f in FIELDS:
        unit = UNITS[f.unit][0] if f.unit else ""
        lines.append(
            f"| `{f.name}` | {', '.join(f.kinds)} | {f.dtype} | {unit} | "
            f"{', '.join(f.aliases)} | {f.description} |"
        )
    lines += ["", "## Units", "", "| family | canonical | accepted spellings (factor) |", "|---|---|---|"]
    for family, (canonical, table) in UNITS.items():
        spellings = ", ".join(f"{k} (×{v:g})" for k, v in table.items())
        lines.append(f"| {family} | {canonical or '—'} | {spellings} |")
    lines += [
        "",
        "Dates: ISO (2021-03-15), 2021/3/15, 2021.3.15, 2021年3月15日, 2021年3月 (first of the "
        "month), 20210315 and Excel serial numbers. Flags: 是/否, Y/N, true/false, 1/0.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(schema_markdown(), end="")
