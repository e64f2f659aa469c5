"""The interactive map: data encoding, options, public mode, and real-browser behaviour.

The park is built here by hand in CGCS2000 GK zone CM 120E (EPSG:4549), near 31.2 N 120.0 E:
P1 is 100 m × 66.6667 m (6,666.67 m² = 10 亩), P2 100 m × 100 m (15 亩), P3 a square with a hole,
P4 two squares (a MultiPolygon). Figures are given as columns, as the pipeline would hand them over.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from landeff.errors import CRSError, InputError, LandeffError
from landeff.gcj02 import wgs84_to_gcj02
from landeff.outputs import confidential_finding_values, is_confidential, public_columns
from landeff.outputs.map import make_map, save_map

GK = 4549
X0, Y0 = 500_000.0, 3_450_000.0


def box(x: float, y: float, w: float, h: float) -> shapely.Polygon:
    return shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)


def park(**over: Any) -> dict[str, Any]:
    """Parcels, buildings, remainders, findings and enterprises of a four-parcel park."""
    holed = shapely.Polygon(
        box(300, 0, 100, 100).exterior.coords, [box(330, 30, 40, 40).exterior.coords]
    )
    parcels = gpd.GeoDataFrame(
        {
            "parcel_id": ["P1", "P2", "P3", "P4"],
            "holder_name": ["宁波甲制造有限公司", "乙科技有限公司", "丙实业有限公司", None],
            "land_use": ["工业用地"] * 4,
            "grade": ["A", "D", None, "T"],
            "area_mu": [10.0, 15.0, 12.6, 6.0],
            "far": [1.2, 0.4, 0.0, 0.9],
            "building_density": [0.35, 0.1, 0.0, 0.3],
            "tax_wan": [12345.6781, 30.0, np.nan, 8.0],
            "tax_wan_per_mu": [1234.56781, 2.0, np.nan, 1.3333],
            "score": [96.5, 12.25, np.nan, np.nan],
            "flags": ["", "LOW_FAR", "IDLE_NOT_STARTED", None],
        },
        geometry=[
            box(0, 0, 100, 200 / 3),
            box(150, 0, 100, 100),
            holed,
            shapely.MultiPolygon([box(450, 0, 40, 40), box(500, 0, 40, 40)]),
        ],
        crs=GK,
    )
    buildings = gpd.GeoDataFrame(
        {"building_id": ["B1", "B2"], "parcel_id": ["P1", "P2"], "floors": [3.0, 12.0],
         "floor_area_m2": [1200.0, 9600.0]},
        geometry=[box(5, 5, 20, 20), box(155, 5, 20, 40)],
        crs=GK,
    )
    remainders = gpd.GeoDataFrame(
        {"parcel_id": ["P2"], "area_mu": [5.5], "area_m2": [3666.67]},
        geometry=[box(200, 50, 45, 45)],
        crs=GK,
    )
    findings = pd.DataFrame(
        {
            "parcel_id": ["P2", "P3", None],
            "uscc": [None, None, "91330200MA2BBBBBB2"],
            "code": ["LOW_FAR", "IDLE_NOT_STARTED", "GRADE_D"],
            "category": ["低效", "闲置", "低效"],
            "label_zh": ["容积率低于下限", "超过约定动工日期满一年未动工", "评价为D类"],
            "label_en": ["FAR below minimum", "Not started a year after the agreed date",
                         "Class D"],
            "value": [0.4, 400.0, np.nan],
            "threshold": [0.8, 365.0, np.nan],
            "unit": ["", "天", ""],
            "source": ["工业项目建设用地控制指标", "闲置土地处置办法 第二条",
                       "jiangsu-huaian-2024"],
            "evidence": ["", "约定动工 2022-01-01", ""],
        }
    )
    enterprises = pd.DataFrame(
        {
            "uscc": ["91330200MA2AAAAAA1", "91330200MA2BBBBBB2"],
            "name": ["宁波甲制造有限公司", "乙科技有限公司"],
            "parcel_ids": ["P1", ["P2"]],
            "grade": ["A", "D"],
            "score": [96.5, 12.25],
            "tax_wan_per_mu": [1234.56781, 2.0],
        }
    )
    out = {"parcels": parcels, "buildings": buildings, "remainders": remainders,
           "findings": findings, "enterprises": enterprises}
    out.update(over)
    return out


def payload(m: folium.Map) -> dict[str, Any]:
    html = m.get_root().render()
    block = re.search(
        r'<script type="application/json" id="landeff-data-[^"]+">(.*?)</script>', html, re.S
    )
    assert block, "no data block"
    return json.loads(block.group(1))


def decode(geom: dict[str, list[int]], scale: int) -> list[list[np.ndarray]]:
    """Decode rings independently of the JS: features → rings (as (n, 2) lon/lat arrays)."""
    xy = np.cumsum(np.asarray(geom["c"], dtype=np.int64).reshape(-1, 2), axis=0) / scale
    feats, ip, ir, iv = [], 0, 0, 0
    for n_parts in geom["pf"]:
        rings = []
        for _ in range(n_parts):
            for _ in range(geom["rp"][ip]):
                n = geom["nv"][ir]
                rings.append(xy[iv:iv + n])
                iv += n
                ir += 1
            ip += 1
        feats.append(rings)
    return feats


def column(block: dict[str, Any], key: str) -> list[Any]:
    col = next(c for c in block["cols"] if c["k"] == key)
    if "u" in col:
        return [None if c < 0 else col["u"][c] for c in col["c"]]
    if col["t"] == "n":
        return [None if v is None else v / 10 ** col["s"] for v in col["v"]]
    return col["v"]


# --------------------------------------------------------------------------------------------
# encoding
# --------------------------------------------------------------------------------------------
def test_returns_folium_map_with_one_data_block() -> None:
    m = make_map(**park(), basemap="none")
    assert isinstance(m, folium.Map)
    html = m.get_root().render()
    assert html.count('type="application/json"') == 1
    assert "preferCanvas" in html


def test_coordinates_exact_to_a_tenth_of_a_metre_and_topology_kept() -> None:
    data = park()
    p = payload(make_map(**data, basemap="none"))
    feats = decode(p["parcels"]["geom"], p["scale"])
    expected = data["parcels"].to_crs(4326).geometry
    # P1 and P2: one ring of 4 vertices; P3: exterior + hole; P4: two parts
    assert [len(f) for f in feats] == [1, 1, 2, 2]
    for rings, geom in zip(feats, expected, strict=True):
        polys = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
        src = [
            np.asarray(r.coords)[:-1] for poly in polys for r in (poly.exterior, *poly.interiors)
        ]
        assert len(rings) == len(src)
        for got, ref in zip(rings, src, strict=True):
            assert got.shape == ref.shape
            # rounding to 1e-6 degree: at most half of it (≈ 0.06 m) off
            assert np.abs(got - ref).max() <= 0.5e-6 + 1e-12


def test_gaode_shifts_every_geometry_to_gcj02() -> None:
    data = park()
    p = payload(make_map(**data, basemap="gaode"))
    ref = shapely.get_coordinates(data["parcels"].to_crs(4326).geometry.iloc[0])[0]
    got = decode(p["parcels"]["geom"], p["scale"])[0][0][0]
    exp = np.array(wgs84_to_gcj02(ref[0], ref[1]))
    assert np.abs(got - exp).max() <= 0.5e-6 + 1e-12
    assert np.abs(got - ref).max() > 1e-3  # a shift of hundreds of metres happened
    for kind in ("buildings", "remainders"):
        src = shapely.get_coordinates(data[kind].to_crs(4326).geometry.iloc[0])[0]
        first = decode(p[kind]["geom"], p["scale"])[0][0][0]
        assert np.abs(first - np.array(wgs84_to_gcj02(*src))).max() <= 0.5e-6 + 1e-12


def test_parcel_id_may_be_the_index() -> None:
    parcels = park()["parcels"].set_index("parcel_id")
    p = payload(make_map(parcels, basemap="none"))
    assert column(p["parcels"], "parcel_id") == ["P1", "P2", "P3", "P4"]


def test_columns_may_be_missing() -> None:
    parcels = park()["parcels"][["parcel_id", "geometry"]]
    p = payload(make_map(parcels, basemap="none"))
    assert p["parcels"]["fill"] == [5, 5, 5, 5]  # all 未评价
    assert [f["k"] for f in p["parcels"]["fields"]] == []


def test_grades_normalised_and_counted() -> None:
    parcels = park()["parcels"].assign(grade=["a", "Ｄ类", "B 类", "X"])
    p = payload(make_map(parcels, basemap="none"))
    # classes in the order A B C D T 未评价
    assert p["parcels"]["fill"] == [0, 3, 1, 5]
    labels = [(it["label"], it["n"]) for it in p["legend"][0]["items"]]
    assert labels == [("A 类", 1), ("B 类", 1), ("D 类", 1), ("未评价", 1)]


def test_outline_by_worst_finding_category() -> None:
    data = park()
    data["findings"] = pd.concat(
        [data["findings"],
         pd.DataFrame({"parcel_id": ["P3", "P4"], "code": ["LOW_FAR", "OVERDUE_START"],
                       "category": ["", "低效"]})],
        ignore_index=True,
    )
    data["parcels"] = data["parcels"].assign(flags=None)
    p = payload(make_map(**data, basemap="none"))
    # P1 none; P2 LOW_FAR + its enterprise's GRADE_D → low (3); P3 idle beats LOW_FAR → idle (1);
    # P4 OVERDUE_START with category 低效 → low (3)
    assert p["parcels"]["line"] == [0, 3, 1, 3]


def test_enterprise_finding_without_parcel_goes_to_its_parcels() -> None:
    p = payload(make_map(**park(), basemap="none"))
    f = p["findings"]
    codes = column(f, "code")
    # GRADE_D of 乙科技 (uscc …BBBBBB2) has no parcel_id; 乙科技 is on P2 (index 1)
    assert sorted(zip(f["p"], codes, strict=True)) == [
        (1, "GRADE_D"), (1, "LOW_FAR"), (2, "IDLE_NOT_STARTED")]


def test_numeric_colouring_by_quantiles() -> None:
    parcels = park()["parcels"].assign(far=[0.5, 1.0, 1.5, 2.0])
    p = payload(make_map(parcels, basemap="none", color_by="far", k=2))
    # median of 0.5, 1.0, 1.5, 2.0 is 1.25: two classes [0.5, 1.25] and (1.25, 2.0]
    assert p["parcels"]["fill"] == [0, 0, 1, 1]
    assert [it["label"] for it in p["legend"][0]["items"]] == ["0.50 – 1.25", "1.25 – 2.00"]


def test_numeric_colouring_marks_missing_values() -> None:
    parcels = park()["parcels"]  # tax_wan_per_mu of P3 is NaN
    p = payload(make_map(parcels, basemap="none", color_by="tax_wan_per_mu", k=3))
    assert p["parcels"]["fill"][2] == 3
    assert p["legend"][0]["items"][-1]["label"] == "无数据"


def test_json_cannot_close_its_script_element() -> None:
    bad = "</script><script>alert(1)</script>\u2028"
    parcels = park()["parcels"].assign(holder_name=[bad] * 4)
    html = make_map(parcels, basemap="none").get_root().render()
    assert bad not in html
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in html
    assert "\u2028" not in html


def test_template_syntax_in_data_is_not_evaluated() -> None:
    # folium renders macro output again through Jinja; our data never goes through it
    parcels = park()["parcels"].assign(holder_name=["{{ 7*7 }}x"] * 4)
    html = make_map(parcels, basemap="none", title="{{ 6*7 }}y").get_root().render()
    assert "{{ 7*7 }}x" in html
    assert "49x" not in html
    assert "42y" not in html


# --------------------------------------------------------------------------------------------
# options
# --------------------------------------------------------------------------------------------
def test_unknown_options_are_refused() -> None:
    parcels = park()["parcels"]
    with pytest.raises(InputError, match="basemap='baidu' is not known"):
        make_map(parcels, basemap="baidu")
    with pytest.raises(InputError, match="lang='fr'"):
        make_map(parcels, lang="fr")
    with pytest.raises(InputError, match="from 2 to 12"):
        make_map(parcels, color_by="far", k=1)
    with pytest.raises(InputError, match="no such column.*far"):
        make_map(parcels, color_by="energy_use")
    with pytest.raises(InputError, match="not numeric"):
        make_map(parcels, color_by="land_use")
    with pytest.raises(InputError, match="scheme='nonsense'"):
        make_map(parcels, color_by="far", scheme="nonsense")


def test_layer_without_crs_is_refused() -> None:
    parcels = park()["parcels"].set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match="no coordinate reference system"):
        make_map(parcels)


def test_basemaps(monkeypatch: pytest.MonkeyPatch) -> None:
    parcels = park()["parcels"]
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    html = make_map(parcels).get_root().render()
    assert "tile.openstreetmap.org" in html and "tianditu" not in html
    with pytest.raises(InputError, match="TIANDITU_KEY"):
        make_map(parcels, basemap="tianditu")
    monkeypatch.setenv("TIANDITU_KEY", "abc123")
    html = make_map(parcels).get_root().render()
    assert "tianditu.gov.cn/DataServer?T=vec_w" in html and "tk=abc123" in html
    assert "T=cva_w" in html
    html = make_map(parcels, basemap="tianditu", tiles_key="k9", lang="en").get_root().render()
    assert "tk=k9" in html and "T=eva_w" in html
    html = make_map(parcels, basemap="gaode").get_root().render()
    assert "autonavi.com" in html
    html = make_map(parcels, basemap="none").get_root().render()
    assert "L.tileLayer" not in html
    url = "https://tiles.park.gov.cn/{z}/{x}/{y}.png"
    assert url in make_map(parcels, basemap=url).get_root().render()
    with pytest.raises(InputError, match="tile URL"):
        make_map(parcels, basemap="https://tiles.park.gov.cn/tile.png")
    with pytest.raises(InputError, match="tile URL"):
        make_map(parcels, basemap='https://x/{z}/{x}/{y}.png"><script>')
    # offline: no base map unless one is named
    assert "L.tileLayer" not in make_map(parcels, offline=True).get_root().render()


# --------------------------------------------------------------------------------------------
# confidentiality
# --------------------------------------------------------------------------------------------
def test_confidential_rule_is_one_place() -> None:
    assert is_confidential("tax_wan") and is_confidential("revenue_wan_per_mu")
    assert is_confidential("pts_tax_wan_per_mu") and is_confidential("tax_wan_per_mu_yoy")
    assert is_confidential("value_added_wan_per_tce") and is_confidential("score")
    assert not is_confidential("far") and not is_confidential("area_mu")
    assert not is_confidential("grade") and not is_confidential("committed_tax_wan_per_mu")
    assert public_columns(["parcel_id", "employees", "building_density"]) == ["parcel_id",
                                                                              "building_density"]
    f = pd.DataFrame({"code": ["LOW_FAR", "IDLE_STALLED", "X", "X", "STOPPED"],
                      "unit": ["", "%", "万元", "元/kWh", ""]})
    assert confidential_finding_values(f).tolist() == [False, False, True, True, True]


def test_public_map_refuses_confidential_colouring() -> None:
    with pytest.raises(InputError, match="confidential"):
        make_map(park()["parcels"], public=True, color_by="tax_wan_per_mu")
    make_map(park()["parcels"], public=True, color_by="far")  # public metric: fine


# Distinctive confidential figures (万元 unless said): none of their spellings can occur by chance.
SECRET = {
    "tax_wan": 73912.4617,
    "revenue_wan": 58123.9741,
    "output_wan": 91827.3645,
    "value_added_wan": 46271.8359,
    "energy_tce": 38461.7293,
    "electricity_kwh": 72938461.0,
    "emissions_t": 27364.9158,
    "rd_wan": 19283.7465,
    "employees": 918273.0,
    "tax_wan_per_mu": 8264.9173,
    "revenue_wan_per_mu": 6391.8274,
    "output_wan_per_mu": 5172.9386,
    "value_added_wan_per_mu": 4826.1937,
    "score": 83.74619,
    "investment_done_wan": 62819.3746,
}
SECRET_FINDING_VALUES = {"LOW_TAX": 3.718264, "BELOW_COMMITMENT": 7.419362, "STOPPED": 2718.2818}


def spellings(v: float) -> set[str]:
    """Every way a writer could spell ``v``: raw, rounded, grouped, scaled to integers, in 元."""
    out = {repr(v), f"{v:.2f}", f"{v:,.2f}", f"{v:.1f}", f"{v:,.1f}", f"{v:.4f}", f"{v:.0f}",
           f"{v:,.0f}", str(round(v * 100)), str(round(v * 10)), str(round(v * 10000))}
    yuan = v * 1e4  # 万元 → 元
    out |= {f"{yuan:.0f}", f"{yuan:,.0f}", f"{yuan:.2f}", f"{yuan:,.2f}"}
    return {s for s in out if len(s.replace(",", "").replace(".", "")) >= 4}


def found(text: str, spelled: str) -> bool:
    return re.search(rf"(?<![\d.,]){re.escape(spelled)}(?![\d])", text) is not None


def leaked(text: str) -> list[str]:
    """Spellings of confidential test values found in ``text``."""
    values = {**SECRET, **SECRET_FINDING_VALUES}.values()
    return [s for v in values for s in spellings(v) if found(text, s)]


def public_park() -> dict[str, Any]:
    data = park()
    data["parcels"] = data["parcels"].assign(
        **{k: [v, np.nan, np.nan, np.nan] for k, v in SECRET.items()})
    data["enterprises"] = data["enterprises"].assign(
        **{k: [SECRET[k], np.nan] for k in ("tax_wan", "tax_wan_per_mu", "score", "employees")})
    extra = pd.DataFrame(
        {"parcel_id": ["P1", "P1", "P2"], "code": list(SECRET_FINDING_VALUES),
         "label_zh": ["亩均税收低于标准", "低于承诺亩均税收", "停产"],
         "value": list(SECRET_FINDING_VALUES.values()), "threshold": [15.5, 20.25, 10000.0],
         "unit": ["万元/亩", "万元/亩", "kWh"], "source": ["园区设定", "出让合同", "政策"],
         "evidence": [f"亩均税收 {SECRET_FINDING_VALUES['LOW_TAX']}", "x", "用电 2718.2818 kWh"]}
    )
    data["findings"] = pd.concat([data["findings"], extra], ignore_index=True)
    return data


def test_public_html_holds_no_confidential_value_in_any_spelling() -> None:
    data = public_park()
    internal = make_map(**data, basemap="none").get_root().render()
    public = make_map(**data, basemap="none", public=True).get_root().render()
    # the internal map does carry them (the check below can fail) ...
    assert found(internal, str(round(SECRET["tax_wan_per_mu"] * 100)))
    assert found(internal, repr(SECRET_FINDING_VALUES["LOW_TAX"]))
    # ... the public one in no spelling at all
    leaks = [(k, s) for k, v in {**SECRET, **SECRET_FINDING_VALUES}.items() for s in spellings(v)
             if found(public, s)]
    assert leaks == []
    p = payload(make_map(**data, basemap="none", public=True))
    assert not any(is_confidential(c["k"]) for c in p["parcels"]["cols"])
    assert not any(is_confidential(c["k"]) for c in p["enterprises"]["cols"])
    # grades, findings with their thresholds, areas, FAR and density remain
    assert column(p["parcels"], "grade")[:2] == ["A", "D"]
    assert column(p["parcels"], "far")[:2] == [1.2, 0.4]
    assert column(p["parcels"], "area_mu")[0] == 10.0
    assert column(p["parcels"], "building_density")[0] == 35.0
    assert set(column(p["findings"], "code")) >= {
        "LOW_TAX", "BELOW_COMMITMENT", "STOPPED", "LOW_FAR"}
    assert 15.5 in column(p["findings"], "threshold")
    assert 0.4 in column(p["findings"], "value")  # FAR is no enterprise figure


# --------------------------------------------------------------------------------------------
# files and assets
# --------------------------------------------------------------------------------------------
def test_save_map_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out" / "map.html"
    m = make_map(park()["parcels"], basemap="none")
    save_map(m, target)
    first = target.read_text("utf-8")
    assert first.startswith("<!DOCTYPE html>")

    class Boom(RuntimeError):
        pass

    def broken_write(self: Path, *args: Any, **kwargs: Any) -> int:
        Path.write_bytes(self, b"partial")
        raise Boom("disk full")

    monkeypatch.setattr(Path, "write_text", broken_write)
    with pytest.raises(Boom):
        save_map(m, target)
    monkeypatch.undo()
    assert target.read_text("utf-8") == first
    assert sorted(p.name for p in target.parent.iterdir()) == ["map.html"]


def test_offline_without_assets_says_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANDEFF_ASSETS", str(tmp_path))
    with pytest.raises(LandeffError, match="npm ci"):
        make_map(park()["parcels"], offline=True)


def test_offline_html_links_nothing() -> None:
    html = make_map(**park(), offline=True).get_root().render()
    assert "<script src=" not in html
    assert 'rel="stylesheet"' not in html
    assert "cdn.jsdelivr.net" not in html
    assert "url(images/" not in html and "data:image/png;base64," in html


# --------------------------------------------------------------------------------------------
# real browser
# --------------------------------------------------------------------------------------------
def center_xy(mp: Any, kind: str, i: int, dx: float = 0.0, dy: float = 0.0) -> tuple[float, float]:
    """Page coordinates of a layer's centre (plus a fraction of its size)."""
    return tuple(mp.js(
        """([kind, i, dx, dy]) => {
            const l = landeff.layers[kind + 's'][i], m = landeff.map, b = l.getBounds();
            const c = b.getCenter();
            const ll = L.latLng(c.lat + dy * (b.getNorth() - b.getSouth()),
                                c.lng + dx * (b.getEast() - b.getWest()));
            const p = m.latLngToContainerPoint(ll), r = m.getContainer().getBoundingClientRect();
            return [r.left + p.x, r.top + p.y];
        }""",
        [kind, i, dx, dy],
    ))


@pytest.mark.browser
def test_browser_map_layers_popup_legend_search(tmp_path: Path, open_map: Any) -> None:
    path = save_map(make_map(**park(), basemap="none", title="示范园区"), tmp_path / "m.html")
    mp = open_map(path)
    # one Leaflet layer per parcel, building and remainder
    assert mp.js("landeff.count('parcel')") == 4
    assert mp.js("landeff.count('building')") == 2
    assert mp.js("landeff.count('remainder')") == 1
    assert mp.js("landeff.layers.parcels.every(l => l instanceof L.Polygon)")
    # the canvas holds painted pixels
    painted = mp.js("""(() => {
        const c = document.querySelector('canvas.leaflet-zoom-animated');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i]) n++; } return n; })()""")
    assert painted > 1000

    # a real click in P1 (away from its building) opens its popup with the right figures
    mp.page.mouse.click(*center_xy(mp, "parcel", 0, dx=0.25, dy=0.25))
    popup = mp.page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert "宗地 P1" in text
    assert "宁波甲制造有限公司" in text
    assert re.search(r"面积 \(亩\)\s+10\.00", text)
    assert re.search(r"容积率\s+1\.20", text)
    assert re.search(r"建筑密度 \(%\)\s+35\.0", text)
    assert re.search(r"亩均税收 \(万元/亩\)\s+1,234\.57", text)
    assert re.search(r"税收 \(万元\)\s+12,345\.68", text)
    assert re.search(r"评价等级\s+A", text)

    # P3's popup lists its finding with the reason
    popup_text = mp.js("landeff.openPopup('parcel', 2).textContent")
    assert "超过约定动工日期满一年未动工" in popup_text and "IDLE_NOT_STARTED" in popup_text
    assert "实测 400 天 · 阈值 365 天" in popup_text
    assert "依据: 闲置土地处置办法 第二条" in popup_text
    # P2 shows its enterprise finding GRADE_D and its enterprise
    popup_text = mp.js("landeff.openPopup('parcel', 1).textContent")
    assert "GRADE_D" in popup_text and "乙科技有限公司" in popup_text

    # hovering shows a tooltip
    mp.page.mouse.move(*center_xy(mp, "parcel", 3, dx=-0.4))
    tip = mp.page.locator(".leaflet-tooltip")
    tip.wait_for()
    assert "P4" in tip.inner_text()

    # legend
    legend = mp.page.locator(".landeff-legend").inner_text()
    for item in ("A 类 (1)", "D 类 (1)", "T 类 (1)", "未评价 (1)", "闲置土地 (1)", "低效用地 (1)",
                 "剩余未开发土地 (1)", "2–3 层 (1)", "≥ 10 层 (1)"):
        assert item in legend
    assert mp.page.locator(".landeff-title").inner_text() == "示范园区"

    # layers toggle
    overlays = mp.page.locator(".leaflet-control-layers-overlays label")
    buildings_box = overlays.filter(has_text="建筑").locator("input")
    buildings_box.uncheck()
    assert mp.js("landeff.count('building')") == 0
    assert mp.js("landeff.count('parcel')") == 4
    buildings_box.check()
    assert mp.js("landeff.count('building')") == 2
    overlays.filter(has_text="剩余未开发土地").locator("input").uncheck()
    assert mp.js("landeff.count('remainder')") == 0

    # search by enterprise name, by credit code and by parcel id
    box_ = mp.page.locator(".landeff-search input")
    box_.fill("甲制造")
    item = mp.page.locator(".landeff-search-item").first
    assert "宁波甲制造有限公司" in item.inner_text() and "P1" in item.inner_text()
    item.click()
    assert "宗地 P1" in mp.page.locator(".leaflet-popup-content").inner_text()
    box_.fill("BBBBBB2")
    assert "乙科技有限公司" in mp.page.locator(".landeff-search-item").first.inner_text()
    box_.fill("p4")
    assert mp.page.locator(".landeff-search-item").first.inner_text() == "宗地 P4"
    box_.fill("没有这个企业")
    assert mp.page.locator(".landeff-search-none").inner_text() == "无结果"
    mp.assert_clean()
    assert mp.refused == []  # basemap none: nothing but the served CDN files was asked for


@pytest.mark.browser
def test_browser_zoom_and_pan_keep_parcels_in_place(tmp_path: Path, open_map: Any) -> None:
    path = save_map(make_map(**park(), basemap="none"), tmp_path / "z.html")
    mp = open_map(path)
    # every parcel's projected rings follow the map through zooms, pans and a layer toggle
    check = """() => landeff.layers.parcels.every(l => {
        const first = L.LineUtil.isFlat(l._latlngs[0]) ? l._latlngs[0][0] : l._latlngs[0][0][0];
        const want = landeff.map.latLngToLayerPoint(first), got = l._rings[0][0];
        return Math.abs(got.x - want.x) < 0.01 && Math.abs(got.y - want.y) < 0.01; })"""
    assert mp.js(check)
    for dz in (2, -3, 1):
        mp.js(f"landeff.map.setZoom(landeff.map.getZoom() + ({dz}), {{animate: false}})")
        mp.js("landeff.map.panBy([40, -25], {animate: false})")
        assert mp.js(check)
    mp.page.locator(".leaflet-control-layers-overlays label").filter(has_text="宗地").locator(
        "input").uncheck()
    mp.js("landeff.map.setZoom(landeff.map.getZoom() + 1, {animate: false})")
    mp.page.locator(".leaflet-control-layers-overlays label").filter(has_text="宗地").locator(
        "input").check()
    assert mp.js(check)
    mp.page.mouse.click(*center_xy(mp, "parcel", 1, dx=0.3, dy=0.3))
    assert "宗地 P2" in mp.page.locator(".leaflet-popup-content").inner_text()
    mp.assert_clean()


HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(2)</script>",
    '"><svg onload=alert(3)>',
    "<img src=x onerror=\"window.__pwned=1\">",
    "{{ 7*7 }}{% if 1 %}x{% endif %}",
    "a\u2028b\u2029c",
]


@pytest.mark.browser
def test_browser_hostile_text_runs_nothing(tmp_path: Path, open_map: Any) -> None:
    h = HOSTILE
    data = park()
    ids = ["P1" + h[0], "P2" + h[1], "P3" + h[3], "P4" + h[4]]
    data["parcels"] = data["parcels"].assign(
        parcel_id=ids, holder_name=h[:4], land_use=h[2:6], grade=[h[0], "D", h[2], "T"],
        flags=[h[0], "LOW_FAR;" + h[1], None, h[3]])
    data["buildings"] = data["buildings"].assign(building_id=[h[0], h[2]], parcel_id=[ids[0], h[1]])
    data["remainders"] = data["remainders"].assign(parcel_id=[ids[1]])
    data["findings"] = data["findings"].assign(
        parcel_id=[ids[1], ids[2], None], code=[h[0], "IDLE_NOT_STARTED", h[1]],
        label_zh=h[:3], source=h[3:6], evidence=h[1:4], unit=[h[2], h[0], h[5]])
    data["enterprises"] = data["enterprises"].assign(
        name=[h[0], h[3]], uscc=[h[2], "91330200MA2BBBBBB2"], parcel_ids=[ids[0], [ids[1]]],
        grade=[h[1], "D"])
    path = save_map(make_map(**data, basemap="none", title=h[0] + h[1]), tmp_path / "bad.html")
    mp = open_map(path)

    texts = mp.js(
        """() => {
            const out = [];
            for (const kind of ['parcel', 'building', 'remainder']) {
                landeff.layers[kind + 's'].forEach((l, i) => {
                    out.push(landeff.openPopup(kind, i).textContent);
                    out.push(landeff.openTooltip(kind, i).textContent);
                    landeff.closeTooltip();
                });
            }
            return out;
        }"""
    )
    assert len(texts) == 2 * (4 + 2 + 1)
    joined = "\n".join(texts)
    for payload_ in (h[0], h[1], h[2], h[3]):
        assert payload_ in joined  # shown as text
    assert "{{ 7*7 }}" in joined
    # real pointer: click and hover every parcel
    for i in range(4):
        mp.page.mouse.click(*center_xy(mp, "parcel", i, dx=0.3, dy=-0.3))
        mp.page.mouse.move(*center_xy(mp, "parcel", i, dx=-0.3, dy=0.3))
    # search results built from hostile names
    box_ = mp.page.locator(".landeff-search input")
    for q in ("<img", "script", "svg", "{{"):
        box_.fill(q)
        assert mp.page.locator(".landeff-search-item").count() >= 1
    mp.page.locator(".landeff-search-item").first.click()
    mp.page.wait_for_timeout(300)  # give any injected handler time to fire
    assert mp.js("window.__pwned === undefined")
    # no element from the data: no <img>, no inline handler anywhere in the page
    assert mp.js("document.querySelectorAll('img, iframe, object, embed').length") == 0
    assert mp.js("""[...document.querySelectorAll('*')].filter(e =>
        [...e.attributes].some(a => a.name.startsWith('on'))).length""") == 0
    assert mp.js("document.title") == h[0] + h[1]
    # hostile grades count as not graded; the legend holds only our own labels
    assert "<img" not in mp.page.locator(".landeff-legend").inner_text()
    assert "未评价 (2)" in mp.page.locator(".landeff-legend").inner_text()
    mp.assert_clean()


@pytest.mark.browser
def test_browser_offline_map_renders_with_every_request_refused(
    tmp_path: Path, open_map: Any
) -> None:
    path = save_map(make_map(**park(), offline=True), tmp_path / "offline.html")
    mp = open_map(path, serve_assets=False)
    assert mp.js("landeff.count('parcel')") == 4
    assert mp.js("typeof L.Control.Measure === 'function'")
    assert mp.js("typeof L.Control.FullScreen === 'function'")
    assert mp.page.locator(".leaflet-control-measure").count() == 1
    bg = mp.js("getComputedStyle(document.querySelector('.leaflet-control-measure-toggle'))"
               ".backgroundImage")
    assert bg.startswith('url("data:image/png;base64,')
    assert mp.refused == []  # it asked for nothing at all
    mp.assert_clean()


@pytest.mark.browser
def test_browser_offline_gaode_still_shifted(tmp_path: Path, open_map: Any) -> None:
    data = park()
    path = save_map(make_map(**data, offline=True, basemap="gaode"), tmp_path / "gaode.html")
    mp = open_map(path, serve_assets=False)
    assert any("autonavi.com" in u for u in mp.refused)  # tiles were asked for, and refused
    ref = shapely.get_coordinates(data["parcels"].to_crs(4326).geometry.iloc[0])[0]
    lon, lat = wgs84_to_gcj02(ref[0], ref[1])
    got = mp.js("(() => { const ll = landeff.layers.parcels[0].getLatLngs()[0][0];"
                " return [ll.lng, ll.lat]; })()")
    assert abs(got[0] - float(lon)) <= 0.5e-6 + 1e-12
    assert abs(got[1] - float(lat)) <= 0.5e-6 + 1e-12
    mp.assert_clean()  # the refused tiles' console errors do not count


@pytest.mark.browser
def test_browser_public_map_shows_no_confidential_value(tmp_path: Path, open_map: Any) -> None:
    data = public_park()
    path = save_map(make_map(**data, basemap="none", public=True), tmp_path / "public.html")
    html = path.read_text("utf-8")
    assert leaked(html) == []
    mp = open_map(path)
    shown = "\n".join(mp.js("""() => landeff.layers.parcels.map((l, i) =>
        landeff.openPopup('parcel', i).textContent
        + landeff.openTooltip('parcel', i).textContent)"""))
    assert leaked(shown) == []
    assert "亩均税收 (万元/亩)" not in shown and "税收 (万元)" not in shown  # no such rows at all
    assert "容积率" in shown and "1.20" in shown and "LOW_TAX" in shown and "阈值 15.5" in shown
    mp.assert_clean()


@pytest.mark.browser
def test_browser_english_and_metric_colouring(tmp_path: Path, open_map: Any) -> None:
    path = save_map(make_map(**park(), basemap="none", lang="en", color_by="far", k=3),
                    tmp_path / "en.html")
    mp = open_map(path)
    text = mp.js("landeff.openPopup('parcel', 0).textContent")
    assert "Parcel P1" in text and "Area (mu)10.00" in text and "FAR1.20" in text
    legend = mp.page.locator(".landeff-legend").inner_text()
    assert "FAR · quantiles" in legend and "Idle land (1)" in legend
    assert mp.page.locator(".leaflet-control-layers-overlays").inner_text().split() == [
        "Parcels", "Undeveloped", "remainders", "Buildings"]
    mp.assert_clean()
