"""The one-page park report: headline figures, charts and the link to the map, in one HTML file.

The page is self-contained: no script, no style sheet, font or image from the network (a Content
Security Policy forbids them). Charts are inline SVG drawn by matplotlib with ``svg.fonttype =
"none"``: the text stays text, laid out with a CJK font found on this machine and shown by the
browser with the page's fonts. Every text that comes from the data is escaped.

Every headline number is read from ``summary`` (``summary.json``), so the report and the JSON
always agree; this module computes no figure of its own (see docs/outputs.md).
"""

from __future__ import annotations

import html
import io
import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io.write import atomic_path
from . import is_confidential
from ._map_style import GRADE_COLORS
from .excel import FINDING_LABELS, LANGS

#: CJK fonts tried for chart layout, best first (Debian, Adobe, Windows, macOS names).
CJK_FONTS: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Noto Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
)

#: Font stack of the page (and of the chart text, which the browser draws).
FONT_STACK = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", '
    '"WenQuanYi Zen Hei", "SimHei", sans-serif'
)

#: Classes in chart order; their colours are the map's (``_map_style.GRADE_COLORS``).
_GRADES = ("A", "B", "C", "D", "T")
_OTHER_GRADE_COLOR = GRADE_COLORS.get("", "#bdbdbd")

#: Content Security Policy of the page: no script, no request; inline styles and data images only.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

#: Fewest enterprises behind a park aggregate of enterprise figures for it to appear publicly.
MIN_FIRMS_PUBLIC = 3


@dataclass(frozen=True)
class Headline:
    """One headline figure: the ``summary`` key, labels, unit and how to show it."""

    key: str
    zh: str
    en: str
    unit_zh: str
    unit_en: str
    kind: str  # "mu", "money", "ratio", "percent", "count"
    optional: bool = False  # shown only when the summary has a value (park ratios)


HEADLINES: tuple[Headline, ...] = (
    Headline("land_mu", "用地面积", "Land", "亩", "mu", "mu"),
    Headline("n_parcels", "宗地数", "Parcels", "宗", "", "count"),
    Headline("n_enterprises", "企业数", "Enterprises", "家", "", "count"),
    Headline("tax_wan_per_mu", "亩均税收", "Tax per mu", "万元/亩", "10k yuan/mu", "money"),
    Headline("revenue_wan_per_mu", "亩均营业收入", "Revenue per mu", "万元/亩", "10k yuan/mu",
             "money", optional=True),
    Headline("far_overall", "综合容积率", "Overall FAR", "", "", "ratio"),
    Headline("building_density", "建筑密度", "Building density", "", "", "percent"),
    Headline("idle_land_mu", "闲置土地", "Idle land", "亩", "mu", "mu"),
    Headline("suspected_idle_land_mu", "疑似闲置", "Suspected idle", "亩", "mu", "mu"),
    Headline("low_efficiency_land_mu", "低效用地", "Low-efficiency land", "亩", "mu", "mu"),
    Headline("land_built_rate", "土地建成率", "Land built-up rate", "", "", "percent",
             optional=True),
    Headline("industrial_land_rate", "工业用地率", "Industrial land share", "", "", "percent",
             optional=True),
    Headline("idle_disposal_rate", "闲置土地处置率", "Idle-land disposal rate", "", "", "percent",
             optional=True),
)

_T = {
    "title": ("园区亩均效益报告", "Park land-efficiency report"),
    "public": ("公开版", "public edition"),
    "as_of": ("评价日期", "As of"),
    "year": ("数据年度", "Data year"),
    "policy": ("评价方案", "Preset"),
    "map": ("打开交互地图", "Open the interactive map"),
    "headline": ("主要指标", "Headline figures"),
    "charts": ("图表", "Charts"),
    "grades": ("企业评价等级", "Enterprise classes"),
    "findings": ("问题清单", "Findings"),
    "code": ("问题代码", "Code"),
    "finding": ("问题类型", "Finding"),
    "count": ("数量", "Count"),
    "grade": ("等级", "Class"),
    "n_firms": ("企业数", "Enterprises"),
    "tax_hist": ("企业亩均税收分布", "Tax per mu of the enterprises"),
    "tax_axis": ("亩均税收(万元/亩)", "Tax per mu (10k yuan/mu)"),
    "n_axis": ("企业数", "Enterprises"),
    "median": ("中位数", "median"),
    "far_hist": ("宗地容积率分布", "FAR of the parcels"),
    "far_axis": ("容积率", "FAR"),
    "parcels_axis": ("宗地数", "Parcels"),
    "target": ("目标容积率", "target FAR"),
    "scenario": ("工业上楼情景", "Multi-storey scenario (工业上楼)"),
    "far_now": ("现状", "today"),
    "far_after": ("提升后", "at target"),
    "target_card": ("目标容积率", "Target FAR"),
    "far_now_card": ("现状容积率", "FAR today"),
    "far_after_card": ("提升后容积率", "FAR at the target"),
    "far_bar_title": ("园区容积率:现状与工业上楼后", "Park FAR today and at the target"),
    "land_freed": ("可腾出土地", "Land freed"),
    "floor_gained": ("可增加建筑面积", "Floor area gained"),
    "tax_at_target": ("目标下亩均税收", "Tax per mu at the target"),
    "yoy": ("历年对比", "Year on year"),
    "yoy_axis": ("万元/亩", "10k yuan/mu"),
    "withheld": ("不公开", "withheld"),
    "withheld_note": (
        "公开版:企业数少于{n}家时不公开园区汇总的企业数据。",
        "Public edition: park totals of enterprise figures are withheld below {n} enterprises.",
    ),
    "public_note": (
        "公开版不含任何企业的税收、营收等数据及其派生指标;园区亩均税收为全园区汇总值。",
        "The public edition holds no enterprise figure nor anything derived from one; the park's "
        "tax per mu is an aggregate over all its enterprises.",
    ),
    "missing": ("—", "—"),
    "definitions": ("指标说明", "Definitions"),
    "no_font": (
        "本机未找到中文字体,图表文字由浏览器字体显示,排版可能略有偏差。",
        "No CJK font was found on this machine: the browser draws the chart text, and its layout "
        "may be slightly off.",
    ),
}

_DEFINITIONS = (
    ("亩均税收 = 税收合计 ÷ 企业用地面积(亩);综合容积率 = 总计容建筑面积 ÷ 已建成土地面积;"
     "建筑密度 = 建筑基底面积 ÷ 已建成土地面积。",
     "Tax per mu = total tax ÷ enterprise land (mu); overall FAR = FAR floor area ÷ built land; "
     "building density = footprint ÷ built land."),
    ("土地建成率 = 已建成土地 ÷ 已供应土地;工业用地率 = 已建成工业用地 ÷ 已建成土地;"
     "闲置土地处置率 = 已处置闲置土地 ÷ 闲置土地总量。",
     "Land built-up rate = built land ÷ supplied land; industrial land share = built industrial "
     "land ÷ built land; idle-land disposal rate = idle land disposed ÷ all idle land."),
)


def _t(key: str, lang: str) -> str:
    return _T[key][0 if lang == "zh" else 1]


def find_cjk_font() -> str | None:
    """Return the name of a CJK font matplotlib can use, or None when there is none.

    Looks for :data:`CJK_FONTS` in order, then for any font whose name says CJK.

    Examples
    --------
    >>> name = find_cjk_font()
    >>> name is None or isinstance(name, str)
    True
    """
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in names:
            return name
    others = sorted(n for n in names if "CJK" in n and "Mono" not in n)
    return others[0] if others else None


# ---------------------------------------------------------------------------------------------
# Formatting


def _number(value: Any) -> float | None:
    """Return a finite float, or None."""
    if value is None or isinstance(value, bool | str):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def format_figure(value: Any, kind: str) -> str:
    """Return a headline value as shown in the report (``—`` when missing).

    Examples
    --------
    >>> format_figure(1234.5678, "mu"), format_figure(0.4567, "percent"), format_figure(12, "count")
    ('1,234.57', '45.67%', '12')
    >>> format_figure(None, "ratio")
    '—'
    """
    x = _number(value)
    if x is None:
        return "—"
    if kind in ("count", "m2"):
        return f"{x:,.0f}"
    if kind == "percent":
        return f"{x * 100:,.2f}%"
    return f"{x:,.2f}"


def _e(value: Any) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


# ---------------------------------------------------------------------------------------------
# Charts


class _Charts:
    """Draw charts as inline SVG with a CJK font (no glyph goes missing)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.font = find_cjk_font()
        self.count = 0

    def svg(self, fig: Any, title: str) -> str:
        """Return the figure as an inline ``<svg>`` element (no prolog, no metadata)."""
        import matplotlib as mpl

        self.count += 1
        rc: Any = {  # matplotlib types the keys as literals
            "svg.fonttype": "none",
            "svg.hashsalt": f"landeff-chart-{self.count}",
            "font.family": [self.font, "DejaVu Sans"] if self.font else ["DejaVu Sans"],
            "axes.unicode_minus": True,
        }
        buf = io.StringIO()
        with mpl.rc_context(rc), warnings.catch_warnings():
            if self.font is None:
                # The browser draws the text (svg.fonttype none); matplotlib only lays it out.
                warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
            fig.savefig(buf, format="svg", bbox_inches="tight")
        text = buf.getvalue()
        text = text[text.index("<svg") :]
        text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)
        text = re.sub(r'\swidth="[\d.]+pt"\s+height="[\d.]+pt"', "", text, count=1)
        label = _e(title)
        return text.replace("<svg ", f'<svg role="img" aria-label="{label}" class="chart" ', 1)

    def figure(self, width_in: float = 5.6, height_in: float = 3.2) -> Any:
        """Return a new matplotlib Figure (no pyplot state) drawn with the CJK font."""
        import matplotlib as mpl
        from matplotlib.figure import Figure

        family = [self.font, "DejaVu Sans"] if self.font else ["DejaVu Sans"]
        with mpl.rc_context({"font.family": family}):
            fig = Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")
        return fig

    def _axes(self, fig: Any) -> Any:
        ax = fig.add_subplot()
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", color="#e5e5e5", linewidth=0.8)
        ax.set_axisbelow(True)
        return ax

    def _text(self, **kw: Any) -> dict[str, Any]:
        family = [self.font, "DejaVu Sans"] if self.font else ["DejaVu Sans"]
        return {"fontfamily": family, "parse_math": False, **kw}

    def histogram(
        self, values: pd.Series, *, title: str, xlabel: str, ylabel: str, color: str,
        line: float | None = None, line_label: str | None = None, median: bool = False,
    ) -> str | None:
        """Return a histogram of ``values`` (None when there is nothing to draw)."""
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        x = x[np.isfinite(x)]
        if len(x) == 0:
            return None
        fig = self.figure()
        ax = self._axes(fig)
        bins = min(30, max(5, int(np.sqrt(len(x)))))
        ax.hist(x, bins=bins, color=color, edgecolor="white")
        if median:
            med = float(np.median(x))
            ax.axvline(med, color="#333333", linestyle="--", linewidth=1)
            ax.text(med, ax.get_ylim()[1] * 0.95, f" {_t('median', self.lang)} {med:,.2f}",
                    **self._text(fontsize=8, va="top"))
        if line is not None:
            ax.axvline(line, color="#d73027", linewidth=1.5)
            ax.text(line, ax.get_ylim()[1] * 0.85, f" {line_label} {line:g}",
                    **self._text(fontsize=8, va="top", color="#d73027"))
        self._labels(ax, title, xlabel, ylabel)
        return self.svg(fig, title)

    def _labels(self, ax: Any, title: str, xlabel: str, ylabel: str) -> None:
        ax.set_title(title, **self._text(fontsize=11))
        ax.set_xlabel(xlabel, **self._text(fontsize=9))
        ax.set_ylabel(ylabel, **self._text(fontsize=9))
        for tick in (*ax.get_xticklabels(), *ax.get_yticklabels()):
            tick.set_fontfamily(self._text()["fontfamily"])

    def bars(
        self, labels: Sequence[str], values: Sequence[float], colors: Sequence[str], *,
        title: str, ylabel: str, fmt: str = "{:,.0f}",
    ) -> str | None:
        """Return a bar chart with each bar's value written on it."""
        if not labels:
            return None
        fig = self.figure()
        ax = self._axes(fig)
        pos = np.arange(len(labels))
        ax.bar(pos, values, color=list(colors), width=0.6)
        ax.set_xticks(pos, [str(v) for v in labels])
        for p, v in zip(pos, values, strict=True):
            ax.text(p, v, fmt.format(v), **self._text(ha="center", va="bottom", fontsize=9))
        ax.margins(y=0.15)
        self._labels(ax, title, "", ylabel)
        return self.svg(fig, title)

    def lines(
        self, years: Sequence[str], series: Mapping[str, Sequence[float | None]], *,
        title: str, ylabel: str,
    ) -> str | None:
        """Return a line chart of values by year."""
        if len(years) < 2 or not series:
            return None
        fig = self.figure()
        ax = self._axes(fig)
        pos = np.arange(len(years))
        for label, values in series.items():
            y = np.array([np.nan if v is None else v for v in values], dtype=float)
            ax.plot(pos, y, marker="o", label=label)
            for p, v in zip(pos, y, strict=True):
                if np.isfinite(v):
                    ax.text(p, v, f"{v:,.2f}", **self._text(ha="center", va="bottom", fontsize=8))
        ax.set_xticks(pos, list(years))
        ax.margins(y=0.2)
        ax.legend(prop={"family": self._text()["fontfamily"], "size": 8}, frameon=False)
        self._labels(ax, title, "", ylabel)
        return self.svg(fig, title)


# ---------------------------------------------------------------------------------------------
# The page


def _scenario_park(scenario: Any) -> dict[str, Any] | None:
    """Return the park dict of a scenario: ``scenario()``'s ``(per_parcel, park)`` or ``park``."""
    if scenario is None:
        return None
    if isinstance(scenario, tuple) and len(scenario) == 2 and isinstance(scenario[1], Mapping):
        return dict(scenario[1])
    if isinstance(scenario, Mapping):
        return dict(scenario)
    msg = (
        f"scenario: expected the result of landeff.scenario(result, target_far) (a tuple "
        f"(per_parcel, park)) or its park dict, got {type(scenario).__name__}"
    )
    raise InputError(msg)


def _check_href(map_href: str | None) -> None:
    if map_href is None:
        return
    scheme = urlsplit(str(map_href)).scheme.lower()
    if scheme not in ("", "http", "https"):
        msg = (
            f"map_href={map_href!r}: only a relative path (e.g. 'map.html') or an http(s) address "
            "can be linked from the report"
        )
        raise InputError(msg)


def _public_aggregate_ok(summary: Mapping[str, Any], min_firms: int) -> bool:
    n = _number(summary.get("n_enterprises"))
    return n is not None and n >= min_firms


def _card(h: Headline, value: Any, lang: str, *, withheld: bool) -> str:
    label = h.zh if lang == "zh" else h.en
    unit = h.unit_zh if lang == "zh" else h.unit_en
    if withheld:
        shown, attr = _t("withheld", lang), ""
    else:
        x = _number(value)
        shown = format_figure(x, h.kind)
        attr = f' data-value="{_e(repr(x))}"' if x is not None else ""
    return (
        f'<div class="card" data-key="{_e(h.key)}"{attr}>'
        f'<div class="label">{_e(label)}</div>'
        f'<div class="value">{_e(shown)}</div>'
        f'<div class="unit">{_e(unit)}</div></div>'
    )


def _count_table(rows: Sequence[tuple[str, str | None, int]], head: Sequence[str]) -> str:
    """Return a table of counts: key, label (left out when None) and count."""
    body = "".join(
        f'<tr data-key="{_e(k)}"><td>{_e(k)}</td>'
        + (f"<td>{_e(label)}</td>" if label is not None else "")
        + f'<td class="num">{_e(f"{n:,d}")}</td></tr>'
        for k, label, n in rows
    )
    cells = "".join(f"<th>{_e(h)}</th>" for h in head[:-1])
    return (
        f"<table><thead><tr>{cells}"
        f'<th class="num">{_e(head[-1])}</th></tr></thead><tbody>{body}</tbody></table>'
    )


def _count_items(value: Any) -> list[tuple[str, int]]:
    if not isinstance(value, Mapping):
        return []
    out = []
    for k, v in value.items():
        n = _number(v)
        if n is not None:
            out.append((str(k), int(n)))
    return out


def _finding_labels(findings: pd.DataFrame | None, lang: str) -> dict[str, str]:
    col = "label_zh" if lang == "zh" else "label_en"
    labels = {k: v[0 if lang == "zh" else 1] for k, v in FINDING_LABELS.items()}
    if findings is not None and {"code", col} <= set(findings.columns):
        own = findings[["code", col]].dropna().drop_duplicates("code")
        labels.update({str(k): str(v) for k, v in zip(own["code"], own[col], strict=True)})
    return labels


def _grade_order(key: str) -> tuple[int, str]:
    return (_GRADES.index(key) if key in _GRADES else len(_GRADES), key)


def report_html(
    summary: Mapping[str, Any],
    parcels: pd.DataFrame | None,
    enterprises: pd.DataFrame | None,
    findings: pd.DataFrame | None,
    *,
    scenario: Any = None,
    map_href: str | None = "map.html",
    lang: str = "zh",
    public: bool = False,
    min_firms_public: int = MIN_FIRMS_PUBLIC,
) -> str:
    """Return the report page as HTML text (see :func:`write_report`)."""
    if lang not in LANGS:
        msg = f"lang={lang!r} is not supported; use 'zh' (Chinese, the default) or 'en'"
        raise InputError(msg)
    _check_href(map_href)
    park = _scenario_park(scenario)
    charts = _Charts(lang)
    aggregates_ok = not public or _public_aggregate_ok(summary, min_firms_public)

    name = summary.get("name") or ""
    title = f"{name} {_t('title', lang)}".strip()
    if public:
        title += f"({_t('public', lang)})" if lang == "zh" else f" ({_t('public', lang)})"
    meta = [
        (_t("as_of", lang), summary.get("as_of")),
        (_t("year", lang), summary.get("year")),
        (_t("policy", lang), summary.get("policy")),
    ]
    meta_html = " · ".join(f"{_e(k)}: {_e(v)}" for k, v in meta if v not in (None, ""))
    link = (
        f'<p class="maplink"><a href="{_e(map_href)}">{_e(_t("map", lang))}</a></p>'
        if map_href else ""
    )

    cards = []
    for h in HEADLINES:
        value = summary.get(h.key)
        if h.optional and _number(value) is None:
            continue
        withheld = public and is_confidential(h.key) and not aggregates_ok
        cards.append(_card(h, value, lang, withheld=withheld))

    grade_items = sorted(_count_items(summary.get("grades")), key=lambda kv: _grade_order(kv[0]))
    finding_items = _count_items(summary.get("findings"))
    labels = _finding_labels(findings, lang)

    figures: list[str] = []
    if not public and enterprises is not None and "tax_wan_per_mu" in enterprises:
        figures.append(
            charts.histogram(
                enterprises["tax_wan_per_mu"], title=_t("tax_hist", lang),
                xlabel=_t("tax_axis", lang), ylabel=_t("n_axis", lang), color="#4575b4",
                median=True,
            ) or ""
        )
    if grade_items:
        figures.append(
            charts.bars(
                [k for k, _ in grade_items], [n for _, n in grade_items],
                [GRADE_COLORS[k] if k in _GRADES else _OTHER_GRADE_COLOR for k, _ in grade_items],
                title=_t("grades", lang), ylabel=_t("n_firms", lang),
            ) or ""
        )
    if parcels is not None and "far" in parcels:
        target = _number(park.get("target_far")) if park else None
        figures.append(
            charts.histogram(
                parcels["far"], title=_t("far_hist", lang), xlabel=_t("far_axis", lang),
                ylabel=_t("parcels_axis", lang), color="#74add1", line=target,
                line_label=_t("target", lang),
            ) or ""
        )
    scenario_html = ""
    if park:
        scenario_html, far_chart = _scenario_section(park, charts, lang, public, aggregates_ok)
        figures.append(far_chart or "")
    yoy_html, yoy_chart = _yoy_section(summary.get("by_year"), charts, lang, public,
                                       aggregates_ok)
    figures.append(yoy_chart or "")

    figure_html = "".join(f'<figure class="chart">{f}</figure>' for f in figures if f)
    grade_table = _count_table(
        [(k, None, n) for k, n in grade_items],
        (_t("grade", lang), _t("n_firms", lang)),
    ) if grade_items else ""
    finding_table = _count_table(
        [(k, labels.get(k, k), n) for k, n in finding_items],
        (_t("code", lang), _t("finding", lang), _t("count", lang)),
    ) if finding_items else ""

    notes = []
    if public:
        notes.append(_t("public_note", lang))
        if not aggregates_ok:
            notes.append(_t("withheld_note", lang).format(n=min_firms_public))
    if charts.font is None and charts.count:
        notes.append(_t("no_font", lang))
    definitions = "".join(f"<li>{_e(d[0 if lang == 'zh' else 1])}</li>" for d in _DEFINITIONS)
    notes_html = "".join(f'<p class="note">{_e(n)}</p>' for n in notes)

    return f"""<!DOCTYPE html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="generator" content="landeff">
<title>{_e(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>{_e(title)}</h1>
<p class="meta">{meta_html}</p>
{link}
</header>
<main>
<section class="headline" aria-label="{_e(_t('headline', lang))}">
<h2>{_e(_t('headline', lang))}</h2>
<div class="cards">{''.join(cards)}</div>
</section>
{scenario_html}
<section class="charts" aria-label="{_e(_t('charts', lang))}">
<h2>{_e(_t('charts', lang))}</h2>
<div class="grid">{figure_html}</div>
</section>
<section class="tables">
<div><h2>{_e(_t('grades', lang))}</h2>{grade_table}</div>
<div><h2>{_e(_t('findings', lang))}</h2>{finding_table}</div>
</section>
{yoy_html}
</main>
<footer>
{notes_html}
<h2>{_e(_t('definitions', lang))}</h2>
<ul>{definitions}</ul>
</footer>
</body>
</html>
"""


def _scenario_section(
    park: Mapping[str, Any], charts: _Charts, lang: str, public: bool, aggregates_ok: bool
) -> tuple[str, str | None]:
    """Return the scenario figures (HTML) and the FAR before/after chart.

    FAR at the target is the scenario's ``far_at_target`` (landeff.scenario).
    """
    far_now = _number(park.get("far"))
    far_after = _number(park.get("far_at_target"))
    items = [
        Headline("target_far", _t("target_card", lang), _t("target_card", lang), "", "", "ratio"),
        Headline("far", _t("far_now_card", lang), _t("far_now_card", lang), "", "", "ratio"),
        Headline("far_at_target", _t("far_after_card", lang), _t("far_after_card", lang), "", "",
                 "ratio"),
        Headline("land_freed_mu", _t("land_freed", lang), _t("land_freed", lang), "亩", "mu",
                 "mu"),
        Headline("floor_area_gained_m2", _t("floor_gained", lang), _t("floor_gained", lang),
                 "平方米", "m²", "m2"),
        Headline("tax_wan_per_mu_at_target", _t("tax_at_target", lang), _t("tax_at_target", lang),
                 "万元/亩", "10k yuan/mu", "money"),
    ]
    values = {**park, "far_at_target": far_after}
    cards = []
    for h in items:
        confidential = is_confidential(h.key.removesuffix("_at_target"))
        withheld = public and confidential and not aggregates_ok
        cards.append(_card(h, values.get(h.key), lang, withheld=withheld).replace(
            'class="card"', 'class="card scenario"', 1))
    chart = None
    if far_now is not None and far_after is not None:
        chart = charts.bars(
            [_t("far_now", lang), _t("far_after", lang)], [far_now, far_after],
            ["#74add1", "#1a9850"], title=_t("far_bar_title", lang), ylabel=_t("far_axis", lang),
            fmt="{:.2f}",
        )
    section = (
        f'<section class="scenario"><h2>{_e(_t("scenario", lang))}</h2>'
        f'<div class="cards">{"".join(cards)}</div></section>'
    )
    return section, chart


def _yoy_section(
    by_year: Any, charts: _Charts, lang: str, public: bool, aggregates_ok: bool
) -> tuple[str, str | None]:
    """Return the year-on-year table and chart from ``summary["by_year"]``.

    ``by_year`` maps a year to park figures, e.g. ``{"2022": {"tax_wan_per_mu": 11.2}, ...}``.
    """
    if not isinstance(by_year, Mapping) or len(by_year) < 2:
        return "", None
    if public and not aggregates_ok:
        return "", None
    years = sorted(by_year, key=str)
    metrics = [
        ("tax_wan_per_mu", "亩均税收", "Tax per mu"),
        ("revenue_wan_per_mu", "亩均营业收入", "Revenue per mu"),
        ("value_added_wan_per_mu", "亩均增加值", "Value added per mu"),
    ]
    series: dict[str, list[float | None]] = {}
    rows = []
    for key, zh, en in metrics:
        values = [
            _number(by_year[y].get(key)) if isinstance(by_year[y], Mapping) else None
            for y in years
        ]
        if all(v is None for v in values):
            continue
        label = zh if lang == "zh" else en
        series[label] = values
        cells = "".join(
            f'<td class="num" data-year="{_e(y)}">{_e(format_figure(v, "money"))}</td>'
            for y, v in zip(years, values, strict=True)
        )
        rows.append(f'<tr data-key="{_e(key)}"><td>{_e(label)}</td>{cells}</tr>')
    if not series:
        return "", None
    # one figure on the chart (the first present, 亩均税收 first): the others differ in scale by
    # an order of magnitude and would flatten it; the table shows them all
    first = next(iter(series))
    chart = charts.lines([str(y) for y in years], {first: series[first]},
                         title=f'{_t("yoy", lang)}: {first}', ylabel=_t("yoy_axis", lang))
    head = "".join(f'<th class="num">{_e(y)}</th>' for y in years)
    table = (
        f'<section class="yoy"><h2>{_e(_t("yoy", lang))}</h2><table><thead><tr><th></th>{head}'
        f'</tr></thead><tbody>{"".join(rows)}</tbody></table></section>'
    )
    return table, chart


_CSS = f"""
*{{box-sizing:border-box}}
body{{margin:0 auto;max-width:1180px;padding:16px 24px;font-family:{FONT_STACK};color:#222;
background:#fafafa;line-height:1.45}}
h1{{font-size:1.6rem;margin:.2rem 0}}
h2{{font-size:1.1rem;margin:1.2rem 0 .5rem;border-left:4px solid #4575b4;padding-left:.5rem}}
.meta{{color:#555;margin:.2rem 0}}
.maplink a{{display:inline-block;padding:.35rem .8rem;background:#4575b4;color:#fff;
border-radius:4px;text-decoration:none}}
.cards{{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}}
.card{{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6rem .8rem}}
.card .label{{color:#555;font-size:.85rem}}
.card .value{{font-size:1.45rem;font-weight:600;font-variant-numeric:tabular-nums}}
.card .unit{{color:#777;font-size:.8rem;min-height:1em}}
.grid{{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:12px}}
figure.chart{{margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:6px}}
svg.chart{{width:100%;height:auto}}
svg.chart text{{font-family:{FONT_STACK} !important}}
.tables{{display:grid;grid-template-columns:1fr 2fr;gap:16px}}
table{{border-collapse:collapse;background:#fff;width:100%}}
th,td{{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}}
.num{{text-align:right;font-variant-numeric:tabular-nums}}
.note{{color:#8a4b00}}
footer{{margin-top:1.5rem;color:#555;font-size:.85rem}}
@media print{{body{{background:#fff;max-width:none}} .maplink{{display:none}}
.grid{{grid-template-columns:1fr 1fr}}}}
"""


def write_report(
    path: str | os.PathLike[str],
    summary: Mapping[str, Any],
    parcels: pd.DataFrame | None,
    enterprises: pd.DataFrame | None,
    findings: pd.DataFrame | None,
    *,
    scenario: Any = None,
    map_href: str | None = "map.html",
    lang: str = "zh",
    public: bool = False,
    min_firms_public: int = MIN_FIRMS_PUBLIC,
) -> Path:
    """Write the one-page park report as one self-contained HTML file, atomically.

    Parameters
    ----------
    path : path-like
        The ``.html`` file to write (``report.html``, or ``report_public.html``).
    summary : mapping
        ``result.summary`` (the content of ``summary.json``): every headline figure is read from
        it: ``land_mu, n_parcels, n_enterprises, tax_wan_per_mu, far_overall,
        building_density, idle_land_mu, suspected_idle_land_mu, low_efficiency_land_mu``, the
        park ratios ``land_built_rate, industrial_land_rate, idle_disposal_rate`` when present,
        ``grades``, ``findings`` (counts by class and by code) and ``by_year`` (park figures
        by year, for the year-on-year table and chart).
    parcels : DataFrame or None
        ``result.parcels``: the FAR distribution chart.
    enterprises : DataFrame or None
        ``result.enterprises``: the 亩均税收 distribution chart (not in public mode).
    findings : DataFrame or None
        ``result.findings``: the labels of the finding codes.
    scenario : optional
        The result of ``landeff.scenario(result, target_far)`` (``(per_parcel, park)``) or its
        park dict: adds the 工业上楼 figures and the FAR before/after chart.
    map_href : str or None, default "map.html"
        Link to the map (relative path or http(s) address); None for no link.
    lang : {"zh", "en"}
        Language of the page.
    public : bool
        No enterprise figure and no chart of them. Park aggregates of enterprise figures
        (亩均税收) stay, unless fewer than ``min_firms_public`` enterprises are behind them.
    min_firms_public : int, default 3
        Fewest enterprises behind a public park aggregate.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "report.html"
    >>> _ = write_report(p, {"land_mu": 150.0, "tax_wan_per_mu": 12.7}, None, None, None)
    >>> 'data-key="tax_wan_per_mu" data-value="12.7"' in p.read_text(encoding="utf-8")
    True
    """
    text = report_html(
        summary, parcels, enterprises, findings, scenario=scenario, map_href=map_href,
        lang=lang, public=public, min_firms_public=min_firms_public,
    )
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
