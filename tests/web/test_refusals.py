"""A signed-in attacker: a task-force member tries to reach another area through every page
and API call; a viewer tries for exact small counts; roles try what their role may not."""

from __future__ import annotations

import pytest
from tests.service.world import AREA_A, AREA_B, OUTSIDE

#: every route that takes the page filter (with area=B each must be refused)
FILTERED = ("/api/map?layer=rate", "/api/map?layer=cells&cell=h3:8",
            "/api/map?layer=gistar&cell=lsoa", "/api/times", "/api/near-repeats",
            "/api/overview", "/api/boundaries/lsoa", "/api/boundaries/area", "/api/places",
            "/api/export?format=csv", "/api/export?format=geojson",
            "/api/place?id=E01028513", "/api/counts?table=incidents&by=lsoa",
            "/", "/map", "/times", "/near-repeats", "/areas/B")


@pytest.mark.parametrize("path", FILTERED)
def test_a_task_force_member_cannot_ask_for_another_area(clients, web_world, path):
    c = clients["tia"]
    sep = "&" if "?" in path else "?"
    url = path if path == "/areas/B" else f"{path}{sep}area=B"
    r = c.get(url)
    assert r.status_code == 403, (url, r.status_code, r.text[:200])
    assert "own area only" in r.text
    last = [e for e in web_world.entries("tia") if e.decision == "deny"][-1]
    assert "own area only" in last.reason  # refused at the policy point, and audited


def test_without_an_area_a_task_force_member_gets_their_own_only(clients):
    c = clients["tia"]
    rows = c.get("/api/map?layer=rate").json()["rows"]
    assert {r["id"] for r in rows} == set(AREA_A)
    feats = c.get("/api/boundaries/lsoa").json()["features"]
    assert {f["id"] for f in feats} == set(AREA_A)
    assert [a["name"] for a in c.get("/api/areas").json()] == ["A"]
    got = c.get("/api/counts?table=incidents&by=lsoa").json()["rows"]
    assert {r["lsoa"] for r in got} <= set(AREA_A)
    # a place of area B asked for by id holds nothing she may see
    other = c.get(f"/api/place?id={next(iter(AREA_B))}").json()
    assert other["months"] == [] and other["total"] is None
    cells = c.get("/api/map?layer=cells&cell=grid:500").json()
    assert cells["rows"] and "B" not in cells["title"]
    page = c.get("/map")
    assert page.status_code == 200
    for code in (*AREA_B, *OUTSIDE):
        assert code not in page.text
    # the filter form offers her own area only
    assert 'value="B"' not in page.text and 'value="A"' in page.text


def test_a_viewer_sees_stars_never_exact_small_counts(clients, web_world):
    c = clients["vic"]
    body = c.get("/api/map?layer=rate").json()
    assert "perturbed" in body["note"]
    truth = web_world.incidents.groupby("lsoa11cd").size().to_dict()
    rows = {r["id"]: r for r in body["rows"]}
    stars = [r for r in rows.values() if r["n_shown"] == "*"]
    assert stars and all(r["suppressed"] and r["value"] is None for r in stars)
    # cell-key perturbation: nearby multiples of 3, never the true small counts all at once
    shown = {k: r["n"] for k, r in rows.items() if k in truth and r["n"] is not None}
    assert all(v % 3 == 0 for v in shown.values())
    assert any(shown.get(k) != v for k, v in truth.items() if v < 10)
    page = c.get("/map")
    assert "<td class=\"num\">*</td>" in page.text and "perturbed" in page.text


def test_a_task_force_member_sees_stars_for_counts_one_to_seven(clients, web_world):
    body = clients["tia"].get("/api/map?layer=rate").json()
    rows = {r["id"]: r for r in body["rows"]}
    for code, n in AREA_A.items():
        if 1 <= n <= 7:
            assert rows[code]["n_shown"] == "*" and rows[code]["suppressed"]
        else:
            assert rows[code]["n"] % 5 == 0
    assert "shown as *" in body["note"]


@pytest.mark.parametrize(("user", "path", "words"), [
    ("vic", "/api/map?layer=gistar&cell=lsoa", "may not analyse"),
    ("vic", "/api/times", "may not analyse"),
    ("vic", "/api/map?layer=density", "may not analyse"),
    ("tia", "/api/map?layer=density", "record"),
    ("eve", "/api/export?format=csv", "may not export"),
    ("tia", "/api/audit", "audit log is read by"),
    ("ann", "/api/agreements", "admins"),
    ("pat", "/api/map?layer=rate", "own datasets only"),
])
def test_roles_are_refused_what_their_role_may_not(clients, user, path, words):
    r = clients[user].get(path)
    assert r.status_code == 403, (user, path, r.status_code, r.text[:200])
    assert words in r.json()["detail"]


def test_restricted_roles_never_reach_sql_or_records(clients):
    for user in ("tia", "vic", "eve"):
        data = clients[user].get("/api/data").json()
        assert "denied" in data["ingest_log"] and "denied" in data["quarantine"]
    paths = {p for p in clients["ann"].get("/openapi.json").json()["paths"]}
    assert not any("sql" in p for p in paths)


def test_bad_requests_are_400_with_what_to_do(clients):
    c = clients["ann"]
    for url, words in (("/api/map?layer=nope", "choose one of"),
                       ("/api/map?from=2021-13", "YYYY-MM"),
                       ("/api/map?layer=cells&cell=grid:7", "grid:"),
                       ("/api/map?from=2021-05&to=2021-01", "ends before"),
                       ("/api/counts?table=incidents&by=colour", "no dimension"),
                       ("/api/place?id=';DROP", "LSOA code"),
                       ("/api/boundaries/planet", "choose one of")):
        r = c.get(url)
        assert r.status_code == 400, (url, r.status_code)
        assert words in r.json()["detail"], (url, r.json())
