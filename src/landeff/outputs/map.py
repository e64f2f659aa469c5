"""Interactive park map (folium/Leaflet): parcels by grade or metric, findings, remainders.

Built for parks of tens of thousands of parcels: the data is embedded once, as one JSON block
(quantised, delta-encoded longitude/latitude at 1e-6 degree, about 0.1 m, and columnar properties),
drawn on a Leaflet canvas, one Leaflet layer per parcel; popups, tooltips, the legend and search
results are built in the browser from those arrays, with ``textContent`` only, when they are shown.

No text from the data is ever interpreted: the JSON sits in a ``<script type="application/json">``
element with ``<``, ``>``, ``&``, U+2028 and U+2029 escaped and is read with ``JSON.parse``. It
never passes through folium's Jinja templates, which evaluate ``{{ ... }}`` found in rendered
macros.
"""

from __future__ import annotations

import html
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import Element, Figure, MacroElement
from folium.plugins import Fullscreen, MeasureControl

from ..errors import InputError
from ..io.write import atomic_path
from . import is_confidential
from ._map_assets import (
    ASSETS,
    FULLSCREEN_CSS,
    FULLSCREEN_JS,
    LEAFLET_CSS,
    LEAFLET_JS,
    MEASURE_CSS,
    MEASURE_JS,
    assets_dir,
    inline_tag,
)
from ._map_data import (
    BUILDING_FIELDS,
    COORD_SCALE,
    FIELD_BY_NAME,
    PARCEL_FIELDS,
    REMAINDER_FIELDS,
    TEXT,
    Field,
    bounds_of,
    columns,
    encode_geometry,
    enterprise_block,
    findings_block,
    json_for_html,
    lonlat,
    normalise_grades,
    parcel_links,
    split_ids,
    with_id,
)
from ._map_style import (
    GRADE_COLORS,
    REMAINDER_COLOR,
    finding_legend,
    floor_classes,
    grade_classes,
    line_styles,
    numeric_classes,
    outline_classes,
)

__all__ = ["BASEMAPS", "GRADE_COLORS", "make_map", "save_map"]

BASEMAPS = ("auto", "tianditu", "gaode", "osm", "none")


# --------------------------------------------------------------------------------------------
# folium elements that render raw text (never through Jinja)
# --------------------------------------------------------------------------------------------
class _Raw(Element):
    """An element whose text is written to the page as it is (no template evaluation)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def render(self, **kwargs: Any) -> str:
        """Return the text unchanged."""
        return self._text


def _library() -> str:
    folder = resources.files("landeff.outputs") / "templates"
    js = (folder / "landeff_map.js").read_text("utf-8")
    css = (folder / "landeff_map.css").read_text("utf-8")
    return f"<style>{css}</style>\n<script>{js}</script>"


class _LandeffLayers(MacroElement):
    """Embeds the map data once and draws it into three feature groups in the browser."""

    def __init__(self, payload: str, groups: dict[str, folium.FeatureGroup | None]) -> None:
        super().__init__()
        self._name = "LandeffLayers"
        self.payload = payload
        self.groups = groups

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        """Add the library, the JSON block and the init call to the page."""
        figure = self.get_root()
        assert isinstance(figure, Figure), "render the map through its Figure (m.get_root())"
        figure.header.add_child(_Raw(_library()), name="landeff_map_library")
        data_id = f"landeff-data-{self.get_name()}"
        figure.html.add_child(
            _Raw(f'<script type="application/json" id="{data_id}">{self.payload}</script>'),
            name=self.get_name(),
        )
        groups = ", ".join(
            f"{key}: {grp.get_name() if grp is not None else 'null'}"
            for key, grp in self.groups.items()
        )
        parent = self._parent.get_name()  # type: ignore[union-attr]
        script = (
            f"L.control.scale({{imperial: false, position: 'bottomleft'}}).addTo({parent});\n"
            f"landeffMapInit({parent}, {json.dumps(data_id)}, {{{groups}}});"
        )
        figure.script.add_child(_Raw(script), name=self.get_name())


# --------------------------------------------------------------------------------------------
# basemaps
# --------------------------------------------------------------------------------------------
_TIANDITU = "https://t{s}.tianditu.gov.cn/DataServer?T={layer}_w&x={x}&y={y}&l={z}&tk={key}"
_GAODE = (
    "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
    "&x={x}&y={y}&z={z}"
)
_SAFE_URL = re.compile(r"^https?://[^\s\"'<>\\`]+$")


def _resolve_basemap(basemap: str, tiles_key: str | None, offline: bool) -> tuple[str, str | None]:
    """Return (kind, key): kind is one of tianditu, gaode, osm, none, url."""
    key = (tiles_key or os.environ.get("TIANDITU_KEY") or "").strip() or None
    if not isinstance(basemap, str):
        msg = f"basemap must be a string, got {type(basemap).__name__}."
        raise InputError(msg)
    name = basemap.strip()
    low = name.lower()
    if low == "auto":
        if offline:
            return "none", None
        return ("tianditu", key) if key else ("osm", None)
    if low in ("tianditu", "gaode", "osm", "none"):
        if low == "tianditu" and not key:
            msg = (
                "basemap='tianditu' needs a 天地图 developer key: pass tiles_key=... or set the "
                "environment variable TIANDITU_KEY (a free key from the 天地图 developer console). "
                "Use basemap='osm' or 'none' to do without."
            )
            raise InputError(msg)
        return low, key
    if low.startswith(("http://", "https://")):
        ok = (
            _SAFE_URL.match(name)
            and "{z}" in name
            and "{x}" in name
            and ("{y}" in name or "{-y}" in name)
            and "{{" not in name
            and "{%" not in name
        )
        if not ok:
            msg = (
                f"basemap={basemap!r} is not a usable tile URL template: it needs {{z}}, {{x}} "
                "and {y} (or {-y}) and no spaces, quotes or angle brackets, e.g. "
                "https://tiles.example.gov.cn/{z}/{x}/{y}.png"
            )
            raise InputError(msg)
        return "url", name
    msg = (
        f"basemap={basemap!r} is not known. Use one of {', '.join(BASEMAPS)} or a tile URL "
        "template such as https://tiles.example.gov.cn/{z}/{x}/{y}.png"
    )
    raise InputError(msg)


def _add_tiles(m: folium.Map, kind: str, key: str | None, lang: str) -> None:
    if kind == "none":
        return
    if kind == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap", control=False).add_to(m)
    elif kind == "tianditu":
        if key is None or not re.fullmatch(r"[A-Za-z0-9]+", key):
            msg = "tiles_key / TIANDITU_KEY must be the 天地图 key (letters and digits only)."
            raise InputError(msg)
        attr = "天地图 © 国家地理信息公共服务平台" if lang == "zh" else "Tianditu © NGCC"
        folium.TileLayer(
            _TIANDITU.format(layer="vec", key=key, s="{s}", x="{x}", y="{y}", z="{z}"),
            attr=attr, name="天地图" if lang == "zh" else "Tianditu", subdomains="01234567",
            max_zoom=18, control=False,
        ).add_to(m)
        folium.TileLayer(
            _TIANDITU.format(layer="cva" if lang == "zh" else "eva", key=key, s="{s}", x="{x}",
                             y="{y}", z="{z}"),
            attr=attr, name="注记", subdomains="01234567", max_zoom=18, overlay=True, control=False,
        ).add_to(m)
    elif kind == "gaode":
        folium.TileLayer(
            _GAODE, attr="© 高德地图 AutoNavi", name="高德地图" if lang == "zh" else "Gaode",
            subdomains="1234", max_zoom=18, control=False,
        ).add_to(m)
    else:
        host = html.escape(key.split("/")[2] if key else "")
        folium.TileLayer(key, attr=f"tiles: {host}", name="basemap", control=False,
                         max_zoom=19).add_to(m)



# --------------------------------------------------------------------------------------------
# the map
# --------------------------------------------------------------------------------------------
def _check_color_by(p: pd.DataFrame, color_by: str, public: bool) -> None:
    if color_by == "grade":
        return
    if public and is_confidential(color_by):
        msg = (
            f"color_by={color_by!r} is confidential (an enterprise figure or derived from one), "
            "so a public map cannot be coloured by it. Use color_by='grade', 'far', "
            "'building_density' or 'area_mu', or make an internal map (public=False)."
        )
        raise InputError(msg)
    if color_by not in p.columns:
        numeric = [c for c in p.columns if pd.api.types.is_numeric_dtype(p[c])]
        msg = (
            f"color_by={color_by!r}: the parcels have no such column. Numeric columns: "
            f"{', '.join(map(str, numeric)) or 'none'}; or use color_by='grade'."
        )
        raise InputError(msg)
    if not pd.api.types.is_numeric_dtype(p[color_by]):
        msg = (
            f"color_by={color_by!r} is not numeric ({p[color_by].dtype}); colour by 'grade' or "
            "by a numeric column such as 'far' or 'tax_wan_per_mu'."
        )
        raise InputError(msg)


def _fill(
    p: pd.DataFrame, color_by: str, scheme: str, k: int, lang: str
) -> tuple[np.ndarray, list[dict[str, Any]], str, str]:
    """Return fill class per parcel, legend items, legend title and the label of ``color_by``."""
    text = TEXT[lang]
    if color_by == "grade":
        grades = (
            normalise_grades(p["grade"]) if "grade" in p.columns else np.full(len(p), "", object)
        )
        cls, items = grade_classes(grades, lang)
        return cls, items, text["legendGrade"], text["legendGrade"]
    spec = FIELD_BY_NAME.get(color_by, Field(color_by, color_by, color_by))
    values = pd.to_numeric(p[color_by], errors="coerce")
    if spec.kind == "pct":
        values = values * 100.0
    cls, items = numeric_classes(values, scheme, k, spec.decimals, lang)
    label = spec.zh if lang == "zh" else spec.en
    unit = spec.unit_zh if lang == "zh" else spec.unit_en
    return cls, items, label + (f" ({unit})" if unit else "") + f" · {scheme}", label


def _outlines(
    p: pd.DataFrame, f_parcels: np.ndarray, f_codes: pd.Series, f_cats: pd.Series
) -> np.ndarray:
    """Return the outline class of each parcel from its findings and its own ``flags``."""
    if "flags" in p.columns:  # the parcel's own codes count even without a findings frame
        flag_codes = split_ids(p["flags"].reset_index(drop=True))
        f_parcels = np.concatenate([f_parcels, flag_codes.index.to_numpy(dtype=np.int64)])
        f_codes = pd.concat([f_codes.astype("string"), flag_codes.astype("string")],
                            ignore_index=True)
        no_cat = pd.Series(pd.NA, index=flag_codes.index, dtype="string")
        f_cats = pd.concat([f_cats.astype("string"), no_cat], ignore_index=True)
    return outline_classes(len(p), f_parcels, f_codes, f_cats)


def _payload(
    parcels: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None,
    remainders: gpd.GeoDataFrame | None,
    findings: pd.DataFrame | None,
    enterprises: pd.DataFrame | None,
    links: pd.DataFrame | None,
    *,
    public: bool,
    gaode: bool,
    color_by: str,
    scheme: str,
    k: int,
    lang: str,
    title: str | None,
) -> dict[str, Any]:
    """Return everything the browser draws, as one JSON-ready dict."""
    text = TEXT[lang]
    p = with_id(parcels, "parcel_id", use_index=True)
    _check_color_by(p, color_by, public)
    p_geoms = lonlat(p, "parcels", gaode)
    pid_index = pd.Index(p["parcel_id"].fillna(""))

    link_frame = parcel_links(pid_index, enterprises, links)
    f_block, f_parcels, f_codes, f_cats = findings_block(findings, pid_index, link_frame, lang,
                                                         public)
    line_cls = _outlines(p, f_parcels, f_codes, f_cats)
    fill_cls, fill_items, fill_title, color_label = _fill(p, color_by, scheme, k, lang)
    legend = [{"title": fill_title, "items": [it for it in fill_items if it.get("n", 1) > 0]}]
    if len(finding_items := finding_legend(line_cls, lang)):
        legend.append({"title": text["legendFindings"], "items": finding_items})

    fields = PARCEL_FIELDS
    if color_by != "grade" and color_by not in FIELD_BY_NAME:
        fields = (*fields, Field(color_by, color_by, color_by))
    p_cols, p_specs = columns(p, fields, lang, public, always=("parcel_id",))
    payload: dict[str, Any] = {
        "v": 1, "lang": lang, "locale": "zh-CN" if lang == "zh" else "en-US",
        "scale": COORD_SCALE, "text": text, "title": title,
        "colorBy": color_by, "colorByLabel": color_label, "gradeColors": GRADE_COLORS,
        "parcels": {
            "n": len(p), "geom": encode_geometry(p_geoms),
            "fill": np.asarray(fill_cls, dtype=np.int64).tolist(), "line": line_cls.tolist(),
            "cols": p_cols, "fields": p_specs,
        },
        "styles": {
            "fill": [{"color": it["fill"]} for it in fill_items],
            "line": line_styles(),
            "remainder": {"color": REMAINDER_COLOR},
        },
        "findings": f_block,
        "enterprises": enterprise_block(enterprises, link_frame, lang, public),
        "legend": legend,
    }
    geoms = [p_geoms]
    if remainders is not None and len(remainders):
        r = with_id(remainders, "parcel_id", use_index=False)
        geoms.append(lonlat(r, "remainders", gaode))
        r_cols, r_specs = columns(r, REMAINDER_FIELDS, lang, public, always=("parcel_id",))
        payload["remainders"] = {"n": len(r), "geom": encode_geometry(geoms[-1]), "cols": r_cols,
                                 "fields": r_specs}
        legend.append({"title": text["remainders"], "items": [
            {"label": text["remainder"], "line": REMAINDER_COLOR, "weight": 2, "dash": True,
             "hatch": True, "fill": "#ffffff", "n": len(r)}]})
    if buildings is not None and len(buildings):
        b = buildings.reset_index(drop=True)
        geoms.append(lonlat(b, "buildings", gaode))
        floors = pd.to_numeric(b["floors"], errors="coerce") if "floors" in b.columns else None
        b_cls, b_colors, b_items = floor_classes(
            np.full(len(b), np.nan) if floors is None else floors.to_numpy(dtype=float), lang)
        b_cols, b_specs = columns(b, BUILDING_FIELDS, lang, public, always=("building_id",))
        payload["buildings"] = {"n": len(b), "geom": encode_geometry(geoms[-1]),
                                "cls": b_cls.tolist(), "cols": b_cols, "fields": b_specs}
        payload["styles"]["buildings"] = [{"color": c} for c in b_colors]
        legend.append({"title": text["legendFloors"], "items": b_items})
    payload["bounds"] = bounds_of(*geoms)
    return payload


def make_map(
    parcels: gpd.GeoDataFrame,
    *,
    buildings: gpd.GeoDataFrame | None = None,
    remainders: gpd.GeoDataFrame | None = None,
    findings: pd.DataFrame | None = None,
    enterprises: pd.DataFrame | None = None,
    links: pd.DataFrame | None = None,
    public: bool = False,
    offline: bool = False,
    basemap: str = "auto",
    color_by: str = "grade",
    scheme: str = "quantiles",
    k: int = 5,
    lang: str = "zh",
    tiles_key: str | None = None,
    title: str | None = None,
) -> folium.Map:
    """Return an interactive map of a park's parcels, findings, remainders and buildings.

    Parameters
    ----------
    parcels : GeoDataFrame
        Parcels in any CRS, ``parcel_id`` as a column or the index; any result column
        (``area_mu, far, building_density, grade, score, flags, tax_wan_per_mu`` ...) may be
        missing.
    buildings, remainders : GeoDataFrame, optional
        Layers 建筑 (coloured by ``floors``) and 剩余未开发土地, switchable in the layer control.
    findings : DataFrame, optional
        ``parcel_id, code, label_zh, label_en, value, threshold, unit, source, evidence`` ...:
        idle and low-efficiency parcels are hatched or outlined by category, and every finding is
        listed with its reason in the parcel's popup. Enterprise findings without a parcel go to
        the enterprise's parcels (through ``links``).
    enterprises : DataFrame, optional
        ``uscc, name, parcel_ids, grade`` ...: shown in popups and searchable by name or code.
    links : DataFrame, optional
        ``uscc, parcel_id, role``; taken from ``enterprises.parcel_ids`` when not given.
    public : bool
        Leave out every enterprise figure and anything derived from one
        (:func:`landeff.outputs.is_confidential`,
        :func:`landeff.outputs.confidential_finding_values`).
    offline : bool
        Inline Leaflet and its plugins (from the pinned npm packages) so that the file renders
        with no network; the base map is then ``none`` unless one is named.
    basemap : str
        ``auto`` (天地图 when a key is given by ``tiles_key`` or ``$TIANDITU_KEY``, else
        OpenStreetMap), ``tianditu``, ``gaode`` (geometry shifted to GCJ-02), ``osm``, ``none``
        or a tile URL template.
    color_by : str
        ``grade`` (fixed class colours) or a numeric column, classified with ``scheme`` into
        ``k`` classes.
    scheme : str
        A mapclassify scheme (``quantiles``, ``equal_interval``, ``natural_breaks`` ...).
    k : int
        Number of classes for a numeric ``color_by``.
    lang : {"zh", "en"}
        Language of the labels.
    tiles_key : str, optional
        天地图 key.
    title : str, optional
        Shown on the map and as the page title.

    Returns
    -------
    folium.Map
        Save it with :func:`save_map`. The page sets ``window.landeffReady = true`` once every
        parcel is painted.

    Raises
    ------
    InputError
        Unknown option, missing or confidential ``color_by`` on a public map, unusable basemap.
    CRSError
        A layer without a CRS.
    landeff.errors.LandeffError
        ``offline=True`` and the npm packages are not installed (the message says how to get
        them).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> p = gpd.GeoDataFrame({"parcel_id": ["P1"], "grade": ["A"], "area_mu": [10.0]},
    ...                      geometry=[shapely.box(120.0, 31.0, 120.001, 31.001)], crs=4490)
    >>> m = make_map(p, basemap="none")
    >>> "landeffMapInit" in m.get_root().render()
    True
    """
    if lang not in TEXT:
        msg = f"lang={lang!r} is not supported; use 'zh' (中文) or 'en'."
        raise InputError(msg)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 2 <= int(k) <= 12:
        msg = f"k={k!r}: the number of classes must be an integer from 2 to 12."
        raise InputError(msg)
    text = TEXT[lang]
    kind, key = _resolve_basemap(basemap, tiles_key, offline)
    payload = _payload(parcels, buildings, remainders, findings, enterprises, links,
                       public=public, gaode=kind == "gaode", color_by=color_by, scheme=scheme,
                       k=int(k), lang=lang, title=title)
    bounds = payload["bounds"]
    center = [35.0, 105.0]
    if bounds:
        center = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    m = folium.Map(location=center, zoom_start=14 if bounds else 4, tiles=None,
                   prefer_canvas=True, control_scale=False, max_zoom=20)
    m.default_js = [(LEAFLET_JS.name, LEAFLET_JS.url)]
    m.default_css = [(LEAFLET_CSS.name, LEAFLET_CSS.url)]
    figure = m.get_root()
    if title and isinstance(figure, Figure):
        figure.title = html.escape(str(title))
    _add_tiles(m, kind, key, lang)

    def group(name: str, present: bool) -> folium.FeatureGroup | None:
        return folium.FeatureGroup(name=name).add_to(m) if present else None  # type: ignore[return-value]

    groups = {
        "parcels": group(text["parcels"], True),
        "remainders": group(text["remainders"], "remainders" in payload),
        "buildings": group(text["buildings"], "buildings" in payload),
    }
    _LandeffLayers(json_for_html(payload), groups).add_to(m)

    full = Fullscreen(position="topleft", title=text["fullscreen"],
                      title_cancel=text["exitFullscreen"], force_separate_button=True)
    measure = MeasureControl(
        position="topleft", primary_length_unit="meters", secondary_length_unit="kilometers",
        primary_area_unit="sqmeters", secondary_area_unit="mu",
        units={"mu": {"factor": 0.0015, "display": text["mu"], "decimals": 2}},
        localization="cn" if lang == "zh" else "en",
    )
    for plugin, (js, css) in ((full, (FULLSCREEN_JS, FULLSCREEN_CSS)),
                              (measure, (MEASURE_JS, MEASURE_CSS))):
        plugin.default_js = [(js.name, js.url)]
        plugin.default_css = [(css.name, css.url)]
        plugin.add_to(m)
    folium.LayerControl(position="topright", collapsed=False).add_to(m)
    if offline:
        _inline_assets(m, (full, measure))
    return m


def _inline_assets(m: folium.Map, plugins: tuple[Any, ...]) -> None:
    """Put the JS/CSS of the map and its plugins into the page instead of linking to a CDN."""
    root = assets_dir()
    figure = m.get_root()
    assert isinstance(figure, Figure)
    header = figure.header
    for owner in (m, *plugins):
        for name, url in [*owner.default_js, *owner.default_css]:
            asset = next((a for a in ASSETS if a.name == name and a.url == url), None)
            if asset is None:  # pragma: no cover - every asset of ours is listed
                msg = f"offline map: no local copy of {url}"
                raise InputError(msg)
            header.add_child(_Raw(inline_tag(asset, root)), name=name)
        owner.default_js = []
        owner.default_css = []


def save_map(m: folium.Map, path: str | os.PathLike[str]) -> Path:
    """Write the map's HTML to ``path`` atomically (a temporary file, then ``os.replace``).

    A failure half-way leaves any previous file at ``path`` untouched and no partial file behind.

    Examples
    --------
    >>> import geopandas as gpd, shapely, tempfile, pathlib
    >>> p = gpd.GeoDataFrame({"parcel_id": ["P1"]},
    ...                      geometry=[shapely.box(120, 31, 120.001, 31.001)], crs=4326)
    >>> out = save_map(make_map(p, basemap="none"), pathlib.Path(tempfile.mkdtemp()) / "m.html")
    >>> out.stat().st_size > 1000
    True
    """
    text = m.get_root().render()
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")
    return Path(path)
