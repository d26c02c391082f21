"""Months not held are missing, never zero; events outside the boundaries are loud."""

from __future__ import annotations

import gzip
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from vru.analysis.aggregate import AggregationError, _held_bins, aggregate
from vru.analysis.hotspots import emerging, gistar, near_repeat, times
from vru.analysis.near_repeat import MonthPrecisionError
from vru.data import asset
from vru.lake.events import Events
from vru.lake.loaders import ingest_police_uk

VIOLENCE = "Violence and sexual offences"
GAP = ["2018-07", "2018-08", "2018-09"]
#: Guildford, Surrey: outside every shipped Thames Valley boundary
SURREY = (-0.5704, 51.2362)


def test_times_trend_uses_only_months_held(police_lake):
    r = times(police_lake, category=VIOLENCE)
    assert r.trend.counts["month"].astype(str).tolist() == ["2018-06", "2018-10", "2018-11",
                                                           "2018-12"]
    assert r.trend.missing == tuple(GAP)
    assert r.trend.summary().startswith("4 months held (3 not held, left out: "
                                        "2018-07..2018-09)")
    assert r.meta["coverage"]["missing"] == GAP
    assert r.seasonality.loc[7, "years"] == 0
    assert any("2018-07..2018-09" in w for w in r.meta["warnings"])


def test_month_bins_know_which_months_are_held(police_lake):
    c = aggregate(police_lake, "district", "month", category=VIOLENCE, start="2018-05",
                  end="2019-01")
    assert c.bins[0] == "2018-05" and c.bins[-1] == "2019-01"
    held = dict(zip(c.bins, c.held.tolist(), strict=True))
    assert [b for b, h in held.items() if h] == ["2018-06", "2018-10", "2018-11", "2018-12"]
    assert c.coverage["missing"] == ["2018-05", *GAP, "2019-01"]


def test_week_and_day_bins_are_held_only_inside_held_months():
    months = {"2018-10", "2018-11"}
    weeks = ["2018-09-24", "2018-10-01", "2018-10-29", "2018-11-26"]
    # the first week starts in September; the last ends in December
    assert _held_bins("week", weeks, months).tolist() == [False, True, True, False]
    assert _held_bins("day", ["2018-09-30", "2018-10-01"], months).tolist() == [False, True]


def test_emerging_skips_or_refuses_a_gap_inside_and_cuts_the_edges(police_lake):
    r = emerging(police_lake, category=VIOLENCE, cell="district")
    assert r.meta["parameters"]["steps"] == ["2018-06", "2018-12", 4]
    (w,) = r.meta["warnings"]
    assert "2018-07..2018-09" in w and "skipped" in w
    with pytest.raises(AggregationError, match=r"2018-07\.\.2018-09") as exc:
        emerging(police_lake, category=VIOLENCE, cell="district", gaps="refuse")
    assert "2018-10..2018-12" in str(exc.value)  # the longest held run, offered
    r = emerging(police_lake, category=VIOLENCE, cell="district", start="2018-09",
                 end="2018-12")
    assert r.meta["parameters"]["steps"] == ["2018-10", "2018-12", 3]
    assert any("2018-09" in w and "left out" in w for w in r.meta["warnings"])
    assert r.meta["coverage"]["missing"] == ["2018-09"]


def test_near_repeat_on_month_precision_says_so(police_lake):
    with pytest.raises(MonthPrecisionError) as exc:
        near_repeat(police_lake, category="Burglary", source="force_extract", permutations=9)
    text = str(exc.value)
    assert "known only to the month" in text and "police_uk" in text
    assert "no source" in text and "event times" in text
    with pytest.raises(MonthPrecisionError, match="known only to the month"):
        near_repeat(police_lake, category="Burglary", permutations=9)


def _moved(tmp_path, share: float):
    """The real 2018-11 month with ``share`` of its located violent crimes moved to Surrey;
    returns (home, moved, located)."""
    df = pd.read_csv(asset("police-uk", "2018-11-thames-valley-street.csv.gz"),
                     encoding="utf-8-sig", dtype=str, keep_default_na=False)
    located = np.flatnonzero(((df["Crime type"] == VIOLENCE) & (df["Longitude"] != ""))
                             .to_numpy())
    pick = located[: int(len(located) * share)]
    rng = np.random.default_rng(0)
    df.loc[df.index[pick], "Longitude"] = [f"{SURREY[0] + d:.6f}"
                                          for d in rng.uniform(-0.02, 0.02, pick.size)]
    df.loc[df.index[pick], "Latitude"] = [f"{SURREY[1] + d:.6f}"
                                         for d in rng.uniform(-0.01, 0.01, pick.size)]
    path = tmp_path / "2018-11-thames-valley-street.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        df.to_csv(f, index=False)
    home = tmp_path / "home"
    ingest_police_uk(home, [path])
    return home, int(pick.size), int(located.size)


def test_a_few_events_outside_are_a_warning_with_counts(tmp_path):
    home, moved, located = _moved(tmp_path, 0.1)
    r = gistar(home, category=VIOLENCE, cell="grid:2000")
    assert r.meta["outside"] == moved
    (w,) = r.meta["warnings"]
    assert f"{moved:,} of {located:,} located events" in w
    assert "outside the loaded boundaries" in w and "vru boundaries load" in w
    assert "Thames Valley Police" in w
    # an area-limited reader is told the share, not the counts
    codes = set(pd.read_csv(asset("police-uk", "2018-11-thames-valley-street.csv.gz"),
                            encoding="utf-8-sig", usecols=["LSOA code"])["LSOA code"].dropna())
    area = replace(Events.whole(home), lsoa=frozenset(codes), area="all", key_seed=7)
    (w,) = aggregate(area, "grid:2000", category=VIOLENCE).warnings
    assert f"{moved:,}" not in w and "% of the located events" in w


def test_most_events_outside_are_refused_with_counts(tmp_path):
    home, moved, located = _moved(tmp_path, 0.7)
    with pytest.raises(AggregationError) as exc:
        gistar(home, category=VIOLENCE, cell="h3:8")
    text = str(exc.value)
    assert f"{moved:,} of {located:,} located events ({moved / located:.1%})" in text
    assert "vru boundaries load" in text and "Thames Valley Police" in text
    # data inside the boundaries still runs: only the share outside decides
    ok = gistar(home, category="Burglary", cell="grid:2000")
    assert ok.meta["warnings"] == [] and ok.meta["outside"] == 0
