"""PAI, PEI, RRI and repeat locations on small hand-worked examples."""

from __future__ import annotations

import numpy as np
import pytest

from vru.analysis.accuracy import (
    hit_rate_curve,
    hotspot_accuracy,
    repeat_locations,
    score_map,
    selection,
)


def test_pai_pei_rri_by_hand():
    later = np.array([10, 0, 5, 3, 2, 0, 0, 0, 0, 0], dtype=float)  # N = 20 over 10 cells
    earlier = np.array([8, 1, 1, 4, 2, 1, 1, 1, 0, 1], dtype=float)  # N1 = 20
    mask = np.zeros(10, dtype=bool)
    mask[[0, 3]] = True  # 2 of 10 cells catch 13 of 20 later events
    r = hotspot_accuracy(mask, later, earlier)
    assert r.hit_rate == pytest.approx(13 / 20)
    assert r.pai == pytest.approx((13 / 20) / (2 / 10))
    # best two cells hold 10 + 5 = 15 events
    assert r.pai_max == pytest.approx((15 / 20) / (2 / 10))
    assert r.pei == pytest.approx(13 / 15)
    # inside: 12 → 13; everywhere: 20 → 20
    assert r.rri == pytest.approx((13 / 12) / (20 / 20))


def test_unequal_areas_take_the_densest_cells():
    later = np.array([6.0, 4.0, 0.0])
    area = np.array([2.0, 1.0, 1.0])
    r = hotspot_accuracy([True, False, False], later, cell_area=area)
    # area 2 of 4; best: cell 1 (4 per unit) then half of cell 0 (3 events) = 7
    assert r.pai_max == pytest.approx((7 / 10) / 0.5)
    assert r.pei == pytest.approx(6 / 7)


def test_repeat_locations():
    df = repeat_locations([0, 1, 1, 2, 3, 5])
    assert df.loc[2, "locations"] == 3
    assert df.loc[2, "share_of_locations"] == pytest.approx(3 / 5)
    assert df.loc[2, "share_of_events"] == pytest.approx(10 / 12)
    assert df.loc[5, "events"] == 5


def test_no_later_events_is_refused():
    with pytest.raises(ValueError, match="no events"):
        hotspot_accuracy([True, False], [0, 0])


# -- scoring any map at fixed shares of the area ---------------------------------------------

def test_a_map_equal_to_the_test_counts_scores_pei_one():
    rng = np.random.default_rng(3)
    later = rng.poisson(rng.gamma(0.3, 2.0, 5000)).astype(float)
    # equal cells: the test counts themselves
    t = score_map(later, later, np.full(5000, 62_500.0))
    assert t["PEI"].to_numpy() == pytest.approx(1.0)
    # cells of unequal area: the test counts per unit area
    area = rng.uniform(0.5, 1.5, 5000) * 62_500
    t = score_map(later / area, later, area, (0.01, 0.02, 0.05, 0.1))
    assert t["PEI"].to_numpy() == pytest.approx(1.0)
    assert t["PEI_star"].to_numpy() == pytest.approx(1.0)
    # and a worse map scores below 1 at every share
    noisy = score_map(later / area + rng.uniform(0, later.max() / area.min(), 5000), later,
                      area)
    assert (noisy["PEI"] < 0.999).all() and (noisy["PEI_star"] < 0.999).all()


def test_lsoas_count_by_their_area_by_hand():
    # three LSOAs of 1, 2 and 7 km²: the map ranks the small one first
    later = np.array([5.0, 3.0, 2.0])
    area = np.array([1.0, 2.0, 7.0]) * 1e6
    t = score_map([3.0, 2.0, 1.0], later, area, (0.1, 0.3)).set_index("at")
    # 10 % of 10 km² is exactly the 1 km² LSOA, holding 5 of 10 events
    assert t.loc["0.1", "hit_rate"] == pytest.approx(0.5)
    assert t.loc["0.1", "PAI"] == pytest.approx(0.5 / 0.1)  # 5, not 0.5 / (1/3) = 1.5
    # 30 %: both small LSOAs, 8 of 10 events in 3 of 10 km²
    assert t.loc["0.3", "PAI"] == pytest.approx(0.8 / 0.3)
    # perfect foresight at 3 km² takes the densest first: 5/km², 1.5/km², so the same
    assert t.loc["0.3", "PEI"] == pytest.approx(1.0)
    # the old equal-size reading of the same map is what misled
    old = hotspot_accuracy([True, False, False], later)
    new = hotspot_accuracy([True, False, False], later, cell_area=area)
    assert old.pai == pytest.approx(1.5) and new.pai == pytest.approx(5.0)


def test_pei_star_is_the_least_area_for_the_same_hits():
    later = np.array([8.0, 0.0, 2.0, 0.0])
    area = np.ones(4)
    # the map takes cell 2 (2 events) at 25 % of the area; perfect foresight holds 2 events
    # in a quarter of cell 0 (8 per unit): a* = 0.25 of a = 1
    t = score_map([0.0, 0.0, 1.0, 0.0], later, area, (0.25,))
    assert t["hits"].iloc[0] == pytest.approx(2.0)
    assert t["PEI"].iloc[0] == pytest.approx(2.0 / 8.0)
    assert t["PEI_star"].iloc[0] == pytest.approx(0.25)


def test_ties_at_the_edge_share_the_area_left():
    # 4 cells tied for the last 2 places: each counts half, whatever their order
    score = np.array([5.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    w = selection(score, np.ones(10), 0.3)
    assert w.tolist() == [1, 0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0, 0]
    flipped = selection(score[::-1], np.ones(10), 0.3)[::-1]
    assert flipped.tolist() == w.tolist()


def test_own_hot_area_and_rri():
    later = np.array([4.0, 2.0, 0.0, 0.0])
    earlier = np.array([2.0, 2.0, 2.0, 2.0])
    t = score_map([2.0, 1.0, 0.0, 0.0], later, np.ones(4), (0.5,), earlier=earlier,
                  hot=[True, False, False, False])
    own = t.set_index("at").loc["own"]
    assert own["area_share"] == pytest.approx(0.25) and own["PAI"] == pytest.approx(4 * 4 / 6)
    assert own["RRI"] == pytest.approx((4 / 2) / (6 / 8))


def test_hit_rate_curve_rises_and_perfect_foresight_bounds_it():
    rng = np.random.default_rng(0)
    later = rng.poisson(0.3, 2000).astype(float)
    area = np.ones(2000)
    c = hit_rate_curve({"truth": later, "random": rng.random(2000)}, later, area)
    for col in ("truth", "random", "perfect"):
        assert (np.diff(c[col]) >= -1e-12).all()
    assert (c["perfect"] >= c["random"] - 1e-12).all()
    assert c["truth"].to_numpy() == pytest.approx(c["perfect"].to_numpy())
    assert c["perfect"].iloc[-1] == pytest.approx(1.0)
