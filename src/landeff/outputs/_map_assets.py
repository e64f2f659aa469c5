"""JavaScript and CSS the map loads: pinned npm packages, their CDN addresses, offline inlining.

The versions here are the ones pinned in the repository's ``package.json`` (installed to
``node_modules`` by ``npm ci``, which ``make test`` runs). Online maps load them from the CDN
addresses below (the ones folium itself uses); offline maps inline them from the installed packages.
Nothing third-party is copied into this repository.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import LandeffError

#: Environment variable naming a ``node_modules`` directory that holds the packages below.
ASSETS_ENV = "LANDEFF_ASSETS"


@dataclass(frozen=True)
class Asset:
    """One JavaScript or CSS file of an npm package.

    Parameters
    ----------
    name : str
        Resource key folium uses for it (so that each is loaded once).
    kind : {"js", "css"}
        File type.
    package, version : str
        npm package and the exact version pinned in ``package.json``.
    path : str
        File inside the package.
    url : str
        CDN address an online map loads it from.
    """

    name: str
    kind: str
    package: str
    version: str
    path: str
    url: str


_JSDELIVR = "https://cdn.jsdelivr.net"

LEAFLET_JS = Asset("leaflet", "js", "leaflet", "1.9.3", "dist/leaflet.js",
                   f"{_JSDELIVR}/npm/leaflet@1.9.3/dist/leaflet.js")
LEAFLET_CSS = Asset("leaflet_css", "css", "leaflet", "1.9.3", "dist/leaflet.css",
                    f"{_JSDELIVR}/npm/leaflet@1.9.3/dist/leaflet.css")
FULLSCREEN_JS = Asset("Control.Fullscreen.js", "js", "leaflet.fullscreen", "3.0.0",
                      "Control.FullScreen.js",
                      f"{_JSDELIVR}/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.min.js")
FULLSCREEN_CSS = Asset("Control.FullScreen.css", "css", "leaflet.fullscreen", "3.0.0",
                       "Control.FullScreen.css",
                       f"{_JSDELIVR}/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.css")
MEASURE_JS = Asset("leaflet_measure_js", "js", "leaflet-measure", "2.1.7",
                   "dist/leaflet-measure.min.js",
                   f"{_JSDELIVR}/gh/ljagis/leaflet-measure@2.1.7/dist/leaflet-measure.min.js")
MEASURE_CSS = Asset("leaflet_measure_css", "css", "leaflet-measure", "2.1.7",
                    "dist/leaflet-measure.css",
                    f"{_JSDELIVR}/gh/ljagis/leaflet-measure@2.1.7/dist/leaflet-measure.min.css")

#: Every asset a landeff map may load, in load order.
ASSETS: tuple[Asset, ...] = (LEAFLET_JS, LEAFLET_CSS, FULLSCREEN_JS, FULLSCREEN_CSS, MEASURE_JS,
                             MEASURE_CSS)

_HOW_TO_GET = (
    "Install them from the npm registry: run `npm ci` (or `make test`) in the landeff repository, "
    "or `npm install --save-exact "
    + " ".join(sorted({f"{a.package}@{a.version}" for a in ASSETS}))
    + f"` in any directory and set {ASSETS_ENV} to its node_modules directory."
)


def _candidates() -> list[Path]:
    env = os.environ.get(ASSETS_ENV, "").strip()
    if env:
        return [Path(env)]
    here = Path(__file__).resolve()
    out = [Path.cwd() / "node_modules"]
    out += [parent / "node_modules" for parent in here.parents]
    return out


def assets_dir() -> Path:
    """Return the ``node_modules`` directory that holds the pinned packages.

    Looks at ``$LANDEFF_ASSETS`` when set, else ``./node_modules`` and the ``node_modules`` of every
    directory above this package (the repository root in a development install).

    Raises
    ------
    LandeffError
        When no such directory holds every package at its pinned version.
    """
    problems: list[str] = []
    for cand in _candidates():
        if not (cand / "leaflet" / "package.json").is_file():
            continue
        wrong = []
        for pkg, version in sorted({(a.package, a.version) for a in ASSETS}):
            manifest = cand / pkg / "package.json"
            if not manifest.is_file():
                wrong.append(f"{pkg} is missing")
                continue
            found = json.loads(manifest.read_text("utf-8")).get("version")
            if found != version:
                wrong.append(f"{pkg} is {found}, landeff needs {version}")
        if not wrong:
            return cand
        problems.append(f"{cand}: " + "; ".join(wrong))
    where = (
        "; ".join(problems)
        if problems
        else f"no node_modules with leaflet found ({ASSETS_ENV} "
        + ("is set to " + os.environ[ASSETS_ENV] if os.environ.get(ASSETS_ENV) else "is not set")
        + ")"
    )
    msg = (
        "an offline map inlines Leaflet and its plugins, but they are not installed: "
        f"{where}. {_HOW_TO_GET}"
    )
    raise LandeffError(msg)


def asset_file(asset: Asset, root: Path | None = None) -> Path:
    """Return the installed file of ``asset`` (under ``root``, else :func:`assets_dir`)."""
    return (root or assets_dir()) / asset.package / asset.path


_CSS_URL = re.compile(r"url\(\s*(['\"]?)([^)'\"]+)\1\s*\)")


def _inline_css_urls(css: str, base: Path) -> str:
    """Replace relative ``url(...)`` references of a stylesheet by data URIs of the files."""

    def repl(m: re.Match[str]) -> str:
        ref = m.group(2).strip()
        if ref.startswith(("data:", "#", "http:", "https:", "//")):
            return m.group(0)
        target = (base / ref.split("?")[0].split("#")[0]).resolve()
        if not target.is_file():
            return m.group(0)
        mime = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        data = base64.b64encode(target.read_bytes()).decode("ascii")
        return f'url("data:{mime};base64,{data}")'

    return _CSS_URL.sub(repl, css)


def inline_tag(asset: Asset, root: Path) -> str:
    """Return a ``<script>`` or ``<style>`` element with the asset's text (images as data URIs)."""
    path = asset_file(asset, root)
    text = path.read_text("utf-8")
    if asset.kind == "css":
        text = _inline_css_urls(text, path.parent)
        text = re.sub(r"</(style)", r"<\\/\1", text, flags=re.IGNORECASE)
        return f"<style>/* {asset.package}@{asset.version} {asset.path} */\n{text}\n</style>"
    text = re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)
    return f"<script>/* {asset.package}@{asset.version} {asset.path} */\n{text}\n</script>"
