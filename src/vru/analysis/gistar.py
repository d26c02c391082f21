"""Getis–Ord Gi* hotspot statistic as ArcGIS defines it, with fast conditional permutation tests.

For a value ``x_j`` on each of ``n`` cells and weights ``w_ij`` that include the cell itself::

    z_i = (Σ_j w_ij x_j − X̄ Σ_j w_ij) / (S √[(n Σ_j w_ij² − (Σ_j w_ij)²) / (n − 1)])

with ``X̄`` the mean and ``S`` the *population* standard deviation (ddof=0) of all ``n`` values;
``p`` is the two-sided normal p-value.  This is ArcGIS's Hot Spot Analysis (Getis-Ord Gi*).

Differences from PySAL's ``esda.G_Local`` (the peer used in the tests):

* esda row-standardises by default (``transform='R'``); ArcGIS and this module use binary
  weights.  Pass ``transform='B'`` to esda to compare.
* esda's ``star=False`` default computes Gi (self excluded); ``star=True`` puts weight 1 on the
  diagonal.  Here the weights already contain the diagonal (see :mod:`vru.analysis.weights`).
* esda's ``p_norm`` is one-sided (``norm.sf(|z|)``); ``p`` here is two-sided (twice that), as
  ArcGIS reports.
* With ``transform='B', star=True`` esda's ``Zs`` equals ``z`` here (tests check 1e-9).

Conditional permutation inference (``permutations=R``): each cell keeps its own value and its
``k_i`` neighbours' values are drawn without replacement from the other ``n − 1`` values.  As in
esda's "crand", one matrix of random draws is shared by every cell (cells with ``k`` neighbours
use its first ``k`` columns), which makes the test vectorisable: for each draw row the sums are
tabulated once for every possible position of the held-out cell (see
:func:`conditional_neighbour_sums`).  The folded pseudo p-value is
``p_sim = (min(#sims ≥ obs, #sims ≤ obs) + 1) / (R + 1)`` — the share of permutations at least
as extreme *in the direction of the observation*, esda's convention; ``p_sim_two_sided =
min(1, 2·p_sim)`` is the one comparable with the two-sided normal ``p``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike
from scipy import special

__all__ = [
    "GiStarResult",
    "PermutationCounts",
    "conditional_neighbour_sums",
    "gi_star",
]


@dataclass(frozen=True)
class PermutationCounts:
    """Outcome of a conditional permutation test on neighbour sums (one entry per cell)."""

    n_ge: np.ndarray  #: permutations with simulated sum ≥ observed
    n_le: np.ndarray  #: permutations with simulated sum ≤ observed
    mean: np.ndarray  #: exact mean of the conditional permutation distribution of the sum
    sd: np.ndarray  #: its exact standard deviation (k draws without replacement)
    permutations: int

    def p_folded(self) -> np.ndarray:
        """``(min(n_ge, n_le) + 1) / (R + 1)``: pseudo p in the direction of the observation."""
        return (np.minimum(self.n_ge, self.n_le) + 1.0) / (self.permutations + 1.0)


@dataclass(frozen=True)
class GiStarResult:
    """Gi* per cell.  Arrays are aligned with the input values."""

    z: np.ndarray  #: Gi* z-score (ArcGIS GiZScore)
    p: np.ndarray  #: two-sided normal p-value (ArcGIS GiPValue)
    local_sum: np.ndarray  #: Σ_j w_ij x_j (self included)
    expected: np.ndarray  #: X̄ Σ_j w_ij, the local sum expected without clustering
    cardinality: np.ndarray  #: Σ_j w_ij (number of neighbours including self, binary weights)
    permutations: int = 0
    p_sim: np.ndarray | None = None  #: folded pseudo p (esda convention), if permutations > 0
    p_sim_two_sided: np.ndarray | None = None  #: min(1, 2·p_sim)
    z_sim: np.ndarray | None = None  #: z against the exact conditional permutation moments


def _as_values(x: ArrayLike) -> np.ndarray:
    v = np.asarray(x, dtype=float).ravel()
    if v.size < 3:
        raise ValueError(f"Gi* needs at least 3 cells, got {v.size}")
    if not np.isfinite(v).all():
        bad = int(np.flatnonzero(~np.isfinite(v))[0])
        raise ValueError(f"values contain NaN or infinity (first at position {bad})")
    return v


def _check_weights(w: sp.sparray | sp.spmatrix, n: int) -> sp.csr_array:
    w = sp.csr_array(w)
    if w.shape != (n, n):
        raise ValueError(f"weights have shape {w.shape} but there are {n} values")
    return w


def gi_star(
    x: ArrayLike,
    w: sp.sparray | sp.spmatrix,
    permutations: int = 0,
    seed: int | np.random.Generator | None = 0,
) -> GiStarResult:
    """Getis–Ord Gi* (ArcGIS definition) for every cell, optionally with permutation inference.

    Parameters
    ----------
    x : array_like, shape (n,)
        Value per cell (usually an event count).
    w : sparse array, shape (n, n)
        Weights *including* the cell itself, e.g. from :func:`vru.analysis.weights.grid_weights`.
        Any non-negative weights work for ``z``; permutation inference needs binary weights.
    permutations : int, default 0
        Number of conditional permutations (e.g. 999); 0 skips them.
    seed : int or numpy.random.Generator, default 0
        Seed for the permutations (results are reproducible).

    Returns
    -------
    GiStarResult
    """
    v = _as_values(x)
    n = v.size
    w = _check_weights(w, n)
    mean = v.mean()
    sd = v.std()  # population standard deviation, as ArcGIS
    if sd == 0:
        raise ValueError("all values are equal: Gi* is undefined (zero variance)")
    local = w @ v
    wsum = np.asarray(w.sum(axis=1)).ravel()
    w2sum = np.asarray(w.multiply(w).sum(axis=1)).ravel() if not _is_binary(w) else wsum
    expected = mean * wsum
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = sd * np.sqrt((n * w2sum - wsum**2) / (n - 1))
        z = (local - expected) / denom
    p = 2.0 * special.ndtr(-np.abs(z))
    if not permutations:
        return GiStarResult(z=z, p=p, local_sum=local, expected=expected, cardinality=wsum)
    if not _is_binary(w):
        raise ValueError("permutation inference needs binary weights (all stored weights 1)")
    diag = w.diagonal()
    k = np.diff(w.indptr) - (diag != 0)
    observed = local - diag * v  # neighbours only: the cell's own value is held fixed
    counts = conditional_neighbour_sums(v, k, observed, permutations, seed)
    p_sim = counts.p_folded()
    with np.errstate(invalid="ignore", divide="ignore"):
        z_sim = (observed - counts.mean) / counts.sd
    return GiStarResult(
        z=z,
        p=p,
        local_sum=local,
        expected=expected,
        cardinality=wsum,
        permutations=int(permutations),
        p_sim=p_sim,
        p_sim_two_sided=np.minimum(1.0, 2.0 * p_sim),
        z_sim=z_sim,
    )


def _is_binary(w: sp.csr_array) -> bool:
    return bool(w.nnz == 0 or np.all(w.data == 1.0))


def _distinct_draws(rng: np.random.Generator, rows: int, k: int, m: int) -> np.ndarray:
    """``rows`` random ordered samples of ``k`` distinct integers from ``range(m)``."""
    if k > m:
        raise ValueError(f"cannot draw {k} distinct neighbours from {m} other cells")
    if k == 0:
        return np.empty((rows, 0), dtype=np.int64)
    if 4 * k > m:  # dense: shuffle whole rows
        return np.argsort(rng.random((rows, m)), axis=1)[:, :k]
    d = rng.integers(0, m, size=(rows, k))
    while True:  # rejection keeps each row uniform over distinct samples
        s = np.sort(d, axis=1)
        bad = (s[:, 1:] == s[:, :-1]).any(axis=1)
        if not bad.any():
            return d
        d[bad] = rng.integers(0, m, size=(int(bad.sum()), k))


def conditional_neighbour_sums(
    x: ArrayLike,
    k: ArrayLike,
    observed: ArrayLike,
    permutations: int,
    seed: int | np.random.Generator | None = 0,
) -> PermutationCounts:
    """Conditional permutation test of each cell's (unweighted) neighbour sum.

    For cell ``i`` with ``k_i`` neighbours, a permutation draws ``k_i`` values without replacement
    from the ``n − 1`` values other than ``x_i`` and sums them; the test compares those sums with
    ``observed[i]``.

    Vectorisation: one draw matrix ``D`` (R × max k) of indices into "the other n − 1 cells" is
    shared by all cells, as in esda.  For cell ``i`` index ``d`` means cell ``d`` if ``d < i``
    and cell ``d + 1`` otherwise.  With each row's first ``k`` draws sorted, the permuted sum for
    cell ``i`` depends on ``i`` only through ``c = #{d < i}``: ``Σ_{t<c} x[d_t] + Σ_{t≥c}
    x[d_t + 1]``.  These ``k + 1`` sums are tabulated per row and looked up with one
    ``searchsorted`` — O(R·n) work instead of O(R·n·k) gathers.

    Parameters
    ----------
    x : array_like, shape (n,)
        Values of all cells.
    k : array_like of int, shape (n,)
        Number of neighbours of each cell, self excluded.  Cells with 0 neighbours get
        ``n_ge = n_le = R`` (p = 1).
    observed : array_like, shape (n,)
        Observed neighbour sum of each cell (self excluded).
    permutations : int
        Number of permutations R.
    seed : int or numpy.random.Generator
        Seed.

    Returns
    -------
    PermutationCounts
    """
    v = np.asarray(x, dtype=float).ravel()
    kk = np.asarray(k, dtype=np.int64).ravel()
    obs = np.asarray(observed, dtype=float).ravel()
    n, R = v.size, int(permutations)
    if R < 1:
        raise ValueError("permutations must be at least 1")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n_ge = np.full(n, R, dtype=np.int64)
    n_le = np.full(n, R, dtype=np.int64)
    mean = obs.copy()
    sd = np.zeros(n)
    kmax = int(kk.max()) if n else 0
    if kmax == 0:
        return PermutationCounts(n_ge, n_le, mean, sd, R)
    draws = _distinct_draws(rng, R, kmax, n - 1)
    # Sums of floats taken in another order may differ in the last bits: treat as ties.
    tol = 1e-9 * max(1.0, float(np.abs(v).max()))
    for kg in np.unique(kk[kk > 0]):
        cells = np.flatnonzero(kk == kg)
        d = np.sort(draws[:, :kg], axis=1)
        lo = np.concatenate([np.zeros((R, 1)), np.cumsum(v[d], axis=1)], axis=1)
        hi = np.concatenate([np.zeros((R, 1)), np.cumsum(v[d + 1], axis=1)], axis=1)
        table = lo + (hi[:, -1:] - hi)  # table[r, c]: sum when c draws fall below the cell
        o = obs[cells]
        levels, which = np.unique(o, return_inverse=True)
        if levels.size * (n + R * (kg + 1)) < 3 * R * cells.size:
            ge, le = _counts_by_steps(table, d, n, cells, levels, which, tol)
        else:
            ge, le = _counts_direct(table, d, n, cells, o, tol)
        n_ge[cells], n_le[cells] = ge, le
    # Exact moments of the conditional randomisation distribution (sampling k_i of the other
    # n - 1 values without replacement), so no simulation noise in z_sim.
    total, total2 = v.sum(), np.square(v).sum()
    mu = (total - v) / (n - 1)
    var = np.maximum((total2 - v**2) / (n - 1) - mu**2, 0.0)
    has = kk > 0
    mean[has] = (kk * mu)[has]
    fpc = np.divide(n - 1 - kk, n - 2, out=np.zeros(n), where=n > 2)
    sd[has] = np.sqrt(kk * var * fpc)[has]
    return PermutationCounts(n_ge, n_le, mean, sd, R)


def _counts_direct(
    table: np.ndarray, d: np.ndarray, n: int, cells: np.ndarray, o: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of sims ≥ / ≤ observed by looking up every (row, cell) sum: O(R·m)."""
    R, kg = d.shape
    ge = np.zeros(cells.size, dtype=np.int64)
    le = np.zeros(cells.size, dtype=np.int64)
    lo_o, hi_o = o - tol, o + tol
    dense = cells.size * kg >= n // 2  # many cells: count draws below every cell at once
    block = max(1, min(R, 400_000 // max(1, n if dense else cells.size)))
    for r0 in range(0, R, block):
        r1 = min(R, r0 + block)
        b = r1 - r0
        if dense:
            # c[r, i] = #{draws of row r below i} by a cumulative histogram over all cells
            idx = (d[r0:r1] + 1 + (np.arange(b) * (n + 1))[:, None]).ravel()
            hist = np.bincount(idx, minlength=b * (n + 1)).reshape(b, n + 1)
            c = np.cumsum(hist, axis=1)
            c = c[:, cells] if cells.size < n else c[:, :n]
        else:
            shift = (np.arange(r0, r1) * (n + 1))[:, None]
            flat = (d[r0:r1] + shift).ravel()
            c = np.searchsorted(flat, (cells[None, :] + shift).ravel()).reshape(b, -1)
            c -= (np.arange(b) * kg)[:, None]
        c += (np.arange(b) * (kg + 1))[:, None]
        sims = np.take(table[r0:r1].ravel(), c)
        ge += (sims >= lo_o).sum(axis=0)
        le += (sims <= hi_o).sum(axis=0)
    return ge, le


def _counts_by_steps(
    table: np.ndarray,
    d: np.ndarray,
    n: int,
    cells: np.ndarray,
    levels: np.ndarray,
    which: np.ndarray,
    tol: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of sims ≥ / ≤ observed when observed sums take few distinct values (counts).

    Along the cell index, row r's permuted sum is a step function: it equals ``table[r, t]``
    for cells ``d[r, t-1] < i ≤ d[r, t]``.  For each distinct observed level the indicator
    ``table[r, t] ≥ level`` is added over those intervals with a difference array, so the work
    is O(levels · (n + R·k)) instead of O(R · cells).
    """
    R, kg = d.shape
    starts = np.concatenate([np.zeros((R, 1), dtype=np.int64), d + 1], axis=1).ravel()
    ge = np.zeros(cells.size, dtype=np.int64)
    le = np.zeros(cells.size, dtype=np.int64)
    chunk = max(1, 4_000_000 // (n + 1))
    flat_t = table.ravel()
    for u0 in range(0, levels.size, chunk):
        lv = levels[u0 : u0 + chunk]
        u = lv.size
        base = (np.arange(u) * (n + 1))[:, None]
        for out, ind in (
            (ge, flat_t[None, :] >= (lv - tol)[:, None]),
            (le, flat_t[None, :] <= (lv + tol)[:, None]),
        ):
            step = ind.reshape(u, R, kg + 1).astype(np.int8)
            delta = np.diff(step, axis=2, prepend=0).reshape(u, -1)
            acc = np.bincount(
                (starts[None, :] + base).ravel(),
                weights=delta.ravel(),
                minlength=u * (n + 1),
            )
            running = np.cumsum(acc.reshape(u, n + 1), axis=1)
            mine = (which >= u0) & (which < u0 + u)
            out[mine] = np.rint(running[which[mine] - u0, cells[mine]]).astype(np.int64)
    return ge, le
