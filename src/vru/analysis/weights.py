"""Sparse spatial weights (SciPy CSR) for hotspot statistics: grids, neighbour lists, distance, kNN.

Every builder returns a *binary* ``scipy.sparse.csr_array`` of shape ``(n, n)`` whose diagonal is
1: the cell is its own neighbour, as the Getis–Ord Gi* ("star") statistic needs.  Local Moran's I
wants the opposite (self excluded, rows summing to one): use :func:`row_standardised`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

__all__ = [
    "cardinality",
    "distance_band_weights",
    "grid_weights",
    "knn_weights",
    "lattice_weights",
    "neighbour_list_weights",
    "row_standardised",
    "without_self",
]


def _binary_with_self(rows: np.ndarray, cols: np.ndarray, n: int) -> sp.csr_array:
    """CSR of ones at (rows, cols) plus the diagonal; duplicate pairs collapse to one."""
    diag = np.arange(n, dtype=np.int64)
    r = np.concatenate([np.asarray(rows, dtype=np.int64), diag])
    c = np.concatenate([np.asarray(cols, dtype=np.int64), diag])
    w = sp.csr_array((np.ones(r.size), (r, c)), shape=(n, n))
    w.sum_duplicates()
    w.data[:] = 1.0  # duplicates were summed: binary again
    w.sort_indices()
    return w


def grid_weights(rows: ArrayLike, cols: ArrayLike, k: int = 1) -> sp.csr_array:
    """Queen-contiguity weights among the given square-grid cells, out to ``k`` rings.

    Parameters
    ----------
    rows, cols : array_like of int
        Integer row and column index of each analysed cell (e.g. ``floor(northing / size)``).
        Cells absent from the arrays are absent from the analysis (not zero-valued neighbours).
    k : int, default 1
        Number of rings: cells within Chebyshev distance ``k`` are neighbours (``k=1`` is queen).

    Returns
    -------
    scipy.sparse.csr_array
        Binary ``(n, n)`` weights including the cell itself.
    """
    r = np.asarray(rows, dtype=np.int64).ravel()
    c = np.asarray(cols, dtype=np.int64).ravel()
    if r.shape != c.shape:
        raise ValueError(f"rows and cols differ in length ({r.size} vs {c.size})")
    if k < 1:
        raise ValueError(f"k must be at least 1 ring, got {k}")
    n = r.size
    if n == 0:
        return sp.csr_array((0, 0))
    r0, c0 = r - r.min() + k, c - c.min() + k
    width = int(c0.max()) + k + 1
    key = r0 * width + c0
    order = np.argsort(key, kind="stable")
    skey = key[order]
    if np.any(skey[1:] == skey[:-1]):
        raise ValueError("the same (row, col) cell appears more than once")
    src, dst = [], []
    for dr in range(-k, k + 1):
        for dc in range(-k, k + 1):
            if dr == 0 and dc == 0:
                continue
            target = key + dr * width + dc
            pos = np.searchsorted(skey, target)
            pos = np.minimum(pos, n - 1)
            hit = skey[pos] == target
            src.append(np.flatnonzero(hit))
            dst.append(order[pos[hit]])
    return _binary_with_self(np.concatenate(src), np.concatenate(dst), n)


def lattice_weights(n_rows: int, n_cols: int, k: int = 1) -> sp.csr_array:
    """Queen weights (``k`` rings, self included) on a full ``n_rows × n_cols`` grid, row-major."""
    rr, cc = np.divmod(np.arange(n_rows * n_cols, dtype=np.int64), n_cols)
    return grid_weights(rr, cc, k=k)


def neighbour_list_weights(
    neighbours: Mapping[int, ArrayLike] | Sequence[ArrayLike], n: int | None = None
) -> sp.csr_array:
    """Binary weights (self included) from explicit neighbour index lists.

    Parameters
    ----------
    neighbours : dict or list of array_like of int
        ``neighbours[i]`` holds the indices of the neighbours of cell ``i`` (e.g. from
        ``h3.grid_disk`` mapped to positions, or polygons that touch).  Listing ``i`` itself is
        allowed; it is included anyway.  The relation is used as given (not symmetrised).
    n : int, optional
        Number of cells; defaults to ``len(neighbours)`` (list) or ``max key + 1`` (dict).
    """
    items = neighbours.items() if isinstance(neighbours, Mapping) else enumerate(neighbours)
    src, dst = [], []
    top = -1
    for i, nb in items:
        arr = np.asarray(nb, dtype=np.int64).ravel()
        src.append(np.full(arr.size, int(i), dtype=np.int64))
        dst.append(arr)
        top = max(top, int(i), int(arr.max()) if arr.size else -1)
    if n is None:
        n = len(neighbours) if not isinstance(neighbours, Mapping) else top + 1
    if top >= n:
        raise ValueError(f"neighbour index {top} is out of range for {n} cells")
    if src:
        s, d = np.concatenate(src), np.concatenate(dst)
        if d.size and d.min() < 0:
            raise ValueError("negative neighbour index")
    else:
        s = d = np.empty(0, dtype=np.int64)
    return _binary_with_self(s, d, n)


def _coords(coords: ArrayLike) -> np.ndarray:
    xy = np.asarray(coords, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"coords must have shape (n, 2), got {xy.shape}")
    if not np.isfinite(xy).all():
        raise ValueError("coords contain NaN or infinite values")
    return xy


def distance_band_weights(coords: ArrayLike, threshold: float, p: float = 2.0) -> sp.csr_array:
    """Binary weights (self included): points within ``threshold`` (inclusive) are neighbours.

    Parameters
    ----------
    coords : array_like, shape (n, 2)
        Projected coordinates (British National Grid metres).
    threshold : float
        Neighbourhood distance in the units of ``coords``.
    p : float, default 2
        Minkowski norm (2 Euclidean, 1 Manhattan).
    """
    xy = _coords(coords)
    pairs = cKDTree(xy).query_pairs(r=threshold, p=p, output_type="ndarray")
    rows = np.concatenate([pairs[:, 0], pairs[:, 1]])
    cols = np.concatenate([pairs[:, 1], pairs[:, 0]])
    return _binary_with_self(rows, cols, xy.shape[0])


def knn_weights(coords: ArrayLike, k: int) -> sp.csr_array:
    """Binary weights (self included): each point plus its ``k`` nearest other points.

    Ties at the k-th distance are broken by cKDTree's order; the relation is not symmetric.
    """
    xy = _coords(coords)
    n = xy.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be between 1 and n-1 = {n - 1}, got {k}")
    _, idx = cKDTree(xy).query(xy, k=k + 1)
    rows = np.repeat(np.arange(n), k + 1)
    cols = idx.ravel()
    # A coincident point may displace the point itself from position 0; drop self wherever it
    # appears and keep exactly k others per row.
    others = cols != rows
    counts = np.cumsum(others.reshape(n, k + 1), axis=1)
    keep = (others.reshape(n, k + 1) & (counts <= k)).ravel()
    return _binary_with_self(rows[keep], cols[keep], n)


def without_self(w: sp.sparray | sp.spmatrix) -> sp.csr_array:
    """Copy of ``w`` with the diagonal removed (stored zeros eliminated)."""
    w = sp.csr_array(w, copy=True)
    w.setdiag(0)
    w.eliminate_zeros()
    return w


def row_standardised(w: sp.sparray | sp.spmatrix, include_self: bool = False) -> sp.csr_array:
    """Row-standardised weights (each row sums to 1), by default excluding the cell itself.

    Rows with no neighbours (islands) stay all zero.  This is the structure Local Moran's I uses.
    """
    w = without_self(w) if not include_self else sp.csr_array(w, copy=True)
    sums = np.asarray(w.sum(axis=1)).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    w = sp.csr_array(sp.diags_array(scale) @ w)
    return w


def cardinality(w: sp.sparray | sp.spmatrix, include_self: bool = True) -> np.ndarray:
    """Number of neighbours of each cell (stored non-zeros per row, optionally less self)."""
    w = sp.csr_array(w)
    k = np.diff(w.indptr)
    if not include_self:
        k = k - (w.diagonal() != 0)
    return k.astype(np.int64)
