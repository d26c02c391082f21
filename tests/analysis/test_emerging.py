"""Emerging Hot Spot Analysis: planted space-time patterns must come out as Esri's categories."""

from __future__ import annotations

import numpy as np
import pytest

from vru.analysis.emerging import (
    PATTERNS,
    classify_patterns,
    emerging_hotspots,
    space_time_gi,
)
from vru.analysis.gistar import gi_star
from vru.analysis.mann_kendall import mann_kendall
from vru.analysis.weights import lattice_weights

SIDE, T = 24, 20


@pytest.fixture(scope="module")
def planted():
    """A 24×24 grid over 20 steps, background Poisson(8), with 3×3 blocks of planted series."""
    rng = np.random.default_rng(7)
    cube = rng.poisson(8, (SIDE, SIDE, T)).astype(float)
    t = np.arange(T)
    series = {
        "Persistent Hot Spot": ((2, 2), np.full(T, 22)),
        "Intensifying Hot Spot": ((2, 8), np.linspace(14, 40, T)),
        "Diminishing Hot Spot": ((2, 14), np.linspace(40, 16, T)),
        "New Hot Spot": ((2, 20), np.where(t == T - 1, 40, 8)),
        "Consecutive Hot Spot": ((8, 2), np.where(t >= T - 3, 30, 8)),
        "Sporadic Hot Spot": ((8, 8), np.where(np.isin(t, [3, 9, 14, T - 1]), 35, 8)),
        # hot early, cold (empty) in the middle, hot again at the end
        "Oscillating Hot Spot": (
            (8, 14),
            np.select([t < 3, (t >= 8) & (t < 14), t == T - 1], [30, 0, 35], 8),
        ),
        # hot throughout but quiet in the last two steps
        "Historical Hot Spot": ((8, 20), np.where(t < T - 2, 22, 8)),
        "Persistent Cold Spot": ((14, 2), np.zeros(T)),
        "No Pattern Detected": ((20, 20), np.full(T, 8)),
    }
    where = {}
    for name, ((r, c), s) in series.items():
        cube[r - 1 : r + 2, c - 1 : c + 2, :] = s[None, None, :] + rng.poisson(1, (3, 3, T))
        where[name] = r * SIDE + c
    result = emerging_hotspots(cube.reshape(SIDE * SIDE, T), lattice_weights(SIDE, SIDE))
    return result, where, cube.reshape(SIDE * SIDE, T)


@pytest.mark.parametrize(
    "name",
    [
        "Persistent Hot Spot",
        "Intensifying Hot Spot",
        "Diminishing Hot Spot",
        "New Hot Spot",
        "Consecutive Hot Spot",
        "Sporadic Hot Spot",
        "Oscillating Hot Spot",
        "Historical Hot Spot",
        "Persistent Cold Spot",
        "No Pattern Detected",
    ],
)
def test_planted_pattern_is_recovered(planted, name):
    result, where, _ = planted
    i = where[name]
    assert result.names[i] == name, result.explain(i)
    assert result.explain(i).startswith(name + ": bins ")


def test_space_time_gi_is_gi_star_on_the_unrolled_cube(planted):
    _, _, cube = planted
    z, p = space_time_gi(cube, lattice_weights(SIDE, SIDE), time_window=1)
    # Same statistic built by brute force: bins as cells, neighbours in space × {t-1, t}.
    n_loc = SIDE * SIDE
    w = lattice_weights(SIDE, SIDE).tocoo()
    rows, cols = [], []
    for t in range(T):
        for s in (t - 1, t):
            if s >= 0:
                rows.append(w.row * T + t)
                cols.append(w.col * T + s)
    import scipy.sparse as sp

    big = sp.csr_array(
        (np.ones(sum(r.size for r in rows)), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_loc * T, n_loc * T),
    )
    ref = gi_star(cube.ravel(), big)
    np.testing.assert_allclose(z.ravel(), ref.z, rtol=1e-10)
    np.testing.assert_allclose(p.ravel(), ref.p, rtol=1e-10, atol=1e-300)


def _trend(z_rows):
    return mann_kendall(np.asarray(z_rows, dtype=float))


def test_classification_rules_by_hand():
    n = 10
    bins = np.array(
        [
            [0] * 9 + [3],  # new
            [0] * 7 + [1, 2, 3],  # consecutive
            [2] * 10,  # persistent (flat trend below)
            [0, 2, 2, 2, 2, 2, 2, 2, 2, 2],  # 90 % hot, final hot: persistent
            [2] * 9 + [0],  # historical
            [0, 2, 0, 2, 0, 0, 2, 0, 0, 2],  # sporadic
            [0, -2, 0, 2, 0, 0, 0, 0, 0, 2],  # oscillating
            [0, 2, 2, 0, 0, 0, 0, 0, 2, 2],  # hot before the final run: sporadic, not consecutive
            [0] * 9 + [-3],  # new cold
            [-2] * 10,  # persistent cold
            [0] * 10,  # nothing
            [2] * 10,  # intensifying (rising z below)
            [-2] * 10,  # intensifying cold (falling z)
        ]
    )
    flat = np.tile([1.0, 2.0] * 5, (bins.shape[0], 1))
    z = flat.copy()
    z[11] = np.arange(n)
    z[12] = -np.arange(n)
    got = [PATTERNS[int(c)] for c in classify_patterns(bins, _trend(z))]
    assert got == [
        "New Hot Spot",
        "Consecutive Hot Spot",
        "Persistent Hot Spot",
        "Persistent Hot Spot",
        "Historical Hot Spot",
        "Sporadic Hot Spot",
        "Oscillating Hot Spot",
        "Sporadic Hot Spot",
        "New Cold Spot",
        "Persistent Cold Spot",
        "No Pattern Detected",
        "Intensifying Hot Spot",
        "Intensifying Cold Spot",
    ]


def test_frame_and_bad_cube(planted):
    result, where, _ = planted
    df = result.to_frame()
    assert len(df) == SIDE * SIDE
    assert df.loc[where["Consecutive Hot Spot"], "bins"].endswith("+3 +3 +3")
    with pytest.raises(ValueError, match="3 time steps"):
        emerging_hotspots(np.ones((4, 2)), lattice_weights(2, 2))
