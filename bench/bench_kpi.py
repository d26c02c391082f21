"""Benchmark: headline KPIs and the briefing on the demo lake (issue 10: kpi < 2 s, briefing
< 30 s).

Measured: `Session.kpis("2020")` in process (first call of a session, then warm), the whole
`vru kpi --period 2020 --format json` process (start-up included), the briefing in process
and as the whole `vru report briefing` process. The peer is the hand-made figure: the same
eleven measures' counts for 2020 and 2019 as one plain DuckDB GROUP BY over the same Parquet
files, with no governance, no tests and no release.

    python bench/bench_kpi.py [--home DIR] [--runs 5] [--briefing-runs 2]

Without --home a demo home is built in a temporary folder first (about a minute).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from vru.lake.store import Store
from vru.service import open_session

SRC = str(Path(__file__).resolve().parents[1] / "src")


CPU: list[float] = []  #: CPU seconds (user + system) of each CLI run, in order


def _cli(home: Path, *args: str) -> float:
    """Wall seconds of one whole CLI process (its CPU seconds appended to `CPU`: on a shared
    machine the CPU time says what an idle one would take)."""
    env = {**os.environ, "PYTHONPATH": SRC}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vru.cli", "--home", str(home), *args], check=True,
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


def _peer(home: Path) -> float:
    """The eleven measures' counts for two years, one GROUP BY, plain DuckDB."""
    store = Store(home)
    inc = store.table("incidents").file_uris()
    ed = store.table("ed_assaults").file_uris()
    con = duckdb.connect(config={"threads": 2})
    codes = {"knife": "offence_code IN ('1','2','3B','5D','8N','8P','8S','34A','34B','17A',"
                      "'17B','19C','19D','19E','19F','19G','19H','20A','20B') AND knife",
             "pr": "offence_code = '34B'", "br": "offence_code = '34A'",
             "vwi": "offence_code IN ('2','4.4','4.6','4.8','5D','5E','8N','8P','8S')",
             "vwo": "offence_code IN ('3A','3B','11A','13','36','104','105A','105B','106')",
             "hom": "offence_code IN ('1','4.1','4.2','4.10')",
             "pw": "offence_code IN ('10A','10B','10C','10D','81')",
             "sv": "offence_code IN ('1','4.1','4.2','4.10','2','4.4','4.6','4.8','5D','5E',"
                   "'8N','8P','8S','34A','34B') OR knife"}
    sel = ", ".join(f"count(*) FILTER (WHERE {c}) AS {k}" for k, c in codes.items())
    files = "[" + ", ".join(f"'{f}'" for f in inc) + "]"
    edf = "[" + ", ".join(f"'{f}'" for f in ed) + "]"
    t = time.perf_counter()
    con.sql(f"SELECT substr(month, 1, 4) y, {sel} FROM read_parquet({files}, "
            "hive_partitioning = true, union_by_name = true) WHERE source = 'force_extract' "
            "AND month BETWEEN '2015-01' AND '2020-12' GROUP BY 1").fetchall()
    con.sql(f"SELECT substr(month, 1, 4) y, count(*), count(*) FILTER (WHERE weapon = "
            f"'knife or sharp object') FROM read_parquet({edf}) WHERE month BETWEEN '2015-01' "
            "AND '2020-12' GROUP BY 1").fetchall()
    took = time.perf_counter() - t
    con.close()
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--briefing-runs", type=int, default=2)
    args = ap.parse_args()
    tmp = None
    home = args.home
    if home is None:
        tmp = tempfile.TemporaryDirectory(prefix="vru-bench-kpi-")
        home = Path(tmp.name) / "home"
        subprocess.run([sys.executable, "-m", "vru.cli", "--home", str(home), "demo",
                        "--no-serve"], check=True, env={**os.environ, "PYTHONPATH": SRC},
                       stdout=subprocess.DEVNULL)
    peer = statistics.median(_peer(home) for _ in range(args.runs))

    s = open_session(home)
    t = time.perf_counter()
    s.kpis("2020")
    first = time.perf_counter() - t
    warm = []
    for _ in range(args.runs):
        t = time.perf_counter()
        s.kpis("2020")
        warm.append(time.perf_counter() - t)
    t = time.perf_counter()
    s.kpis("2020", by="area")
    by_area = time.perf_counter() - t
    s.close()
    cli = [_cli(home, "kpi", "--period", "2020", "--format", "json") for _ in range(args.runs)]
    cli_cpu = list(CPU)
    CPU.clear()

    from vru.report.briefing import write_briefing

    out = Path(tempfile.mkdtemp(prefix="vru-bench-briefing-"))
    inproc, whole = [], []
    for _ in range(args.briefing_runs):
        s = open_session(home)
        t = time.perf_counter()
        write_briefing(s, "2020", out / "in")
        inproc.append(time.perf_counter() - t)
        s.close()
        whole.append(_cli(home, "report", "briefing", "--period", "2020", "--out",
                          str(out / "cli")))
    w = statistics.median(warm)
    print(f"peer (plain DuckDB, 11 measures x years, no governance): {peer:.3f} s")
    print(f"Session.kpis('2020') first call {first:.3f} s, warm median {w:.3f} s "
          f"(peer/vru {peer / w:.2f}); by area {by_area:.3f} s")
    print(f"vru kpi --period 2020 --format json, whole process: median "
          f"{statistics.median(cli):.2f} s wall (min {min(cli):.2f}), "
          f"{statistics.median(cli_cpu):.2f} s CPU")
    print(f"briefing in process: median {statistics.median(inproc):.1f} s; whole `vru report "
          f"briefing` process: median {statistics.median(whole):.1f} s wall (min "
          f"{min(whole):.1f}), {statistics.median(CPU):.1f} s CPU")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
