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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["HotspotAccuracy", "hotspot_accuracy", "repeat_locations"]


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
