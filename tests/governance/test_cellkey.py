"""Cell-key perturbation: pTable properties, same cell same answer, and a differencing attacker."""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vru.governance.cellkey import KEYS, PTableParams, build_ptable, maxent_row, ptable
from vru.governance.disclosure import PROFILES, apply, describe

DOC = Path(__file__).resolve().parents[2] / "docs" / "release.md"
DESIGNS = [PTableParams(),  # the default: released counts on multiples of 3
           PTableParams(max_abs=2, variance=1.0, step=1, cmax=20),  # a smooth, ONS-like table
           PTableParams(max_abs=3, variance=2.0, step=1, smallest=3, cmax=30)]  # ABS-like js


@lru_cache
def min_abs_key_sum(offsets: tuple[int, ...]) -> int:
    """The smallest |sum of adjustments| any split of the 256 keys over ``offsets`` reaches."""
    span = KEYS * max(abs(s) for s in offsets)
    reach = np.zeros(2 * span + 1, bool)
    reach[span] = True
    for _ in range(KEYS):  # reach[span + t]: some split of the keys so far sums to t
        step = np.zeros_like(reach)
        for s in offsets:
            step |= np.roll(reach, s)  # totals never come near the array's ends
        reach = step
    return int(np.abs(np.flatnonzero(reach) - span).min())


@pytest.mark.parametrize("params", DESIGNS, ids=["default", "smooth", "js3"])
def test_ptable_rows(params: PTableParams) -> None:
    table = build_ptable(params)
    D = params.max_abs
    for c, row in enumerate(table.rows):
        assert sum(row.values()) == KEYS  # probabilities sum to 1
        assert all(abs(d) <= D and c + d >= 0 for d in row)
        released = [c + d for d in row]
        assert all(v == 0 or (v >= params.smallest and v % params.step == 0)
                   for v in released), (c, row)
        # Keys pick adjustments through cumulative intervals: ascending d along 0..255.
        assert (np.diff(table.lookup[c].astype(int)) >= 0).all()
        assert Counter(table.lookup[c].tolist()) == Counter(row)
        # No bias wherever the 256 keys can express it; otherwise the least possible.
        allowed = [v - c for v in range(max(0, c - D), c + D + 1)
                   if (v == 0 or v >= params.smallest) and v % params.step == 0]
        if c > 0:
            assert abs(sum(d * n for d, n in row.items())) == min_abs_key_sum(tuple(allowed)), c
    assert table.rows[0] == {0: KEYS}  # zero stays zero
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 10**6, 500)
    assert (table.perturb(np.zeros(500, int), keys) == 0).all()
    # The rows of large counts: the top rows, same residue mod step; the smooth table's
    # rows away from the floor carry the variance asked for.
    big = np.arange(params.cmax + 1, params.cmax + 40)
    rows = table.row_for(big)
    assert (rows <= params.cmax).all() and (rows % params.step == big % params.step).all()
    assert (rows > params.cmax - params.step).all()
    if params.step == 1:
        probs = table.probabilities(params.cmax)
        assert float(sum(d * d * p for d, p in probs.items())) == pytest.approx(
            params.variance, abs=0.02)


def test_deterministic_and_periodic() -> None:
    params = PTableParams(max_abs=3, variance=1.5, step=1)
    one, two = build_ptable(params), build_ptable(params)
    assert np.array_equal(one.lookup, two.lookup)
    counts = np.arange(0, 300)
    keys = (counts * 7919) % 1000
    assert np.array_equal(one.perturb(counts, keys), two.perturb(counts, keys))
    assert np.array_equal(one.perturb(counts, keys), one.perturb(counts, keys + 256))  # mod 256
    default = ptable()
    released = default.perturb(counts, keys)
    assert (released % 3 == 0).all() and (np.abs(released - counts) <= 2).all()


def test_maxent_row_is_the_exponential_family() -> None:
    offsets = np.arange(-3, 4)
    p = maxent_row(offsets, 1.3)
    assert p.sum() == pytest.approx(1)
    assert p @ offsets == pytest.approx(0, abs=1e-7)
    assert p @ offsets**2 == pytest.approx(1.3, abs=1e-7)
    # log p(d) = const + a·d + b·d²: its second differences are one constant.
    assert np.ptp(np.diff(np.log(p), 2)) == pytest.approx(0, abs=1e-7)
    # Infeasible variances fall back to the nearest two-point rows.
    assert maxent_row(np.array([-1, 2]), 1.0).tolist() == pytest.approx([2 / 3, 1 / 3])
    assert maxent_row(offsets, 50.0).tolist() == pytest.approx([0.5, 0, 0, 0, 0, 0, 0.5])


def records(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame({
        "lsoa": rng.choice(["E01000001", "E01000002", "E01000003"], n),
        "month": rng.choice(["2024-04", "2024-05"], n),
        "category": rng.choice(["Robbery", "Violence"], n),
        "hour": rng.integers(0, 24, n),
        "key": rng.integers(0, KEYS, n),
    })


def counts_by(frame: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """What the engine returns: count(*) and sum(record_key) % 256 per cell."""
    return (frame.groupby(groups).agg(n=("key", "size"), key_sum=("key", "sum"))
            .reset_index().assign(key_sum=lambda f: f["key_sum"] % KEYS))


def test_same_cell_same_answer() -> None:
    rng = np.random.default_rng(7)
    events = records(rng, 3000)
    by_two = apply(counts_by(events, ["lsoa", "month"]), "cellkey", ["n"], ["lsoa", "month"],
                   cell_keys={"n": "key_sum"})
    assert "key_sum" not in by_two.columns
    shuffled = events.sample(frac=1, random_state=3)
    may = shuffled[shuffled["month"] == "2024-05"]
    by_lsoa = apply(counts_by(may, ["lsoa"]), "cellkey", ["n"], ["lsoa"],
                    cell_keys={"n": "key_sum"})
    same = by_two[by_two["month"] == "2024-05"].merge(by_lsoa, on="lsoa")
    assert len(same) == 3 and (same["n_x"] == same["n_y"]).all()
    # A third route to the same records: a grouping with a dimension that has one value.
    robbery = events[events["category"] == "Robbery"]
    by_three = apply(counts_by(robbery, ["lsoa", "category"]), "cellkey", ["n"],
                     ["lsoa", "category"], cell_keys={"n": "key_sum"})
    direct = apply(counts_by(robbery, ["lsoa"]), "cellkey", ["n"], ["lsoa"],
                   cell_keys={"n": "key_sum"})
    assert by_three["n"].tolist() == direct["n"].tolist()
    # One record more or less gives the cell a new key: its answer is drawn afresh.
    truth = counts_by(may, ["lsoa"])["n"].to_numpy()
    assert (np.abs(by_lsoa["n"].to_numpy() - truth) <= 2).all()


# --- The differencing attacker ------------------------------------------------------------

def released_distributions(profile: str, largest: int) -> list[dict[object, float]]:
    """The public rule: for each count 0..largest, the distribution of its released value."""
    grid = pd.DataFrame({"n": np.repeat(np.arange(largest + 1), KEYS),
                         "k": np.tile(np.arange(KEYS), largest + 1)})
    out = apply(grid, profile, ["n"], cell_keys={"n": "k"})["n"]
    shown = [None if pd.isna(v) else int(v) for v in out]
    return [{v: m / KEYS for v, m in Counter(shown[c * KEYS:(c + 1) * KEYS]).items()}
            for c in range(largest + 1)]


def attack(profile: str, others: np.ndarray, rng: np.random.Generator) -> float:
    """Share of pairs in which a Bayes-optimal attacker guesses right whether r is present.

    Pair i: cell i holds ``others[i]`` records the attacker knows of, with random secret
    keys, and record r (hour 23) or not. Query 1 counts the cell; query 2 counts it with a
    filter (hour != 23) that excludes r. The attacker knows every count but r's presence and
    the public rule, not the keys.
    """
    present = rng.integers(0, 2, len(others)).astype(bool)
    trial = np.repeat(np.arange(len(others)), others)
    events = pd.DataFrame({"trial": np.concatenate([trial, np.flatnonzero(present)]),
                           "hour": np.concatenate([rng.integers(0, 23, len(trial)),
                                                   np.full(present.sum(), 23)])})
    events["key"] = rng.integers(0, KEYS, len(events))
    every = pd.Index(np.arange(len(others)), name="trial")

    def query(frame: pd.DataFrame) -> list[object]:
        cells = (frame.groupby("trial").agg(n=("key", "size"), key_sum=("key", "sum"))
                 .reindex(every, fill_value=0).reset_index())
        out = apply(cells, profile, ["n"], ["trial"], cell_keys={"n": "key_sum"})
        return [None if pd.isna(v) else int(v) for v in out["n"]]

    first, second = query(events), query(events[events["hour"] != 23])
    rule = released_distributions(profile, int(others.max()) + 1)
    right = 0
    for n, v1, v2, truth in zip(others, first, second, present, strict=True):
        absent = rule[n].get(v2, 0.0) if v1 == v2 else 0.0  # same records: same answer
        with_r = rule[n + 1].get(v1, 0.0) * rule[n].get(v2, 0.0)  # keys independent
        right += (with_r > absent) == truth
    return right / len(others)


def test_differencing_attacker_cellkey_versus_rounding() -> None:
    rng = np.random.default_rng(2024)
    random_pairs = rng.integers(0, 200, 1000)  # the cell with r holds 1..200 records
    assert attack("cellkey", random_pairs, rng) <= 0.75
    # An attacker picks the pairs where the rule is weakest. For rounding + suppression
    # those are the counts where one record crosses a boundary (0|1, 7|8, 12|13, ...).
    nhs = released_distributions("nhs", 200)
    crossing = np.array([n for n in range(200) if nhs[n].keys() != nhs[n + 1].keys()])
    assert attack("nhs", rng.choice(crossing, 1000), rng) >= 0.99
    # Cell-key's weakest pairs (c = 3m+1 against 3m+2) still leave the attacker near 78%.
    weakest = 3 * rng.integers(0, 66, 1000) + 1
    assert attack("cellkey", weakest, rng) <= 0.82


# --- The document shows the table the code builds -----------------------------------------

def test_release_doc_prints_the_ptable_the_code_builds() -> None:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(r"<!-- ptable:begin -->\n(.*?)\n<!-- ptable:end -->", text, re.S)
    assert found, "docs/release.md lacks the <!-- ptable:begin/end --> block"
    assert found.group(1).strip() == ptable().to_markdown(range(11)).strip(), (
        "docs/release.md's pTable is stale: paste ptable().to_markdown(range(11))")
    for profile in PROFILES:  # the profiles table shows each release note verbatim
        assert f"| {describe(profile)} |" in text, profile
    params = PTableParams()
    for name, value in [("D", params.max_abs), ("step", params.step), ("cmax", params.cmax)]:
        assert re.search(rf"\b{name}\b[^|\n]*\|\s*{value}\b", text), name
