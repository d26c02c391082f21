"""Cell-key perturbation: the perturbation table (pTable) built from its parameters, and its use.

Every record carries a secret key, uniform on 0..255. A cell's key is the sum of its records'
keys mod 256, so the same set of records always has the same cell key, and the pTable maps
(true count c, cell key k) to an adjustment d: the released count is c + d. The pTable is
published (its parameters and rows are no secret); the record keys are.

Rows are built, not copied: for each c the distribution of the released value is the
maximum-entropy distribution on the allowed values with mean c (no bias) and variance V
where the allowed values permit it, p(v) ∝ exp(a·(v-c) + b·(v-c)²). The allowed values are
those within D of c, never negative, never in 1..js-1, and, with ``step`` > 1, multiples of
``step``. Each row is then cut into intervals of the 256 keys (its probabilities quantised
to multiples of 1/256, keeping the mean at zero where the key resolution allows). Above
``cmax`` a count uses the row of the largest count <= cmax with the same remainder mod
``step`` (for ``step`` = 1: the row of cmax, as ONS and ABS do). docs/release.md says why
the default releases multiples of 3.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

#: Record and cell keys are integers 0..KEYS-1.
KEYS = 256


@dataclass(frozen=True)
class PTableParams:
    """The documented parameters a pTable is built from.

    Attributes
    ----------
    max_abs
        D: no count moves by more than this.
    variance
        V: the target variance of the adjustment, met where the allowed values permit
        (with ``step`` = 3 and D = 2 every row has one or two allowed values, so the variance
        follows from the mean: 0 for multiples of 3, 2 otherwise).
    step
        Released non-zero counts are multiples of ``step`` (1: any whole number).
    smallest
        js: no count is released as 1..js-1 (0 or at least js). With ``step`` > 1 this is
        ``step`` already.
    cmax
        Rows are built for 0..cmax; larger counts reuse the top rows.
    """

    max_abs: int = 2
    variance: float = 1.0
    step: int = 3
    smallest: int = 1
    cmax: int = 50

    def __post_init__(self) -> None:
        if self.max_abs < 1 or self.step < 1 or self.smallest < 1 or self.variance < 0:
            raise ValueError(f"invalid pTable parameters: {self}")
        if self.cmax < self.max_abs + max(self.step, self.smallest):
            raise ValueError("cmax must leave rows untouched by the floor at zero "
                             f"(at least D + max(step, js) = "
                             f"{self.max_abs + max(self.step, self.smallest)})")


@dataclass(frozen=True)
class PTable:
    """A built perturbation table.

    Attributes
    ----------
    params
        What it was built from.
    rows
        ``rows[c]`` maps each adjustment d to the number of keys (out of 256) that pick it,
        for c = 0..cmax.
    lookup
        ``lookup[c, k]``: the adjustment for count c (0..cmax) and cell key k.
    """

    params: PTableParams
    rows: tuple[dict[int, int], ...]
    lookup: np.ndarray

    def row_for(self, counts: np.ndarray) -> np.ndarray:
        """The pTable row each count uses (itself up to cmax, then a top row, same residue)."""
        counts = np.asarray(counts, dtype=np.int64)
        step, cmax = self.params.step, self.params.cmax
        over = np.maximum(counts - cmax, 0)
        return counts - step * (-(-over // step))

    def adjustment(self, counts: np.ndarray, cell_keys: np.ndarray) -> np.ndarray:
        """The adjustment d for each (count, cell key); zero for a count of zero."""
        keys = np.asarray(cell_keys, dtype=np.int64) % KEYS
        return self.lookup[self.row_for(counts), keys].astype(np.int64)

    def perturb(self, counts: np.ndarray, cell_keys: np.ndarray) -> np.ndarray:
        """Released counts: ``counts + adjustment(counts, cell_keys)``.

        Parameters
        ----------
        counts
            True counts, whole numbers >= 0.
        cell_keys
            Each cell's key: the sum of its records' keys (reduced mod 256 here).

        Returns
        -------
        numpy.ndarray
            int64 released counts, never negative, 0 exactly where the count is 0.
        """
        counts = np.asarray(counts, dtype=np.int64)
        return counts + self.adjustment(counts, cell_keys)

    def probabilities(self, count: int) -> dict[int, Fraction]:
        """The distribution of the adjustment for ``count`` (exact, in 256ths)."""
        row = self.rows[int(self.row_for(np.array([count]))[0])]
        return {d: Fraction(n, KEYS) for d, n in sorted(row.items()) if n}

    def released(self, count: int) -> dict[int, Fraction]:
        """The distribution of the released value for ``count`` over uniform cell keys."""
        return {count + d: p for d, p in self.probabilities(count).items()}

    def to_markdown(self, counts: Iterable[int] = range(11)) -> str:
        """The rows for ``counts`` as a Markdown table: each adjustment's keys and share."""
        span = range(-self.params.max_abs, self.params.max_abs + 1)
        head = ["c", *(f"d = {d:+d}" if d else "d = 0" for d in span), "E[d]", "Var[d]"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for c in counts:
            probs = self.probabilities(c)
            start = 0
            cells = []
            for d in span:
                n = int(probs.get(d, 0) * KEYS)
                cells.append(f"{n}/256 (keys {start}–{start + n - 1})" if n else "")
                start += n
            mean = sum(d * p for d, p in probs.items())
            var = sum(d * d * p for d, p in probs.items()) - mean * mean
            lines.append(f"| {c} | " + " | ".join(cells)
                         + f" | {float(mean):+.4f} | {float(var):.3f} |")
        return "\n".join(lines)


def allowed_offsets(count: int, params: PTableParams) -> np.ndarray:
    """The adjustments d allowed for ``count``: |d| <= D, c + d >= 0, never 1..js-1, on step."""
    if count == 0:
        return np.array([0])
    values = np.arange(max(0, count - params.max_abs), count + params.max_abs + 1)
    keep = ((values == 0) | (values >= params.smallest)) & (values % params.step == 0)
    return values[keep] - count


def maxent_row(offsets: np.ndarray, variance: float) -> np.ndarray:
    """Maximum-entropy probabilities on ``offsets`` with mean 0 and the given variance.

    Where mean 0 is impossible (every offset on one side of zero) all mass goes to the
    offset nearest zero. Where the variance is outside what mean 0 allows on these offsets,
    the nearest feasible variance is used: the two offsets bracketing zero (the least) or
    the two extremes (the most).

    Parameters
    ----------
    offsets
        Sorted distinct integers.
    variance
        The target variance.

    Returns
    -------
    numpy.ndarray
        One probability per offset.
    """
    s = np.asarray(offsets, dtype=float)
    p = np.zeros(len(s))
    if s[0] >= 0 or s[-1] <= 0:
        p[int(np.argmin(np.abs(s)))] = 1.0
        return p
    below, above = s[s < 0].max(), s[s > 0].min()
    least = 0.0 if (s == 0).any() else -below * above
    most = -s[0] * s[-1]
    if variance <= least + 1e-9:
        if (s == 0).any():
            p[s == 0] = 1.0
            return p
        return _two_point(s, below, above)
    if variance >= most - 1e-9:
        return _two_point(s, s[0], s[-1])

    def dual(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        # log-partition of p ∝ exp(a·s + b·(s² - V)): convex; its gradient is the constraint
        # error (E[s], E[s²] - V) and its Hessian the covariance of (s, s²).
        feats = np.stack([s, s * s - variance])
        z = theta @ feats
        top = z.max()
        w = np.exp(z - top)
        q = w / w.sum()
        mean = feats @ q
        cov = (feats * q) @ feats.T - np.outer(mean, mean)
        return float(top + np.log(w.sum())), mean, cov

    from scipy.optimize import minimize  # here: importing scipy costs every disclosure user

    result = minimize(lambda t: dual(t)[0], np.zeros(2), jac=lambda t: dual(t)[1],
                      hess=lambda t: dual(t)[2], method="trust-exact",
                      options={"gtol": 1e-12})
    z = result.x[0] * s + result.x[1] * s * s
    w = np.exp(z - z.max())
    return w / w.sum()


def _two_point(s: np.ndarray, low: float, high: float) -> np.ndarray:
    p = np.zeros(len(s))
    p[s == low] = high / (high - low)
    p[s == high] = -low / (high - low)
    return p


def quantise(offsets: np.ndarray, probs: np.ndarray, radius: int = 3) -> dict[int, int]:
    """Turn probabilities into numbers of keys out of 256, keeping the mean at zero.

    Largest-remainder rounding first; then the smallest change (at most ``radius`` keys
    moved to or from each offset, also onto an offset of probability zero) that brings the
    sum of the adjustments closest to zero, exactly zero whenever the offsets allow it (on
    offsets -1 and +2 alone it cannot be: 256 keys do not split 2:1), and then the sum of
    their squares closest to the unrounded one (the variance asked for).
    """
    s = [int(v) for v in offsets]
    p = np.where(np.asarray(probs) > 1e-12, probs, 0.0)
    raw = p / p.sum() * KEYS
    n = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - n), kind="stable")[: KEYS - n.sum()]:
        n[i] += 1
    total, square = int(np.dot(n, s)), int(np.dot(n, np.square(s)))
    # Dynamic programme over offsets: (keys added, sum of d added, sum of d² added) -> the
    # cheapest changes reaching it. The best: least bias, then variance nearest the target.
    State = tuple[int, int, int]
    states: dict[State, tuple[int, tuple[int, ...]]] = {(0, 0, 0): (0, ())}
    for i, offset in enumerate(s):
        grown: dict[State, tuple[int, tuple[int, ...]]] = {}
        for (added, shift, shift2), (cost, changes) in states.items():
            for change in range(-min(radius, int(n[i])), radius + 1):
                key = (added + change, shift + change * offset, shift2 + change * offset**2)
                entry = (cost + abs(change), (*changes, change))
                if key not in grown or entry < grown[key]:
                    grown[key] = entry
        states = grown
    target = float(np.dot(raw, np.square(s)))
    _, _, _, changes = min((abs(total + shift), abs(square + shift2 - target), cost, changes)
                           for (added, shift, shift2), (cost, changes) in states.items()
                           if added == 0)
    n = n + np.array(changes)
    return {d: int(k) for d, k in zip(s, n, strict=True) if k}


def build_ptable(params: PTableParams | None = None) -> PTable:
    """Build the pTable for ``params`` (default: `PTableParams()`).

    Returns
    -------
    PTable
        Rows for 0..cmax; row 0 is all zeros (an empty cell stays empty).
    """
    params = params or PTableParams()
    rows = []
    lookup = np.zeros((params.cmax + 1, KEYS), dtype=np.int8)
    built: dict[tuple[int, ...], dict[int, int]] = {}  # rows clear of the floor repeat
    for c in range(params.cmax + 1):
        offsets = allowed_offsets(c, params)
        if tuple(offsets) not in built:
            built[tuple(offsets)] = quantise(offsets, maxent_row(offsets, params.variance))
        row = built[tuple(offsets)]
        rows.append(row)
        lookup[c] = np.repeat(list(row), list(row.values()))  # keys in order of d: intervals
    lookup.setflags(write=False)
    return PTable(params=params, rows=tuple(rows), lookup=lookup)


@lru_cache(maxsize=8)
def ptable(params: PTableParams | None = None) -> PTable:
    """The pTable for ``params``, built once per process (default parameters if None)."""
    return build_ptable(params)
