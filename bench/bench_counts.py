"""Benchmark: a task-force member's `counts` over the demo lake, in process.

What one governed request costs end to end (authorise + query + release + audit), with the
policy's own share measured apart, against the peer: the same GROUP BY in plain DuckDB over the
same Parquet files, with no governance at all.

    python bench/bench_counts.py [--home DIR] [--runs 200]

Without --home a demo home is built in a temporary folder first (about a minute).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from vru.governance.areas import list_areas
from vru.governance.identity import add_user, get_user
from vru.lake.events import Events
from vru.service import open_session
from vru.service.counts import counts

PASSWORD = "bench password, long enough"
REQUESTS = [  # (dimensions, filters): what a task force asks for
    (["month"], None),
    (["lsoa", "year"], None),
    (["category", "financial_year"], ["financial_year=2019/20|2020/21"]),
    (["hour", "weekday"], ["category=Violence and sexual offences"]),
]


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def _ms(values: list[float]) -> str:
    return (f"p50 {1000 * statistics.median(values):.1f} ms, "
            f"p95 {1000 * _pct(values, 0.95):.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path)
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    tmp = None
    home = args.home
    if home is None:
        tmp = tempfile.TemporaryDirectory(prefix="vru-bench-counts-")
        home = Path(tmp.name) / "home"
        subprocess.run([sys.executable, "-m", "vru.cli", "--home", str(home), "demo",
                        "--no-serve"], check=True, stdout=subprocess.DEVNULL)
    owner = open_session(home)
    area = list_areas(owner.db)[0]
    if get_user(owner.db, "bench_tfm") is None:
        add_user(owner.db, "bench_tfm", "task_force_member", area=area.name, password=PASSWORD)
    tfm = open_session(home, user="bench_tfm", password=PASSWORD)
    events_total = owner.sql("SELECT count(*) AS n FROM incidents").column(0)[0].as_py()
    print(f"home {home}: {events_total:,} incidents; task force area {area.name} "
          f"({len(area.lsoa11cd)} LSOAs); {args.runs} runs per request, after one warm-up")

    # the peer: the same grouping in plain DuckDB over the same files, no governance
    files = owner.store.table("incidents").file_uris()
    lsoas = sorted(area.lsoa11cd)
    peer: list[float] = []
    con = duckdb.connect(config={"threads": 2})
    listing = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    sql = (f"SELECT month, count(*) AS n FROM read_parquet({listing}, hive_partitioning = true,"
           " union_by_name = true) WHERE list_contains(?, lsoa11cd) GROUP BY ALL")
    con.execute(sql, [lsoas]).fetchall()
    for _ in range(args.runs):
        t = time.perf_counter()
        con.execute(sql, [lsoas]).fetchall()
        peer.append(time.perf_counter() - t)
    con.close()

    # the policy point alone: authorise + audit entry
    policy: list[float] = []
    for _ in range(args.runs):
        t = time.perf_counter()
        tfm.decide("read", "incidents", versions={"incidents": tfm.version("incidents")})
        policy.append(time.perf_counter() - t)

    # query + release without the policy point (the governed view of the decision)
    decision = tfm.decide("read", "incidents")
    ev: Events = tfm.events(decision, "incidents")
    bare: list[float] = []
    query = ("SELECT month, count(*) AS n, CAST(sum(record_key) % 256 AS BIGINT) AS k "
             "FROM e_src GROUP BY ALL")
    bind = time.perf_counter()
    with tfm.engine(ev) as c:  # the session binds the governed view once per table version
        c.sql(query).fetchall()
    bind = time.perf_counter() - bind
    for _ in range(args.runs):
        t = time.perf_counter()
        with tfm.engine(ev) as c:
            r = c.sql(query).to_arrow_table()
        tfm.release(r, decision, ["n"], keys={"n": "k"})
        bare.append(time.perf_counter() - t)

    print(f"peer (plain DuckDB, month counts of the area): {_ms(peer)}")
    print(f"policy point (authorise + audit):              {_ms(policy)}")
    print(f"binding the governed view (once a session):  {1000 * bind:.1f} ms")
    print(f"query + cell keys + release, no policy:       {_ms(bare)}")
    for by, where in REQUESTS:
        counts(tfm, "incidents", by, where)  # warm-up
        full: list[float] = []
        for _ in range(args.runs):
            t = time.perf_counter()
            counts(tfm, "incidents", by, where)
            full.append(time.perf_counter() - t)
        label = ",".join(by) + (f" where {' '.join(where)}" if where else "")
        print(f"counts --by {label}: {_ms(full)}; "
              f"{_pct(full, 0.95) / _pct(peer, 0.95):.1f}x the peer's p95")
    if tmp is not None:
        tmp.cleanup()
    print(f"cpu: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
