"""Many browsers at once on a real server: every request is audited and the audit chain
stays whole; each reader still gets only what their own decision released."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
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
