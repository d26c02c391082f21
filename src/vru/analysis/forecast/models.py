"""Forecast maps from monthly cell counts: naive counts and prospective hot-spotting (ProMap).

Every model here sees only the months up to the forecast origin, and only the months the lake
holds: a month not held is a gap, never a zero. Each returns the expected events per cell in
one month after the origin (a rate), so a forecast of ``h`` months is ``h`` times it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vru.analysis.forecast.raster import Raster

__all__ = ["MonthlyCounts", "decayed", "long_memory", "naive", "promap", "promap_kernel"]


@dataclass(frozen=True)
class MonthlyCounts:
    """Events per study cell and month.

    Attributes
    ----------
    n
        (L, T) counts; columns of months not held are zeros that mean nothing.
    months
        The T month labels ``YYYY-MM``, consecutive.
    held
        (T,) whether the lake holds each month.
    """

    n: np.ndarray
    months: list[str]
    held: np.ndarray

    def upto(self, origin: str) -> MonthlyCounts:
        """The months up to and including ``origin`` (what a forecast from it may see)."""
        k = self.months.index(origin) + 1
        return MonthlyCounts(self.n[:, :k], self.months[:k], self.held[:k])

    def held_index(self) -> np.ndarray:
        """Positions of the held months, oldest first."""
        return np.flatnonzero(self.held)

    def last_held(self, k: int) -> np.ndarray:
        """Positions of the last ``k`` held months."""
        return self.held_index()[-k:]


def _need(mc: MonthlyCounts, what: str) -> np.ndarray:
    idx = mc.held_index()
    if idx.size == 0:
        raise ValueError(f"{what} needs at least one held month before the forecast window; "
                         "the lake holds none in the period asked (widen --from)")
    return idx


def naive(mc: MonthlyCounts, months: int = 3) -> np.ndarray:
    """Naive counts: each cell's events over the last ``months`` held months, per month.

    The baseline every forecast must beat. Months not held are skipped, not counted as zero:
    the last three held months may span a gap.
    """
    _need(mc, "naive counts")
    idx = mc.last_held(months)
    return mc.n[:, idx].sum(axis=1) / idx.size


def long_memory(mc: MonthlyCounts) -> np.ndarray:
    """Each cell's mean events per held month over every held month up to the origin."""
    idx = _need(mc, "a long-memory term")
    return mc.n[:, idx].sum(axis=1) / idx.size


def decayed(mc: MonthlyCounts, half_life: float = 6.0) -> np.ndarray:
    """Each cell's events per held month, every held month up to the origin weighted by
    ``2 ** (-age / half_life)`` (age in calendar months before the origin month, so a gap
    ages what lies behind it but adds no zeros): long memory that still follows drift."""
    idx = _need(mc, "a decayed-count term")
    age = (len(mc.months) - 1 - idx).astype(np.float64)
    w = 2.0 ** (-age / half_life)
    return mc.n[:, idx] @ (w / w.sum())


def promap_kernel(size: float, radius: float) -> np.ndarray:
    """ProMap's spatial weights on a raster of ``size`` m cells: ``1 / (1 + d / size)`` for
    cell-centre distances d within ``radius`` (Bowers, Johnson & Pease 2004, who counted d
    in 50 m cells), zero beyond."""
    r = int(np.floor(radius / size))
    off = np.arange(-r, r + 1) * size
    d = np.hypot(off[None, :], off[:, None])
    return np.where(d <= radius + 1e-9, 1.0 / (1.0 + d / size), 0.0)


def promap(mc: MonthlyCounts, raster: Raster, radius: float = 500.0,
           window: int = 6) -> np.ndarray:
    """Prospective hot-spotting (ProMap; Bowers, Johnson & Pease 2004).

    Each past event adds ``1 / (1 + d / cell) · 1 / (1 + age)`` to the cells within
    ``radius`` metres, ``age`` the months between its month and the origin month (0 for the
    origin month itself; the original counts weeks, police.uk gives months), over the last
    ``window`` calendar months. Months not held add nothing and are not counted as zeros.

    Returns
    -------
    numpy.ndarray
        Risk per cell, rescaled to the events per month the same months held (so it sits on
        the scale of the other models and of the ensemble's weights).
    """
    _need(mc, "ProMap")
    T = len(mc.months)
    ages = np.arange(T)[::-1]
    w = np.where((ages < window) & mc.held, 1.0 / (1.0 + ages), 0.0)
    if w.sum() == 0:
        raise ValueError(f"ProMap looks back {window} months and the lake holds none of them "
                         "before the origin: widen the window or load those months")
    recent = mc.n @ w
    risk = raster.convolve(recent, promap_kernel(raster.size, radius))
    events = mc.n[:, (ages < window) & mc.held].sum() / max(1, int(((ages < window)
                                                                     & mc.held).sum()))
    total = risk.sum()
    return risk * (events / total) if total > 0 else risk
