"""Knox near-repeat test: a planted contagion is found, a Poisson control is not."""

from __future__ import annotations

import numpy as np
import pytest

from vru.analysis.near_repeat import MonthPrecisionError, knox_test

S_EDGES = [0, 200, 400, 600, 800, 1000]
T_EDGES = [0, 7, 14, 21, 28]


def _uniform_events(rng, n, side=10_000.0, days=365):
    return rng.uniform(0, side, n), rng.uniform(0, side, n), rng.integers(0, days, n)


def test_planted_near_repeats_are_detected():
    rng = np.random.default_rng(21)
    x, y, t = _uniform_events(rng, 1500)
    # half the parents get one offspring within 200 m and 0–6 days later
    parents = np.flatnonzero(rng.random(x.size) < 0.5)
    r = 200 * np.sqrt(rng.random(parents.size)) * 0.999
    a = rng.uniform(0, 2 * np.pi, parents.size)
    x = np.concatenate([x, x[parents] + r * np.cos(a)])
    y = np.concatenate([y, y[parents] + r * np.sin(a)])
    t = np.concatenate([t, t[parents] + rng.integers(0, 7, parents.size)])
    res = knox_test(x, y, t, S_EDGES, T_EDGES, same_location=False, permutations=999, seed=1)
    table = res.table("p")
    assert table.loc["[0, 200)", "[0, 7)"] < 0.01
    assert res.table("ratio").loc["[0, 200)", "[0, 7)"] > 2
    # beyond the planted range nothing stands out
    assert res.table("p").loc["[800, 1000)", "[21, 28)"] > 0.01
    assert res.spatial_labels[-1] == "≥ 1000" and res.temporal_labels[-1] == "≥ 28"


def test_poisson_control_has_no_significant_cell():
    rng = np.random.default_rng(5)
    x, y, t = _uniform_events(rng, 3000)
    res = knox_test(x, y, t, S_EDGES, T_EDGES, permutations=999, seed=2)
    cells = res.p.size
    assert (res.p > 0.05 / cells).all()  # Bonferroni
    # every pair is counted exactly once
    assert res.observed.sum() == 3000 * 2999 / 2
    np.testing.assert_allclose(res.expected.sum(axis=0), res.observed.sum(axis=0))


def test_counts_match_brute_force_with_manhattan_and_same_location():
    rng = np.random.default_rng(8)
    n = 300
    x = np.round(rng.uniform(0, 3000, n), -2)  # snapped: many coincident points
    y = np.round(rng.uniform(0, 3000, n), -2)
    t = rng.uniform(0, 60, n)  # fractional days: the non-lookup path
    res = knox_test(
        x, y, t, [0, 250, 500], [0, 3.5, 10], distance="manhattan", permutations=9, seed=0
    )
    ii, jj = np.triu_indices(n, 1)
    d = np.abs(x[ii] - x[jj]) + np.abs(y[ii] - y[jj])
    g = np.abs(t[ii] - t[jj])
    row = np.select([d == 0, d < 250, d < 500], [0, 1, 2], 3)
    col = np.select([g < 3.5, g < 10], [0, 1], 2)
    expect = np.zeros((4, 3))
    np.add.at(expect, (row, col), 1)
    np.testing.assert_array_equal(res.observed, expect)
    assert res.spatial_labels == ["same location", "(0, 250)", "[250, 500)", "≥ 500"]


def test_month_precision_is_refused():
    months = np.array(["2018-10-01", "2018-11-01", "2018-12-01"], dtype="datetime64[D]")
    with pytest.raises(MonthPrecisionError, match="month"):
        knox_test([0, 1, 2], [0, 1, 2], months, S_EDGES, T_EDGES)
    with pytest.raises(MonthPrecisionError, match="month"):
        knox_test([0, 1, 2], [0, 1, 2], [0, 31, 61], S_EDGES, T_EDGES, time_precision="month")
    ok = knox_test(
        [0, 1, 2], [0, 1, 2], months, S_EDGES, T_EDGES, time_precision="day", permutations=9
    )
    assert ok.observed.sum() == 3
