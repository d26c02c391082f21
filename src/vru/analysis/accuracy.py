"""How well a hotspot map predicts later events: PAI, PEI, RRI, and repeat-location shares.

For a hotspot map (a boolean mask over cells) and event counts per cell in a *later* period:

* hit rate ``n/N`` — share of later events inside the hotspots;
* PAI (Chainey, Tompson & Uhlig 2008) ``= (n/N) / (a/A)`` — hit rate per share of area;
* PAI_max — the PAI of the best possible selection of the same area in the later period (the
  cells with most later events; with unequal cell areas, cells are taken in order of later
  events per unit area until the area is reached, a greedy approximation);
* PEI (Hunt 2016) ``= PAI / PAI_max = n / n_max`` — 1 means no map of that size could do better;
* RRI, recapture rate index (Levine 2008) ``= (n₂/n₁) / (N₂/N₁)`` — growth of events inside the
  hotspots relative to the growth everywhere, from the earlier (1) to the later (2) period.

Any map is a score per cell; `score_map` judges it like with like: at fixed shares of the area
(1, 2, 5, 10 %) and at its own hot area, with cells counted by their true (clipped) areas and
ties at the edge sharing the area left; PEI* ``= a* / a`` (Joshi et al. 2021) is the least
area perfect foresight needs for the same hits over the map's area. `hit_rate_curve` gives
the hit rate at every share, with perfect foresight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["DEFAULT_SHARES", "HotspotAccuracy", "hit_rate_curve", "hotspot_accuracy",
           "repeat_locations", "score_map", "score_weights", "selection"]


@dataclass(frozen=True)
class HotspotAccuracy:
    """Accuracy of one hotspot map against later events."""

    n_hit: float  #: later events inside the hotspots (n)
    n_total: float  #: later events everywhere (N)
    area_share: float  #: a / A
    hit_rate: float  #: n / N
    pai: float
    pai_max: float
    pei: float
    rri: float | None  #: None when no earlier counts were given


def _arr(v: ArrayLike, name: str, size: int | None = None) -> np.ndarray:
    a = np.asarray(v, dtype=float).ravel()
    if size is not None and a.size != size:
        raise ValueError(f"{name} has {a.size} cells, expected {size}")
    if not np.isfinite(a).all() or (a < 0).any():
        raise ValueError(f"{name} must be finite and non-negative")
    return a


def hotspot_accuracy(
    hotspot: ArrayLike,
    later_counts: ArrayLike,
    earlier_counts: ArrayLike | None = None,
    cell_area: ArrayLike | None = None,
) -> HotspotAccuracy:
    """PAI, PEI and RRI of a hotspot map.

    Parameters
    ----------
    hotspot : array_like of bool
        True for cells in the hotspot map.
    later_counts : array_like
        Events per cell in the later (test) period.
    earlier_counts : array_like, optional
        Events per cell in the earlier period, for RRI.
    cell_area : array_like, optional
        Area of each cell (any unit); equal areas when omitted.

    Returns
    -------
    HotspotAccuracy
    """
    mask = np.asarray(hotspot, dtype=bool).ravel()
    later = _arr(later_counts, "later_counts", mask.size)
    area = np.ones(mask.size) if cell_area is None else _arr(cell_area, "cell_area", mask.size)
    total_n, total_a = later.sum(), area.sum()
    if total_n == 0:
        raise ValueError("no events in the later period: PAI is undefined")
    if total_a == 0:
        raise ValueError("total area is zero")
    n_hit, a_hit = later[mask].sum(), area[mask].sum()
    area_share = a_hit / total_a
    hit_rate = n_hit / total_n
    pai = hit_rate / area_share if area_share > 0 else float("nan")
    # best selection of the same area: densest cells first, the last one partly if needed
    order = np.argsort(-(later / np.where(area > 0, area, np.inf)), kind="stable")
    cum_area = np.cumsum(area[order])
    k = int(np.searchsorted(cum_area, a_hit - 1e-12 * total_a))
    n_max = later[order][:k].sum()
    if k < order.size:
        covered = cum_area[k - 1] if k else 0.0
        n_max += later[order[k]] * max(0.0, a_hit - covered) / area[order[k]]
    pai_max = (n_max / total_n) / area_share if area_share > 0 else float("nan")
    pei = n_hit / n_max if n_max > 0 else float("nan")
    rri = None
    if earlier_counts is not None:
        earlier = _arr(earlier_counts, "earlier_counts", mask.size)
        e_hit, e_all = earlier[mask].sum(), earlier.sum()
        rri = (n_hit / e_hit) / (total_n / e_all) if e_hit > 0 and e_all > 0 else float("nan")
    return HotspotAccuracy(
        float(n_hit),
        float(total_n),
        float(area_share),
        float(hit_rate),
        float(pai),
        float(pai_max),
        float(pei),
        rri,
    )


def repeat_locations(events_per_location: ArrayLike, thresholds=(2, 3, 4, 5)) -> pd.DataFrame:
    """How concentrated events are at repeat locations.

    Parameters
    ----------
    events_per_location : array_like of int
        Number of events at each location (locations with 0 events may be included).
    thresholds : sequence of int, default (2, 3, 4, 5)

    Returns
    -------
    pandas.DataFrame
        One row per threshold k: ``locations`` with ≥ k events, their share of locations with any
        event, ``events`` at them and their share of all events.
    """
    c = _arr(events_per_location, "events_per_location")
    any_event = (c > 0).sum()
    total = c.sum()
    rows = []
    for k in thresholds:
        sel = c >= k
        rows.append(
            {
                "min_events": int(k),
                "locations": int(sel.sum()),
                "share_of_locations": sel.sum() / any_event if any_event else np.nan,
                "events": float(c[sel].sum()),
                "share_of_events": c[sel].sum() / total if total else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("min_events")


# ---------------------------------------------------------------------------------------------
# scoring any map at fixed shares of the area (maps compared like with like)

#: Area shares every map is scored at unless others are asked for.
DEFAULT_SHARES = (0.01, 0.02, 0.05, 0.10)


def _take(order: np.ndarray, area: np.ndarray, budget: float) -> np.ndarray:
    """Inclusion weights (0..1) of cells taken in ``order`` until ``budget`` area is used;
    the cell that crosses the budget counts by the part of its area that fits."""
    w = np.zeros(area.size)
    cum = np.cumsum(area[order])
    k = int(np.searchsorted(cum, budget * (1 - 1e-12)))
    w[order[:k]] = 1.0
    if k < order.size:
        before = cum[k - 1] if k else 0.0
        w[order[k]] = min(1.0, max(0.0, budget - before) / area[order[k]])
    return w


def selection(score: ArrayLike, area: ArrayLike, share: float) -> np.ndarray:
    """Inclusion weights of the cells a map selects at ``share`` of the study area.

    Cells are taken from the highest score down. Cells tied with the last one taken share
    what is left of the area in proportion to their areas: the expected result of breaking
    the tie at random, so a map with many ties (counts of 1 or 2) is neither helped nor
    hurt by the order its cells happen to be stored in.

    Parameters
    ----------
    score : array_like
        The map's value per cell (higher means more expected).
    area : array_like
        Each cell's area, clipped to the study area.
    share : float
        Share of the total area to select, in (0, 1].

    Returns
    -------
    numpy.ndarray
        Weight of each cell in the selection, 0..1 (1 fully in).
    """
    s = np.asarray(score, dtype=float).ravel()
    a = _arr(area, "area", s.size)
    if not 0 < share <= 1:
        raise ValueError(f"area share must be in (0, 1], got {share}")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    budget = share * a.sum()
    # only the head of the ranking matters: partition out a generous top and sort that,
    # falling back to a full sort when its area does not reach the budget
    m = min(s.size, int(2 * share * s.size) + 256)
    head = np.argpartition(-s, m - 1)[:m] if m < s.size else np.arange(s.size)
    order = head[np.argsort(-s[head], kind="stable")]
    cum = np.cumsum(a[order])
    k = int(np.searchsorted(cum, budget * (1 - 1e-12)))
    if k >= order.size and m < s.size:
        order = np.argsort(-s, kind="stable")
        cum = np.cumsum(a[order])
        k = int(np.searchsorted(cum, budget * (1 - 1e-12)))
    if k >= s.size:
        return np.ones(s.size)
    edge = s[order[k]]
    above = s > edge
    tied = s == edge
    w = above.astype(float)
    left = budget - a[above].sum()
    if left > 0 and tied.any():
        w[tied] = min(1.0, left / a[tied].sum())
    return w


def _n_best(later: np.ndarray, area: np.ndarray, budget: float) -> float:
    """Most later events any selection of ``budget`` area could hold (densest cells first)."""
    order = np.argsort(-(later / np.where(area > 0, area, np.inf)), kind="stable")
    return float((_take(order, area, budget) * later).sum())


def _area_for(later: np.ndarray, area: np.ndarray, n: float) -> float:
    """Least area perfect foresight needs to hold ``n`` later events (densest cells first)."""
    if n <= 0:
        return 0.0
    dens = later / np.where(area > 0, area, np.inf)
    order = np.argsort(-dens, kind="stable")
    cum_n = np.cumsum(later[order])
    k = int(np.searchsorted(cum_n, n * (1 - 1e-12)))
    if k >= order.size:
        return float(area.sum())
    before_n = cum_n[k - 1] if k else 0.0
    before_a = float(area[order[:k]].sum())
    return before_a + (n - before_n) / dens[order[k]]


def score_weights(weights: np.ndarray, later: np.ndarray, area: np.ndarray,
                  earlier: np.ndarray | None = None) -> dict[str, float]:
    """Hit rate, PAI, PEI, PEI* and RRI of a (weighted) selection of cells.

    ``PEI = n / n_max`` with ``n_max`` the most events perfect foresight holds in the same
    area (Hunt 2016); ``PEI* = a* / a`` with ``a*`` the least area perfect foresight needs to
    hold the same ``n`` events (Joshi et al. 2021): 1 means no map could do it in less.
    """
    total_n, total_a = float(later.sum()), float(area.sum())
    if total_n <= 0:
        raise ValueError("no events in the test period: hit rate and PAI are undefined")
    a_sel = float((weights * area).sum())
    n = float((weights * later).sum())
    share = a_sel / total_a
    n_max = _n_best(later, area, a_sel)
    a_star = _area_for(later, area, n)
    out = {"area_share": share, "area_km2": a_sel / 1e6, "cells": float(weights.sum()),
           "events": total_n, "hits": n, "hit_rate": n / total_n,
           "PAI": (n / total_n) / share if share > 0 else float("nan"),
           "PEI": n / n_max if n_max > 0 else float("nan"),
           "PEI_star": a_star / a_sel if a_sel > 0 else float("nan"),
           "RRI": float("nan")}
    if earlier is not None:
        e_hit, e_all = float((weights * earlier).sum()), float(earlier.sum())
        if e_hit > 0 and e_all > 0:
            out["RRI"] = (n / e_hit) / (total_n / e_all)
    return out


def score_map(
    score: ArrayLike,
    later: ArrayLike,
    area: ArrayLike,
    shares: tuple[float, ...] | list[float] = DEFAULT_SHARES,
    *,
    earlier: ArrayLike | None = None,
    hot: ArrayLike | None = None,
) -> pd.DataFrame:
    """Score a map on held-out events at fixed area shares (and its own hot area).

    Parameters
    ----------
    score : array_like
        The map per cell (a forecast, counts, a Gi* z, a density...): higher is hotter.
    later : array_like
        Held-out events per cell.
    area : array_like
        Cell areas clipped to the study area (m²): an LSOA counts by its size.
    shares : sequence of float
        Area shares to score at (default 1 %, 2 %, 5 %, 10 %).
    earlier : array_like, optional
        Events per cell in the map's own period, for RRI.
    hot : array_like of bool, optional
        The map's own hot area (e.g. Gi* cells at 95 %): scored as one more row, ``at="own"``.

    Returns
    -------
    pandas.DataFrame
        One row per share: ``at`` (the share asked, or ``"own"``), ``area_share``,
        ``area_km2``, ``cells``, ``events``, ``hits``, ``hit_rate``, ``PAI``, ``PEI``,
        ``PEI_star``, ``RRI``.
    """
    s = np.asarray(score, dtype=float).ravel()
    lat = _arr(later, "later", s.size)
    a = _arr(area, "area", s.size)
    e = None if earlier is None else _arr(earlier, "earlier", s.size)
    rows = []
    for share in shares:
        w = selection(s, a, float(share))
        rows.append({"at": f"{float(share):g}", **score_weights(w, lat, a, e)})
    if hot is not None:
        m = np.asarray(hot, dtype=bool).ravel()
        if m.size != s.size:
            raise ValueError(f"hot has {m.size} cells, expected {s.size}")
        if m.any():
            rows.append({"at": "own", **score_weights(m.astype(float), lat, a, e)})
    return pd.DataFrame(rows)


def _captured(score: np.ndarray, later: np.ndarray, area: np.ndarray,
              shares: np.ndarray) -> np.ndarray:
    """Events caught at each share of the area, as `selection` takes them (ties share the
    area left in proportion to their areas), for all shares from one sort."""
    order = np.argsort(-score, kind="stable")
    s = score[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # first cell of each tie group
    g_area = np.add.reduceat(area[order], starts)
    g_hits = np.add.reduceat(later[order], starts)
    cum_a, cum_h = np.cumsum(g_area), np.cumsum(g_hits)
    budget = shares * area.sum()
    k = np.minimum(np.searchsorted(cum_a, budget * (1 - 1e-12)), len(starts) - 1)
    before_a = np.where(k > 0, cum_a[k - 1], 0.0)
    before_h = np.where(k > 0, cum_h[k - 1], 0.0)
    part = np.clip((budget - before_a) / np.where(g_area[k] > 0, g_area[k], np.inf), 0, 1)
    return before_h + part * g_hits[k]


def hit_rate_curve(maps: dict[str, ArrayLike], later: ArrayLike, area: ArrayLike,
                   shares: ArrayLike | None = None) -> pd.DataFrame:
    """Hit rate by share of area for each map, and for perfect foresight.

    Returns
    -------
    pandas.DataFrame
        ``area_share`` and one hit-rate column per map, plus ``perfect``.
    """
    lat = np.asarray(later, dtype=float).ravel()
    a = _arr(area, "area", lat.size)
    grid = (np.asarray(shares, dtype=float) if shares is not None else
            np.unique(np.concatenate([np.arange(0.001, 0.02, 0.001),
                                      np.arange(0.02, 0.2, 0.005),
                                      np.arange(0.2, 1.0001, 0.025)])))
    total = lat.sum()
    if total <= 0:
        raise ValueError("no events in the test period: no hit-rate curve")
    out: dict[str, np.ndarray] = {"area_share": grid}
    for name, sc in maps.items():
        out[name] = _captured(np.asarray(sc, dtype=float).ravel(), lat, a, grid) / total
    out["perfect"] = np.array([_n_best(lat, a, g * a.sum()) / total for g in grid])
    return pd.DataFrame(out)
