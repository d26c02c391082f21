"""Aoristic hour × weekday matrix, seasonality and monthly trend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vru.analysis.times import hour_weekday_matrix, month_of_year, monthly_trend
from vru.data import asset


def test_aoristic_weights_sum_to_events_and_spread_uniformly():
    start = pd.to_datetime(
        [
            "2024-03-04 09:15",  # Monday, exact
            "2024-03-09 23:30",  # Saturday 23:30 to Sunday 01:30
            "2024-03-10 23:00",  # Sunday 23:00 → Monday 01:00: wraps the week
            "2024-03-01 00:00",  # a 10-day window: capped, flat over the week
        ]
    )
    end = pd.to_datetime([pd.NaT, "2024-03-10 01:30", "2024-03-11 01:00", "2024-03-11 00:00"])
    m = hour_weekday_matrix(start, end)
    assert m.shape == (7, 24)
    assert m.to_numpy().sum() == pytest.approx(4.0)
    flat = 1 / 168
    assert m.loc["Monday", 9] == pytest.approx(1 + flat)
    assert m.loc["Saturday", 23] == pytest.approx(0.25 + flat)
    assert m.loc["Sunday", 0] == pytest.approx(0.5 + flat)
    assert m.loc["Sunday", 1] == pytest.approx(0.25 + flat)
    assert m.loc["Sunday", 23] == pytest.approx(0.5 + flat)
    assert m.loc["Monday", 0] == pytest.approx(0.5 + flat)
    assert m.attrs["n_capped"] == 1 and m.attrs["n_exact"] == 1


def test_aoristic_random_windows_conserve_weight():
    rng = np.random.default_rng(0)
    s = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.uniform(0, 24 * 365, 5000), unit="h")
    e = s + pd.to_timedelta(rng.exponential(6, 5000), unit="h")
    m = hour_weekday_matrix(s, e)
    assert m.to_numpy().sum() == pytest.approx(5000)
    assert (m.to_numpy() >= -1e-9).all()


def test_bad_windows_are_refused():
    with pytest.raises(ValueError, match="end before they start"):
        hour_weekday_matrix(["2024-01-02 10:00"], ["2024-01-02 09:00"])
    with pytest.raises(ValueError, match="row 1"):
        hour_weekday_matrix(["2024-01-02 10:00", "not a date"])


def test_month_of_year_and_trend_on_real_months():
    frames = [
        pd.read_csv(
            asset("police-uk", f"2018-{m}-thames-valley-street.csv.gz"),
            encoding="utf-8-sig",
            usecols=["Month"],
        )
        for m in ("06", "10", "11", "12")
    ]
    months = pd.concat(frames)["Month"]
    season = month_of_year(months)
    assert season["events"].sum() == len(months)
    assert season.loc[7, "years"] == 1  # without coverage, first to last month counts
    # with the months held, July-September are missing, not zeros
    held = ["2018-06", "2018-10", "2018-11", "2018-12"]
    season = month_of_year(months, held=held)
    assert season.loc[7, "years"] == 0 and np.isnan(season.loc[7, "mean_per_year"])
    trend = monthly_trend(months, held=held)
    assert trend.counts["month"].astype(str).tolist() == held
    assert trend.counts["events"].sum() == len(months)
    assert trend.missing == ("2018-07", "2018-08", "2018-09")
    assert "4 months held (3 not held, left out: 2018-07..2018-09)" in trend.summary()
    # the slope uses the months' true positions: June is 4 months before October
    x = np.array([0, 4, 5, 6])
    assert trend.slope_per_month == pytest.approx(np.polyfit(x, trend.counts["events"], 1)[0])
    assert trend.mann_kendall.n == 4


def test_a_held_month_without_events_is_a_zero():
    trend = monthly_trend(["2020-01-01", "2020-03-01", "2020-03-05"],
                          held=["2020-01", "2020-02", "2020-03"])
    assert trend.counts["events"].tolist() == [1, 0, 2] and trend.missing == ()
    with pytest.raises(ValueError, match="3 months held"):
        monthly_trend(["2020-01-01", "2020-03-01"], held=["2020-01", "2020-03"])
