"""Tests for vru.geo.grids: square BNG cells and H3 cells."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from vru.data import asset
from vru.geo.boundaries import load_lad, load_lsoa
from vru.geo.crs import to_bng
from vru.geo.grids import (
    NO_CELL,
    h3_cell,
    h3_cells_covering,
    h3_neighbours,
    h3_polygons,
    parse_square_ids,
    square_cell,
    square_cell_id,
    square_cells_covering,
    square_id,
    square_polygons,
)
from vru.geo.lookup import AreaIndex


def test_square_cell_and_ids() -> None:
    col, row = square_cell([471_570.7, 250.0, -0.5, np.nan], [173_559.5, 499.9, 250.0, 1.0], 250)
    assert list(col) == [1886, 1, -1, NO_CELL]
    assert list(row) == [694, 1, 1, NO_CELL]
    ids = square_cell_id([471_570.7, np.nan], [173_559.5, 1.0], 250)
    assert list(ids) == ["250m:1886:694", None]
    assert list(square_cell_id([100.0], [0.0], 62.5)) == ["62.5m:1:0"]
    assert list(square_id(np.array([[1, 2]]), np.array([[3, 4]]), 100).ravel()) == [
        "100m:1:3",
        "100m:2:4",
    ]
    with pytest.raises(ValueError, match="positive"):
        square_cell([1.0], [1.0], 0)
    with pytest.raises(ValueError, match="not a square cell id"):
        parse_square_ids(["250m:1:2", "8f1958b4"])


@settings(max_examples=300, deadline=None)
@given(
    e=st.floats(min_value=-1e5, max_value=8e5, allow_nan=False),
    n=st.floats(min_value=-1e5, max_value=1.3e6, allow_nan=False),
    size=st.sampled_from([1, 10, 50, 62.5, 100, 250, 400, 500, 1000, 5000]),
)
def test_square_id_round_trip_and_containment(e: float, n: float, size: float) -> None:
    cell_id = square_cell_id([e], [n], size)[0]
    s, col, row = parse_square_ids([cell_id])
    assert s[0] == size
    assert (col[0], row[0]) == tuple(int(v[0]) for v in square_cell([e], [n], size))
    poly = square_polygons([cell_id])[0]
    assert shapely.intersects_xy(poly, e, n)
    assert poly.area == pytest.approx(size * size)


def test_square_covering_counts() -> None:
    assert len(square_cells_covering((0, 0, 1000, 1000), 250)) == 16
    assert len(square_cells_covering((0, 0, 1001, 1000), 250)) == 20
    assert len(square_cells_covering((10, 10, 20, 20), 250)) == 1
    cells = square_cells_covering((-500, -500, 499, 499), 500)
    assert list(cells["cell_id"]) == ["500m:-1:-1", "500m:0:-1", "500m:-1:0", "500m:0:0"]
    # A triangle across a 4 x 4 block: cells under it, not those merely touching a corner.
    tri = shapely.Polygon([(0, 0), (1000, 0), (0, 1000)])
    assert len(square_cells_covering(tri, 250, only_intersecting=True)) == 10
    assert len(square_cells_covering(tri, 250)) == 16
    with pytest.raises(ValueError, match="larger cell size"):
        square_cells_covering((0, 0, 1e7, 1e7), 1)


def test_square_covering_of_the_study_area_holds_every_located_crime() -> None:
    lsoa = load_lsoa()
    cells = square_cells_covering(lsoa, 500, only_intersecting=True)
    full = square_cells_covering(tuple(lsoa.total_bounds), 500)
    assert cells["cell_id"].is_unique
    assert len(cells) < len(full)
    # Area of the kept cells is at least the study area and not wildly more.
    ratio = len(cells) * 500 * 500 / lsoa.area.sum()
    assert 1.0 < ratio < 1.3
    rows = pd.read_csv(asset("police-uk", "2018-11-thames-valley-street.csv.gz"))
    rows = rows.dropna(subset=["Longitude"])
    e, n = to_bng(rows["Longitude"].to_numpy(), rows["Latitude"].to_numpy())
    inside = AreaIndex.lsoa().covers(e, n)
    ids = set(square_cell_id(e[inside], n[inside], 500))
    assert ids <= set(cells["cell_id"])


def test_square_polygons_size_guard() -> None:
    polys = square_polygons(["250m:2:3"], size=250)
    assert polys[0].bounds == (500.0, 750.0, 750.0, 1000.0)
    with pytest.raises(ValueError, match="expected"):
        square_polygons(["250m:2:3", "100m:1:1"], size=250)


def test_h3_cell_matches_h3_and_handles_nan() -> None:
    rng = np.random.default_rng(5)
    lat, lon = rng.uniform(51.3, 52.1, 300), rng.uniform(-1.5, -0.5, 300)
    lat[::7] = np.nan
    got = h3_cell(lat, lon, 9)
    for a, b, c in zip(lat, lon, got, strict=True):
        assert c == (None if np.isnan(a) else h3.latlng_to_cell(a, b, 9))
    repeated = h3_cell(np.repeat(lat[1:3], 1000), np.repeat(lon[1:3], 1000), 7)
    assert set(repeated) == {
        h3.latlng_to_cell(lat[1], lon[1], 7),
        h3.latlng_to_cell(lat[2], lon[2], 7),
    }
    with pytest.raises(ValueError, match="resolution"):
        h3_cell([51.0], [-1.0], 16)
    assert list(h3_cell([95.0], [0.0], 8)) == [None]


def test_h3_covering_of_districts() -> None:
    lad = load_lad()
    centre = h3_cells_covering(lad, 7)
    overlap = h3_cells_covering(lad, 7, contain="overlap")
    assert set(centre) < set(overlap)
    assert all(h3.get_resolution(c) == 7 for c in centre)
    # Centre-fill tiles the area: count times mean hexagon area is close to the area.
    est = len(centre) * np.mean([h3.cell_area(c, "m^2") for c in centre])
    assert est == pytest.approx(lad.area.sum(), rel=0.05)
    # Every located crime inside the districts lies in a listed "overlap" cell.
    rows = pd.read_csv(asset("police-uk", "2018-11-thames-valley-street.csv.gz"))
    rows = rows.dropna(subset=["Longitude"])
    e, n = to_bng(rows["Longitude"].to_numpy(), rows["Latitude"].to_numpy())
    inside = shapely.intersects_xy(shapely.union_all(lad.geometry.values), e, n)
    cells = h3_cell(rows["Latitude"].to_numpy()[inside], rows["Longitude"].to_numpy()[inside], 7)
    assert set(cells) <= set(overlap)
    # Bounds in lon/lat work as well.
    assert len(h3_cells_covering((-1.0, 51.4, -0.9, 51.5), 8)) > 0


def test_h3_polygons() -> None:
    cells = h3_cell([51.4565, 51.75], [-0.9713, -1.25], 8)
    polys = h3_polygons(cells)
    for c, p in zip(cells, polys, strict=True):
        lat, lon = h3.cell_to_latlng(c)
        assert p.contains(shapely.Point(lon, lat))
    bng = h3_polygons(cells, bng=True)
    for c, p in zip(cells, bng, strict=True):
        assert p.area == pytest.approx(h3.cell_area(c, "m^2"), rel=0.01)
    with pytest.raises(ValueError, match="not an H3 cell"):
        h3_polygons(["nonsense"])


def test_h3_neighbours() -> None:
    cell = h3_cell([51.4565], [-0.9713], 9)[0]
    one = h3_neighbours([cell], k=1)
    assert len(one) == 6 and (one["distance"] == 1).all()
    two = h3_neighbours([cell, cell], k=2)
    assert len(two) == 18
    assert sorted(two["distance"].value_counts().to_dict().items()) == [(1, 6), (2, 12)]
    assert cell not in set(two["neighbour"])
    assert all(h3.are_neighbor_cells(cell, nb) for nb in one["neighbour"])
    with pytest.raises(ValueError, match="positive"):
        h3_neighbours([cell], k=0)
