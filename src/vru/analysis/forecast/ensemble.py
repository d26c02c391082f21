"""The ensemble: naive counts plus smoothed, long-memory, contextual and model terms, weighted
by what held out best at the forecast origins before the one asked (rolling origins).

Every feature is a rate on one scale, expected events of the forecast category per cell and
month (rescaled to the category's own events per month), so a weight says how much of the
score a term carries. PAI depends on the ranking only, so only the weights' ratios matter:
they are kept summing to 1. They are chosen to maximise the mean PAI at 1 % of the area over
the training origins by coordinate search with multiplicative moves (no grid edge to stick
at, and naive counts can be weighted down or out like any other term): the search starts
from naive counts alone, and a move is taken only when it raises the held-out PAI by more
than `MIN_GAIN` (so with little history the ensemble stays close to naive).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from vru.analysis.accuracy import selection
from vru.analysis.forecast.models import MonthlyCounts, decayed, long_memory, naive, promap
from vru.analysis.forecast.raster import Raster

__all__ = ["DEFAULT_WEIGHTS", "FEATURES", "MIN_ORIGINS", "Origin", "ensemble_score", "features",
           "learn_weights", "pai_at"]

#: The terms and what each is.
FEATURES: dict[str, str] = {
    "naive": "events over the last 3 held months, per month",
    "last": "events in the last held month",
    "long": "mean events per held month over every held month (long memory)",
    "recent_12": "mean events per held month over the last 12 held months",
    "decay_6": "events per held month, each held month weighted by 2^(-age / 6 months)",
    "smooth_250": "long memory smoothed by a Gaussian of 250 m",
    "smooth_500": "long memory smoothed by a Gaussian of 500 m",
    "smooth_1000": "long memory smoothed by a Gaussian of 1000 m",
    "context": "all recorded crime over the last 3 held months (any category), rescaled",
    "context_smooth": "that context smoothed by a Gaussian of 250 m",
    "context_decay_6": "all recorded crime per held month, each held month weighted by "
                       "2^(-age / 6 months), rescaled",
    "promap": "prospective hot-spotting (ProMap), rescaled",
    "sepp": "the self-exciting point process' expected events, rescaled",
    "population": "residents in the cell (IoD 2019 denominators), rescaled",
    "deprivation": "residents weighted by IMD 2019 deprivation, rescaled",
}

#: Used when the lake holds fewer than `MIN_ORIGINS` earlier origins to learn from: naive
#: counts, their 250 m smoothing, and all recorded crime as context. Chosen on the
#: development origins of docs/analysis.md.
DEFAULT_WEIGHTS: dict[str, float] = {"naive": 1.0, "smooth_250": 0.3, "context": 0.5}

#: Shares of the score a term not yet in is offered (the others scaled down to make room).
ENTRY = (0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9)
#: Factors a term's weight already in is multiplied by (then all renormalised to sum 1);
#: 0 drops the term. Repeated passes reach any ratio: there is no edge.
FACTORS = (0.0, 0.25, 0.5, 2.0, 4.0)
#: Passes of the coordinate search at most.
MAX_PASSES = 6
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
    out = {"naive": nv, "last": mc.n[:, mc.last_held(1)[0]].astype(np.float64), "long": lm,
           "recent_12": naive(mc, 12), "decay_6": decayed(mc, 6.0)}
    for b in (250, 500, 1000):
        out[f"smooth_{b}"] = _rescaled(raster.gaussian(lm, b), total)
    if context is not None:
        cx = naive(context)
        out["context"] = _rescaled(cx, total)
        out["context_smooth"] = _rescaled(raster.gaussian(cx, 250), total)
        out["context_decay_6"] = _rescaled(decayed(context, 6.0), total)
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


def _moves(w: np.ndarray, i: int) -> list[np.ndarray]:
    """Weight vectors (summing to 1) one move of term ``i`` away from ``w``."""
    out = []
    if w[i] == 0:
        for share in ENTRY:
            t = w * (1 - share)
            t[i] = share
            out.append(t)
        return out
    for f in FACTORS:
        t = w.copy()
        t[i] *= f
        if t.sum() > 0:
            out.append(t / t.sum())
    return out


def learn_weights(origins: Sequence[Origin], area: np.ndarray,
                  terms: Sequence[str] | None = None,
                  share: float = TARGET_SHARE) -> tuple[dict[str, float], float, float]:
    """Weights that maximise the mean held-out PAI at ``share`` over ``origins``.

    Starts from naive counts alone; each pass offers every term (naive included) its best
    single move (`ENTRY` shares for a term not in, `FACTORS` for one in) and takes it when
    it raises the mean PAI by more than `MIN_GAIN`; stops after a pass with no move or
    `MAX_PASSES`.

    Returns
    -------
    (weights summing to 1 (terms at 0 left out), mean PAI of naive counts, mean PAI of the
    ensemble) over the origins.
    """
    if not origins:
        raise ValueError("no training origin")
    names = ["naive", *[t for t in (terms or origins[0].parts) if t != "naive"
                        and all(t in o.parts for o in origins)]]
    # one (terms, cells) matrix per origin: a trial's score is one matrix-vector product
    stacks = [np.vstack([np.asarray(o.parts[t], dtype=np.float64) for t in names])
              for o in origins]

    def mean_pai(w: np.ndarray) -> float:
        return float(np.mean([pai_at(w @ p, o.target, area, share)
                              for p, o in zip(stacks, origins, strict=True)]))

    w = np.zeros(len(names))
    w[0] = 1.0
    base = best = mean_pai(w)
    for _ in range(MAX_PASSES):
        moved = False
        for i in range(len(names)):
            scored = [(mean_pai(t), t) for t in _moves(w, i)]
            if not scored:
                continue
            v, t = max(scored, key=lambda x: x[0])
            if v > best * (1 + MIN_GAIN):
                best, w, moved = v, t, True
        if not moved:
            break
    return {k: float(v) for k, v in zip(names, w, strict=True) if v > 0}, base, best
