"""Aggregation in DuckDB: cells, time bins, zeros, filters, harm weights, bad arguments."""

from __future__ import annotations

import duckdb
import h3
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from deltalake import write_deltalake

from vru.analysis.aggregate import AggregationError, aggregate, parse_cell, study_area
from vru.analysis.harm import CODE_WEIGHTS, PUBLISHED_ANCHORS, default_weights, load_weights
from vru.geo.grids import h3_cells_covering
from vru.lake.engine import register
from vru.lake.store import Store

VIOLENCE = "Violence and sexual offences"


def query(store: Store, sql: str):
    """An independent read of the incidents table (the test's oracle)."""
    con = duckdb.connect()
    try:
        register(con, store, "incidents")
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()


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


@pytest.mark.parametrize("time_bin", ["month", "week", "day", "hour_of_week"])
def test_integer_bins_match_pandas_labels(home, time_bin):
    c = aggregate(home, "grid:1000", time_bin, category=VIOLENCE, start="2019-01",
                  end="2019-06")
    df = query(Store(home), "SELECT easting, northing, occurred_from, month FROM incidents "
                            f"WHERE category = '{VIOLENCE}' AND month BETWEEN '2019-01' AND "
                            "'2019-06' AND occurred_from IS NOT NULL").to_pandas()
    t = pd.to_datetime(df.occurred_from)
    df["bin"] = {"month": df.month,
                 "week": (t.dt.normalize() - pd.to_timedelta(t.dt.day_of_week, "D")).dt.strftime(
                     "%Y-%m-%d"),
                 "day": t.dt.strftime("%Y-%m-%d"),
                 "hour_of_week": (t.dt.day_of_week * 24 + t.dt.hour).astype(str)}[time_bin]
    df["cell"] = ("1000m:" + np.floor(df.easting / 1000).astype(int).astype(str) + ":"
                  + np.floor(df.northing / 1000).astype(int).astype(str))
    expected = df.groupby(["cell", "bin"]).size()
    got = c.to_frame(zeros=False).set_index(["cell", "bin"])["n"]
    inside = expected[expected.index.get_level_values(0).isin(set(c.area.ids))]
    pd.testing.assert_series_equal(got.sort_index(), inside.sort_index(), check_names=False)
    assert int(expected.sum()) - int(inside.sum()) == c.outside
    assert c.groups <= len(c.area) * len(c.bins) + len(c.bins) + 3


def _tiny_lake(home, rows):
    cols = ("month", "occurred_from", "category", "offence_code", "easting", "northing",
            "lon", "lat", "lsoa11cd")
    tab = pa.table({
        "source": pa.array(["force_extract"] * len(rows)),
        **{k: pa.array([r[i] for r in rows],
                       {"occurred_from": pa.timestamp("us"), "easting": pa.float64(),
                        "northing": pa.float64(), "lon": pa.float64(),
                        "lat": pa.float64()}.get(k, pa.string()))
           for i, k in enumerate(cols)},
    })
    write_deltalake(str(Store(home).path("incidents")), tab)
    return home


def test_events_without_location_time_or_cell_are_counted_not_lost(tmp_path):
    lsoa = study_area("lsoa").lsoa.iloc[0]
    pt = lsoa.geometry.representative_point()
    t = pd.Timestamp("2019-03-06 22:30")  # a Wednesday
    ok = ("2019-03", t, VIOLENCE, None, pt.x, pt.y, None, None, lsoa.lsoa11cd)
    rows = [ok, ok,
            ("2019-03", None, VIOLENCE, None, pt.x, pt.y, None, None, lsoa.lsoa11cd),  # no time
            ("2019-03", t, VIOLENCE, None, None, None, None, None, None),  # no location
            ("2019-03", None, VIOLENCE, None, float("inf"), pt.y, None, None, None),  # neither
            ("2019-03", t, VIOLENCE, None, 1000.0, 1000.0, None, None, "E01999999")]  # outside
    home = _tiny_lake(tmp_path, rows)
    c = aggregate(home, "grid:500", "week")
    assert (c.events, c.outside, c.no_location, c.no_time) == (6, 1, 2, 1)
    assert c.bins == ["2019-03-04"] and int(c.n.sum()) == 2
    assert c.to_frame(zeros=False)["cell"].tolist() == [
        f"500m:{int(pt.x // 500)}:{int(pt.y // 500)}"]
    h = aggregate(home, "lsoa", "hour_of_week")
    assert int(h.n[:, 2 * 24 + 22].sum()) == 2 and (h.outside, h.no_location) == (1, 2)
    m = aggregate(home, "lsoa", "month", harm=True)
    assert (m.events, m.outside, m.no_location, m.no_time) == (6, 1, 2, 0)
    assert m.value.sum() == pytest.approx(3 * default_weights().weight(None, VIOLENCE))
    untimed = _tiny_lake(tmp_path / "untimed", [rows[2], rows[4]])
    with pytest.raises(AggregationError, match="month"):
        aggregate(untimed, "grid:500", "day")


@pytest.mark.parametrize(("res", "contain"), [(9, "overlap"), (8, "center")])
def test_h3_cover_of_each_lsoa_equals_cover_of_their_union(res, contain):
    lsoa = study_area("lsoa", area="E06000038").lsoa.to_crs("EPSG:4326")
    union = shapely.union_all(np.asarray(lsoa.geometry.values))
    expected: set[str] = set()
    for poly in shapely.get_parts(union):
        shape = h3.geo_to_h3shape(poly.__geo_interface__)
        expected |= set(h3.h3shape_to_cells(shape, res) if contain == "center" else
                        h3.h3shape_to_cells_experimental(shape, res, contain="overlap"))
    got = h3_cells_covering(lsoa, res, contain=contain)
    assert set(got) == expected and len(got) == len(expected)
