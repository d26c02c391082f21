"""Coverage in time: the force-months a lake holds, on the shipped data.police.uk months."""

from __future__ import annotations

from dataclasses import replace

import pytest

from vru.data import police_uk_months
from vru.lake.coverage import coverage, month_runs
from vru.lake.events import Events
from vru.lake.loaders import ingest_police_uk

HELD = ["2018-06", "2018-10", "2018-11", "2018-12"]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("coverage") / "home"
    ingest_police_uk(home, police_uk_months())
    return home


def test_months_held_and_missing(home):
    c = coverage(home)
    assert c.months() == HELD and c.months(source="police_uk",
                                           force="Thames Valley Police") == HELD
    assert c.months(source="force_extract") == []
    assert c.missing() == ["2018-07", "2018-08", "2018-09"]
    assert c.missing("2018-05", "2019-01") == ["2018-05", "2018-07", "2018-08", "2018-09",
                                               "2019-01"]
    assert c.held("2018-09", "2018-11") == ["2018-10", "2018-11"]
    assert c.describe() == ("police_uk Thames Valley Police: 2018-06, 2018-10..2018-12 "
                            "(3 months missing: 2018-07..2018-09)")
    assert c.version == Events.whole(home).version
    assert all(u.rows is None for u in c.units)  # counts only when asked
    with pytest.raises(ValueError, match="rows=True"):
        c.rows()
    m = c.meta("2018-06", "2018-12")
    assert m["held"] == HELD and m["missing"] == ["2018-07", "2018-08", "2018-09"]


def test_row_counts_match_the_table(home):
    c = coverage(home, rows=True)
    rows = c.rows()
    assert list(rows) == HELD
    assert sum(rows.values()) == Events.whole(home).store.table("incidents").to_pyarrow_dataset(
    ).count_rows()


def test_an_area_holds_the_force_months_without_counts_of_the_force(home):
    whole = Events.whole(home)
    # an LSOA with one crime in the four months: the other three are held, with no crime
    area = replace(whole, lsoa=frozenset({"E01017416"}), area="one lsoa")
    c = coverage(area, rows=True)
    assert c.months() == HELD  # held force-wide, so held for the area
    assert sum(c.rows().values()) == 1  # counts are the area's own rows
    assert sorted(c.rows().values()) == [0, 0, 0, 1]
    nowhere = replace(whole, lsoa=frozenset({"E09999999"}), area="no rows")
    assert coverage(nowhere).months() == []  # no force has rows there


def test_month_runs():
    assert month_runs(["2018-12", "2019-01", "2018-06"]) == "2018-06, 2018-12..2019-01"
    assert month_runs([]) == "none"
