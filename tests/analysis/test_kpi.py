"""KPI statistics: periods, the exact Poisson and two-proportion tests, "lowest since",
and wording that never calls noise a fall."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from scipy import stats

from vru.analysis import kpi


@pytest.mark.parametrize(("text", "kind", "start", "end", "label"), [
    ("2020", "year", date(2020, 1, 1), date(2020, 12, 31), "2020"),
    ("2020/21", "financial_year", date(2020, 4, 1), date(2021, 3, 31), "2020/21"),
    ("rolling:2020-06", "rolling_12", date(2019, 7, 1), date(2020, 6, 30),
     "Jul 2019 to Jun 2020"),
    ("28d:2020-12-31", "days_28", date(2020, 12, 4), date(2020, 12, 31),
     "28 days 2020-12-04 to 2020-12-31"),
    ("2020-01..2020-06", "months", date(2020, 1, 1), date(2020, 6, 30), "Jan 2020 to Jun 2020"),
    ("2020-02", "months", date(2020, 2, 1), date(2020, 2, 29), "Feb 2020"),
])
def test_periods_are_read(text, kind, start, end, label):
    p = kpi.parse_period(text)
    assert (p.kind, p.start, p.end, p.label) == (kind, start, end, label)


def test_previous_periods():
    assert kpi.parse_period("2020").previous() == kpi.parse_period("2019")
    assert kpi.parse_period("2020/21").previous() == kpi.parse_period("2019/20")
    assert kpi.parse_period("rolling:2020-06").previous().start == date(2018, 7, 1)
    d = kpi.parse_period("28d:2020-12-31").previous()
    assert (d.start, d.end, d.days) == (date(2020, 11, 6), date(2020, 12, 3), 28)
    m = kpi.parse_period("2020-01..2020-06").previous()
    assert (m.start, m.end) == (date(2019, 7, 1), date(2019, 12, 31))
    assert kpi.parse_period("2020/21").years_back(4).label == "2016/17"
    assert kpi.parse_period("28d:2020-12-31").years_back(1) is None


def test_defaults_end_at_the_data():
    assert kpi.parse_period("28d", date(2021, 12, 31)).end == date(2021, 12, 31)
    # a rolling year ends at the last whole month held
    assert kpi.parse_period("rolling", date(2021, 12, 15)).end == date(2021, 11, 30)


@pytest.mark.parametrize("text", ["2020/22", "20", "2020-13", "rolling:2020", "28d:2020-02-30",
                                  "2020-06..2020-01", "last year"])
def test_bad_periods_say_how_to_write_them(text):
    with pytest.raises(kpi.PeriodError):
        kpi.parse_period(text)


def test_financial_year_message():
    with pytest.raises(kpi.PeriodError, match="April 2020 to March 2021"):
        kpi.parse_period("2020/22")


@pytest.mark.parametrize(("c1", "c0", "t1", "t0"), [
    (1222, 1300, 366, 365), (1121, 1456, 366, 365), (3, 9, 1, 1), (0, 5, 28, 28),
    (16, 17, 366, 365), (50, 50, 1, 1), (7, 0, 2, 1)])
def test_poisson_test_matches_scipy_binomial(c1, c0, t1, t0):
    want = stats.binomtest(c1, c1 + c0, t1 / (t1 + t0)).pvalue
    assert kpi.poisson_test(c1, c0, t1, t0) == pytest.approx(want, rel=1e-9, abs=1e-15)


def test_poisson_test_exposure_matters():
    # the same counts over twice the time are a halved rate
    assert kpi.poisson_test(100, 100, 2, 1) < 0.001
    assert kpi.poisson_test(100, 100, 1, 1) == pytest.approx(1.0)
    assert kpi.poisson_test(0, 0) == 1.0


@pytest.mark.parametrize("table", [[[3, 1], [1, 3]], [[10, 2], [3, 15]], [[0, 5], [5, 0]],
                                   [[1, 40], [6, 30]]])
def test_fisher_matches_scipy(table):
    assert kpi.fisher_exact(table) == pytest.approx(stats.fisher_exact(table).pvalue,
                                                    rel=1e-9)


def test_two_proportion_test():
    # large counts: the pooled z test, as statsmodels' proportions_ztest computes it
    x1, n1, x0, n0 = 1742, 14904, 1556, 16377
    p = (x1 + x0) / (n1 + n0)
    z = (x1 / n1 - x0 / n0) / np.sqrt(p * (1 - p) * (1 / n1 + 1 / n0))
    assert kpi.two_proportion_test(x1, n1, x0, n0) == pytest.approx(2 * stats.norm.sf(z))
    # small counts: Fisher's exact test
    assert kpi.two_proportion_test(2, 10, 1, 12) == pytest.approx(
        stats.fisher_exact([[2, 8], [1, 11]]).pvalue)
    assert np.isnan(kpi.two_proportion_test(1, 0, 1, 5))


def test_poisson_test_holds_its_size_on_noise():
    """Counts drawn with one rate: about 5% of pairs are called changes at alpha 0.05 (an
    exact test is conservative, so at most that, and not far below)."""
    rng = np.random.default_rng(3)
    a, b = rng.poisson(400, 4000), rng.poisson(400, 4000)
    called = np.mean([kpi.poisson_test(int(x), int(y)) < 0.05 for x, y in zip(a, b, strict=True)])
    assert 0.03 < called <= 0.06


def test_lowest_since():
    # knife crime in the synthetic Thames Valley: 2020 1,222; 2019..2015 going back
    history = [(2019, 1300), (2018, 1290), (2017, 1240), (2016, 1010), (2015, 880)]
    assert kpi.lowest_since(1222, history) == 2016
    assert kpi.highest_since(1222, history) is None
    assert kpi.record_low(1222, history) is None
    assert kpi.record_low(800, history) == 2015 and kpi.lowest_since(800, history) is None
    # a rise has no "lowest since"; an unknown year stops the search
    assert kpi.lowest_since(1400, history) is None
    assert kpi.highest_since(1400, history) is None and kpi.record_low(1400, history) is None
    assert kpi.lowest_since(1222, [(2019, 1300), (2018, None), (2017, 1000)]) is None
    assert kpi.highest_since(1295, [(2019, 1200), (2018, 1300)]) == 2018


def test_wording_never_calls_noise_a_fall():
    p = kpi.poisson_test(1262, 1300, 366, 365)
    text = kpi.describe_change("Knife crime", 1300, 1262, p)
    assert text.startswith("Knife crime: no significant change (1,300 → 1,262")
    assert " down" not in text
    fall = kpi.describe_change("Personal robbery", 1456, 1121,
                               kpi.poisson_test(1121, 1456, 366, 365), since=2016)
    assert fall.startswith("Personal robbery is down 23% (1,456 → 1,121; p < 0.001)")
    assert fall.endswith("the lowest since 2016")
    rise = kpi.describe_change("The rate", 0.095, 0.117, 0.0001, rate=("9.5%", "11.7%"))
    assert rise.startswith("The rate is up 23% (9.5% → 11.7%")
    assert "too few" in kpi.describe_change("Homicide", None, 3, None)
