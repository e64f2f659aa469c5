"""The one-page park report (landeff.outputs.report)."""

from __future__ import annotations

import io
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from landeff.errors import InputError
from landeff.outputs import report
from landeff.outputs.report import find_cjk_font, format_figure, report_html, write_report

HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_LABEL = "<script>alert('x')</script>"
# per-enterprise figures: distinctive, so a search for them in the public page means something
ENTERPRISE_TAX_PER_MU = [37.4629, 8.9071, 21.9876, 13.5791]


@pytest.fixture
def summary() -> dict[str, object]:
    """A summary.json as pipeline.summarise writes it (values chosen by hand)."""
    return {
        "name": HOSTILE_NAME,
        "as_of": "2023-12-31",
        "year": 2023,
        "policy": "jiangsu-huaian-2024",
        "n_parcels": 120,
        "n_enterprises": 4,
        "land_mu": 3456.789,
        "tax_wan": 43901.2,
        "tax_wan_per_mu": 12.7,
        "far_overall": 0.5,
        "building_density": 0.3512,
        "idle_land_mu": 50.5,
        "suspected_idle_land_mu": 20.0,
        "low_efficiency_land_mu": 100.255,
        "land_built_rate": 0.8,
        "industrial_land_rate": 0.9,
        "grades": {"A": 1, "B": 1, "C": 1, "D": 1},
        "findings": {"IDLE_NOT_STARTED": 2, "LOW_FAR": 10},
        "by_year": {"2022": {"tax_wan_per_mu": 11.0}, "2023": {"tax_wan_per_mu": 12.7}},
    }


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    enterprises = pd.DataFrame(
        {
            "uscc": ["U1", "U2", "U3", "U4"],
            "name": [HOSTILE_NAME, "乙", "丙", "丁"],
            "tax_wan_per_mu": ENTERPRISE_TAX_PER_MU,
            "grade": ["A", "D", "B", "C"],
        }
    )
    parcels = pd.DataFrame({"far": [0.3, 0.5, 0.8, 1.2, np.nan]},
                           index=pd.Index(list("ABCDE"), name="parcel_id"))
    findings = pd.DataFrame(
        {"code": ["LOW_FAR", "IDLE_NOT_STARTED"], "label_zh": [HOSTILE_LABEL, "闲置土地（未动工）"],
         "label_en": ["Low FAR", "Idle"]}
    )
    return {"parcels": parcels, "enterprises": enterprises, "findings": findings}


class _Cards(HTMLParser):
    """Collect the headline cards: data-key -> (data-value, shown text, unit)."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: dict[str, dict[str, str | None]] = {}
        self._key: str | None = None
        self._field: str | None = None
        self._depth = 0  # open divs inside the current card

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "div":
            return
        a = dict(attrs)
        if self._key is None and "card" in (a.get("class") or "").split():
            self._key = a["data-key"]
            self._depth = 0
            self.cards[self._key] = {"value_attr": a.get("data-value"), "text": "", "unit": ""}
        elif self._key is not None:
            self._depth += 1
            cls = a.get("class")
            self._field = {"value": "text", "unit": "unit"}.get(cls or "")

    def handle_endtag(self, tag: str) -> None:
        if tag != "div" or self._key is None:
            return
        if self._depth == 0:
            self._key = None
        else:
            self._depth -= 1
            self._field = None

    def handle_data(self, data: str) -> None:
        if self._key and self._field:
            self.cards[self._key][self._field] = (self.cards[self._key][self._field] or "") + data


def _cards(text: str) -> _Cards:
    parser = _Cards()
    parser.feed(text)
    return parser


def _write(tmp_path: Path, summary: dict, frames: dict, **kw: object) -> str:
    path = write_report(tmp_path / "report.html", summary, frames["parcels"],
                        frames["enterprises"], frames["findings"], **kw)
    return path.read_text(encoding="utf-8")


def test_headline_figures_equal_summary(tmp_path: Path, summary: dict, frames: dict) -> None:
    cards = _cards(_write(tmp_path, summary, frames)).cards
    # the text each card shows, worked out by hand from the summary values
    expected_text = {
        "land_mu": "3,456.79",
        "n_parcels": "120",
        "n_enterprises": "4",
        "tax_wan_per_mu": "12.70",
        "far_overall": "0.50",
        "building_density": "35.12%",
        "idle_land_mu": "50.50",
        "suspected_idle_land_mu": "20.00",
        "low_efficiency_land_mu": "100.25",  # 100.255 is stored as 100.25499..., so it rounds down
        "land_built_rate": "80.00%",
        "industrial_land_rate": "90.00%",
    }
    for key, text in expected_text.items():
        assert cards[key]["text"] == text, key
        assert float(cards[key]["value_attr"]) == summary[key], key  # exact, from summary.json
    assert cards["land_mu"]["unit"] == "亩"
    assert cards["tax_wan_per_mu"]["unit"] == "万元/亩"
    assert "idle_disposal_rate" not in cards  # not in the summary: left out, not invented


def test_missing_headline_shows_a_dash(tmp_path: Path, summary: dict, frames: dict) -> None:
    summary["far_overall"] = None
    cards = _cards(_write(tmp_path, summary, frames)).cards
    assert cards["far_overall"]["text"] == "—"
    assert cards["far_overall"]["value_attr"] is None


def test_counts_by_grade_and_finding(tmp_path: Path, summary: dict, frames: dict) -> None:
    text = _write(tmp_path, summary, frames)
    assert re.search(r'<tr data-key="LOW_FAR"><td>LOW_FAR</td><td>[^<]*</td>'
                     r'<td class="num">10</td></tr>', text)
    assert re.search(r'<tr data-key="D"><td>D</td><td class="num">1</td></tr>', text)
    assert '<td class="num" data-year="2022">11.00</td>' in text


def test_hostile_text_is_escaped(tmp_path: Path, summary: dict, frames: dict) -> None:
    text = _write(tmp_path, summary, frames)
    assert HOSTILE_NAME not in text and HOSTILE_LABEL not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "<script" not in text.lower()
    assert "<img" not in text.lower()


@pytest.mark.parametrize("href", ["javascript:alert(1)", "data:text/html,x", "file:///etc/passwd"])
def test_map_link_must_be_relative_or_http(
    tmp_path: Path, summary: dict, frames: dict, href: str
) -> None:
    target = tmp_path / "report.html"
    target.write_bytes(b"previous report")
    with pytest.raises(InputError, match="map_href"):
        write_report(target, summary, None, None, None, map_href=href)
    assert target.read_bytes() == b"previous report"  # nothing half-written
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_page_is_self_contained(tmp_path: Path, summary: dict, frames: dict) -> None:
    text = _write(tmp_path, summary, frames, map_href="map.html")
    assert '<a href="map.html">' in text
    assert "Content-Security-Policy" in text and "default-src &#x27;none&#x27;" not in text
    assert "default-src 'none'" in text
    assert not re.search(r"<(script|link|iframe|object|embed)\b", text, re.IGNORECASE)
    # no resource is fetched: no src= attribute in any tag, no url() in styles, no @import
    assert not re.search(r"<[^>]*\ssrc\s*=", text, re.IGNORECASE)
    assert "@import" not in text
    assert all(u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", text))  # clip paths
    # every href is the map link or an in-document reference of the charts
    hrefs = re.findall(r'href="([^"]*)"', text)
    assert all(h == "map.html" or h.startswith("#") for h in hrefs), hrefs


def test_charts_are_inline_svg_with_the_cjk_font(
    tmp_path: Path, summary: dict, frames: dict
) -> None:
    font = find_cjk_font()
    assert font is not None, "no CJK font: install fonts-noto-cjk (make test does)"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = _write(tmp_path, summary, frames)
    assert not [w for w in caught if "Glyph" in str(w.message)]
    svgs = re.findall(r"<svg\b.*?</svg>", text, re.DOTALL)
    # 亩均税收 distribution, grades, FAR distribution, year on year
    assert len(svgs) == 4
    for svg in svgs:
        assert f"font-family: '{font}'" in svg  # laid out with the CJK font
    assert "企业亩均税收分布" in svgs[0]  # Chinese text stays text (svg.fonttype none)
    assert "<metadata" not in text and "<?xml" not in text


def test_missing_glyph_warning_would_fail() -> None:
    """Without a CJK font matplotlib warns of missing glyphs; pytest turns that into an error.

    This is what the report avoids by laying out the text with :func:`find_cjk_font`.
    """
    import matplotlib as mpl
    from matplotlib.figure import Figure

    fig = Figure()
    fig.add_subplot().set_title("亩均税收")
    with (
        mpl.rc_context({"font.family": ["DejaVu Sans"], "svg.fonttype": "none"}),
        pytest.raises(UserWarning, match="Glyph .* missing"),
    ):
        fig.savefig(io.StringIO(), format="svg")


def test_no_cjk_font_falls_back_without_warnings(
    tmp_path: Path, summary: dict, frames: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report, "find_cjk_font", lambda: None)
    text = _write(tmp_path, summary, frames)  # filterwarnings=error: any warning fails here
    assert "未找到中文字体" in text
    assert "企业亩均税收分布" in text  # the browser still draws the text


def test_scenario_far_before_and_after(tmp_path: Path, summary: dict, frames: dict) -> None:
    park = {
        "target_far": 1.5,
        "far": 1.0,
        "area_mu": 1500.0,  # = 1,000,000 m²
        "floor_area_m2": 1_000_000.0,
        "floor_area_gained_m2": 500_000.0,
        "far_at_target": 1.5,  # (1,000,000 + 500,000) m² ÷ 1,000,000 m²
        "land_freed_mu": 400.0,
        "tax_wan_per_mu_at_target": 16.5,
    }
    text = _write(tmp_path, summary, frames, scenario=(pd.DataFrame(), park))
    cards = _cards(text).cards
    assert cards["far_at_target"]["text"] == "1.50"
    assert cards["far"]["text"] == "1.00"
    assert cards["land_freed_mu"]["text"] == "400.00"
    assert cards["floor_area_gained_m2"]["text"] == "500,000"
    assert cards["tax_wan_per_mu_at_target"]["text"] == "16.50"
    assert text.count("<svg") == 5  # + FAR before/after
    with pytest.raises(InputError, match="scenario"):
        report_html(summary, None, None, None, scenario=[1, 2])


def test_public_report_has_no_enterprise_figure(
    tmp_path: Path, summary: dict, frames: dict
) -> None:
    text = _write(tmp_path, summary, frames, public=True)
    assert "企业亩均税收分布" not in text  # no distribution of per-enterprise figures
    # what a reader can see: the page without tag attributes (chart coordinates are not figures)
    visible = re.sub(r"<(/?[\w:-]+)[^>]*>", r"<\1>", text)
    for v in ENTERPRISE_TAX_PER_MU:
        for form in (repr(v), f"{v:.2f}", f"{v:.3f}"):
            assert form not in visible, form
    # the median of the 4 enterprises, (13.5791 + 21.9876) / 2 = 17.78335, is shown on the chart
    # of the full report but must not be in the public one
    full = _write(tmp_path, summary, frames)
    assert "17.78" in re.sub(r"<(/?[\w:-]+)[^>]*>", r"<\1>", full)
    assert "17.78" not in visible
    cards = _cards(text).cards
    # the park aggregate over 4 enterprises stays (documented in docs/outputs.md)
    assert cards["tax_wan_per_mu"]["text"] == "12.70"
    assert "公开版" in text


def test_public_report_withholds_aggregates_of_few_firms(
    tmp_path: Path, summary: dict, frames: dict
) -> None:
    summary["n_enterprises"] = 2
    text = _write(tmp_path, summary, frames, public=True)
    cards = _cards(text).cards
    assert cards["tax_wan_per_mu"]["text"] == "不公开"
    assert cards["tax_wan_per_mu"]["value_attr"] is None
    assert "12.7" not in text and "11.00" not in text  # nor the year-on-year table
    assert cards["land_mu"]["text"] == "3,456.79"  # areas stay


def test_english_page(tmp_path: Path, summary: dict, frames: dict) -> None:
    text = _write(tmp_path, summary, frames, lang="en")
    assert '<html lang="en">' in text
    cards = _cards(text).cards
    assert cards["land_mu"]["unit"] == "mu"
    assert "Tax per mu" in text
    with pytest.raises(InputError, match="lang"):
        report_html(summary, None, None, None, lang="de")


def test_format_figure() -> None:
    assert format_figure(1234.567, "mu") == "1,234.57"
    assert format_figure(0.35, "percent") == "35.00%"
    assert format_figure(7, "count") == "7"
    assert format_figure(float("nan"), "mu") == "—"
    assert format_figure("12", "mu") == "—"  # text is not a number here


@pytest.mark.browser
def test_report_renders_in_chromium(
    tmp_path: Path, summary: dict, frames: dict, chromium: object
) -> None:
    """Open report.html in headless Chromium with every request refused; read the figures back."""
    import json

    (tmp_path / "summary.json").write_text(json.dumps(summary, ensure_ascii=False),
                                           encoding="utf-8")
    loaded = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    path = write_report(tmp_path / "report.html", loaded, frames["parcels"],
                        frames["enterprises"], frames["findings"])
    ctx = chromium.new_context(viewport={"width": 1200, "height": 900})  # type: ignore[attr-defined]
    refused: list[str] = []
    errors: list[str] = []
    dialogs: list[str] = []
    try:
        page = ctx.new_page()

        def route(r: object) -> None:
            url = r.request.url  # type: ignore[attr-defined]
            if url.startswith(("file:", "data:")):
                r.continue_()  # type: ignore[attr-defined]
            else:
                refused.append(url)
                r.abort()  # type: ignore[attr-defined]

        page.route("**/*", route)
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(path.as_uri())
        shown = {
            key: page.locator(f'.card[data-key="{key}"] .value').inner_text()
            for key in ("land_mu", "tax_wan_per_mu", "far_overall", "building_density")
        }
        # summary.json: 3456.789 亩, 12.7 万元/亩, FAR 0.5, density 0.3512
        assert shown == {"land_mu": "3,456.79", "tax_wan_per_mu": "12.70",
                         "far_overall": "0.50", "building_density": "35.12%"}
        assert page.locator("h1").inner_text().startswith(HOSTILE_NAME)  # shown as text
        # four charts drawn with a real size, their Chinese titles as text
        boxes = page.eval_on_selector_all(
            "svg.chart", "els => els.map(e => e.getBoundingClientRect().width)"
        )
        assert len(boxes) == 4 and min(boxes) > 200
        assert page.locator("svg.chart text", has_text="企业评价等级").count() == 1
        assert page.locator("a", has_text="打开交互地图").get_attribute("href") == "map.html"
        assert refused == [] and errors == [] and dialogs == []
    finally:
        ctx.close()
