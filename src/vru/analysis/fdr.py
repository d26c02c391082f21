"""Hot/cold spot confidence bins (Gi_Bin) as ArcGIS assigns them, with or without FDR correction.

ArcGIS's False Discovery Rate correction (Benjamini–Hochberg) for a confidence level with
significance ``α`` ranks the ``n`` p-values ``p₍₁₎ ≤ … ≤ p₍ₙ₎``, finds the largest ``k`` with
``p₍k₎ ≤ α·k/n`` and calls every cell with ``p ≤ p₍k₎`` significant at that level.  Bins are
``±3`` (99 %, α = 0.01), ``±2`` (95 %, α = 0.05), ``±1`` (90 %, α = 0.10) signed by ``z``, and
``0`` otherwise.  The z-scores and p-values themselves are left unadjusted, as ArcGIS does.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["LEVELS", "bin_labels", "confidence_bins", "fdr_critical_p"]

#: (bin magnitude, α) from weakest to strongest confidence.
LEVELS: tuple[tuple[int, float], ...] = ((1, 0.10), (2, 0.05), (3, 0.01))


def fdr_critical_p(p: ArrayLike, alpha: float) -> float:
    """Benjamini–Hochberg critical p-value: ``p₍k₎`` for the largest ``k`` with ``p₍k₎ ≤ α·k/n``.

    NaN p-values are ignored (and ``n`` counts only finite ones).  Returns ``-1.0`` when no
    p-value passes, so that ``p <= critical`` selects nothing.

    Parameters
    ----------
    p : array_like
        p-values.
    alpha : float
        Significance level, e.g. 0.05.
    """
    ps = np.sort(np.asarray(p, dtype=float).ravel())
    ps = ps[np.isfinite(ps)]
    n = ps.size
    if n == 0:
        return -1.0
    passing = np.flatnonzero(ps <= alpha * np.arange(1, n + 1) / n)
    return float(ps[passing[-1]]) if passing.size else -1.0


def confidence_bins(z: ArrayLike, p: ArrayLike, fdr: bool = True) -> np.ndarray:
    """Gi_Bin classes −3…+3 per cell.

    Parameters
    ----------
    z : array_like
        z-scores (give the sign: hot > 0, cold < 0).
    p : array_like
        Two-sided p-values aligned with ``z``.
    fdr : bool, default True
        Apply ArcGIS's FDR correction; ``False`` bins on the raw p (``p ≤ 0.10/0.05/0.01``).

    Returns
    -------
    numpy.ndarray of int8
    """
    zz = np.asarray(z, dtype=float)
    pp = np.asarray(p, dtype=float)
    if zz.shape != pp.shape:
        raise ValueError(f"z and p differ in shape ({zz.shape} vs {pp.shape})")
    level = np.zeros(pp.shape, dtype=np.int8)
    finite = np.isfinite(pp) & np.isfinite(zz)
    for magnitude, alpha in LEVELS:
        critical = fdr_critical_p(pp[finite], alpha) if fdr else alpha
        level[finite & (pp <= critical)] = magnitude
    return (level * np.sign(np.where(finite, zz, 0.0))).astype(np.int8)


_LABELS = {
    3: "Hot Spot - 99% Confidence",
    2: "Hot Spot - 95% Confidence",
    1: "Hot Spot - 90% Confidence",
    0: "Not Significant",
    -1: "Cold Spot - 90% Confidence",
    -2: "Cold Spot - 95% Confidence",
    -3: "Cold Spot - 99% Confidence",
}


def bin_labels(bins: ArrayLike) -> np.ndarray:
    """ArcGIS's wording for each bin (e.g. ``"Hot Spot - 95% Confidence"``)."""
    b = np.asarray(bins, dtype=int)
    return np.vectorize(_LABELS.__getitem__, otypes=[object])(b) if b.size else b.astype(object)
