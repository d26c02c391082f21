"""Benchmark: aggregate 10 million events to 500 m cells x weeks in DuckDB over a Delta table.

Two synthetic ``incidents``-shaped Delta tables (the columns the aggregation reads), four years
of event times each:

* ``uniform`` — events spread uniformly over the force's bounding box: the worst case, with
  millions of occupied cell × week groups;
* ``clustered`` — events drawn from the real data.police.uk snap points of the shipped
  Thames Valley months, each point as often as it occurs there (town centres dominate), with
  its LSOA: the shape of real police.uk data.

Each aggregation runs in a fresh process, so its peak resident memory is its own (boundaries
and the study area are loaded and cached before the clock starts; their memory is included).
Target (issue 3): <= 5 s and < 2 GB.

Run: ``.venv/bin/python bench/bench_aggregate.py [N] [--home DIR]`` (``--home`` keeps the built
tables for later runs).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from deltalake import write_deltalake

CATS = np.array(["Violence and sexual offences", "Burglary", "Shoplifting", "Other theft"])
CHUNK = 2_000_000
RUNS = (("all events", {}), ("violence only", {"category": "Violence and sexual offences"}))


def _snap_points() -> pd.DataFrame:
    """Distinct police.uk snap points of the shipped months, with how often each occurs."""
    from vru.data import police_uk_months
    from vru.geo.crs import to_bng

    df = pd.concat([pd.read_csv(p, encoding="utf-8-sig", usecols=[
        "Longitude", "Latitude", "LSOA code", "Crime type"]) for p in police_uk_months()])
    df = df.dropna(subset=["Longitude", "Latitude"])
    pts = df.groupby(["Longitude", "Latitude", "LSOA code"]).size().rename("k").reset_index()
    e, n = to_bng(pts["Longitude"].to_numpy(), pts["Latitude"].to_numpy())
    return pts.assign(easting=np.round(e), northing=np.round(n))


def build(home: Path, n: int, kind: str, seed: int = 0) -> None:
    """Write ``n`` events of ``kind`` (uniform or clustered) to ``home``'s incidents table."""
    from vru.analysis.aggregate import study_area
    from vru.lake.store import Store

    rng = np.random.default_rng(seed)
    if kind == "uniform":
        x0, y0, x1, y1 = study_area("lsoa").lsoa.total_bounds
    else:
        pts = _snap_points()
        p = pts["k"].to_numpy(float) / pts["k"].sum()
    base = np.datetime64("2017-01-01T00:00", "m").astype(np.int64)
    for i in range(0, n, CHUNK):
        m = min(CHUNK, n - i)
        minutes = base + rng.integers(0, 4 * 365 * 24 * 60, m)
        t = minutes.astype("datetime64[m]").astype("datetime64[us]")
        if kind == "uniform":
            east, north = np.round(rng.uniform(x0, x1, m)), np.round(rng.uniform(y0, y1, m))
            lon = lat = pa.nulls(m, pa.float64())
            lsoa = pa.nulls(m, pa.string())
        else:
            j = rng.choice(len(pts), size=m, p=p)
            east, north = pts["easting"].to_numpy()[j], pts["northing"].to_numpy()[j]
            lon = pa.array(pts["Longitude"].to_numpy()[j])
            lat = pa.array(pts["Latitude"].to_numpy()[j])
            lsoa = pa.array(pts["LSOA code"].to_numpy(dtype=object)[j])
        tab = pa.table({
            "source": pa.array(np.full(m, "force_extract")),
            "source_ref": pa.array((np.arange(i, i + m)).astype(str)),
            "month": pa.array(np.datetime_as_string(t.astype("datetime64[M]"))),
            "occurred_from": pa.array(t, pa.timestamp("us")),
            "occurred_to": pa.nulls(m, pa.timestamp("us")),
            "category": pa.array(CATS[rng.integers(0, len(CATS), m)]),
            "offence_code": pa.nulls(m, pa.string()),
            "offence_group": pa.nulls(m, pa.string()),
            "easting": pa.array(east),
            "northing": pa.array(north),
            "lon": lon,
            "lat": lat,
            "lsoa11cd": lsoa,
        })
        write_deltalake(str(Store(home).path("incidents")), tab, mode="append")


def _peak_mb() -> float:
    """Peak resident memory of this process image (VmHWM; ru_maxrss survives fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(home: Path, cell: str, kwargs: dict) -> dict:
    """Time one aggregation in this process; the study area is built before the clock."""
    from vru.analysis.aggregate import aggregate, study_area

    study_area(cell)
    before = _peak_mb()
    t0 = time.perf_counter()
    c = aggregate(home, cell, "week", **kwargs)
    dt = time.perf_counter() - t0
    return {"seconds": dt, "events": c.events, "cells": c.n.shape[0], "bins": c.n.shape[1],
            "groups": getattr(c, "groups", -1), "outside": c.outside,
            "occupied": int((c.n > 0).sum()),
            "rss_before": before,
            "peak_rss": _peak_mb()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=10_000_000)
    ap.add_argument("--home", type=Path, help="keep the built tables here (reused if present)")
    ap.add_argument("--cell", default="grid:500")
    ap.add_argument("--run", nargs=2, metavar=("HOME", "KWARGS"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.run:
        print(json.dumps(run_one(Path(a.run[0]), a.cell, json.loads(a.run[1]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = a.home or Path(tmp)
        from vru.lake.store import Store

        for kind in ("uniform", "clustered"):
            home = root / f"{kind}-{a.n}"
            if not Store(home).exists("incidents"):
                t0 = time.perf_counter()
                build(home, a.n, kind)
                print(f"{kind}: built {a.n:,} rows in {time.perf_counter() - t0:.1f} s")
            for label, kwargs in RUNS:
                out = subprocess.run([sys.executable, __file__, "--cell", a.cell, "--run",
                                      str(home), json.dumps(kwargs)],
                                     check=True, capture_output=True, text=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{kind:9} {label:13}: {r['events']:>10,} events -> {r['cells']:,} cells x "
                      f"{r['bins']} weeks ({r['occupied']:,} occupied) in {r['seconds']:.2f} s; "
                      f"{r['groups']:,} groups left the engine; outside {r['outside']:,}; "
                      f"peak RSS {r['peak_rss']:,.0f} MB ({r['rss_before']:,.0f} MB before)")


if __name__ == "__main__":
    main()
