"""FDR binning against a hand-worked Benjamini–Hochberg example."""

from __future__ import annotations

import numpy as np

from vru.analysis.fdr import bin_labels, confidence_bins, fdr_critical_p

P = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
Z = np.array([4.0, 3.0, -2.1, 2.0, 2.0, -1.9, 1.8, 1.2, -1.2, 1.2])


def test_critical_p_by_hand():
    # α = 0.10: p(k) ≤ 0.01·k holds for k = 1, 2, 5, 6 (not 3, 4, 7…): largest k = 6
    assert fdr_critical_p(P, 0.10) == 0.06
    # α = 0.05: p(k) ≤ 0.005·k holds for k = 1, 2 only
    assert fdr_critical_p(P, 0.05) == 0.008
    # α = 0.01: only p(1) = 0.001 ≤ 0.001
    assert fdr_critical_p(P, 0.01) == 0.001
    assert fdr_critical_p(np.array([0.5, 0.9]), 0.05) == -1.0


def test_bins_with_and_without_fdr():
    fdr = confidence_bins(Z, P, fdr=True)
    assert fdr.tolist() == [3, 2, -1, 1, 1, -1, 0, 0, 0, 0]
    raw = confidence_bins(Z, P, fdr=False)
    assert raw.tolist() == [3, 3, -2, 2, 2, -1, 1, 0, 0, 0]
    # order of cells does not matter
    perm = np.random.default_rng(0).permutation(P.size)
    assert confidence_bins(Z[perm], P[perm]).tolist() == fdr[perm].tolist()


def test_nan_is_not_significant_and_labels():
    b = confidence_bins(np.array([3.0, np.nan]), np.array([0.001, np.nan]))
    assert b.tolist() == [3, 0]
    assert bin_labels(b).tolist() == ["Hot Spot - 99% Confidence", "Not Significant"]
