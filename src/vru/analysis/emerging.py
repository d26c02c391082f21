"""Emerging Hot Spot Analysis (Esri's space-time Gi* + Mann–Kendall categories) on a count cube.

Method, following Esri's "How Emerging Hot Spot Analysis works":

1. **Space-time Gi*.**  The cube ``counts[location, time]`` is one set of ``n = L·T`` bins.  The
   neighbourhood of bin ``(i, t)`` is every bin ``(j, s)`` with ``w_ij = 1`` (spatial neighbours
   *and* ``i`` itself) and ``t − N ≤ s ≤ t`` (``N`` = ``time_window``, default 1: the current and
   previous step).  Gi* is computed with the cube-wide mean and population standard deviation
   (:mod:`vru.analysis.gistar`'s formula), p is two-sided, and bins are classed −3…+3 with the
   FDR correction applied over all bins (:mod:`vru.analysis.fdr`).  A bin is a *significant hot
   spot* when its class is > 0 (at least 90 % confidence) and a cold spot when < 0.
2. **Trend.**  Mann–Kendall on each location's series of Gi* z-scores; a trend is significant
   when its two-sided p ≤ ``trend_alpha`` (default 0.05; Esri's page says only "statistically
   significant").
3. **Categories** (hot; cold mirrors them), with "90 %" meaning ``hot steps ≥ 0.9·T``:

   * New — hot in the final step and never hot before.
   * Consecutive — a single uninterrupted run of ≥ 2 hot steps ending at the final step, never hot
     before that run, and hot in < 90 % of steps.
   * Intensifying — hot in ≥ 90 % of steps including the final one, significant upward trend.
   * Persistent — hot in ≥ 90 % of steps including the final one, no significant trend.
   * Diminishing — hot in ≥ 90 % of steps including the final one, significant downward trend.
   * Oscillating — hot in the final step, < 90 % hot, and a cold spot in some earlier step.
   * Sporadic — hot in the final step, < 90 % hot (on-and-off), never a cold spot.
   * Historical — not hot in the final step but hot in ≥ 90 % of steps.
   * No Pattern Detected — none of the above.

   Where Esri's wording overlaps, the order above decides (New before Oscillating/Sporadic;
   Esri's Persistent text does not mention the final step, so a location that is ≥ 90 % hot but
   not hot at the end is Historical, as Esri's Historical text describes).  Esri requires at least
   ten time steps; this function accepts three or more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike
from scipy import special

from vru.analysis.fdr import confidence_bins
from vru.analysis.mann_kendall import MannKendallResult, mann_kendall

__all__ = ["PATTERNS", "EmergingResult", "classify_patterns", "emerging_hotspots", "space_time_gi"]

#: pattern code → Esri's name; cold spots are the negative codes.
PATTERNS: dict[int, str] = {
    0: "No Pattern Detected",
    1: "New Hot Spot",
    2: "Consecutive Hot Spot",
    3: "Intensifying Hot Spot",
    4: "Persistent Hot Spot",
    5: "Diminishing Hot Spot",
    6: "Sporadic Hot Spot",
    7: "Oscillating Hot Spot",
    8: "Historical Hot Spot",
    -1: "New Cold Spot",
    -2: "Consecutive Cold Spot",
    -3: "Intensifying Cold Spot",
    -4: "Persistent Cold Spot",
    -5: "Diminishing Cold Spot",
    -6: "Sporadic Cold Spot",
    -7: "Oscillating Cold Spot",
    -8: "Historical Cold Spot",
}


@dataclass(frozen=True)
class EmergingResult:
    """Emerging hot spot results for ``L`` locations and ``T`` time steps."""

    pattern: np.ndarray  #: (L,) pattern code, see :data:`PATTERNS`
    z: np.ndarray  #: (L, T) space-time Gi* z-scores
    p: np.ndarray  #: (L, T) two-sided p-values
    bins: np.ndarray  #: (L, T) Gi_Bin −3…+3 (FDR-corrected unless asked otherwise)
    trend: MannKendallResult  #: Mann–Kendall on each location's z series
    trend_alpha: float

    @property
    def names(self) -> np.ndarray:
        """Esri pattern name for each location."""
        return np.array([PATTERNS[int(c)] for c in self.pattern], dtype=object)

    def classes(self, i: int) -> str:
        """The location's series of bins, e.g. ``"0 0 +2 +3 +3"``."""
        return " ".join(f"{int(b):+d}" if b else "0" for b in self.bins[i])

    def explain(self, i: int) -> str:
        """Why location ``i`` got its pattern: its bins and its trend test."""
        b = self.bins[i]
        hot, cold = int((b > 0).sum()), int((b < 0).sum())
        t = self.trend
        direction = "increasing" if t.s[i] > 0 else "decreasing" if t.s[i] < 0 else "flat"
        signif = "significant" if t.p[i] <= self.trend_alpha else "not significant"
        final = f"{int(b[-1]):+d}" if b[-1] else "0"
        return (
            f"{PATTERNS[int(self.pattern[i])]}: bins {self.classes(i)} "
            f"(hot in {hot} of {b.size} steps, cold in {cold}; final step {final}); "
            f"Mann-Kendall on Gi* z: tau={t.tau[i]:.3f}, Z={t.z[i]:.2f}, p={t.p[i]:.4g} "
            f"({direction}, {signif} at {self.trend_alpha})"
        )

    def to_frame(self, with_series: bool = True) -> pd.DataFrame:
        """One row per location: pattern, counts of hot/cold steps, trend, and bin series."""
        df = pd.DataFrame(
            {
                "pattern_code": self.pattern,
                "pattern": self.names,
                "hot_steps": (self.bins > 0).sum(axis=1),
                "cold_steps": (self.bins < 0).sum(axis=1),
                "final_bin": self.bins[:, -1],
                "trend_tau": self.trend.tau,
                "trend_z": self.trend.z,
                "trend_p": self.trend.p,
            }
        )
        if with_series:
            df["bins"] = [self.classes(i) for i in range(self.pattern.size)]
        return df


def space_time_gi(
    counts: ArrayLike, w: sp.sparray | sp.spmatrix, time_window: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Space-time Gi* z-scores and two-sided p-values for every bin of a cube.

    Parameters
    ----------
    counts : array_like, shape (L, T)
        Counts (or values) per location and time step.
    w : sparse array, shape (L, L)
        Spatial weights including each location itself (``vru.analysis.weights``).
    time_window : int, default 1
        Number of previous time steps in each bin's neighbourhood.

    Returns
    -------
    (z, p) : tuple of numpy.ndarray, each (L, T)
    """
    c = np.asarray(counts, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"counts must be a (locations, time steps) array, got shape {c.shape}")
    if not np.isfinite(c).all():
        raise ValueError("counts contain NaN or infinity")
    n_loc, n_t = c.shape
    w = sp.csr_array(w)
    if w.shape != (n_loc, n_loc):
        raise ValueError(f"weights have shape {w.shape} for {n_loc} locations")
    if time_window < 0:
        raise ValueError("time_window must be ≥ 0")
    n = c.size
    mean, sd = c.mean(), c.std()
    if sd == 0:
        raise ValueError("every bin of the cube has the same value: Gi* is undefined")
    spatial = w @ c  # (L, T) spatial-neighbourhood sums at each step
    run = np.cumsum(spatial, axis=1)
    local = run.copy()
    local[:, time_window + 1 :] -= run[:, : n_t - time_window - 1]
    steps = np.minimum(np.arange(n_t) + 1, time_window + 1).astype(float)
    wsum = np.asarray(w.sum(axis=1)).ravel()[:, None] * steps[None, :]
    w2sum = np.asarray(w.multiply(w).sum(axis=1)).ravel()[:, None] * steps[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (local - mean * wsum) / (sd * np.sqrt((n * w2sum - wsum**2) / (n - 1)))
    p = 2.0 * special.ndtr(-np.abs(z))
    return z, p


def classify_patterns(
    bins: ArrayLike, trend: MannKendallResult, trend_alpha: float = 0.05
) -> np.ndarray:
    """Esri's emerging hot/cold spot pattern code per location from its bins and trend.

    Parameters
    ----------
    bins : array_like of int, shape (L, T)
        Gi_Bin classes per location and time step (> 0 hot, < 0 cold).
    trend : MannKendallResult
        Trend test of each location's Gi* z series.
    trend_alpha : float, default 0.05
        Significance level of the trend.

    Returns
    -------
    numpy.ndarray of int8, shape (L,)
    """
    b = np.asarray(bins)
    n_t = b.shape[1]
    up = (trend.p <= trend_alpha) & (trend.s > 0)
    down = (trend.p <= trend_alpha) & (trend.s < 0)
    out = np.zeros(b.shape[0], dtype=np.int8)
    # cold first, then hot: a location cannot be both at the final step, and Historical needs
    # the final step to be neither; resolving hot last lets hot win the rare ties in history.
    for sign, sig, opp, rising, falling in (
        (-1, b < 0, b > 0, down, up),
        (1, b > 0, b < 0, up, down),
    ):
        n_sig = sig.sum(axis=1)
        last = sig[:, -1]
        mostly = 10 * n_sig >= 9 * n_t
        tail = np.where(sig.all(axis=1), n_t, np.argmax(~sig[:, ::-1], axis=1))
        ever_opp = opp.any(axis=1)
        rules = [
            (1, last & (n_sig == 1)),
            (2, last & (tail >= 2) & (n_sig == tail) & ~mostly),
            (3, mostly & last & rising),
            (5, mostly & last & falling),
            (4, mostly & last & ~rising & ~falling),
            (7, last & ~mostly & ever_opp),
            (6, last & ~mostly & ~ever_opp),
            (8, mostly & ~last),
        ]
        assigned = np.zeros(b.shape[0], dtype=bool)
        for code, mask in rules:
            take = mask & ~assigned
            out[take] = sign * code
            assigned |= take
    return out


def emerging_hotspots(
    counts: ArrayLike,
    w: sp.sparray | sp.spmatrix,
    time_window: int = 1,
    trend_alpha: float = 0.05,
    fdr: bool = True,
) -> EmergingResult:
    """Emerging Hot Spot Analysis of a space-time cube.

    Parameters
    ----------
    counts : array_like, shape (L, T)
        Events per location and time step (time steps in order, oldest first).
    w : sparse array, shape (L, L)
        Spatial weights including each location itself.
    time_window : int, default 1
        Previous time steps included in each bin's neighbourhood (Esri's Neighborhood Time Step).
    trend_alpha : float, default 0.05
        Significance level of the Mann–Kendall trend.
    fdr : bool, default True
        FDR-correct the hot/cold bins over the whole cube, as Esri does.

    Returns
    -------
    EmergingResult
    """
    c = np.asarray(counts, dtype=float)
    if c.ndim != 2 or c.shape[1] < 3:
        raise ValueError(f"need a (locations, ≥ 3 time steps) cube, got shape {c.shape}")
    z, p = space_time_gi(c, w, time_window)
    bins = confidence_bins(z, p, fdr=fdr)
    trend = mann_kendall(np.nan_to_num(z), continuity=True)
    pattern = classify_patterns(bins, trend, trend_alpha)
    return EmergingResult(
        pattern=pattern, z=z, p=p, bins=bins, trend=trend, trend_alpha=trend_alpha
    )
