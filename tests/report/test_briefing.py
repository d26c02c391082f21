"""The briefing of the seed-1 demo, as the acceptance checks run it (the CLI), and the public
release attacked: it must show no count a viewer's own release would not give."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.service.demo_home import PW, demo_home

from vru.report.briefing import build_briefing
from vru.service import open_session
from vru.service.kpi import series

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ROOT / "tests" / "artefacts"
MANIFEST_POSITIVE = "1,2,3,4,6,7,8"


def _vru(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "vru.cli", "--home", str(home), *args],
                          capture_output=True, text=True, env=env, timeout=300, check=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_home(tmp_path_factory)


@pytest.fixture(scope="module")
def written(demo, tmp_path_factory) -> Path:
    """``vru report briefing --period 2020 --out OUT`` (the acceptance contract), with the
    synthetic world's own positive outcome types."""
    out = tmp_path_factory.mktemp("briefing")
    r = _vru(demo[0], "report", "briefing", "--period", "2020", "--out", str(out),
             "--positive-outcomes", MANIFEST_POSITIVE)
    assert r.returncode == 0, r.stderr
    return out


def _text(html: str) -> str:
    """Visible text: no SVG internals (axis ticks), no data URIs, no tags."""
    html = re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)
    html = re.sub(r'src="data:[^"]*"', "", html)
    html = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", html.replace("&gt;", ">").replace("&lt;", "<"))


def test_kpi_json_contract(demo):
    r = _vru(demo[0], "kpi", "--period", "2020", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert isinstance(rows, list) and rows
    for row in rows:
        assert {"measure", "current", "previous", "change_pct", "p_value",
                "lowest_since"} <= set(row)
        assert row["lowest_since"] is None or isinstance(row["lowest_since"], int)
    knife = next(x for x in rows if x["measure"] == "knife_crime")
    assert (knife["previous"], knife["current"], knife["lowest_since"]) == (1300, 1222, 2016)


def test_kpi_csv_and_table(demo, tmp_path):
    out = tmp_path / "k.csv"
    r = _vru(demo[0], "kpi", "--period", "2020/21", "--by", "area", "--format", "csv",
             "--out", str(out), "--measure", "personal_robbery")
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert lines[0].startswith("measure,group,period,previous_period,current,previous")
    assert len(lines) == 1 + 9 and all(",2020/21,2019/20," in line for line in lines[1:])
    t = _vru(demo[0], "kpi", "--period", "2020", "--measure", "knife_crime")
    assert t.returncode == 0 and "no significant change (1,300 → 1,222" in t.stdout
    bad = _vru(demo[0], "kpi", "--period", "2020/22")
    assert bad.returncode == 2 and "April 2020 to March 2021" in bad.stderr
    press = _vru(demo[0], "report", "briefing", "--period", "2020", "--audience", "press",
                 "--out", str(tmp_path / "b"))
    assert press.returncode == 2 and "give internal or public" in press.stderr


def test_briefing_states_the_planted_headlines(demo, written):
    _, manifest = demo
    html = (written / "briefing.html").read_text(encoding="utf-8")
    text = _text(html)
    planted = manifest["kpis"]
    k19, k20 = planted["knife_crime"]["2019"], planted["knife_crime"]["2020"]
    since = planted["knife_crime_2020_lowest_since"]
    # knife crime: -6% and lowest since 2016, but the exact test says it could be chance
    assert (f"Knife crime: no significant change ({k19:,} → {k20:,}, −6%; p = 0.11, within "
            f"what chance alone gives); the lowest since {since}") in text
    r19, r20 = planted["personal_robbery"]["2019"], planted["personal_robbery"]["2020"]
    assert f"Personal robbery is down 23% ({r19:,} → {r20:,}; p < 0.001)" in text
    v = planted["vwi_positive_outcomes"]
    assert ("The positive outcome rate for violence with injury is up 23% (9.5% → 11.7%; "
            f"p < 0.001) — {v['2019']['positive']:,} of {v['2019']['crimes']:,} → "
            f"{v['2020']['positive']:,} of {v['2020']['crimes']:,} crimes") in text


def test_html_is_self_contained_and_readable(written):
    html = (written / "briefing.html").read_text(encoding="utf-8")
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html)
    assert "url(http" not in html and "<link" not in html and "<script" not in html
    assert "@import" not in html
    # a table behind every chart: every SVG figure has its table, the map its class table
    charts = html.count('role="img"')
    assert charts >= 8 and html.count('<table class="sr-only">') == charts
    assert html.count("<svg") == charts
    assert 'alt="Map: ' in html and "Map classes (number of LSOAs)" in html
    for label in ("Hot spot, 99% confidence", "Not significant", "Cold spot, 99% confidence"):
        assert label in html  # every class in the key, cold spots too
    assert '<html lang="en-GB">' in html


def test_pdf_has_the_sections_and_page_one_is_rendered(written):
    pdf = written / "briefing.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    order = ["Violence reduction briefing: 2020", "Headlines", "All measures",
             "Where violence concentrates", "When: hour of day and weekday", "Trends",
             "Task-force area: reading", "Definitions", "Sources",
             "Lake table versions read"]
    at = [text.find(s) for s in order]
    assert all(i >= 0 for i in at), dict(zip(order, at, strict=True))
    assert at == sorted(at), "sections in the annual update's order"
    assert text.count("Task-force area: ") == 9
    ARTEFACTS.mkdir(exist_ok=True)
    stem = ARTEFACTS / "briefing-2020-page1"
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile",
                    str(pdf), str(stem)], check=True)
    png = stem.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    shutil.copy(pdf, ARTEFACTS / "briefing-2020.pdf")
    print(f"page 1 rendered to {png}")


# -- the public release, attacked ------------------------------------------------------------


@pytest.fixture(scope="module")
def sessions(demo) -> Iterator[dict]:
    s = {"ann": open_session(demo[0], user="ann", password=PW),
         "vic": open_session(demo[0], user="vic", password=PW)}
    yield s
    for x in s.values():
        x.close()


@pytest.fixture(scope="module")
def public(sessions):
    """The public briefing, made by an analyst (who could see exact counts)."""
    return build_briefing(sessions["ann"], "2020", audience="public")


def _sections(html: str, ids: tuple[str, ...]) -> str:
    parts = re.findall(r'<section[^>]*id="([^"]+)"[^>]*>(.*?)</section>', html, flags=re.S)
    return " ".join(body for sid, body in parts if sid.startswith(ids))


def _viewer_figures(vic, ann) -> set[int]:
    """Every count the viewer's own requests are released; for the map and the week chart
    (analyses a viewer may not run) the cells released at the viewer's level."""
    got: set[int] = set()
    for by in (None, "area"):
        for k in vic.kpis("2020", by=by).records:
            got |= {v for v in (k.current, k.previous, k.positive_outcomes,
                                k.previous_positive_outcomes) if v is not None}
            got |= {h["count"] for h in k.history if h["count"] is not None}
    for by, years in ((None, 3), ("area", 2)):
        f, _ = series(vic, "2020", by=by, years=years)
        got |= {int(v) for v in f["n"].dropna()}
    codes = ["2", "4.4", "4.6", "4.8", "5D", "5E", "8N", "8P", "8S"]
    public = ann.for_audience("public")
    hot = public.analyse("gistar", cell="lsoa", start="2020-01", end="2020-12",
                      offence_code=codes, source="force_extract")
    got |= {int(v) for v in hot.frame["n"].dropna()}
    got |= {int(v) for v in hot.frame["class"].value_counts()}  # LSOAs per class
    week = public.analyse("times", start="2020-01", end="2020-12", offence_code=codes,
                       source="force_extract")
    got |= {int(round(v)) for v in week.matrix.to_numpy().ravel() if v == v}
    return got


def test_public_briefing_shows_only_what_a_viewer_is_released(public, sessions):
    html = public.html
    assert "Public release" in html and "cell-key" in html
    assert public.meta["release"]["profile"] == "cellkey"
    allowed = _viewer_figures(sessions["vic"], sessions["ann"]) | {1000}  # "per 1,000 residents"
    body = _text(_sections(html, ("headlines", "kpis", "where", "when", "trends", "area-")))
    # whole numbers that are not part of a decimal, a percentage or a code
    tokens = re.findall(r"(?<![\w.,−+])(\d{1,3}(?:,\d{3})+|\d+)(?![\w%]|\.\d|,\d)", body)
    numbers = {int(t.replace(",", "")) for t in tokens}
    years = {n for n in numbers if 2000 <= n <= 2035}
    hours = set(range(24))  # column headers of the week table
    shown = numbers - years - hours
    assert len(shown) > 100
    assert shown <= allowed, sorted(shown - allowed)[:20]


def test_public_briefing_never_shows_an_exact_count_the_viewer_does_not_get(public, sessions):
    exact = {k.measure: k for k in sessions["ann"].kpis("2020").records}
    viewer = {k.measure: k for k in sessions["vic"].kpis("2020").records}
    rows = dict(re.findall(r'<tr data-measure="(\w+)">(.*?)</tr>', _sections(
        public.html, ("kpis",)), flags=re.S))
    differ = 0
    for m, row in rows.items():
        cells = [c.strip() for c in re.findall(r"<td>([^<]*)</td>", row)]
        e, v = exact[m], viewer[m]
        if not e.available:
            continue
        assert cells[:2] == [f"{v.previous:,}", f"{v.current:,}"]
        if (e.previous, e.current) != (v.previous, v.current):
            differ += 1
            assert cells[:2] != [f"{e.previous:,}", f"{e.current:,}"]
    assert differ > 0
    # the headline sentences are the viewer's own wording
    for m in ("knife_crime", "personal_robbery", "violence_with_injury"):
        assert viewer[m].wording in _text(public.html)


def test_report_imports_only_the_service():
    """The briefing is a face: it may import vru.service, never lake, analysis or
    governance (so it cannot forget a rule)."""
    bad = []
    for path in (ROOT / "src" / "vru" / "report").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and
                     node.level == 0 else [])
            bad += [f"{path.name}: {n}" for n in names
                    if n.startswith("vru") and not n.startswith(("vru.service", "vru.report"))]
    assert bad == []


def test_public_analyses_are_released_not_exact(sessions):
    """The map and week chart of a public briefing come from counts released at the public
    level: perturbed, never the exact cells an analyst sees; a viewer runs no analysis."""
    from vru.service import Denied

    codes = ["2", "4.4", "4.6", "4.8", "5D", "5E", "8N", "8P", "8S"]
    kw = {"start": "2020-01", "end": "2020-12", "offence_code": codes,
          "source": "force_extract"}
    with pytest.raises(Denied):
        sessions["vic"].analyse("times", **kw)
    exact = sessions["ann"].analyse("times", **kw).matrix
    shown = sessions["ann"].for_audience("public").analyse("times", **kw)
    assert shown.meta["release"]["profile"] == "cellkey"
    assert (shown.matrix.round() != exact.round()).to_numpy().any()
    with pytest.raises(Exception, match="runs no SQL"):
        sessions["ann"].for_audience("public").sql("SELECT 1")
