"""Knox near-repeat analysis (as Ratcliffe's Near Repeat Calculator reports it), vectorised.

Every pair of events is classified by its distance band (rows) and its time-difference band
(columns).  Bands are half-open intervals ``[a, b)``; an optional first row holds pairs at the
*same location* (distance exactly 0, common where coordinates are snapped to map points), in
which case the first distance band is ``(0, b)``; the last row and column are open-ended
(``≥`` the last edge).  The observed table is compared with tables obtained by randomly
permuting the event times across locations ``R`` times (seeded ``numpy.random.Generator``):

* expected = mean of the simulated counts;  Knox ratio = observed / expected;
* p = (#simulations with count ≥ observed + 1) / (R + 1)  (one-sided: more pairs than chance).

Differences from the Near Repeat Calculator: NRC labels whole-day bands inclusively ("0 to 7
days", "8 to 14 days"); here bands are half-open, so NRC's bands are ``temporal_edges=[0, 8,
15, ...]``.  Distances may be Euclidean or Manhattan, and pairs are found with a k-d tree
rather than by testing all n² pairs.

Speed: pairs within the largest finite distance are found once (``cKDTree.query_pairs``).
Each permutation only re-maps their times (``np.take``), bins the time gaps and does one
``bincount``.  The open-ended distance row is obtained by subtraction from the count of *all*
pairs per time band, which permuting times across locations leaves unchanged (it depends only
on the multiset of times) and is computed once from the sorted times in O(n log n).

Data known only to the month (data.police.uk) cannot support a near-repeat analysis; the
function refuses it (``time_precision='month'``, or datetimes that all fall on a month start).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

__all__ = ["KnoxResult", "MonthPrecisionError", "knox_test"]

_COARSE = {"month", "quarter", "year"}
_FINE = {"day", "hour", "minute", "second"}


class MonthPrecisionError(ValueError):
    """Raised when event times are known only to the month (or coarser)."""


@dataclass(frozen=True)
class KnoxResult:
    """Knox table: rows are distance bands, columns time bands."""

    observed: np.ndarray  #: observed pair counts
    expected: np.ndarray  #: mean simulated counts
    ratio: np.ndarray  #: Knox ratio observed / expected
    p: np.ndarray  #: (#sims ≥ observed + 1) / (R + 1)
    spatial_labels: list[str]
    temporal_labels: list[str]
    permutations: int
    n_events: int
    distance: str

    def table(self, what: str = "ratio") -> pd.DataFrame:
        """One of ``observed``, ``expected``, ``ratio`` or ``p`` as a labelled DataFrame."""
        values = {
            "observed": self.observed,
            "expected": self.expected,
            "ratio": self.ratio,
            "p": self.p,
        }[what]
        return pd.DataFrame(values, index=self.spatial_labels, columns=self.temporal_labels)

    def to_frame(self) -> pd.DataFrame:
        """Long format: one row per (distance band, time band) cell."""
        s, t = np.meshgrid(self.spatial_labels, self.temporal_labels, indexing="ij")
        return pd.DataFrame(
            {
                "distance_band": s.ravel(),
                "time_band": t.ravel(),
                "observed": self.observed.ravel(),
                "expected": self.expected.ravel(),
                "knox_ratio": self.ratio.ravel(),
                "p_value": self.p.ravel(),
            }
        )


def _fmt(v: float) -> str:
    return f"{v:g}"


def _times_in_days(t: ArrayLike, time_precision: str | None) -> np.ndarray:
    if time_precision is not None:
        tp = time_precision.lower()
        if tp in _COARSE:
            raise MonthPrecisionError(
                f"event times are known only to the {tp}: a near-repeat (Knox) analysis needs "
                "dates to the day or better (data.police.uk gives months only; use the force's "
                "own crime extract with committed dates)"
            )
        if tp not in _FINE:
            raise ValueError(
                f"unknown time_precision {time_precision!r}; use one of {sorted(_FINE | _COARSE)}"
            )
    arr = np.asarray(t)
    if np.issubdtype(arr.dtype, np.datetime64):
        if np.isnat(arr).any():
            raise ValueError(
                f"times contain missing values (first at {int(np.isnat(arr).argmax())})"
            )
        ns = arr.astype("datetime64[ns]")
        month_start = ns.astype("datetime64[M]").astype("datetime64[ns]")
        if arr.size > 1 and time_precision is None and (ns == month_start).all():
            raise MonthPrecisionError(
                "every event time falls at the start of a month: the data look month-precision "
                "(as data.police.uk). A near-repeat (Knox) analysis needs dates to the day or "
                "better; pass time_precision='day' if these dates really are exact"
            )
        return (ns - np.datetime64("1970-01-01", "ns")).astype(np.int64) / 86_400e9
    days = np.asarray(arr, dtype=float).ravel()
    if not np.isfinite(days).all():
        raise ValueError(f"times contain NaN (first at {int((~np.isfinite(days)).argmax())})")
    return days


def _edges(values: ArrayLike, what: str) -> np.ndarray:
    e = np.asarray(values, dtype=float).ravel()
    if e.size < 2 or e[0] != 0 or np.any(np.diff(e) <= 0):
        raise ValueError(f"{what} band edges must start at 0 and increase, got {e.tolist()}")
    return e


def _pairs_per_time_band(days: np.ndarray, t_edges: np.ndarray) -> np.ndarray:
    """Number of unordered pairs among all events with |Δt| in each time band (last open)."""
    s = np.sort(days)
    n = s.size
    idx = np.arange(n)
    below = []  # pairs with gap < edge, for each edge after the first
    for e in t_edges[1:]:
        below.append(float((np.searchsorted(s, s + e, side="left") - idx - 1).sum()))
    below = np.array(below)
    total = n * (n - 1) / 2.0
    counts = np.diff(np.concatenate([[0.0], below]))
    return np.append(counts, total - below[-1])


def knox_test(
    x: ArrayLike,
    y: ArrayLike,
    t: ArrayLike,
    spatial_edges: ArrayLike,
    temporal_edges: ArrayLike,
    *,
    distance: str = "euclidean",
    same_location: bool = True,
    permutations: int = 999,
    seed: int | np.random.Generator | None = 0,
    time_precision: str | None = None,
) -> KnoxResult:
    """Knox near-repeat table with permutation p-values.

    Parameters
    ----------
    x, y : array_like
        Event coordinates in metres (British National Grid).
    t : array_like
        Event times: ``datetime64`` values or numbers of days.
    spatial_edges : array_like
        Distance band edges in metres, from 0, e.g. ``[0, 200, 400, 600, 800, 1000]``.
    temporal_edges : array_like
        Time band edges in days, from 0, e.g. ``[0, 7, 14, 21, 28]``.
    distance : {"euclidean", "manhattan"}, default "euclidean"
    same_location : bool, default True
        Put pairs at distance exactly 0 in their own first row.
    permutations : int, default 999
    seed : int or numpy.random.Generator, default 0
    time_precision : str, optional
        ``"day"``, ``"hour"``... or ``"month"``/``"quarter"``/``"year"`` (refused).  When not
        given, datetimes that all fall at a month start are refused as month-precision.

    Returns
    -------
    KnoxResult
    """
    days = _times_in_days(t, time_precision)
    xy = np.column_stack([np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()])
    n = days.size
    if xy.shape[0] != n:
        raise ValueError(f"{xy.shape[0]} coordinates but {n} times")
    if not np.isfinite(xy).all():
        raise ValueError(
            f"coordinates contain NaN (first at {int((~np.isfinite(xy)).any(1).argmax())})"
        )
    if n < 3:
        raise ValueError("a Knox test needs at least 3 events")
    if distance not in ("euclidean", "manhattan"):
        raise ValueError(f"distance must be 'euclidean' or 'manhattan', got {distance!r}")
    if permutations < 1:
        raise ValueError("permutations must be at least 1")
    s_edges = _edges(spatial_edges, "spatial")
    t_edges = _edges(temporal_edges, "temporal")
    p_norm = 1.0 if distance == "manhattan" else 2.0

    pairs = cKDTree(xy).query_pairs(r=float(s_edges[-1]), p=p_norm, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    diff = xy[i] - xy[j]
    d = np.abs(diff).sum(axis=1) if p_norm == 1.0 else np.hypot(diff[:, 0], diff[:, 1])
    keep = d < s_edges[-1]
    i, j, d = i[keep].astype(np.int32), j[keep].astype(np.int32), d[keep]
    offset = 1 if same_location else 0
    row = offset + np.searchsorted(s_edges, d, side="right") - 1
    if same_location:
        row[d == 0] = 0
    n_rows_closed = offset + s_edges.size - 1
    n_cols = t_edges.size  # finite bands + the open-ended one

    # Pairs sorted by event keep the time gathers local in memory.
    order = np.lexsort((j, i))
    i, j, row = i[order], j[order], row[order]
    n_cells = n_rows_closed * n_cols
    all_pairs = _pairs_per_time_band(days, t_edges)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    R = int(permutations)
    # Whole-day times and edges: a lookup table from (row, gap) to table cell is fastest.
    integral = bool(np.all(days == np.round(days)) and np.all(t_edges == np.round(t_edges)))
    if integral:
        times = (days - days.min()).astype(np.int32)
        span = int(times.max()) + 1
        # column of each whole-day gap 0..span-1, to fold per-gap histograms into time bands
        gap_col = np.minimum(
            np.searchsorted(t_edges, np.arange(span), side="right") - 1, n_cols - 1
        )
        base = (row * span).astype(np.int32)
        hist_obs = _gap_histograms(times[None, :], i, j, base, n_rows_closed * span)
        hist_sim = _simulate_days(times, i, j, base, n_rows_closed * span, R, rng)

        def fold(h: np.ndarray) -> np.ndarray:
            h = h.reshape(h.shape[0], n_rows_closed, span)
            out = np.zeros((h.shape[0], n_rows_closed, n_cols), dtype=np.int64)
            for c in range(n_cols):
                out[:, :, c] = h[:, :, gap_col == c].sum(axis=2)
            return out.reshape(h.shape[0], n_cells)

        closed_obs, sims = fold(hist_obs)[0], fold(hist_sim)
    else:
        closed_obs = _count_float(days, i, j, row, t_edges, n_cells)
        sims = np.stack(
            [_count_float(days[rng.permutation(n)], i, j, row, t_edges, n_cells) for _ in range(R)]
        )
    shape = (n_rows_closed, n_cols)

    def full(closed: np.ndarray) -> np.ndarray:
        closed = closed.reshape(-1, *shape).astype(float)
        return np.concatenate([closed, (all_pairs - closed.sum(axis=1))[:, None, :]], axis=1)

    observed = full(closed_obs)[0]
    sim_tables = full(sims)
    expected = sim_tables.mean(axis=0)
    ge = (sim_tables >= observed[None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(expected > 0, observed / expected, np.nan)
    p = (ge + 1.0) / (R + 1.0)

    finite = [f"[{_fmt(a)}, {_fmt(b)})" for a, b in zip(s_edges[:-1], s_edges[1:], strict=True)]
    if same_location:
        finite[0] = f"(0, {_fmt(s_edges[1])})"
        finite.insert(0, "same location")
    spatial_labels = [*finite, f"≥ {_fmt(s_edges[-1])}"]
    temporal_labels = [
        *(f"[{_fmt(a)}, {_fmt(b)})" for a, b in zip(t_edges[:-1], t_edges[1:], strict=True)),
        f"≥ {_fmt(t_edges[-1])}",
    ]
    return KnoxResult(
        observed=observed.astype(float),
        expected=expected,
        ratio=ratio,
        p=p,
        spatial_labels=spatial_labels,
        temporal_labels=temporal_labels,
        permutations=R,
        n_events=n,
        distance=distance,
    )


def _count_float(
    days: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    row: np.ndarray,
    t_edges: np.ndarray,
    n_cells: int,
) -> np.ndarray:
    """Closed-row table counts for fractional times (binary search of each gap)."""
    n_cols = t_edges.size
    gap = np.abs(np.take(days, i) - np.take(days, j))
    col = np.minimum(np.searchsorted(t_edges, gap, side="right") - 1, n_cols - 1)
    return np.bincount(row * n_cols + col, minlength=n_cells)


def _gap_histograms(
    tt: np.ndarray, i: np.ndarray, j: np.ndarray, base: np.ndarray, n_bins: int
) -> np.ndarray:
    """Histogram of (distance row, whole-day gap) over all pairs, for each of B time arrays.

    ``tt`` is B × n; the result is B × n_bins with bin ``row·span + gap``.  Pairs are processed
    in cache-sized chunks, each reused for all B time arrays.
    """
    b = tt.shape[0]
    chunk = max(1024, 131_072 // b)  # B × chunk temporaries stay in L2 cache
    acc = np.zeros(b * n_bins, dtype=np.int64)
    shift = (np.arange(b, dtype=np.int32) * n_bins)[:, None]
    for c0 in range(0, i.size, chunk):
        c1 = c0 + chunk
        gap = tt[:, i[c0:c1]]
        gap -= tt[:, j[c0:c1]]
        np.abs(gap, out=gap)
        gap += base[c0:c1]
        gap += shift
        acc += np.bincount(gap.ravel(), minlength=b * n_bins)
    return acc.reshape(b, n_bins)


def _simulate_days(
    times: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    base: np.ndarray,
    n_bins: int,
    permutations: int,
    rng: np.random.Generator,
    batch: int = 16,
) -> np.ndarray:
    """Gap histograms for ``permutations`` random reassignments of times to events."""
    out = np.empty((permutations, n_bins), dtype=np.int64)
    n = times.size
    for r0 in range(0, permutations, batch):
        r1 = min(permutations, r0 + batch)
        tt = np.stack([times[rng.permutation(n)] for _ in range(r1 - r0)])
        out[r0:r1] = _gap_histograms(tt, i, j, base, n_bins)
    return out
