"""Mann–Kendall trend test with tie correction, vectorised over many series (rows).

For a series ``x_1 … x_n``::

    S      = Σ_{i<j} sign(x_j − x_i)
    var(S) = [n(n−1)(2n+5) − Σ_g t_g(t_g−1)(2t_g+5)] / 18     (t_g: size of tie group g)
    Z      = (S − 1)/√var(S) if S > 0,  (S + 1)/√var(S) if S < 0,  0 if S = 0
    p      = 2·(1 − Φ(|Z|))                                       (two-sided)
    tau    = S / (n(n−1)/2)                                       (Kendall's tau-a)

A series with no variation (var(S) = 0) gets Z = 0 and p = 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

__all__ = ["MannKendallResult", "mann_kendall"]


@dataclass(frozen=True)
class MannKendallResult:
    """Mann–Kendall results, one entry per series."""

    s: np.ndarray  #: Kendall's S
    var_s: np.ndarray  #: variance of S with tie correction
    z: np.ndarray  #: normal score (continuity-corrected unless asked otherwise)
    p: np.ndarray  #: two-sided p-value
    tau: np.ndarray  #: Kendall's tau-a = S / (n(n−1)/2)
    n: int  #: series length

    def trend(self, alpha: float = 0.05) -> np.ndarray:
        """+1 significant increase, −1 significant decrease, 0 no significant trend."""
        return np.where(self.p <= alpha, np.sign(self.s), 0).astype(np.int8)


def mann_kendall(x: ArrayLike, continuity: bool = True) -> MannKendallResult:
    """Mann–Kendall trend test on each row of ``x`` (rows = locations, columns = time steps).

    Parameters
    ----------
    x : array_like, shape (m, n) or (n,)
        Series in time order along the last axis.  No NaN allowed.
    continuity : bool, default True
        Apply the continuity correction (±1) to ``Z``.

    Returns
    -------
    MannKendallResult
        Arrays of shape ``(m,)`` (or scalars' 0-d arrays for a single series).
    """
    a = np.asarray(x, dtype=float)
    single = a.ndim == 1
    a = np.atleast_2d(a)
    if a.ndim != 2:
        raise ValueError(f"expected a 1-D or 2-D array, got shape {a.shape}")
    m, n = a.shape
    if n < 3:
        raise ValueError(f"Mann–Kendall needs at least 3 time steps, got {n}")
    if np.isnan(a).any():
        row = int(np.flatnonzero(np.isnan(a).any(axis=1))[0])
        raise ValueError(f"series contain NaN (first in row {row})")
    s = np.zeros(m)
    for lag in range(1, n):
        s += np.sign(a[:, lag:] - a[:, :-lag]).sum(axis=1)
    # tie groups: runs of equal values in each sorted row
    srt = np.sort(a, axis=1)
    new_group = np.ones((m, n), dtype=bool)
    new_group[:, 1:] = srt[:, 1:] != srt[:, :-1]
    gid = np.cumsum(new_group, axis=1) - 1 + (np.arange(m) * n)[:, None]
    t = np.bincount(gid.ravel(), minlength=m * n).reshape(m, n).astype(float)
    tie_term = (t * (t - 1) * (2 * t + 5)).sum(axis=1)
    var_s = (n * (n - 1) * (2 * n + 5) - tie_term) / 18.0
    corr = np.sign(s) if continuity else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(var_s > 0, (s - corr) / np.sqrt(var_s), 0.0)
    z = np.where(s == 0, 0.0, z)
    p = 2.0 * special.ndtr(-np.abs(z))
    tau = s / (n * (n - 1) / 2.0)
    if single:
        s, var_s, z, p, tau = (v[0] for v in (s, var_s, z, p, tau))
    return MannKendallResult(s=s, var_s=var_s, z=z, p=p, tau=tau, n=n)
