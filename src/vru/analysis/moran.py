"""Local Moran's I (Anselin's LISA) with HH/LL/HL/LH labels and seeded permutation inference.

Definition (matching PySAL ``esda.Moran_Local`` with its default row-standardised weights)::

    z_i = (x_i − X̄) / S            (S the population standard deviation, ddof=0)
    I_i = (n − 1) · z_i · Σ_j w_ij z_j / Σ_k z_k²

with ``w`` row-standardised and the cell itself *excluded* — the opposite convention to Gi*.
Give this module the same binary "star" weights as Gi*; it drops the diagonal and standardises
rows itself (:func:`vru.analysis.weights.row_standardised`).

Analytical moments under total randomisation (Sokal, Oden & Thomson 1998, eqs. A3–A4, as esda's
``EI``/``VI``) give ``z_norm`` and a two-sided normal ``p_norm``.  Permutation inference holds
``z_i`` fixed and draws its neighbours' values from the other ``n − 1`` values (conditional
randomisation, shared draws as esda's crand); ``p_sim`` is folded as esda does:
``(min(#I_sim ≥ I_i, #I_sim ≤ I_i) + 1) / (R + 1)``.

Quadrants: HH (high value, high neighbours), LL, HL (high among low: outlier), LH; a value or lag
of exactly 0 counts as low, as in esda.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike
from scipy import special

from vru.analysis.gistar import conditional_neighbour_sums
from vru.analysis.weights import row_standardised, without_self

__all__ = ["LocalMoranResult", "local_moran"]


@dataclass(frozen=True)
class LocalMoranResult:
    """Local Moran's I per cell (arrays aligned with the input)."""

    I: np.ndarray  # noqa: E741 -- the statistic's conventional name
    z_values: np.ndarray  #: standardised values z_i
    lag: np.ndarray  #: spatial lag Σ_j w_ij z_j (row-standardised, self excluded)
    EI: np.ndarray  #: expectation under total randomisation
    VI: np.ndarray  #: variance under total randomisation
    z_norm: np.ndarray  #: (I − EI) / √VI
    p_norm: np.ndarray  #: two-sided normal p of z_norm
    quadrant: np.ndarray  #: "HH", "LH", "LL" or "HL"
    permutations: int = 0
    p_sim: np.ndarray | None = None  #: folded pseudo p (esda convention)

    def clusters(self, alpha: float = 0.05) -> np.ndarray:
        """Quadrant where significant at ``alpha`` (``p_sim`` if available, else ``p_norm``).

        Cells that are not significant are labelled ``"ns"``.
        """
        p = self.p_sim if self.p_sim is not None else self.p_norm
        return np.where(p <= alpha, self.quadrant, "ns")


def local_moran(
    x: ArrayLike,
    w: sp.sparray | sp.spmatrix,
    permutations: int = 999,
    seed: int | np.random.Generator | None = 0,
) -> LocalMoranResult:
    """Local Moran's I for every cell.

    Parameters
    ----------
    x : array_like, shape (n,)
        Value per cell.
    w : sparse array, shape (n, n)
        Binary neighbour structure (the diagonal, if present, is ignored).
    permutations : int, default 999
        Conditional permutations for ``p_sim``; 0 skips them.
    seed : int or numpy.random.Generator, default 0
        Seed for the permutations.

    Returns
    -------
    LocalMoranResult
    """
    v = np.asarray(x, dtype=float).ravel()
    n = v.size
    if n < 3:
        raise ValueError(f"Local Moran's I needs at least 3 cells, got {n}")
    if not np.isfinite(v).all():
        raise ValueError(
            f"values contain NaN or infinity (first at {int(np.flatnonzero(~np.isfinite(v))[0])})"
        )
    if v.std() == 0:
        raise ValueError("all values are equal: Local Moran's I is undefined (zero variance)")
    binary = without_self(w)
    if binary.shape != (n, n):
        raise ValueError(f"weights have shape {binary.shape} but there are {n} values")
    ws = row_standardised(binary)
    z = (v - v.mean()) / v.std()
    lag = ws @ z
    den = np.square(z).sum()
    I = (n - 1) * z * lag / den  # noqa: E741

    wi = np.asarray(ws.sum(axis=1)).ravel()
    wi2 = np.asarray(ws.multiply(ws).sum(axis=1)).ravel()
    m2 = den / n
    b2 = (np.power(z, 4).sum() / n) / m2**2
    EI = -wi / (n - 1)
    VI = wi2 * (n - b2) / (n - 1)
    VI += (wi**2 - wi2) * (2 * b2 - n) / ((n - 1) * (n - 2))
    VI -= EI**2
    with np.errstate(invalid="ignore", divide="ignore"):
        z_norm = (I - EI) / np.sqrt(VI)
    p_norm = 2.0 * special.ndtr(-np.abs(z_norm))

    high, high_lag = z > 0, lag > 0
    quadrant = np.where(high, np.where(high_lag, "HH", "HL"), np.where(high_lag, "LH", "LL"))

    if not permutations:
        return LocalMoranResult(I, z, lag, EI, VI, z_norm, p_norm, quadrant)
    if binary.nnz and not np.all(binary.data == 1.0):
        raise ValueError("permutation inference needs binary neighbour weights")
    k = np.diff(binary.indptr)
    observed = binary @ z  # unweighted neighbour sum: lag · k
    counts = conditional_neighbour_sums(z, k, observed, permutations, seed)
    # I_sim ≥ I_i  ⇔  z_i · S_sim ≥ z_i · S_obs: the direction flips where z_i < 0.
    ge = np.where(z > 0, counts.n_ge, np.where(z < 0, counts.n_le, permutations))
    le = np.where(z > 0, counts.n_le, np.where(z < 0, counts.n_ge, permutations))
    p_sim = (np.minimum(ge, le) + 1.0) / (permutations + 1.0)
    return LocalMoranResult(
        I, z, lag, EI, VI, z_norm, p_norm, quadrant, permutations=int(permutations), p_sim=p_sim
    )
