"""Mann–Kendall against scipy's Kendall tau (no ties) and a hand-worked tie example."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from vru.analysis.mann_kendall import mann_kendall


def test_matches_scipy_kendalltau_without_ties():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 25)) + np.linspace(0, 1, 25) * rng.normal(size=(40, 1))
    r = mann_kendall(x, continuity=False)
    for i in range(x.shape[0]):
        ref = stats.kendalltau(np.arange(25), x[i], method="asymptotic")
        assert r.tau[i] == pytest.approx(ref.statistic, abs=1e-12)
        assert r.p[i] == pytest.approx(ref.pvalue, rel=1e-9)
    assert (r.trend(0.05) != 0).any()


def test_tie_example_by_hand():
    r = mann_kendall(np.array([1, 2, 2, 3, 3, 3, 4]))
    # S: 6 + 4 + 4 + 1 + 1 + 1; ties: one pair (2·1·9) and one triple (3·2·11)
    assert r.s == 17
    assert r.var_s == pytest.approx((7 * 6 * 19 - 18 - 66) / 18)
    z = (17 - 1) / np.sqrt(714 / 18)
    assert r.z == pytest.approx(z)
    assert r.p == pytest.approx(2 * stats.norm.sf(z))
    assert r.tau == pytest.approx(17 / 21)


def test_flat_and_decreasing_series():
    r = mann_kendall(np.array([[5.0] * 6, [6, 5, 4, 3, 2, 1]]))
    assert r.z[0] == 0 and r.p[0] == 1
    assert r.s[1] == -15 and r.trend(0.05)[1] == -1


def test_refuses_short_or_nan_series():
    with pytest.raises(ValueError, match="3 time steps"):
        mann_kendall(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="row 1"):
        mann_kendall(np.array([[1.0, 2, 3], [1, np.nan, 3]]))
