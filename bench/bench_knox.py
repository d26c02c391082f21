"""Benchmark vru's Knox near-repeat table against pointpats' Knox (same run).

Run: ``PYTHONPATH=src .venv/bin/python bench/bench_knox.py``.  Locations are real Thames Valley
police.uk points (all crime types, four shipped months, jittered by 30 m); dates are synthetic
whole days over a year because police.uk gives months only.  vru computes a 5 × 4 banded table
(plus same-location and open-ended bands) with 999 permutations; pointpats' ``Knox`` tests a
single (distance, time) threshold per call, also with 999 permutations.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from pyproj import Transformer

from vru.analysis.near_repeat import knox_test
from vru.data import police_uk_months

S_EDGES = [0, 100, 200, 300, 400, 500]
T_EDGES = [0, 7, 14, 21, 28]


def events(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frames = [pd.read_csv(p, encoding="utf-8-sig") for p in police_uk_months()]
    df = pd.concat(frames).dropna(subset=["Longitude", "Latitude"])
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    e, nn = to_bng.transform(df["Longitude"].to_numpy(), df["Latitude"].to_numpy())
    idx = rng.integers(0, e.size, n)
    return (e[idx] + rng.normal(0, 30, n), nn[idx] + rng.normal(0, 30, n), rng.integers(0, 365, n))


def main() -> None:
    try:
        from pointpats.spacetime import Knox
    except ImportError:  # pragma: no cover - optional peer
        Knox = None
        print("pointpats not installed: no peer timing")
    for n in (12_000, 50_000):
        rng = np.random.default_rng(n)
        x, y, t = events(n, rng)
        start = time.perf_counter()
        res = knox_test(x, y, t, S_EDGES, T_EDGES, permutations=999, seed=1)
        ours = time.perf_counter() - start
        cell = res.table("ratio").iloc[:3, :2]
        print(
            f"Knox {n} events, 5x4 bands (+same location, open bands), 999 permutations: "
            f"vru {ours:.2f} s"
        )
        print(cell.round(3).to_string())
        if Knox is not None and n == 12_000:
            np.random.seed(1)
            start = time.perf_counter()
            pk = Knox(
                np.column_stack([x, y]),
                t[:, None].astype(float),
                delta=100,
                tau=7,
                permutations=999,
            )
            theirs = time.perf_counter() - start
            cells = (len(res.spatial_labels)) * len(res.temporal_labels)
            print(
                f"pointpats Knox, ONE threshold (<=100 m, <=7 d), 999 permutations: "
                f"{theirs:.2f} s; vru's whole {cells}-cell table is {theirs / ours:.1f}x "
                f"faster than that single cell; pointpats space-time pairs {pk.statistic_}"
            )


if __name__ == "__main__":
    main()
