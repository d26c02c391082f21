"""Derived geography: the Arrow path agrees with the engine path, status by status."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import shapely

from vru.geo.boundaries import load_lsoa
from vru.geo.crs import to_wgs84
from vru.lake.enrich import PointMemo, enrich_arrow, enrich_select
from vru.sources.canonical import INCIDENTS

READING = (-0.9731, 51.4543)  # Reading town centre, E01016466 area
PARIS = (2.35, 48.85)  # a point no shipped LSOA covers (and outside Great Britain)


def rows(points: list[dict]) -> pa.Table:
    base = dict.fromkeys(INCIDENTS.names)
    return pa.Table.from_pylist([{**base, **p} for p in points], schema=INCIDENTS)


def engine(t: pa.Table) -> pa.Table:
    con = duckdb.connect()
    con.register("t", t.append_column("_i", pa.array(range(t.num_rows))))
    # a join returns rows in any order: put them back in the input's
    return con.sql(f"SELECT * FROM ({enrich_select(con, 't')}) ORDER BY _i").to_arrow_table()


def plain(t: pa.Table) -> list[dict]:
    cols = ["lon", "lat", "easting", "northing", "lsoa11cd", "geo_status"]
    return t.select(cols).cast(pa.schema([INCIDENTS.field(c) for c in cols])).to_pylist()


def same(a: list[dict], b: list[dict]) -> bool:
    """Equal rows; numbers to a part in 1e9 (half a millimetre of easting)."""
    def close(x, y):
        if isinstance(x, float) and isinstance(y, float):
            return abs(x - y) <= 1e-9 * max(1.0, abs(x))
        return x == y
    return len(a) == len(b) and all(close(r[k], q[k])
                                    for r, q in zip(a, b, strict=True) for k in r)


@pytest.fixture
def wgs_rows() -> pa.Table:
    found = engine(rows([{"lon": READING[0], "lat": READING[1]}]))["lsoa11cd"][0].as_py()
    assert found and found.startswith("E01")
    return rows([
        {"lon": READING[0], "lat": READING[1]},                       # LSOA derived
        {"lon": READING[0], "lat": READING[1], "lsoa11cd": found},    # given, agrees
        {"lon": READING[0], "lat": READING[1], "lsoa11cd": "E01000001"},  # given, differs
        {"lon": PARIS[0], "lat": PARIS[1]},                           # outside boundaries
        {},                                                           # no location
    ])


def test_statuses(wgs_rows):
    got = plain(enrich_arrow(None, wgs_rows))
    assert [r["geo_status"] for r in got] == [
        "ok", "ok", "lsoa_differs", "outside_boundaries", "no_location"]
    assert got[0]["lsoa11cd"] == got[1]["lsoa11cd"] and got[2]["lsoa11cd"] == "E01000001"
    assert 470_000 < got[0]["easting"] < 475_000 and 172_000 < got[0]["northing"] < 175_000
    assert got[4]["easting"] is None and got[4]["lsoa11cd"] is None


def test_arrow_path_equals_engine_path(wgs_rows):
    assert same(plain(enrich_arrow(None, wgs_rows)), plain(engine(wgs_rows)))


def test_grid_references_and_mixed_systems(wgs_rows):
    e, n = plain(enrich_arrow(None, wgs_rows))[0]["easting"], plain(
        enrich_arrow(None, wgs_rows))[0]["northing"]
    bng = rows([{"easting": e, "northing": n}, {}])
    got = plain(enrich_arrow(None, bng))
    assert abs(got[0]["lon"] - READING[0]) < 1e-5 and got[0]["geo_status"] == "ok"
    mixed = pa.concat_tables([wgs_rows, bng])  # both systems: the engine joins them
    assert same(plain(enrich_arrow(None, mixed)), plain(engine(mixed)))


@pytest.mark.parametrize("districts", [["E07000207", "E07000209"], ["W06000015"]])
def test_rows_of_other_forces_get_their_lsoa_with_no_set_up(districts):
    # points of Surrey (Elmbridge, Guildford) and Cardiff LSOAs, made from the shipped shapes
    shapes = load_lsoa(districts=districts)
    pts = shapely.point_on_surface(np.asarray(shapes.geometry.values, dtype=object))
    lon, lat = to_wgs84(shapely.get_x(pts), shapely.get_y(pts))
    t = rows([{"lon": float(x), "lat": float(y)} for x, y in zip(lon, lat, strict=True)]
             + [{"lon": PARIS[0], "lat": PARIS[1]}])
    got = plain(enrich_arrow(None, t))
    assert [r["lsoa11cd"] for r in got[:-1]] == list(shapes["lsoa11cd"])
    assert {r["geo_status"] for r in got[:-1]} == {"ok"}
    assert got[-1]["geo_status"] == "outside_boundaries" and got[-1]["lsoa11cd"] is None
    assert same(got, plain(engine(t)))


def test_a_memo_answers_as_a_fresh_lookup_part_after_part(wgs_rows):
    # a batch's parts repeat most points: the memo answers those, and must answer the same
    memo = PointMemo()
    first = plain(enrich_arrow(None, wgs_rows, memo=memo))
    assert first == plain(enrich_arrow(None, wgs_rows))
    shifted = rows([{"lon": READING[0] + 0.01, "lat": READING[1]},   # new point
                    {"lon": READING[0], "lat": READING[1]},          # known point
                    {"lon": PARIS[0], "lat": PARIS[1]}, {}])         # known, outside
    assert same(plain(enrich_arrow(None, shifted, memo=memo)),
                plain(enrich_arrow(None, shifted)))
    # grid references are a system of their own: a lon/lat answer is never reused for them
    e, n = first[0]["easting"], first[0]["northing"]
    bng = rows([{"easting": e, "northing": n}, {"easting": n, "northing": e}])
    assert same(plain(enrich_arrow(None, bng, memo=memo)), plain(enrich_arrow(None, bng)))


def test_a_full_memo_starts_again(wgs_rows, monkeypatch):
    monkeypatch.setattr(PointMemo, "LIMIT", 2)
    memo = PointMemo()
    once = plain(enrich_arrow(None, wgs_rows, memo=memo))  # 3 distinct points > the limit
    assert plain(enrich_arrow(None, wgs_rows, memo=memo)) == once
    other = rows([{"lon": READING[0] + 0.01, "lat": READING[1]}])
    assert same(plain(enrich_arrow(None, other, memo=memo)), plain(enrich_arrow(None, other)))
