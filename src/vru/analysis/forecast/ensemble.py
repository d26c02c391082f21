"""The ensemble: naive counts plus smoothed, long-memory, contextual and model terms, weighted
by what held out best at the forecast origins before the one asked (rolling origins).

Every feature is a rate on one scale, expected events of the forecast category per cell and
month (rescaled to the category's own events per month), so a weight says how much of the
score a term carries. The weights are chosen to maximise the mean PAI at 1 % of the area
over the training origins, by coordinate search over a small grid; naive counts carry
weight 1 and every other term starts at 0 and enters only when it improves the held-out
PAI by more than `MIN_GAIN` (so with little history the ensemble stays close to naive).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from vru.analysis.accuracy import selection
from vru.analysis.forecast.models import MonthlyCounts, long_memory, naive, promap
from vru.analysis.forecast.raster import Raster

__all__ = ["DEFAULT_WEIGHTS", "FEATURES", "MIN_ORIGINS", "Origin", "ensemble_score", "features",
           "learn_weights", "pai_at"]

#: The terms and what each is.
FEATURES: dict[str, str] = {
    "naive": "events over the last 3 held months, per month",
    "last": "events in the last held month",
    "long": "mean events per held month over every held month (long memory)",
    "smooth_250": "long memory smoothed by a Gaussian of 250 m",
    "smooth_500": "long memory smoothed by a Gaussian of 500 m",
    "smooth_1000": "long memory smoothed by a Gaussian of 1000 m",
    "context": "all recorded crime over the last 3 held months (any category), rescaled",
    "context_smooth": "that context smoothed by a Gaussian of 250 m",
    "promap": "prospective hot-spotting (ProMap), rescaled",
    "sepp": "the self-exciting point process' expected events, rescaled",
    "population": "residents in the cell (IoD 2019 denominators), rescaled",
    "deprivation": "residents weighted by IMD 2019 deprivation, rescaled",
}

#: Used when the lake holds fewer than `MIN_ORIGINS` earlier origins to learn from: naive
#: counts, their 250 m smoothing, and all recorded crime as context. Chosen on the
#: development origins of docs/analysis.md.
DEFAULT_WEIGHTS: dict[str, float] = {"naive": 1.0, "smooth_250": 0.3, "context": 0.5}

#: The grid of weights tried for each term.
GRID = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)
#: Relative gain in mean held-out PAI a term must bring to enter.
MIN_GAIN = 0.005
#: Training origins needed before weights are learned (with fewer, one origin's noise would
#: choose them: `DEFAULT_WEIGHTS` are used instead).
MIN_ORIGINS = 2
#: Share of the area the weights are chosen at.
TARGET_SHARE = 0.01


@dataclass
class Origin:
    """One training origin: the features from the months up to it, and what followed."""

    month: str
    parts: dict[str, np.ndarray]
    target: np.ndarray
    held_before: int = 0
    notes: list[str] = field(default_factory=list)


def _rescaled(v: np.ndarray, total: float) -> np.ndarray:
    s = float(v.sum())
    return v * (total / s) if s > 0 else np.zeros_like(v, dtype=np.float64)


def features(mc: MonthlyCounts, raster: Raster, *, context: MonthlyCounts | None = None,
             covariates: Mapping[str, np.ndarray] | None = None,
             sepp: np.ndarray | None = None, promap_radius: float = 500.0,
             promap_window: int = 6) -> dict[str, np.ndarray]:
    """Every term of the ensemble at the origin ``mc`` ends with (see `FEATURES`)."""
    nv = naive(mc)
    total = float(nv.sum())
    lm = long_memory(mc)
    out = {"naive": nv, "last": mc.n[:, mc.last_held(1)[0]].astype(np.float64), "long": lm}
    for b in (250, 500, 1000):
        out[f"smooth_{b}"] = _rescaled(raster.gaussian(lm, b), total)
    if context is not None:
        cx = naive(context)
        out["context"] = _rescaled(cx, total)
        out["context_smooth"] = _rescaled(raster.gaussian(cx, 250), total)
    out["promap"] = _rescaled(promap(mc, raster, promap_radius, promap_window), total)
    if sepp is not None:
        out["sepp"] = _rescaled(sepp, total)
    for name, v in (covariates or {}).items():
        out[name] = _rescaled(np.asarray(v, dtype=np.float64), total)
    return out


def pai_at(score: np.ndarray, target: np.ndarray, area: np.ndarray,
           share: float = TARGET_SHARE) -> float:
    """PAI of the top ``share`` of the area (ties shared as in
    `vru.analysis.accuracy.selection`)."""
    total_n = float(target.sum())
    if total_n <= 0:
        return float("nan")
    return float((selection(score, area, share) * target).sum() / total_n) / share


def ensemble_score(parts: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Σ weight · term, divided by Σ weights: expected events per cell and month."""
    used = {k: w for k, w in weights.items() if w > 0 and k in parts}
    total = sum(used.values())
    if not used:
        raise ValueError("the ensemble has no term with a positive weight")
    return sum(w * parts[k] for k, w in used.items()) / total


def learn_weights(origins: Sequence[Origin], area: np.ndarray,
                  terms: Sequence[str] | None = None,
                  share: float = TARGET_SHARE) -> tuple[dict[str, float], float, float]:
    """Weights that maximise the mean held-out PAI at ``share`` over ``origins``.

    Returns
    -------
    (weights, mean PAI of naive counts, mean PAI of the ensemble) over the origins.
    """
    if not origins:
        raise ValueError("no training origin")
    names = [t for t in (terms or origins[0].parts) if t != "naive"
             and all(t in o.parts for o in origins)]

    def mean_pai(w: dict[str, float]) -> float:
        return float(np.mean([pai_at(ensemble_score(o.parts, w), o.target, area, share)
                              for o in origins]))

    w = {"naive": 1.0, **{t: 0.0 for t in names}}
    base = best = mean_pai(w)
    for _ in range(2):
        moved = False
        for t in names:
            for g in GRID:
                if g == w[t]:
                    continue
                trial = {**w, t: g}
                v = mean_pai(trial)
                if v > best * (1 + MIN_GAIN):
                    best, w, moved = v, trial, True
        if not moved:
            break
    return {k: v for k, v in w.items() if v > 0}, base, best
