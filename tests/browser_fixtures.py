"""Browser fixtures: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Every request a page makes goes through ``page.route``: the CDN addresses of Leaflet and its plugins
are answered from the npm packages in ``node_modules`` (pinned in package.json), everything else is
refused. The tests are hermetic and show at the same time that a map needs nothing else.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import sync_playwright

from landeff.outputs._map_assets import ASSETS, asset_file, assets_dir

CHROMIUM = os.environ.get("LANDEFF_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class MapPage:
    """A page with a map open, and what happened while it loaded."""

    page: Any
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    console_errors: list[tuple[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    served: list[str] = field(default_factory=list)

    def js(self, expression: str, arg: Any = None) -> Any:
        """Evaluate JavaScript in the page."""
        return self.page.evaluate(expression, arg)

    def unexpected_console_errors(self) -> list[str]:
        """Console errors other than the failed loads of requests the test refused."""
        out = []
        for text, url in self.console_errors:
            if text.startswith("Failed to load resource") and (url in self.refused or not url):
                continue
            out.append(f"{text} ({url})")
        return out

    def assert_clean(self) -> None:
        """Fail on any page error, dialog or unexpected console error."""
        assert self.dialogs == [], f"dialogs opened: {self.dialogs}"
        assert self.page_errors == [], f"page errors: {self.page_errors}"
        assert self.unexpected_console_errors() == []


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A headless Chromium browser for the whole session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's chromium (`make test` does), or set "
            "LANDEFF_CHROMIUM to a Chromium binary. Never `playwright install`."
        )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def cdn_files() -> dict[str, Path]:
    """CDN folder address → installed npm folder, for every asset a landeff map may load.

    A folder rather than a file, so that the images a stylesheet refers to (icons of the measuring
    tool and the full-screen button) are served too.
    """
    root = assets_dir()
    return {a.url.rsplit("/", 1)[0] + "/": asset_file(a, root).parent for a in ASSETS}


def _local_file(url: str, folders: dict[str, Path]) -> Path | None:
    """Return the npm file behind a CDN address (``.min.js``/``.min.css``: else the plain file)."""
    for prefix, folder in folders.items():
        if not url.startswith(prefix):
            continue
        rel = url[len(prefix):].split("?")[0]
        for name in (rel, rel.replace(".min.js", ".js"), rel.replace(".min.css", ".css")):
            cand = (folder / name).resolve()
            if cand.is_file() and folder.resolve() in cand.parents:
                return cand
    return None


@pytest.fixture
def open_map(chromium: Any, cdn_files: dict[str, Path]) -> Iterator[Callable[..., MapPage]]:
    """Open an HTML file in a fresh browser context; return a :class:`MapPage`.

    ``serve_assets=False`` refuses the CDN too (for offline maps). ``wait_ready`` waits for
    ``window.landeffReady``.
    """
    contexts: list[Any] = []

    def _open(
        path: str | Path,
        *,
        serve_assets: bool = True,
        wait_ready: bool = True,
        timeout_ms: int = 30_000,
        viewport: tuple[int, int] = (1200, 800),
    ) -> MapPage:
        ctx = chromium.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        contexts.append(ctx)
        page = ctx.new_page()
        mp = MapPage(page)

        def handle(route: Any) -> None:
            url = route.request.url
            if url.startswith(("file:", "data:", "blob:")):
                route.continue_()
                return
            local = _local_file(url, cdn_files) if serve_assets else None
            if local is not None:
                mp.served.append(url)
                ctype = mimetypes.guess_type(local.name)[0] or "application/octet-stream"
                route.fulfill(path=str(local), content_type=f"{ctype}; charset=utf-8")
                return
            mp.refused.append(url)
            route.abort()

        page.route("**/*", handle)
        page.on("pageerror", lambda err: mp.page_errors.append(str(err)))

        def on_dialog(dialog: Any) -> None:
            mp.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)

        def on_console(msg: Any) -> None:
            if msg.type == "error":
                mp.console_errors.append((msg.text, (msg.location or {}).get("url", "")))

        page.on("console", on_console)
        page.goto(Path(path).resolve().as_uri())
        if wait_ready:
            try:
                page.wait_for_function("window.landeffReady === true", timeout=timeout_ms)
            except PlaywrightTimeoutError as err:
                msg = (
                    f"{path}: the map never set window.landeffReady; page errors: "
                    f"{mp.page_errors}; console errors: {mp.console_errors}; refused: {mp.refused}"
                )
                raise AssertionError(msg) from err
        return mp

    yield _open
    for ctx in contexts:
        ctx.close()
