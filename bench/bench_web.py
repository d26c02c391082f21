"""Benchmark: the dashboard under 20 concurrent clients on loopback, and the first map drawn.

`vru serve` runs as its own process on the demo lake. 20 clients (each signed in, its own
cookie) ask for the map layer (LSOA rates) and the time matrix (hour x weekday with the
monthly trend) at once; every request is authorised, released and audited as ever. The peer
is the bare DuckDB query of the same shape over the same Parquet files (no governance, no
HTTP), alone and 20 at once. Then headless Chromium signs in and opens /map: the time from
navigation to the map's first full draw (MapLibre's first idle).

    python bench/bench_web.py [--home DIR] [--clients 20] [--requests 30]

Without --home a demo home is built in a temporary folder first (about a minute). The run
resets the home's demo sign-ins (`vru demo` prints new ones).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import httpx

from vru.service import admin, open_session
from vru.service.demologins import ensure_demo_logins

ENDPOINTS = {
    "map layer (LSOA rate, /api/map?layer=rate)": "/api/map?layer=rate",
    "time matrix (/api/times)": "/api/times",
}
PEERS = {
    "map layer (LSOA rate, /api/map?layer=rate)":
        "SELECT lsoa11cd, count(*) AS n FROM t GROUP BY 1",
    "time matrix (/api/times)":
        "SELECT isodow(occurred_from) AS d, hour(occurred_from) AS h, count(*) AS n FROM t "
        "WHERE occurred_from IS NOT NULL GROUP BY ALL",
}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def _row(name: str, ms: list[float], wall: float | None = None) -> str:
    rate = f" | {len(ms) / wall:,.0f}/s" if wall else " | "
    return (f"| {name} | {len(ms)} | {statistics.median(ms):.1f} | {_pct(ms, 0.95):.1f} | "
            f"{max(ms):.1f}{rate} |")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(home: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VRU_WEB")}
    proc = subprocess.Popen([sys.executable, "-m", "vru.cli", "--home", str(home), "serve",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("vru serve did not start") from None
            time.sleep(0.2)


def _sign_in(base: str, user: str, password: str) -> httpx.Client:
    import re

    c = httpx.Client(base_url=base, timeout=60)
    page = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = c.post("/login", data={"username": user, "password": password, "csrf_token": token})
    if r.status_code not in (200, 303) or "vru_session" not in c.cookies:
        raise SystemExit(f"sign-in as {user} failed: {r.status_code}")
    return c


def _load(clients: list[httpx.Client], path: str, requests: int) -> tuple[list[float], float]:
    """Every client asks ``path`` ``requests`` times, all clients at once."""
    times: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(len(clients))

    def worker(c: httpx.Client) -> None:
        start.wait()
        mine = []
        for _ in range(requests):
            t = time.perf_counter()
            r = c.get(path)
            mine.append((time.perf_counter() - t) * 1000)
            if r.status_code != 200:
                raise SystemExit(f"{path}: {r.status_code} {r.text[:200]}")
        with lock:
            times.extend(mine)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        list(pool.map(worker, clients))
    return times, time.perf_counter() - t0


def _peer(home: Path, sql: str, clients: int, requests: int) -> tuple[list[float], list[float]]:
    from deltalake import DeltaTable

    files = DeltaTable(str(home / "lake" / "incidents")).file_uris()
    con = duckdb.connect(config={"threads": 2})
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet({files!r}, "
                "hive_partitioning = true)")
    alone = []
    for _ in range(requests):
        t = time.perf_counter()
        con.sql(sql).fetchall()
        alone.append((time.perf_counter() - t) * 1000)
    together: list[float] = []
    lock = threading.Lock()

    def worker(_: int) -> None:
        cur = con.cursor()
        mine = []
        for _ in range(requests):
            t = time.perf_counter()
            cur.sql(sql).fetchall()
            mine.append((time.perf_counter() - t) * 1000)
        with lock:
            together.extend(mine)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    con.close()
    return alone, together


def _first_map(base: str, user: str, password: str, runs: int) -> list[float]:
    """ms from navigation to the map's first full draw, each run in a fresh browser context
    (nothing cached in the browser; the server warm)."""
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for _ in range(runs + 1):  # the first also builds the server's boundaries: reported

            ctx = b.new_context(viewport={"width": 1280, "height": 900})
            page = ctx.new_page()
            page.goto(f"{base}/login")
            page.fill("#username", user)
            page.fill("#password", password)
            page.click("form.login button[type=submit]")
            page.wait_for_url(f"{base}/")
            page.goto(f"{base}/map")
            page.wait_for_selector("body[data-map-ready='1']", state="attached", timeout=60000)
            out.append(float(page.evaluate("globalThis.__vruMapDrawn")))
            ctx.close()
        b.close()
    return out


def _decision_ms(home: Path, password: str) -> float:
    s = open_session(home, user="demo-analyst", password=password)
    v = s.version("incidents")
    ms = []
    for _ in range(50):
        t = time.perf_counter()
        s.decide("read", "incidents", versions={"incidents": v}, detail={"via": "bench"})
        ms.append((time.perf_counter() - t) * 1000)
    s.close()
    return statistics.median(ms)


WRK_LUA = """
-- each wrk thread (one connection) takes its own signed-in session cookie
local cookies = {}
for line in io.lines("%(cookies)s") do cookies[#cookies + 1] = line end
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("cookie", cookies[counter])
end
function init(args)
  wrk.headers["Cookie"] = "vru_session=" .. cookie
end
function done(summary, latency, requests)
  io.write(string.format("WRK %%.1f %%.1f %%.1f %%.0f %%d\\n", latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6),
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.timeout))
end
"""


def _wrk(base: str, clients: list[httpx.Client], path: str, seconds: int) -> str | None:
    """The same load from wrk (C, one connection per client with its own session), so the
    generator's own CPU does not crowd the server's: a row, or None without wrk."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        cookies = Path(d) / "cookies.txt"
        cookies.write_text("".join(c.cookies["vru_session"] + "\n" for c in clients))
        script = Path(d) / "sessions.lua"
        script.write_text(WRK_LUA % {"cookies": cookies})
        out = subprocess.run([wrk, f"-t{len(clients)}", f"-c{len(clients)}", f"-d{seconds}s",
                              "-s", str(script), base + path], capture_output=True, text=True,
                             check=True).stdout
    p50, p95, p99, rps, errors = out.split("WRK ")[-1].split()
    return f"p50 {p50} ms, p95 {p95} ms, p99 {p99} ms, {rps}/s, {errors} errors"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=30, help="requests per client")
    ap.add_argument("--browser-runs", type=int, default=5)
    ap.add_argument("--wrk-seconds", type=int, default=10,
                    help="length of each wrk run (when wrk is installed: apt-get install wrk)")
    args = ap.parse_args()
    tmp = None
    home = args.home
    if home is None:
        tmp = tempfile.TemporaryDirectory(prefix="vru-bench-web-")
        home = Path(tmp.name) / "home"
        subprocess.run([sys.executable, "-m", "vru.cli", "--home", str(home), "demo",
                        "--no-serve"], check=True, stdout=subprocess.DEVNULL)
    owner = open_session(home)
    logins, _ = ensure_demo_logins(owner)
    pw = {d.name: d.password for d in logins}
    owner.close()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(home, port)
    try:
        print(f"{args.clients} clients x {args.requests} requests each, loopback, "
              f"`vru serve` on {home}\n")
        print("| request | n | p50 ms | p95 ms | max ms | throughput |")
        print("|---|---|---|---|---|---|")
        wrk_rows: list[str] = []
        for user in ("demo-analyst", "demo-taskforce"):
            clients = [_sign_in(base, user, pw[user]) for _ in range(args.clients)]
            for name, path in ENDPOINTS.items():
                clients[0].get(path)  # the first ask builds the view; then it is served
                ms, wall = _load(clients, path, args.requests)
                print(_row(f"{name}, {user.split('-')[1]}", ms, wall))
                by_wrk = _wrk(base, clients, path, args.wrk_seconds)
                if by_wrk:
                    wrk_rows.append(f"{name}, {user.split('-')[1]}: {by_wrk}")
            for c in clients:
                c.close()
        for name, sql in PEERS.items():
            alone, together = _peer(home, sql, args.clients, args.requests)
            print(_row(f"peer: bare DuckDB, {name.split(' (')[0]}, one at a time", alone))
            print(_row(f"peer: bare DuckDB, {name.split(' (')[0]}, {args.clients} at once",
                       together))
        if wrk_rows:
            print(f"\nthe same with wrk ({args.clients} connections, each its own session, "
                  f"{args.wrk_seconds} s):")
            print("\n".join(f"- {r}" for r in wrk_rows))
        drawn = _first_map(base, "demo-analyst", pw["demo-analyst"], args.browser_runs)
        cold, warm = drawn[0], drawn[1:]
        print(f"\nfirst map drawn in headless Chromium, ms after navigation: {cold:.0f} the "
              f"first time the server draws it; then {len(warm)} fresh browser contexts: "
              f"median {statistics.median(warm):.0f}, max {max(warm):.0f}")
        owner = open_session(home)
        check = admin.verify_audit(owner)
        owner.close()
        print(f"audit chain after the load: {'ok' if check.ok else 'BROKEN'} "
              f"({getattr(check, 'entries', '?')} entries)")
        print(f"the per-request floor, in process: one audited decision "
              f"{_decision_ms(home, pw['demo-analyst']):.1f} ms (p50; the audit log's entry "
              "and its anchor's fsync)")
    finally:
        server.terminate()
        server.wait(10)
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
