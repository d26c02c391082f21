"""Many browsers at once on a real server: every request is audited and the audit chain
stays whole; each reader still gets only what their own decision released."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from tests.service.world import AREA_A, PW

from vru.service import admin


def _client(base: str, user: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=60)
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    r = c.post("/login", data={"username": user, "password": PW, "csrf_token": token})
    assert r.status_code in (200, 303) and "vru_session" in c.cookies
    return c


def test_concurrent_requests_are_each_audited_and_the_chain_holds(live, web_world):
    users = ["ann", "tia", "eve", "vic"] * 2
    clients = [_client(live.url, u) for u in users]
    before = len(web_world.entries())
    paths = ["/api/map?layer=rate", "/api/boundaries/lsoa", "/api/overview"]

    def work(i: int) -> list[tuple[str, int, dict]]:
        c, out = clients[i], []
        for _ in range(5):
            for p in paths:
                r = c.get(p)
                out.append((p, r.status_code, r.json() if p == paths[0] else {}))
        return out

    with ThreadPoolExecutor(len(clients)) as pool:
        results = list(pool.map(work, range(len(clients))))
    for user, got in zip(users, results, strict=True):
        for path, status, body in got:
            assert status == 200, (user, path, status)
            if body and user == "tia":
                assert {r["id"] for r in body["rows"]} == set(AREA_A)
    requests = sum(len(g) for g in results)
    assert len(web_world.entries()) >= before + requests  # at least one entry a request
    check = admin.verify_audit(web_world.owner)
    assert check.ok, check
    for c in clients:
        c.close()


def test_a_view_asked_for_at_once_is_built_once():
    """Twenty requests for one uncached view wait for the first build (no stampede), and a
    build that fails is not kept: the next request builds again."""
    import threading
    import time

    from vru.service import views

    calls: list[int] = []

    def build() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "the view"

    key = ("test-view", time.time_ns())
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(views._cached_view(key, build)))
               for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert got == ["the view"] * 20 and len(calls) == 1
    assert key not in views._building

    def broken() -> str:
        raise RuntimeError("no data")

    other = ("test-view", time.time_ns())
    with pytest.raises(RuntimeError):
        views._cached_view(other, broken)
    assert other not in views._views and other not in views._building
    assert views._cached_view(other, lambda: "second try") == "second try"
