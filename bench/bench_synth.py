"""Benchmark vru.synth.generate: wall time per step and crimes generated per second.

Peer measured in the same run: writing one year's force extract with pandas ``to_csv``
against the pyarrow CSV writer the generator uses.

    PYTHONPATH=src .venv/bin/python bench/bench_synth.py --scale 1.0
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyarrow.csv as pacsv

from vru.synth import generate
from vru.synth.places import load_geography


def main() -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", default="2015-01")
    ap.add_argument("--end", default="2021-12")
    args = ap.parse_args()

    t0 = time.perf_counter()
    load_geography()
    t_geo = time.perf_counter() - t0

    marks: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "world"
        t1 = time.perf_counter()
        m = generate(out, seed=args.seed, start=args.start, end=args.end, scale=args.scale,
                     progress=lambda step, done, total: marks.append(
                         (step, time.perf_counter())))
        total = time.perf_counter() - t1
        crimes = sum(f["rows"] for f in m["files"]["force_extract"])
        ed = sum(f["rows"] for f in m["files"]["istv"])
        partner_rows = sum(f["rows"] for f in m["files"]["partners"])
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())

        print(f"scale {args.scale}, seed {args.seed}, {args.start}..{args.end}")
        print(f"geography load (cold, cached afterwards): {t_geo:6.2f} s")
        prev = t1
        for step, t in marks:
            print(f"  {step:<14} {t - prev:6.2f} s")
            prev = t
        print(f"generate total: {total:6.2f} s")
        print(f"crimes: {crimes:,} rows -> {crimes / total:,.0f} crimes/s end to end")
        print(f"ED attendances: {ed:,}; partner records: {partner_rows:,}")
        print(f"bytes written: {size / 1e6:,.1f} MB")

        # Peer: the same year written by pandas.
        path = m.files("force_extract")[len(m.files("force_extract")) // 2]
        table = pacsv.read_csv(path)
        t2 = time.perf_counter()
        pacsv.write_csv(table, Path(tmp) / "arrow.csv")
        t_arrow = time.perf_counter() - t2
        frame = table.to_pandas()
        t3 = time.perf_counter()
        frame.to_csv(Path(tmp) / "pandas.csv", index=False)
        t_pandas = time.perf_counter() - t3
        print(f"write one year ({table.num_rows:,} rows): pyarrow {t_arrow:.2f} s, "
              f"pandas {t_pandas:.2f} s, ratio pandas/pyarrow {t_pandas / t_arrow:.1f}x")


if __name__ == "__main__":
    main()
