"""Benchmark vru's Gi*, Local Moran and Emerging Hot Spot Analysis against PySAL esda (same run).

Run: ``PYTHONPATH=src .venv/bin/python bench/bench_hotspots.py``.  Prints timings and ratios.
Weights are built before timing for both libraries; only the statistic is timed.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from esda.getisord import G_Local
from esda.moran import Moran_Local
from libpysal.graph import Graph

from vru.analysis.emerging import emerging_hotspots
from vru.analysis.gistar import gi_star
from vru.analysis.moran import local_moran
from vru.analysis.weights import lattice_weights, without_self

warnings.simplefilter("ignore")


def clock(fn, repeat: int = 1) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def clustered_counts(side: int, rng: np.random.Generator) -> np.ndarray:
    """Poisson counts with a smooth random intensity surface (hot and cold areas)."""
    yy, xx = np.mgrid[0:side, 0:side] / side
    lam = 1.0 + 0.8 * np.sin(7 * xx) * np.cos(5 * yy) + 0.5 * np.sin(17 * xx * yy)
    return rng.poisson(np.clip(lam, 0.05, None) * 2).astype(float).ravel()


def main() -> None:
    rng = np.random.default_rng(0)

    side = 200  # 40,000 cells, queen contiguity, 999 permutations
    y = clustered_counts(side, rng)
    w = lattice_weights(side, side)
    g = Graph.from_sparse(without_self(w))
    ours, r_ours = clock(lambda: gi_star(y, w, permutations=999, seed=1), repeat=3)
    theirs, r_theirs = clock(
        lambda: G_Local(y, g, transform="B", star=True, permutations=999, seed=1)
    )
    same = np.abs(r_ours.z - r_theirs.Zs).max()
    print(
        f"Gi* 40k cells, 999 permutations: vru {ours:.3f} s, esda {theirs:.3f} s, "
        f"ratio {theirs / ours:.1f}x (max |z diff| {same:.1e})"
    )

    ours, r_ours = clock(lambda: local_moran(y, w, permutations=999, seed=1), repeat=3)
    theirs, r_theirs = clock(
        lambda: Moran_Local(y, g, transformation="r", permutations=999, seed=1)
    )
    same = np.abs(r_ours.I - r_theirs.Is).max()
    print(
        f"Local Moran 40k cells, 999 permutations: vru {ours:.3f} s, esda {theirs:.3f} s, "
        f"ratio {theirs / ours:.1f}x (max |I diff| {same:.1e})"
    )

    side = 1000  # 1,000,000 cells, no permutations
    y = clustered_counts(side, rng)
    w = lattice_weights(side, side)
    g = Graph.from_sparse(without_self(w))
    ours, r_ours = clock(lambda: gi_star(y, w), repeat=3)
    theirs, r_theirs = clock(
        lambda: G_Local(y, g, transform="B", star=True, permutations=0), repeat=3
    )
    same = np.abs(r_ours.z - r_theirs.Zs).max()
    print(
        f"Gi* 1M cells, no permutations: vru {ours:.3f} s, esda {theirs:.3f} s, "
        f"ratio {theirs / ours:.1f}x (max |z diff| {same:.1e})"
    )

    side, steps = 316, 52  # ~100k locations × 52 weeks
    cube = rng.poisson(clustered_counts(side, rng)[:, None] * 0.5, (side * side, steps))
    w = lattice_weights(side, side)
    ours, res = clock(lambda: emerging_hotspots(cube.astype(float), w), repeat=1)
    kinds = np.unique(res.names, return_counts=True)
    print(
        f"Emerging hot spots {side * side} locations x {steps} steps: vru {ours:.3f} s "
        f"(no esda peer); patterns: " + ", ".join(f"{k} {c}" for k, c in zip(*kinds, strict=True))
    )


if __name__ == "__main__":
    main()
