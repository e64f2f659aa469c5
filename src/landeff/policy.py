"""Policies: presets and thresholds loaded from TOML, each with its unit and source.

A policy says how a park is judged: the indicators, weights and benchmarks of the composite
evaluation (亩均效益综合评价), the class shares, the scope, the tenant attribution and every
threshold the rules use. Presets ship in ``landeff/data/presets``; a user file may start from one
with ``extends = "<preset>"`` and override any part of it (see docs/policy.md).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from .errors import PolicyError

#: Name of the preset used when no policy is given.
DEFAULT_PRESET = "jiangsu-huaian-2024"

#: Labels of the two evaluation groups, by their TOML key.
GROUP_LABELS: Mapping[str, str] = MappingProxyType({"above": "规上", "below": "规下"})

#: Classes ranked by share, best first.
CLASSES: tuple[str, ...] = ("A", "B", "C", "D")


@dataclass(frozen=True)
class Threshold:
    """One threshold or benchmark with its unit and source.

    Parameters
    ----------
    value : float or None
        The number; None switches the rule off.
    unit : str
        Unit of ``value`` (e.g. ``万元/亩``, ``kWh``, ``亩``; ``""`` for a plain ratio).
    source : str
        Where it comes from: an article, a preset, or ``"park setting"``.
    """

    value: float | None
    unit: str
    source: str


@dataclass(frozen=True)
class IndicatorDef:
    """How an evaluation indicator is computed from enterprise figures.

    Parameters
    ----------
    name : str
        Column name of the value (units in the name), e.g. ``tax_wan_per_mu``.
    label_zh : str
        Chinese name, as the rules write it.
    unit : str
        Unit of the value and of its benchmark.
    numerator, denominator : str
        Enterprise columns; value = numerator × ``scale`` ÷ denominator.
    scale : float
        Factor on the numerator (1e4 turns 万元 into 元 for 元/kWh).
    """

    name: str
    label_zh: str
    unit: str
    numerator: str
    denominator: str
    scale: float = 1.0


#: The indicators a policy may weight, by column name.
INDICATORS: Mapping[str, IndicatorDef] = MappingProxyType(
    {
        d.name: d
        for d in (
            IndicatorDef("tax_wan_per_mu", "亩均税收", "万元/亩", "tax_wan", "land_mu"),
            IndicatorDef("revenue_wan_per_mu", "亩均销售收入", "万元/亩", "revenue_wan", "land_mu"),
            IndicatorDef("output_wan_per_mu", "亩均产值", "万元/亩", "output_wan", "land_mu"),
            IndicatorDef(
                "value_added_wan_per_mu", "亩均增加值", "万元/亩", "value_added_wan", "land_mu"
            ),
            IndicatorDef(
                "value_added_wan_per_tce",
                "单位能耗增加值",
                "万元/tce",
                "value_added_wan",
                "energy_tce",
            ),
            IndicatorDef(
                "value_added_wan_per_t",
                "单位排放增加值",
                "万元/t",
                "value_added_wan",
                "emissions_t",
            ),
            IndicatorDef(
                "value_added_wan_per_employee",
                "全员劳动生产率",
                "万元/人",
                "value_added_wan",
                "employees",
            ),
            IndicatorDef("rd_ratio", "R&D经费支出占营业收入比", "", "rd_wan", "revenue_wan"),
            IndicatorDef(
                "tax_yuan_per_kwh", "单位电耗税收", "元/kWh", "tax_wan", "electricity_kwh", 1e4
            ),
            IndicatorDef("tax_wan_per_tce", "单位能耗税收", "万元/tce", "tax_wan", "energy_tce"),
        )
    }
)


@dataclass(frozen=True)
class Indicator:
    """One weighted indicator of an evaluation group.

    Parameters
    ----------
    name : str
        Key of :data:`INDICATORS` (the value column).
    weight : float
        Points for a value equal to the benchmark.
    benchmark : Threshold or None
        Fixed benchmark; None when the policy derives it from the park's data.
    missing : str
        ``"zero"`` (no value, no points) or ``"group_mean"`` (the group's average points).
    """

    name: str
    weight: float
    benchmark: Threshold | None
    missing: str = "zero"

    @property
    def definition(self) -> IndicatorDef:
        """Return how the indicator is computed."""
        return INDICATORS[self.name]


@dataclass(frozen=True)
class Group:
    """An evaluation group (规上 or 规下) and its weighted indicators."""

    key: str
    label: str
    indicators: tuple[Indicator, ...]


@dataclass(frozen=True)
class Policy:
    """A complete evaluation policy; build it with :func:`load_policy`.

    Attributes
    ----------
    name, title, source : str
        Preset or file name, a readable title, and the document it follows.
    extends : str or None
        Name of the policy this one starts from.
    tenant_attribution : str
        ``"floor_share"`` (default), ``"merge_holder"`` or ``"separate"``.
    area_source : str
        ``"measured"`` (polygon area) or ``"recorded"`` (area on the certificate).
    industry_code_edition : int
        Edition of GB/T 4754 the input codes use: 2017 (default) or 2002.
    investment_includes_land_price : bool
        Whether contract investment totals include the land price.
    thresholds : Mapping[str, Threshold]
        Every threshold the rules read, with unit and source.
    groups : Mapping[str, Group]
        Evaluation groups keyed by label (``规上``, ``规下``).
    benchmark : str
        ``"fixed"`` (benchmarks in the file) or ``"park_previous_year"`` (derived from data).
    benchmark_factor : float
        Multiplier on the park average for derived benchmarks (2 for Jiangsu).
    benchmark_source : str
        Source of the benchmark rule.
    shares : Mapping[str, float]
        Class shares A/B/C/D in percent (sum 100).
    shares_source : str
        Source of the shares.
    t_divisions : tuple of str
        Two-digit industry divisions put in class T (not evaluated).
    t_source : str
        Source of the class-T rule.
    path : str
        File the policy was read from (the last one, for a chain of ``extends``).
    """

    name: str
    title: str
    source: str
    extends: str | None = None
    tenant_attribution: str = "floor_share"
    area_source: str = "measured"
    industry_code_edition: int = 2017
    investment_includes_land_price: bool = False
    thresholds: Mapping[str, Threshold] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    groups: Mapping[str, Group] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    benchmark: str = "fixed"
    benchmark_factor: float = 1.0
    benchmark_source: str = ""
    shares: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({"A": 20.0, "B": 40.0, "C": 35.0, "D": 5.0}),
        hash=False,
    )
    shares_source: str = ""
    t_divisions: tuple[str, ...] = ("44", "45", "46")
    t_source: str = ""
    path: str = ""

    def threshold(self, key: str) -> Threshold:
        """Return one threshold, or raise :class:`PolicyError` naming the known keys."""
        try:
            return self.thresholds[key]
        except KeyError:
            known = ", ".join(sorted(self.thresholds))
            msg = f"policy {self.name!r} has no threshold {key!r}; known thresholds: {known}"
            raise PolicyError(msg) from None

    def far_minimum(self, industry_codes: pd.Series) -> pd.DataFrame:
        """Return the 2008 minimum FAR of each industry code, with its source.

        Codes are read as GB/T 4754-2017 (unless ``industry_code_edition`` is 2002), mapped
        to 2002 two-digit divisions through the shipped crosswalk (the longest matching
        prefix wins), then to the 2008 control indicators. Where a code maps to several 2002
        divisions with different minimums, the lower applies. FAR is unitless.

        Parameters
        ----------
        industry_codes : pandas.Series
            Codes such as ``"2922"``, ``"C2922"``, ``"29"``; missing or non-manufacturing codes
            give NaN.

        Returns
        -------
        pandas.DataFrame
            Indexed like ``industry_codes``: ``far_min_industry`` (float), ``far_min_source``.

        Examples
        --------
        >>> p = load_policy()
        >>> p.far_minimum(pd.Series(["2922", "29", "3911"]))["far_min_industry"].tolist()
        [1.0, 0.8, 1.0]
        """
        digits = code_digits(industry_codes)
        out = pd.DataFrame(
            {
                "far_min_industry": pd.Series(np.nan, index=industry_codes.index, dtype="float64"),
                "far_min_source": pd.Series(None, index=industry_codes.index, dtype="object"),
            }
        )
        lookup = _far_lookup(self.industry_code_edition)
        for width in (2, 3, 4):
            prefix = digits.str.slice(0, width).where(digits.str.len() >= width)
            hit = prefix.map(lookup["far"]).astype("float64")
            src = prefix.map(lookup["source"])
            known = prefix.isin(lookup.index)
            out.loc[known, "far_min_industry"] = hit[known]
            out.loc[known, "far_min_source"] = src[known]
        return out

    def thresholds_frame(self) -> pd.DataFrame:
        """Return every threshold and benchmark as rows ``key, value, unit, source``.

        Examples
        --------
        >>> float(load_policy().thresholds_frame().set_index("key").loc["coverage_min", "value"])
        0.3
        """
        rows = [
            {"key": k, "value": t.value, "unit": t.unit, "source": t.source}
            for k, t in sorted(self.thresholds.items())
        ]
        for group in self.groups.values():
            for ind in group.indicators:
                rows.append(
                    {
                        "key": f"weight.{group.label}.{ind.name}",
                        "value": ind.weight,
                        "unit": "分",
                        "source": self.source,
                    }
                )
                bm = ind.benchmark
                rows.append(
                    {
                        "key": f"benchmark.{group.label}.{ind.name}",
                        "value": None if bm is None else bm.value,
                        "unit": ind.definition.unit,
                        "source": self.benchmark_source if bm is None else bm.source,
                    }
                )
        for cls, share in self.shares.items():
            rows.append(
                {"key": f"share.{cls}", "value": share, "unit": "%", "source": self.shares_source}
            )
        return pd.DataFrame(rows, columns=["key", "value", "unit", "source"])

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-safe description of the policy, for echoing into outputs."""
        return {
            "name": self.name,
            "title": self.title,
            "source": self.source,
            "extends": self.extends,
            "tenant_attribution": self.tenant_attribution,
            "area_source": self.area_source,
            "industry_code_edition": self.industry_code_edition,
            "investment_includes_land_price": self.investment_includes_land_price,
            "benchmark": self.benchmark,
            "benchmark_factor": self.benchmark_factor,
            "benchmark_source": self.benchmark_source,
            "shares": dict(self.shares),
            "shares_source": self.shares_source,
            "t_divisions": list(self.t_divisions),
            "t_source": self.t_source,
            "groups": {
                g.label: [
                    {
                        "indicator": i.name,
                        "label_zh": i.definition.label_zh,
                        "weight": i.weight,
                        "benchmark": None if i.benchmark is None else i.benchmark.value,
                        "unit": i.definition.unit,
                        "missing": i.missing,
                    }
                    for i in g.indicators
                ]
                for g in self.groups.values()
            },
            "thresholds": {
                k: {"value": t.value, "unit": t.unit, "source": t.source}
                for k, t in sorted(self.thresholds.items())
            },
            "path": self.path,
        }


# ---------------------------------------------------------------------------------------------
# industry codes and FAR minimums


def code_digits(codes: pd.Series) -> pd.Series:
    """Return the digits of industry codes (``"C2922"`` → ``"2922"``), NaN where none.

    Examples
    --------
    >>> code_digits(pd.Series(["C2922", " 39 ", "x", None])).tolist()
    ['2922', '39', nan, nan]
    """
    text = codes.astype("string").str.strip().str.upper()
    digits = text.str.extract(r"^[A-T]?\s*(\d{2,4})", expand=False)
    return digits.astype("object").where(digits.notna(), np.nan)


def _data_path(name: str) -> Any:
    """Return a traversable for a file shipped in ``landeff/data``."""
    return resources.files("landeff").joinpath("data", name)


@lru_cache(maxsize=2)
def _far_lookup(edition: int) -> pd.DataFrame:
    """Return the FAR minimum and its source for each code prefix of the given edition."""
    with _data_path("far_minimums_2008.csv").open("r", encoding="utf-8") as fh:
        table = pd.read_csv(fh, dtype=str)
    table["far_min"] = table["far_min"].astype("float64")
    names = dict(zip(table["code_2002"], table["name_2002"], strict=True))
    far = dict(zip(table["code_2002"], table["far_min"], strict=True))
    basis = "工业项目建设用地控制指标 (国土资发〔2008〕24号)"
    if edition == 2002:
        src = {c: f"{basis}: GB/T 4754-2002 division {c} {names[c]} ≥ {far[c]:g}" for c in far}
        return pd.DataFrame({"far": pd.Series(far), "source": pd.Series(src)})
    with _data_path("industry_crosswalk_2017_2002.csv").open("r", encoding="utf-8") as fh:
        cross = pd.read_csv(fh, dtype=str, keep_default_na=False)
    rows: dict[str, tuple[float, str]] = {}
    for key, part in cross.groupby("code_2017", sort=True):
        code = str(key)
        targets = [c for c in part["code_2002"] if c]
        if not targets:
            rows[code] = (
                np.nan,
                f"no 2008 minimum: GB/T 4754-2017 {code} has no 2002 manufacturing division",
            )
            continue
        values = {c: far[c] for c in targets}
        low = min(values.values())
        listed = ", ".join(f"{c} {names[c]} ≥ {v:g}" for c, v in values.items())
        rule = "; the lower applies" if len(set(values.values())) > 1 else ""
        rows[code] = (
            low,
            f"{basis}: GB/T 4754-2017 {code} → 2002 division(s) {listed}{rule} (landeff crosswalk)",
        )
    return pd.DataFrame.from_dict(rows, orient="index", columns=["far", "source"])


# ---------------------------------------------------------------------------------------------
# loading


_TOP_KEYS = {
    "extends",
    "name",
    "title",
    "source",
    "tenant_attribution",
    "area_source",
    "industry_code_edition",
    "investment_includes_land_price",
    "evaluation",
    "groups",
    "thresholds",
}
_EVAL_KEYS = {
    "benchmark",
    "benchmark_factor",
    "benchmark_source",
    "shares",
    "shares_source",
    "t_divisions",
    "t_source",
}
_INDICATOR_KEYS = {"weight", "benchmark", "benchmark_source", "missing"}
_THRESHOLD_KEYS = {"value", "unit", "source"}
#: Thresholds the findings rules (landeff.flags) read.
FLAG_THRESHOLDS = (
    "stopped_kwh",
    "low_tax_wan_per_mu",
    "coverage_min",
    "density_min",
    "remainder_margin_m",
    "remainder_min_mu",
    "remainder_inward_buffer_m",
    "late_years",
    "shortfall_ratio",
)
#: Thresholds the rules always read: every policy must give them a value, except those in
#: :data:`_MAY_BE_OFF`, which a ``"off"`` value switches off.
_REQUIRED_THRESHOLDS = frozenset(
    {*FLAG_THRESHOLDS, "below_scale_min_mu", "exempt_production_years"}
)
_MAY_BE_OFF = frozenset({"low_tax_wan_per_mu", "below_scale_min_mu", "exempt_production_years"})
_WHOLE_NUMBERS = frozenset({"exempt_production_years"})
_CHOICES = {
    "tenant_attribution": ("floor_share", "merge_holder", "separate"),
    "area_source": ("measured", "recorded"),
    "benchmark": ("fixed", "park_previous_year"),
    "missing": ("zero", "group_mean"),
}


def _preset_dir() -> Any:
    return _data_path("presets")


def _preset_names() -> list[str]:
    return sorted(
        p.name.removesuffix(".toml")
        for p in _preset_dir().iterdir()
        if p.name.endswith(".toml") and not p.name.startswith("_")
    )


def list_presets() -> list[tuple[str, str]]:
    """Return ``(name, title)`` of every shipped preset, sorted by name.

    Examples
    --------
    >>> [name for name, _ in list_presets()]
    ['jiangsu-huaian-2024', 'zhejiang-huangyan-2022']
    """
    return [(name, load_policy(name).title) for name in _preset_names()]


def load_policy(spec: Policy | str | Path | None = None) -> Policy:
    """Return a :class:`Policy` from a preset name, a TOML file, or a Policy.

    Parameters
    ----------
    spec : Policy, str, pathlib.Path or None
        None for the default preset (``jiangsu-huaian-2024``), a preset name (see
        :func:`list_presets`), or the path of a TOML file, which may ``extends`` a preset.

    Raises
    ------
    PolicyError
        If the file is missing or invalid; the message names the file, the key and the value.

    Examples
    --------
    >>> p = load_policy()
    >>> p.name, p.thresholds["below_scale_min_mu"].value, p.thresholds["below_scale_min_mu"].unit
    ('jiangsu-huaian-2024', 3.0, '亩')
    """
    if isinstance(spec, Policy):
        return spec
    if spec is None:
        spec = DEFAULT_PRESET
    data, chain = _resolve(spec, seen=())
    parent = next((n for n in reversed(chain[:-1]) if not n.startswith("_")), None)
    return _build(data, where=chain[-1], parent=parent)


def _read_toml(path: Path | Any, label: str) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        msg = f"{label}: not valid TOML ({err}); fix the syntax at that line"
        raise PolicyError(msg) from err
    except OSError as err:
        msg = f"{label}: cannot read the policy file ({err})"
        raise PolicyError(msg) from err


def _resolve(spec: str | Path, seen: tuple[str, ...]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Read a preset or file and everything it extends; return the merged dict and the chain."""
    text = str(spec)
    presets = _preset_names()
    if isinstance(spec, str) and (text in presets or text.startswith("_")) and "/" not in text:
        path: Any = _preset_dir().joinpath(f"{text}.toml")
        label, is_preset = f"preset {text} ({path})", True
        if not path.is_file():
            msg = f"no preset named {text!r}; presets: {', '.join(presets)}"
            raise PolicyError(msg)
    else:
        path = Path(spec)
        label, is_preset = str(path), False
        if not path.is_file():
            msg = (
                f"policy {text!r} is neither a preset ({', '.join(presets)}) nor an existing "
                "TOML file; give a preset name or the path of a policy file"
            )
            raise PolicyError(msg)
    if label in seen:
        msg = f"{label}: 'extends' loops back on itself ({' → '.join([*seen, label])})"
        raise PolicyError(msg)
    data = _read_toml(path, label)
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        msg = (
            f"{label}: unknown key {unknown[0]!r}; allowed top-level keys: "
            f"{', '.join(sorted(_TOP_KEYS))}"
        )
        raise PolicyError(msg)
    own_name = text if is_preset else path.stem
    if not is_preset:
        _mark_park_settings(data, f"park setting ({path.name})", label)
    data.setdefault("name", own_name)
    data["_label"] = label
    parent = data.pop("extends", None)
    if parent is None:
        return data, (own_name,)
    if not isinstance(parent, str):
        msg = f"{label}: key 'extends' has value {parent!r}; give a preset name or a file path"
        raise PolicyError(msg)
    if not is_preset and parent not in presets and not Path(parent).is_absolute():
        candidate = path.parent / parent
        if candidate.is_file():
            parent = str(candidate)
    base, chain = _resolve(parent, (*seen, label))
    base_name = base["name"]
    _check_units(data.get("thresholds", {}), base.get("thresholds", {}), label, base_name)
    base.pop("name", None)
    if "title" not in data:
        data["title"] = f"{own_name} (extends {base_name})"
    merged = _deep_merge(base, data)
    return merged, (*chain, merged["name"])


def _check_units(over: Any, base: Any, label: str, base_name: str) -> None:
    """Refuse an override whose unit differs from the unit of the value it replaces."""
    if not isinstance(over, dict) or not isinstance(base, dict):
        return
    for key, val in over.items():
        old = base.get(key)
        if not (isinstance(val, dict) and isinstance(old, dict)):
            continue
        if "unit" in val and "unit" in old and val["unit"] != old["unit"]:
            msg = (
                f"{label}: key 'thresholds.{key}.unit' has value {val['unit']!r}, but "
                f"{base_name} gives this threshold in {old['unit']!r}; landeff does not "
                f"convert units here: give the value in {old['unit']!r}"
            )
            raise PolicyError(msg)


def _mark_park_settings(data: dict[str, Any], source: str, label: str) -> None:
    """Give values a user file sets without a source the source ``park setting (<file>)``."""
    if not isinstance(data.get("thresholds", {}), dict):
        msg = f"{label}: key 'thresholds' must be a table ([thresholds])"
        raise PolicyError(msg)
    thresholds = data.get("thresholds", {})
    if isinstance(thresholds, dict):
        for key, val in list(thresholds.items()):
            if isinstance(val, dict):
                val.setdefault("source", source)
            elif isinstance(val, int | float) and not isinstance(val, bool):
                thresholds[key] = {"value": val, "source": source}
            elif isinstance(val, str) and val == "off":
                thresholds[key] = {"value": "off", "source": source}
    evaluation = data.get("evaluation", {})
    if isinstance(evaluation, dict) and "shares" in evaluation:
        evaluation.setdefault("shares_source", source)
    groups = data.get("groups", {})
    if isinstance(groups, dict):
        for group in groups.values():
            if not isinstance(group, dict):
                continue
            for ind in group.values():
                if isinstance(ind, dict) and "benchmark" in ind:
                    ind.setdefault("benchmark_source", source)


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, val in over.items():
        if isinstance(val, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], val)
        else:
            out[key] = val
    return out


def _fail(where: str, key: str, value: Any, expected: str) -> PolicyError:
    return PolicyError(f"{where}: key {key!r} has value {value!r}; expected {expected}")


def _number(where: str, key: str, value: Any, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise _fail(where, key, value, "a number")
    if minimum is not None and value < minimum:
        raise _fail(where, key, value, f"a number ≥ {minimum:g}")
    return float(value)


def _text(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(where, key, value, "a text string in quotes")
    return value


def _choice(where: str, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _fail(where, key, value, "one of " + ", ".join(repr(c) for c in choices))
    return str(value)


def _table(where: str, key: str, value: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, key, value, "a table")
    unknown = sorted(set(value) - allowed)
    if unknown:
        msg = (
            f"{where}: unknown key {key + '.' + unknown[0]!r}; allowed: "
            f"{', '.join(sorted(allowed))}"
        )
        raise PolicyError(msg)
    return value


def _build(data: dict[str, Any], where: str, parent: str | None) -> Policy:
    where = data.pop("_label", where)
    name = _text(where, "name", data["name"])
    title = _text(where, "title", data.get("title", name))
    source = _text(where, "source", data.get("source", ""))
    tenant = _choice(
        where,
        "tenant_attribution",
        data.get("tenant_attribution", "floor_share"),
        _CHOICES["tenant_attribution"],
    )
    area_source = _choice(
        where, "area_source", data.get("area_source", "measured"), _CHOICES["area_source"]
    )
    edition = data.get("industry_code_edition", 2017)
    if edition not in (2017, 2002) or isinstance(edition, bool):
        raise _fail(where, "industry_code_edition", edition, "2017 or 2002 (GB/T 4754 edition)")
    incl = data.get("investment_includes_land_price", False)
    if not isinstance(incl, bool):
        raise _fail(where, "investment_includes_land_price", incl, "true or false")

    thresholds = _build_thresholds(where, data.get("thresholds", {}))

    ev = _table(where, "evaluation", data.get("evaluation", {}), _EVAL_KEYS)
    benchmark = _choice(
        where, "evaluation.benchmark", ev.get("benchmark", "fixed"), _CHOICES["benchmark"]
    )
    factor = _number(
        where, "evaluation.benchmark_factor", ev.get("benchmark_factor", 1.0), minimum=0.0
    )
    if factor == 0:
        raise _fail(where, "evaluation.benchmark_factor", factor, "a number > 0")
    shares_raw = _table(where, "evaluation.shares", ev.get("shares", {}), set(CLASSES))
    if set(shares_raw) != set(CLASSES):
        missing = sorted(set(CLASSES) - set(shares_raw))
        raise _fail(
            where, "evaluation.shares", shares_raw, f"shares for A, B, C, D (missing {missing})"
        )
    shares = {
        c: _number(where, f"evaluation.shares.{c}", shares_raw[c], minimum=0.0) for c in CLASSES
    }
    if abs(sum(shares.values()) - 100.0) > 1e-9:
        raise _fail(
            where,
            "evaluation.shares",
            shares_raw,
            f"percentages summing to 100 (they sum to {sum(shares.values()):g})",
        )
    t_div = ev.get("t_divisions", ["44", "45", "46"])
    if not isinstance(t_div, list) or not all(
        isinstance(d, str) and re.fullmatch(r"\d{2}", d) for d in t_div
    ):
        raise _fail(
            where, "evaluation.t_divisions", t_div, 'a list of two-digit codes, e.g. ["44"]'
        )

    groups_raw = _table(where, "groups", data.get("groups", {}), set(GROUP_LABELS))
    if not groups_raw:
        raise _fail(where, "groups", groups_raw, "[groups.above] and/or [groups.below] tables")
    groups: dict[str, Group] = {}
    for gkey, graw in groups_raw.items():
        gwhere = f"groups.{gkey}"
        graw = _table(where, gwhere, graw, set(INDICATORS))
        indicators = []
        for iname, iraw in graw.items():
            ikey = f"{gwhere}.{iname}"
            iraw = _table(where, ikey, iraw, _INDICATOR_KEYS)
            weight = _number(where, f"{ikey}.weight", iraw.get("weight"), minimum=0.0)
            if weight == 0:
                continue
            bm = None
            if "benchmark" in iraw:
                bm_value = _number(where, f"{ikey}.benchmark", iraw["benchmark"], minimum=0.0)
                if bm_value == 0:
                    raise _fail(where, f"{ikey}.benchmark", bm_value, "a number > 0")
                bm = Threshold(
                    bm_value,
                    INDICATORS[iname].unit,
                    _text(where, f"{ikey}.benchmark_source", iraw.get("benchmark_source", source)),
                )
            elif benchmark == "fixed":
                raise _fail(
                    where,
                    f"{ikey}.benchmark",
                    None,
                    "a benchmark (in "
                    f"{INDICATORS[iname].unit or 'a plain ratio'}) because evaluation.benchmark "
                    "is 'fixed'",
                )
            rule = _choice(
                where, f"{ikey}.missing", iraw.get("missing", "zero"), _CHOICES["missing"]
            )
            indicators.append(Indicator(iname, weight, bm, rule))
        if not indicators:
            raise _fail(where, gwhere, graw, "at least one indicator with a weight > 0")
        groups[GROUP_LABELS[gkey]] = Group(gkey, GROUP_LABELS[gkey], tuple(indicators))

    return Policy(
        name=name,
        title=title,
        source=source,
        extends=parent,
        tenant_attribution=tenant,
        area_source=area_source,
        industry_code_edition=int(edition),
        investment_includes_land_price=incl,
        thresholds=MappingProxyType(thresholds),
        groups=MappingProxyType(groups),
        benchmark=benchmark,
        benchmark_factor=factor,
        benchmark_source=_text(
            where, "evaluation.benchmark_source", ev.get("benchmark_source", source)
        ),
        shares=MappingProxyType(shares),
        shares_source=_text(where, "evaluation.shares_source", ev.get("shares_source", source)),
        t_divisions=tuple(t_div),
        t_source=_text(where, "evaluation.t_source", ev.get("t_source", source)),
        path=where,
    )


def _build_thresholds(where: str, raw: Any) -> dict[str, Threshold]:
    if not isinstance(raw, dict):
        raise _fail(where, "thresholds", raw, "a table ([thresholds])")
    absent = sorted(_REQUIRED_THRESHOLDS - set(raw))
    if absent:
        raise _fail(
            where, f"thresholds.{absent[0]}", None, "a threshold table (value, unit, source)"
        )
    out: dict[str, Threshold] = {}
    for key, val in raw.items():
        tkey = f"thresholds.{key}"
        val = _table(where, tkey, val, _THRESHOLD_KEYS)
        if "unit" not in val:
            raise _fail(where, f"{tkey}.unit", None, 'a unit, e.g. unit = "亩" ("" for a ratio)')
        if "value" not in val or val["value"] == "off":
            if key not in _MAY_BE_OFF and key in _REQUIRED_THRESHOLDS:
                raise _fail(
                    where, f"{tkey}.value", val.get("value"), "a number (this rule cannot be off)"
                )
            value = None
        else:
            value = _number(where, f"{tkey}.value", val["value"])
            if key in _WHOLE_NUMBERS and value != int(value):
                raise _fail(where, f"{tkey}.value", val["value"], "a whole number of years")
        out[key] = Threshold(
            value,
            _text(where, f"{tkey}.unit", val["unit"]),
            _text(where, f"{tkey}.source", val.get("source", "")),
        )
    return out
