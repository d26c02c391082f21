"""A self-exciting point process (Mohler et al. 2011; the model of their 2015 field trial).

The intensity of events at place (x, y) and day t is a background plus what earlier events
trigger::

    λ(x, y, t) = μ · s(x, y)  +  Σ_{t_i < t} θ · ω e^{−ω (t − t_i)} · g_σ(x − x_i, y − y_i)

with ``s`` the background's spatial density (a Gaussian kernel density of the events judged
background, bandwidth ``background_bandwidth``), μ background events per day, θ the expected
number of offspring of an event (the branching ratio), ``1/ω`` their mean delay in days and
``g_σ`` an isotropic Gaussian of standard deviation σ metres. It is fitted by
expectation-maximisation (Mohler et al. 2011; Veen & Schoenberg 2008): the E-step gives each
event its probability of being background or the offspring of each earlier event within
``max_distance`` metres and ``max_days``; the M-step sets μ, θ (edge-corrected for parents
near the end of the window), ω and σ from those probabilities, and re-estimates ``s`` from
the background-weighted events.

Events known only to the month (data.police.uk) are placed at mid-month; pairs in the same
month then have no known order and are not taken as parent and child, so on such data the
triggering term describes month-to-month repeats only (docs/analysis.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from vru.analysis.forecast.raster import Raster

__all__ = ["SeppFit", "fit_sepp", "sepp_forecast"]


@dataclass(frozen=True)
class SeppFit:
    """Fitted parameters of the self-exciting point process."""

    mu: float  #: background events per day over the whole area
    theta: float  #: expected offspring per event (branching ratio)
    omega: float  #: triggering decay per day (mean delay 1/ω days)
    sigma: float  #: triggering spatial standard deviation, metres
    background_bandwidth: float  #: metres
    events: int
    days: float  #: length of the fitted window
    iterations: int
    converged: bool
    background: np.ndarray  #: (H, W) background density per m² on a fine raster
    origin: tuple[float, float]  #: south-west corner of that raster
    cell: float  #: its cell size, metres

    @property
    def offspring_share(self) -> float:
        """Share of events the fit attributes to triggering."""
        return 1.0 - self.mu * self.days / self.events if self.events else float("nan")

    def as_dict(self) -> dict[str, float | int | bool]:
        return {"mu_per_day": self.mu, "theta": self.theta, "omega_per_day": self.omega,
                "mean_delay_days": 1.0 / self.omega, "sigma_m": self.sigma,
                "background_bandwidth_m": self.background_bandwidth, "events": self.events,
                "days": self.days, "iterations": self.iterations, "converged": self.converged,
                "offspring_share": self.offspring_share}

    def density_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Background spatial density per m² at points."""
        H, W = self.background.shape
        i = np.clip(((y - self.origin[1]) // self.cell).astype(np.int64), 0, H - 1)
        j = np.clip(((x - self.origin[0]) // self.cell).astype(np.int64), 0, W - 1)
        return self.background[i, j]


def _kde(x, y, w, x0, y0, shape, cell, bandwidth):
    H, W = shape
    i = np.clip(((y - y0) // cell).astype(np.int64), 0, H - 1)
    j = np.clip(((x - x0) // cell).astype(np.int64), 0, W - 1)
    grid = np.zeros(shape)
    np.add.at(grid, (i, j), w)
    g = ndimage.gaussian_filter(grid, bandwidth / cell, mode="constant", truncate=4.0)
    total = g.sum() * cell * cell
    return np.maximum(g, 0.0) / total if total > 0 else g, i, j


def fit_sepp(
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    weight: np.ndarray | None = None,
    *,
    end: float | None = None,
    background_bandwidth: float = 300.0,
    max_distance: float = 500.0,
    max_days: float = 60.0,
    cell: float = 100.0,
    iterations: int = 60,
    tol: float = 1e-4,
    start: tuple[float, float, float] = (0.1, 0.2, 100.0),
    exposure_days: float | None = None,
) -> SeppFit:
    """Fit the process to events by EM.

    Parameters
    ----------
    x, y : array_like
        British National Grid metres.
    t : array_like
        Days (any origin).
    weight : array_like, optional
        Events at each (x, y, t), for events grouped at the same point and time.
    end : float, optional
        End of the observation window in days (default the last event's time).
    background_bandwidth : float
        Bandwidth (sd, metres) of the background's kernel density.
    max_distance, max_days : float
        Pairs further apart are never parent and child (the kernels are negligible there).
    cell : float
        Cell of the raster the background density is held on, metres.
    iterations, tol
        EM steps at most, and the relative change in (θ, ω, σ) that stops it.
    start : (θ, ω, σ)
        Starting values.
    exposure_days : float, optional
        Days actually observed (default the span from the first event to ``end``): months
        the lake does not hold inside the span are gaps, not quiet time.

    Returns
    -------
    SeppFit
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    m = np.ones_like(x) if weight is None else np.asarray(weight, dtype=np.float64)
    if x.size < 10:
        raise ValueError(f"a self-exciting fit needs events; got {int(m.sum())}")
    t0 = float(t.min())
    t_end = float(t.max()) if end is None else float(end)
    days = max(exposure_days if exposure_days else t_end - t0, 1.0)
    n_events = float(m.sum())
    # parent -> child pairs within the space and time cut-offs
    tree = cKDTree(np.column_stack([x, y]))
    pairs = tree.query_pairs(max_distance, output_type="ndarray")
    a, b = pairs[:, 0], pairs[:, 1]
    swap = t[a] > t[b]
    par = np.where(swap, b, a)
    chi = np.where(swap, a, b)
    dt = t[chi] - t[par]
    keep = (dt > 0) & (dt <= max_days)
    par, chi, dt = par[keep], chi[keep], dt[keep]
    d2 = (x[chi] - x[par]) ** 2 + (y[chi] - y[par]) ** 2
    pad = 4 * background_bandwidth + cell
    x0, y0 = float(x.min() - pad), float(y.min() - pad)
    shape = (int((y.max() + pad - y0) // cell) + 1, int((x.max() + pad - x0) // cell) + 1)
    theta, omega, sigma = start
    mu = n_events * (1 - theta) / days
    pbg = np.ones_like(x)
    converged = False
    it = 0
    while it < iterations:
        it += 1
        dens, ii, jj = _kde(x, y, m * pbg, x0, y0, shape, cell, background_bandwidth)
        bg = mu * dens[ii, jj]
        trig = (m[par] * theta * omega * np.exp(-omega * dt)
                * np.exp(-d2 / (2 * sigma**2)) / (2 * np.pi * sigma**2))
        lam = bg + np.bincount(chi, weights=trig, minlength=x.size)
        lam = np.where(lam > 0, lam, 1e-300)
        pbg = bg / lam
        pij = trig / lam[chi] * m[chi]
        n_bg = float((m * pbg).sum())
        n_tr = float(pij.sum())
        mu = n_bg / days
        exposure = float((m * (1 - np.exp(-omega * np.minimum(t_end - t, max_days)))).sum())
        new_theta = n_tr / exposure if exposure > 0 else 0.0
        new_omega = n_tr / float((pij * dt).sum()) if n_tr > 0 else omega
        new_sigma = float(np.sqrt((pij * d2).sum() / (2 * n_tr))) if n_tr > 0 else sigma
        new_sigma = max(new_sigma, 1.0)
        change = max(abs(new_theta - theta) / max(theta, 1e-9),
                     abs(new_omega - omega) / omega, abs(new_sigma - sigma) / sigma)
        theta, omega, sigma = new_theta, new_omega, new_sigma
        if change < tol:
            converged = True
            break
    dens, _, _ = _kde(x, y, m * pbg, x0, y0, shape, cell, background_bandwidth)
    return SeppFit(float(mu), float(theta), float(omega), float(sigma),
                   float(background_bandwidth), int(round(n_events)), float(days), it,
                   converged, dens, (x0, y0), float(cell))


def sepp_forecast(fit: SeppFit, raster: Raster, x: np.ndarray, y: np.ndarray, t: np.ndarray,
                  weight: np.ndarray | None, origin: float, horizon_days: float) -> np.ndarray:
    """Expected events per study cell in ``[origin, origin + horizon_days)``.

    The background's share is μ · horizon · the background density integrated over each
    cell (taken at the cell centre); each earlier event adds θ times the part of its
    triggering kernel that falls in the window, spread over space by σ.
    """
    cx, cy = raster.centres()
    area = raster.size**2
    background = fit.mu * horizon_days * fit.density_at(cx, cy) * area
    m = np.ones_like(np.asarray(x, dtype=float)) if weight is None else np.asarray(weight, float)
    age = origin - np.asarray(t, dtype=np.float64)
    ok = age >= 0
    w = m[ok] * fit.theta * (np.exp(-fit.omega * age[ok])
                             - np.exp(-fit.omega * (age[ok] + horizon_days)))
    cols = np.floor(np.asarray(x)[ok] / raster.size).astype(np.int64)
    rows = np.floor(np.asarray(y)[ok] / raster.size).astype(np.int64)
    H, W = raster.shape
    i, j = rows - raster.rows.min(), cols - raster.cols.min()
    inside = (i >= 0) & (i < H) & (j >= 0) & (j < W)
    grid = np.zeros((H, W))
    np.add.at(grid, (i[inside], j[inside]), w[inside])
    spread = ndimage.gaussian_filter(grid, fit.sigma / raster.size, mode="constant",
                                     truncate=4.0)
    return background + raster.from_grid(spread)
