"""The hotspot API and outputs: the CLI contract's columns, metadata, files and PNGs."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pytest

from vru.analysis.hotspots import density, gistar, times
from vru.analysis.outputs import plot_classes, plot_hour_weekday, read_meta, write_result
from vru.lake.store import Store

VIOLENCE = "Violence and sexual offences"


@pytest.fixture(scope="module")
def result(synth_lake):
    return gistar(synth_lake[0], category=VIOLENCE, cell="grid:1000", start="2019-01",
                  end="2020-12", weights="knn:8")


def test_gistar_contract(result, synth_lake):
    f = result.frame
    assert list(f.columns[:5]) == ["cell", "n", "z", "p", "class"]
    assert f["class"].between(-3, 3).all() and f.crs.to_epsg() == 4326
    assert result.meta["table_versions"] == {"incidents": Store(synth_lake[0]).version(
        "incidents")}
    assert result.meta["parameters"]["weights"] == "knn:8"
    assert (f["class"] == 3).any()


def test_permutations_and_harm(synth_lake):
    r = gistar(synth_lake[0], category=VIOLENCE, cell="district", permutations=99,
               weights="distance:20000", harm=True)
    assert {"harm", "p_norm"} <= set(r.frame.columns)
    assert (r.frame["p"] >= 0.01).all()  # pseudo p cannot go below 1/(R+1) x 2


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".geojson", ".gpkg"])
def test_write_formats_keep_provenance(result, tmp_path, suffix):
    p = write_result(result, tmp_path / f"out{suffix}")
    assert read_meta(p)["table_versions"] == result.meta["table_versions"]
    if suffix == ".parquet":
        back = pq.read_table(p).to_pandas()
    elif suffix == ".csv":
        back = pd.read_csv(p)
    else:
        back = gpd.read_file(p)
    assert len(back) == len(result.frame)
    assert {"cell", "n", "z", "p", "class"} <= set(back.columns)


def test_bad_suffix(result, tmp_path):
    with pytest.raises(ValueError, match="parquet"):
        write_result(result, tmp_path / "out.xlsx")


def test_pngs(result, synth_lake, tmp_path):
    assert plot_classes(result, tmp_path / "map.png").stat().st_size > 1000
    tm = times(synth_lake[0], category=VIOLENCE)
    assert plot_hour_weekday(tm, tmp_path / "hw.png").stat().st_size > 1000
    assert write_result(tm, tmp_path / "hw.csv").exists()


def test_density_integrates_to_events(synth_lake):
    d = density(synth_lake[0], category="Robbery", cell_size=250, bandwidth=500)
    assert d.grid.integral() == pytest.approx(d.meta["events"], rel=0.02)


def test_a_june_hotspot_map_predicts_the_autumn(police_lake):
    from vru.analysis.hotspots import accuracy, gistar, moran

    hot = gistar(police_lake, category="Violence and sexual offences", cell="lsoa",
                 start="2018-06", end="2018-06")
    acc = accuracy(hot, police_lake, "2018-10", "2018-12").accuracy
    # violence concentrates where it did: the map catches far more than its share of area
    assert acc.pai > 3 and 0 < acc.pei <= 1 and acc.n_total > 10_000
    m = moran(police_lake, category="Violence and sexual offences", cell="lsoa",
              permutations=99)
    assert {"HH", "LL"} <= set(m.frame["cluster"])
    assert m.meta["table_versions"]["incidents"] >= 0


def test_seasonality_and_trend_from_months(synth_lake, police_lake):
    tm = times(synth_lake[0], category=VIOLENCE)
    busiest = tm.seasonality.sort_values("mean_per_year", ascending=False)
    assert busiest.index[0] in (5, 6, 7, 8)  # the planted summer peak of violence
    assert abs(tm.seasonality["share"].sum() - 1) < 1e-9
    assert len(tm.trend.counts) == 48
    # data.police.uk has months only: no hour x weekday, but seasonality still
    pm = times(police_lake, category=VIOLENCE)
    assert pm.matrix is None and pm.meta["no_time"] > 10_000
    assert pm.seasonality["events"].sum() == pm.meta["no_time"]
