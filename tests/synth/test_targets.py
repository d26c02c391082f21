"""Exact plants: integer totals whose changes round to the headline figures, at any size."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from vru.synth.calibration import largest_remainder, offence_codes, trend_ratio
from vru.synth.targets import (
    knife_totals,
    pct_change,
    plant_change,
    positive_counts,
    rounds_to,
)


@given(st.integers(1, 20_000), st.integers(-60, 60))
def test_plant_change_always_rounds_to_the_target(before: int, target: int) -> None:
    b, a = plant_change(before, target)
    assert b >= before
    assert rounds_to(pct_change(b, a), target)
    assert b - before <= 100  # small counts are raised only as far as needed


@given(st.floats(0.005, 2.0))
def test_knife_plant_holds_at_any_scale(scale: float) -> None:
    k = knife_totals(list(range(2015, 2022)), scale)
    assert rounds_to(pct_change(k[2019], k[2020]), -6)
    assert k[2020] < min(k[2017], k[2018], k[2019])
    assert k[2016] <= k[2020]


@given(st.integers(20, 20_000), st.integers(20, 20_000))
def test_positive_rate_plant(v19: int, v20: int) -> None:
    p, n = positive_counts({2019: v19, 2020: v20, 2021: 100})
    assert n[2019] == v19 and n[2020] >= v20 and n[2021] == 100
    if v19 >= 1000 and v20 >= 1000:
        assert n[2020] == v20  # real volumes need no adjustment
    assert 0 < p[2019] <= v19 and 0 < p[2020] <= n[2020]
    assert rounds_to(pct_change(p[2019] / v19, p[2020] / n[2020]), 23)


@given(st.integers(0, 10_000), st.lists(st.floats(0.0, 1e4), min_size=1, max_size=30))
def test_largest_remainder_sums_exactly(total: int, weights: list[float]) -> None:
    parts = largest_remainder(total, np.array(weights))
    assert parts.sum() == (total if sum(weights) > 0 else 0)
    assert (parts >= 0).all()


def test_calibration_reads_the_real_offence_mix() -> None:
    codes = {c.code: c for c in offence_codes()}
    assert 140_000 < sum(c.count_2017_18 for c in codes.values()) < 160_000
    assert codes["8N"].subgroup == "Violence with injury"
    assert codes["34B"].group == "Robbery"
    assert "1" in codes  # homicide's combined code is recorded as "1"
    # Trends: 2015 below 2017/18; 2020 below 2019 for acquisitive crime (planted pandemic).
    assert trend_ratio("Shoplifting", 2015) < 1.0
    assert trend_ratio("Shoplifting", 2020) < trend_ratio("Shoplifting", 2019)
