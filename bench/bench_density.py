"""Benchmark vru's kernel density (binned FFT) against scipy's gaussian_kde and a naive sum.

Run: ``PYTHONPATH=src .venv/bin/python bench/bench_density.py``.  Prints timings, ratios and the
largest relative difference from the exact answer.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.stats import gaussian_kde

from vru.analysis.density import kernel_density


def clustered(n: int, side: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    centres = rng.uniform(0.1 * side, 0.9 * side, (40, 2))
    pts = centres[rng.integers(0, 40, n)] + rng.normal(0, side / 40, (n, 2))
    return pts[:, 0], pts[:, 1]


def main() -> None:
    rng = np.random.default_rng(0)
    side = 100_000.0
    x, y = clustered(1_000_000, side, rng)
    for kernel, bw in (("quartic", 1000.0), ("gaussian", 400.0)):
        kernel_density(x[:1000], y[:1000], 100.0, bandwidth=bw, kernel=kernel)  # warm-up
        t = time.perf_counter()
        g = kernel_density(x, y, 100.0, bandwidth=bw, kernel=kernel, extent=(0, 0, side, side))
        ours = time.perf_counter() - t
        print(
            f"{kernel} KDE, 1M points on {g.values.shape[0]}x{g.values.shape[1]} grid (FFT): "
            f"vru {ours:.3f} s; integral {g.integral():,.0f}"
        )

    # Peer comparison on a size the direct methods can handle: 20k points, 200×200 grid.
    xs, ys = clustered(20_000, 20_000.0, rng)
    ext, cell, h = (0.0, 0.0, 20_000.0, 20_000.0), 100.0, 300.0
    t = time.perf_counter()
    ours_g = kernel_density(
        xs, ys, cell, bandwidth=h, kernel="gaussian", extent=ext, area_unit="m2"
    )
    ours = time.perf_counter() - t
    cx = (np.arange(200) + 0.5) * cell
    gx, gy = np.meshgrid(cx, cx)
    data = np.vstack([xs, ys])
    # scipy scales the data covariance; pick the factor giving sd ≈ h (the data are near isotropic)
    kde = gaussian_kde(data, bw_method=h / np.sqrt(np.cov(data).diagonal().mean()))
    t = time.perf_counter()
    kde(np.vstack([gx.ravel(), gy.ravel()]))
    theirs = time.perf_counter() - t
    exact = kernel_density(
        xs, ys, cell, bandwidth=h, kernel="gaussian", extent=ext, area_unit="m2", method="exact"
    )
    err = np.abs(ours_g.values - exact.values).max() / exact.values.max()
    print(
        f"gaussian KDE 20k points, 200x200 grid: vru FFT {ours:.4f} s, scipy gaussian_kde "
        f"{theirs:.3f} s, ratio {theirs / ours:.0f}x; vru FFT vs exact max rel diff {err:.1e}"
    )

    t = time.perf_counter()
    q = kernel_density(xs, ys, cell, bandwidth=3 * h, kernel="quartic", extent=ext, area_unit="m2")
    ours = time.perf_counter() - t
    t = time.perf_counter()
    naive = np.zeros(gx.size)
    cxy = np.column_stack([gx.ravel(), gy.ravel()])
    for c0 in range(0, xs.size, 500):  # naive numpy sum over all point–cell pairs
        d2 = ((cxy[:, None, :] - np.column_stack([xs, ys])[None, c0 : c0 + 500, :]) ** 2).sum(2)
        u = np.clip(1 - d2 / (3 * h) ** 2, 0, None)
        naive += (3 / (np.pi * (3 * h) ** 2) * u * u).sum(axis=1)
    theirs = time.perf_counter() - t
    err = np.abs(q.values.ravel() - naive).max() / naive.max()
    print(
        f"quartic KDE 20k points, 200x200 grid: vru FFT {ours:.4f} s, naive numpy sum "
        f"{theirs:.2f} s, ratio {theirs / ours:.0f}x, max rel diff {err:.1e}"
    )


if __name__ == "__main__":
    main()
