"""PAI, PEI, RRI and repeat locations on small hand-worked examples."""

from __future__ import annotations

import numpy as np
import pytest

from vru.analysis.accuracy import hotspot_accuracy, repeat_locations


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
