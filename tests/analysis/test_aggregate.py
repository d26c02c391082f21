"""Aggregation in DuckDB: cells, time bins, zeros, filters, harm weights, bad arguments."""
# ruff: noqa: F811  (pytest fixtures imported from test_recovery are used as arguments)

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.analysis.test_recovery import police_lake, synth_lake  # noqa: F401  (session fixtures)

from vru.analysis.aggregate import AggregationError, aggregate, parse_cell, study_area
from vru.analysis.harm import CODE_WEIGHTS, PUBLISHED_ANCHORS, default_weights, load_weights
from vru.lake.engine import query
from vru.lake.store import Store

VIOLENCE = "Violence and sexual offences"


@pytest.fixture(scope="module")
def home(synth_lake):
    return synth_lake[0]


def _sql_count(home, where: str) -> int:
    return int(query(Store(home), f"SELECT count(*) AS n FROM incidents WHERE {where}")["n"][0])


@pytest.mark.parametrize("cell", ["grid:500", "lsoa", "msoa", "district"])
def test_counts_add_up_with_zero_cells(home, cell):
    c = aggregate(home, cell, category=VIOLENCE)
    assert c.events == _sql_count(home, f"category = '{VIOLENCE}'")
    assert int(c.n.sum()) + c.outside + c.no_location == c.events
    assert len(c.n) == len(study_area(cell))
    assert (c.n == 0).any() or cell != "grid:500"  # empty grid cells are listed
    assert c.versions == {"incidents": Store(home).version("incidents")}


def test_grid_cells_match_python_floor(home):
    c = aggregate(home, "grid:1000", source="force_extract", start="2019-01", end="2019-03")
    df = query(Store(home), "SELECT easting, northing FROM incidents WHERE month BETWEEN "
                            "'2019-01' AND '2019-03'").to_pandas()
    ids = ("1000m:" + np.floor(df.easting / 1000).astype(int).astype(str) + ":"
           + np.floor(df.northing / 1000).astype(int).astype(str))
    expected = ids.value_counts()
    got = c.to_frame(zeros=False).set_index("cell")["n"]
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)


def test_week_bins_cover_the_period_with_zeros(home):
    c = aggregate(home, "grid:2000", "week", category=VIOLENCE, start="2019-01", end="2019-12")
    assert c.bins[0] == "2018-12-31" and c.bins[-1] == "2019-12-30"
    assert c.n.shape == (len(c.area), 53)
    assert int(c.n.sum()) + c.outside + c.no_location + c.no_time == c.events


def test_h3_via_distinct_points(home):
    c = aggregate(home, "h3:7", category=VIOLENCE, start="2020-01", end="2020-06")
    assert int(c.n.sum()) + c.outside == c.events
    assert all(len(i) == 15 for i in c.area.ids[:5])


def test_harm_weights_by_code(home):
    c = aggregate(home, "district", offence_code=["105A", "8N"], harm=True)
    n105 = _sql_count(home, "offence_code = '105A'")
    n8n = _sql_count(home, "offence_code = '8N'")
    assert c.value.sum() == pytest.approx(n105 * CODE_WEIGHTS["105A"] + n8n * CODE_WEIGHTS["8N"])
    assert default_weights().weight(None, "Robbery") > default_weights().weight(None, "Drugs")
    assert PUBLISHED_ANCHORS["1"] > PUBLISHED_ANCHORS["2"] > max(
        v for k, v in CODE_WEIGHTS.items() if k not in ("1", "2"))


def test_load_weights_names_bad_line(tmp_path):
    p = tmp_path / "w.csv"
    p.write_text("offence_code,weight\n1,\"7,979\"\n8N,lots\n")
    with pytest.raises(ValueError, match="line 3, field weight"):
        load_weights(p)
    p.write_text("offence_code,weight\n1,\"7,979\"\n")
    assert load_weights(p).by_code == {"1": 7979.0}


@pytest.mark.parametrize("bad", ["grid", "grid:-5", "h3:12", "hex:9", "county"])
def test_bad_cell_is_refused(bad):
    with pytest.raises(AggregationError, match="not understood"):
        parse_cell(bad)


def test_bad_arguments(home, tmp_path):
    with pytest.raises(AggregationError, match="YYYY-MM"):
        aggregate(home, "lsoa", start="2019-13")
    with pytest.raises(AggregationError, match="time_bin"):
        aggregate(home, "lsoa", "fortnight")
    with pytest.raises(AggregationError, match="no table"):
        aggregate(tmp_path, "lsoa")
    with pytest.raises(AggregationError, match="weights"):
        study_area("lsoa").weights("queen")


def test_week_bins_refuse_month_precision(police_lake):
    with pytest.raises(AggregationError, match="month"):
        aggregate(police_lake, "lsoa", "week", category=VIOLENCE)
