"""Benchmark: aggregate 10 million events to 500 m cells x weeks in DuckDB over a Delta table.

Builds a synthetic ``incidents``-shaped Delta table (the columns the aggregation reads) in a
temporary lake, then times :func:`vru.analysis.aggregate.aggregate` and reports wall time and
peak resident memory (target: <= 5 s, < 2 GB).  Run: ``.venv/bin/python bench/bench_aggregate.py``.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from deltalake import write_deltalake

from vru.analysis.aggregate import aggregate, study_area
from vru.lake.store import Store

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
CATS = np.array(["Violence and sexual offences", "Burglary", "Shoplifting", "Other theft"])


def build(home: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    lsoa = study_area("lsoa").lsoa
    x0, y0, x1, y1 = lsoa.total_bounds
    chunk = 2_000_000
    base = np.datetime64("2017-01-01T00:00", "m").astype(np.int64)
    for i in range(0, n, chunk):
        m = min(chunk, n - i)
        minutes = base + rng.integers(0, 4 * 365 * 24 * 60, m)
        t = minutes.astype("datetime64[m]").astype("datetime64[us]")
        month = np.datetime_as_string(t.astype("datetime64[M]"))
        tab = pa.table({
            "source": pa.array(np.full(m, "force_extract")),
            "source_ref": pa.array((np.arange(i, i + m)).astype(str)),
            "month": pa.array(month),
            "occurred_from": pa.array(t, pa.timestamp("us")),
            "occurred_to": pa.nulls(m, pa.timestamp("us")),
            "category": pa.array(CATS[rng.integers(0, len(CATS), m)]),
            "offence_code": pa.nulls(m, pa.string()),
            "offence_group": pa.nulls(m, pa.string()),
            "easting": pa.array(np.round(rng.uniform(x0, x1, m))),
            "northing": pa.array(np.round(rng.uniform(y0, y1, m))),
            "lon": pa.nulls(m, pa.float64()),
            "lat": pa.nulls(m, pa.float64()),
            "lsoa11cd": pa.nulls(m, pa.string()),
        })
        write_deltalake(str(Store(home).path("incidents")), tab, mode="append")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        t0 = time.perf_counter()
        build(home, N)
        print(f"built {N:,} rows in {time.perf_counter() - t0:.1f} s")
        study_area("grid:500")  # boundaries and the study area are cached, not timed
        for label, kwargs in (("all events", {}),
                              ("violence only", {"category": "Violence and sexual offences"})):
            t0 = time.perf_counter()
            c = aggregate(home, "grid:500", "week", **kwargs)
            dt = time.perf_counter() - t0
            print(f"{label}: {c.events:,} events -> {c.n.shape[0]:,} cells x {c.n.shape[1]} "
                  f"weeks in {dt:.2f} s (outside study cells: {c.outside:,})")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak resident memory: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
