"""The dashboard in Debian's Chromium (Playwright): an analyst signs in, the map is drawn
(a WebGL canvas that is not blank), a filter changes the numbers, an export downloads; a
task-force member cannot reach another area; a viewer sees *; axe-core finds no serious or
critical violation on any page; no request leaves the serving host. Screenshots of each page
are kept in ARTEFACTS."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.service.world import AREA_A, PW
from tests.web.conftest import ARTEFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.slow
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
PAGES = ("/", "/map", "/map?layer=gistar&cell=lsoa", "/times", "/near-repeats", "/areas",
         "/areas/A", "/data", "/governance")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/debs.sh (make test does)")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Watched:
    """A page signed in as ``user`` with every request, console message and error kept."""

    def __init__(self, browser, live, user: str, axe: bool = False) -> None:  # noqa: ANN001
        self.ctx = browser.new_context(viewport={"width": 1280, "height": 1000},
                                       accept_downloads=True)
        self.page = self.ctx.new_page()
        if axe:
            self.page.add_init_script(AXE)  # an init script: not subject to the page's CSP
        self.live, self.requests, self.console = live, [], []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.page.goto(f"{live.url}/login")
        self.page.fill("#username", user)
        self.page.fill("#password", PW)
        self.page.click("form.login button[type=submit]")
        self.page.wait_for_url(f"{live.url}/")

    def go(self, path: str) -> None:
        self.page.goto(f"{self.live.url}{path}")
        if path.startswith("/map"):
            self.page.wait_for_selector("body[data-map-ready]", state="attached",
                                        timeout=30000)
            assert self.page.get_attribute("body", "data-map-ready") == "1", \
                self.page.inner_text("#map")[:300]
        elif self.page.query_selector("[data-spec]"):
            self.page.wait_for_selector("[data-drawn]", state="attached", timeout=20000)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)

    def check_clean(self) -> None:
        outside = [u for u in self.requests if not u.startswith(self.live.url)
                   and not u.startswith(("data:", "blob:"))]
        assert outside == [], outside
        bad = [m for m in self.console if "Content Security Policy" in m
               or m.startswith(("error", "pageerror"))]
        assert bad == [], bad

    def close(self) -> None:
        self.ctx.close()


def _canvas_colours(page) -> tuple[int, float]:  # noqa: ANN001
    from PIL import Image

    png = page.locator("#map canvas").screenshot()
    img = Image.open(io.BytesIO(png)).convert("RGB")
    colours = img.getcolors(maxcolors=1 << 20) or []
    total = img.width * img.height
    background = max(colours)[0] if colours else total
    return len(colours), 1 - background / total


def _first_numbers(page, n: int = 8) -> list[str]:  # noqa: ANN001
    return page.eval_on_selector_all(
        "#map-table tbody tr", f"rows => rows.slice(0, {n}).map(r => r.innerText)")


def test_an_analyst_sees_the_map_changes_a_filter_and_exports(browser, live):
    w = Watched(browser, live, "ann")
    try:
        w.go("/map")
        colours, drawn = _canvas_colours(w.page)
        assert colours > 4 and drawn > 0.05, (colours, drawn)  # a map, not a blank canvas
        w.shot("map-analyst")
        before = _first_numbers(w.page)
        w.page.select_option("#f-category", "Robbery")
        w.page.click("form.filters button[type=submit]")
        w.page.wait_for_url(re.compile(r".*category=Robbery.*"))
        w.page.wait_for_selector("body[data-map-ready='1']", state="attached", timeout=30000)
        after = _first_numbers(w.page)
        assert after and after != before
        w.shot("map-analyst-robbery")
        with w.page.expect_download() as dl:
            w.page.click("a[download]:text-is(\"CSV\")")
        text = Path(dl.value.path()).read_text(encoding="utf-8")
        assert "Robbery" in text.splitlines()[0] and "id,place,events" in text
        # a place opens its counts, trend and times
        w.page.click("#map-table button.place >> nth=0")
        w.page.wait_for_selector("#detail-body table", timeout=15000)
        assert "Events in the period" in w.page.inner_text("#detail-body")
        w.check_clean()
    finally:
        w.close()


def test_a_task_force_member_cannot_reach_another_area(browser, live):
    w = Watched(browser, live, "tia")
    try:
        w.go("/map")
        options = w.page.eval_on_selector_all("#f-area option", "os => os.map(o => o.value)")
        assert options == ["A"]
        rows = w.page.eval_on_selector_all("#map-table tbody tr", "rs => rs.map(r => r.dataset.id)")
        assert set(rows) <= set(AREA_A)
        w.shot("map-task-force")
        w.page.goto(f"{live.url}/areas/B")
        assert "own area only" in w.page.inner_text("main")
        w.page.goto(f"{live.url}/map?area=B")
        assert "own area only" in w.page.inner_text("main")
        status = w.page.evaluate(
            "async () => (await fetch('/api/map?layer=rate&area=B')).status")
        assert status == 403
        body = w.page.evaluate("async () => (await fetch('/api/counts?table=incidents&by=lsoa"
                               "')).json()")
        assert {r["lsoa"] for r in body["rows"]} <= set(AREA_A)
    finally:
        w.close()


def test_a_viewer_sees_stars(browser, live):
    w = Watched(browser, live, "vic")
    try:
        w.go("/map")
        cells = w.page.eval_on_selector_all("#map-table tbody td", "ts => ts.map(t => t.innerText)")
        assert "*" in cells
        assert "perturbed" in w.page.inner_text(".legend")
        assert "suppressed" in w.page.inner_text(".legend")
        w.shot("map-viewer")
        w.check_clean()
    finally:
        w.close()


@pytest.mark.parametrize(("user", "pages"), [
    ("ann", ("/login", *PAGES)),                     # every page, as an analyst
    ("tia", ("/", "/map", "/areas/A")),              # suppressed values: stars and hatching
    ("eve", ("/governance", "/data")),               # the audit log; a refusal page
])
def test_no_serious_accessibility_violation_on_any_page(browser, live, user, pages):
    w = Watched(browser, live, user, axe=True)
    found = {}
    try:
        for path in pages:
            if path == "/login":
                ctx = browser.new_context()
                page = ctx.new_page()
                page.add_init_script(AXE)
                page.goto(f"{live.url}/login")
            else:
                w.go(path)
                page = w.page
            violations = page.evaluate(
                "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', "
                "'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']})).violations.map(v => "
                "({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.html)}))")
            serious = [v for v in violations if v["impact"] in ("serious", "critical")]
            if serious:
                found[path] = serious
            name = re.sub(r"[^a-z0-9]+", "-", path.strip("/").lower() or "overview")
            page.screenshot(path=str(ARTEFACTS / f"{user}-{name}.png"), full_page=True)
            if path == "/login":
                ctx.close()
        assert found == {}, found
        w.check_clean()
    finally:
        w.close()
