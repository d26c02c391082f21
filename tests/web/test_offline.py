"""Offline by construction: no page, stylesheet or script the dashboard serves refers to a
host other than the one serving it; vendored libraries carry their versions and licences."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from vru.web.app import STATIC

PAGES = ("/", "/map", "/map?layer=cells&cell=h3:8", "/map?layer=gistar&cell=lsoa",
         "/times", "/near-repeats", "/areas", "/areas/A", "/data", "/governance")
#: Absolute URLs that name a thing rather than fetch it (XML namespaces, the Vega-Lite schema
#: id vega-embed reads the version from).
NAMES = ("http://www.w3.org/", "https://vega.github.io/schema/")
LOADERS = re.compile(r"""(importScripts\(\s*['"]|import\s*\(\s*['"]|from\s*['"]|new\s+Worker"""
                     r"""\(\s*['"]|sourceMappingURL=)(https?:)?//""")


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("src", "href", "action", "formaction", "poster", "data"):
            if a.get(key):
                self.urls.append(a[key])
        if "style" in a:
            raise AssertionError(f"an inline style attribute on <{tag}> (the CSP forbids it)")
        if any(k.startswith("on") for k in a):
            raise AssertionError(f"an inline event handler on <{tag}>")
        if tag == "script":
            self._in_script = a.get("type") or "text/javascript"
            if a.get("src") is None and self._in_script not in ("application/json",):
                self.inline_scripts.append(self._in_script)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None


def _same_host(url: str) -> bool:
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc or parts.netloc == "testserver"


@pytest.mark.parametrize("user", ["ann", "ada", "vic"])
def test_no_page_refers_to_another_host(clients, user):
    c = clients[user]
    assets: set[str] = set()
    for path in (*PAGES, "/login"):
        r = c.get(path)
        links = Links()
        links.feed(r.text)
        assert links.inline_scripts == [], (path, links.inline_scripts)
        for url in links.urls:
            assert _same_host(url), (path, url)
            if url.startswith("/static/"):
                assets.add(url)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for url in sorted(assets):
        body = c.get(url)
        assert body.status_code == 200, url
        text = body.text
        if url.endswith(".css"):
            for ref in re.findall(r"url\(([^)]*)\)", text):
                ref = ref.strip("'\" ")
                assert _same_host(ref) or ref.startswith("data:"), (url, ref)
        assert not LOADERS.search(text), (url, LOADERS.search(text).group(0))


def test_our_own_scripts_and_styles_name_no_host():
    for path in [*STATIC.glob("*.js"), *STATIC.glob("*.css")]:
        text = path.read_text(encoding="utf-8")
        for url in re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}[^\s'\"`)]*", text):
            assert url.startswith(NAMES), (path.name, url)


def test_templates_name_no_host():
    for path in (STATIC.parent / "templates").glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href|action)\s*=\s*["'](https?:)?//""", text), path.name


def test_vendored_files_have_versions_and_licences():
    vendor = STATIC / "vendor"
    versions = dict(line.split()[:2] for line in
                    (vendor / "VERSIONS").read_text().splitlines() if line.strip())
    assert set(versions) == {"maplibre-gl", "vega", "vega-lite", "vega-embed",
                             "vega-interpreter"}
    for name in versions:
        assert (vendor / f"LICENSE-{name}.txt").stat().st_size > 500
    tests = Path(__file__).parent / "vendor"
    assert "axe-core" in (tests / "VERSIONS").read_text()
    assert (tests / "LICENSE-axe-core.txt").exists() and (tests / "axe.min.js").exists()
    script = Path(__file__).parents[2] / "scripts" / "vendor_js.sh"
    for name in (*versions, "axe-core"):
        assert name in script.read_text()
