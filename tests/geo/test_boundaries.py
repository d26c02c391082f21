"""Tests for vru.geo.boundaries: shipped and user boundary files, population, LSOA -> MSOA."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from vru.data import asset
from vru.geo.boundaries import (
    THAMES_VALLEY,
    BoundaryError,
    load_lad,
    load_lsoa,
    load_msoa,
    lsoa_population,
    lsoa_to_msoa,
)


def _shipped_district_codes(kind: str) -> set[str]:
    return {p.name.removesuffix(".json.gz") for p in asset("geography", kind).glob("*.json.gz")}


def test_shipped_lsoa() -> None:
    lsoa = load_lsoa()
    assert list(lsoa.columns) == ["lsoa11cd", "lsoa11nm", "lad13cd", "geometry"]
    assert lsoa.crs.to_epsg() == 27700
    assert len(lsoa) == 1415
    assert lsoa["lsoa11cd"].is_unique and lsoa["lsoa11cd"].is_monotonic_increasing
    assert lsoa["lsoa11cd"].str.match(r"^E01\d{6}$").all()
    assert set(lsoa["lad13cd"]) == set(THAMES_VALLEY)
    assert lsoa.geometry.is_valid.all()
    assert set(lsoa.geom_type) <= {"Polygon", "MultiPolygon"}
    # ONS areas tile without overlap: neighbours share at most slivers along their borders.
    geoms = lsoa.geometry.values
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pair = left < right
    overlap = shapely.area(shapely.intersection(geoms[left[pair]], geoms[right[pair]]))
    # m², over 5,700 km² (shipped coordinates are snapped to 0.1 m, widening slivers a hair)
    assert pair.sum() > len(lsoa) and overlap.sum() < 20.0


def test_loads_are_cached_but_callers_get_copies() -> None:
    first = load_lsoa()
    first.loc[0, "lsoa11cd"] = "changed"
    assert load_lsoa().loc[0, "lsoa11cd"] != "changed"


def test_shipped_msoa() -> None:
    msoa = load_msoa()
    assert list(msoa.columns) == ["msoa11cd", "msoa11nm", "lad13cd", "geometry"]
    assert len(msoa) == 292 and msoa["msoa11cd"].is_unique
    assert msoa.crs.to_epsg() == 27700 and msoa.geometry.is_valid.all()
    assert set(msoa["lad13cd"]) == _shipped_district_codes("msoa-2011")
    # MSOAs are unions of LSOAs: the two layers cover the same ground.
    assert msoa.area.sum() == pytest.approx(load_lsoa().area.sum(), rel=1e-3)


def _write(path: Path, frame: gpd.GeoDataFrame, gz: bool = False) -> Path:
    text = frame.to_json()
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def test_user_folder_of_files(tmp_path: Path) -> None:
    shipped = load_lsoa()
    wgs = shipped.iloc[:3].to_crs(4326).rename(columns={"lsoa11cd": "LSOA11CD"})
    _write(tmp_path / "mine.geojson", wgs[["LSOA11CD", "geometry"]])
    other = shipped.iloc[3:5].to_crs(4326)[["lsoa11cd", "lsoa11nm", "lad13cd", "geometry"]]
    _write(tmp_path / "more.json.gz", other, gz=True)
    (tmp_path / "notes.txt").write_text("not a boundary file")
    got = load_lsoa(tmp_path)
    assert list(got["lsoa11cd"]) == list(shipped["lsoa11cd"].iloc[:5])
    # lad13cd comes from a column when there is one; "mine" is no district code: missing.
    by_code = got.set_index("lsoa11cd")
    assert by_code["lad13cd"].iloc[:3].isna().all()
    assert list(by_code["lad13cd"].iloc[3:]) == list(shipped["lad13cd"].iloc[3:5])
    assert by_code["lsoa11nm"].iloc[:3].isna().all()
    # Same shapes back, to well under a metre after the WGS84 round trip.
    for a, b in zip(got.geometry, shipped.geometry.iloc[:5], strict=True):
        assert shapely.hausdorff_distance(a, b) < 0.1
    # A single file and a list of files work too.
    assert len(load_lsoa(tmp_path / "mine.geojson")) == 3
    assert len(load_lsoa([tmp_path / "mine.geojson", tmp_path / "more.json.gz"])) == 5


def test_user_file_in_metres_without_crs(tmp_path: Path) -> None:
    shipped = load_lsoa().iloc[:2]
    data = json.loads(shipped[["lsoa11cd", "geometry"]].to_json())
    data.pop("crs", None)
    (tmp_path / "bng.geojson").write_text(json.dumps(data))
    got = load_lsoa(tmp_path / "bng.geojson")
    assert shapely.hausdorff_distance(got.geometry.iloc[0], shipped.geometry.iloc[0]) < 1e-6


def test_bad_user_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_lsoa(tmp_path / "nowhere.geojson")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BoundaryError, match="no boundary files"):
        load_lsoa(empty)
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json")
    with pytest.raises(BoundaryError, match="broken.geojson"):
        load_lsoa(broken)
    shipped = load_lsoa().iloc[:2].to_crs(4326)
    nocode = _write(tmp_path / "nocode.geojson", shipped[["lsoa11nm", "geometry"]])
    with pytest.raises(BoundaryError, match=r"nocode.geojson: no LSOA11CD column"):
        load_lsoa(nocode)
    a = _write(tmp_path / "a.geojson", shipped[["lsoa11cd", "geometry"]])
    b = _write(tmp_path / "b.geojson", shipped[["lsoa11cd", "geometry"]])
    with pytest.raises(BoundaryError, match="appears in both"):
        load_lsoa([a, b])
    badgz = tmp_path / "bad.json.gz"
    badgz.write_bytes(b"\x1f\x8b" + b"rubbish")
    with pytest.raises(BoundaryError, match="bad.json.gz"):
        load_lsoa(badgz)


def test_lad_covers_the_loaded_districts() -> None:
    lad = load_lad()
    lsoa = load_lsoa()
    assert list(lad.columns) == ["lad13cd", "lad13nm", "geometry"]
    assert set(lad["lad13cd"]) == set(lsoa["lad13cd"])
    assert lad.crs.to_epsg() == 27700 and lad.geometry.is_valid.all()
    assert lad["lad13nm"].notna().all()
    # The generalised district outline matches the union of its LSOAs within 2%.
    areas = lsoa.dissolve("lad13cd").area
    for code, geom in zip(lad["lad13cd"], lad.geometry, strict=True):
        assert geom.area == pytest.approx(areas[code], rel=0.02)


def test_lad_of_user_lsoas_without_district_codes(tmp_path: Path) -> None:
    shipped = load_lsoa()
    first = shipped[shipped["lad13cd"] == shipped["lad13cd"].iloc[0]].head(4)
    _write(tmp_path / "own.geojson", first.to_crs(4326)[["lsoa11cd", "geometry"]])
    lad = load_lad(lsoa_paths=tmp_path)
    assert list(lad["lad13cd"]) == [shipped["lad13cd"].iloc[0]]


def test_lad_all_districts_and_requested_codes() -> None:
    every = load_lad(all_districts=True)
    assert len(every) == 326 and every["lad13cd"].is_unique
    assert every.geometry.is_valid.all()
    two = load_lad(every["lad13cd"].iloc[:2])
    assert list(two["lad13cd"]) == list(every["lad13cd"].iloc[:2])
    with pytest.raises(BoundaryError, match="no district X99"):
        load_lad(["X99"])


def test_own_topojson_decoder_agrees_with_gdal() -> None:
    path = asset("geography", "lad-2013-england.topo.json.gz")
    gdal = pyogrio.read_dataframe(f"/vsigzip/{path}", layer="lad").set_crs(4326).to_crs(27700)
    gdal["geometry"] = shapely.make_valid(
        gdal.geometry.values, method="structure", keep_collapsed=False
    )
    ours = load_lad(all_districts=True).set_index("lad13cd")
    gdal = gdal.set_index("LAD13CD").loc[ours.index]
    diff = shapely.symmetric_difference(ours.geometry.values, gdal.geometry.values)
    assert np.all(shapely.area(diff) <= 1e-6 * ours.area.to_numpy() + 1.0)


def test_lsoa_population() -> None:
    pop = lsoa_population()
    assert list(pop.columns) == [
        "lsoa11cd",
        "population",
        "population_0_15",
        "population_16_59",
        "population_60_plus",
    ]
    assert len(pop) == 32844 and pop["lsoa11cd"].is_unique
    # "1,296" in the file: thousands separators are parsed, not mistaken for text.
    assert int(pop.set_index("lsoa11cd").loc["E01000001", "population"]) == 1296
    parts = pop["population_0_15"] + pop["population_16_59"] + pop["population_60_plus"]
    assert (parts == pop["population"]).all()
    assert set(load_lsoa()["lsoa11cd"]) <= set(pop["lsoa11cd"])


def test_population_file_errors_name_line(tmp_path: Path) -> None:
    src = gzip.decompress(
        asset("deprivation", "File_6_-_IoD2019_Population_Denominators.csv.gz").read_bytes()
    )
    lines = src.decode("utf-8-sig").splitlines()
    bad = lines[:3] + ["E01000009,X 001A,E09000001,X,lots,1,2,3,4"]
    path = tmp_path / "pop.csv"
    path.write_text("\n".join(bad) + "\n")
    with pytest.raises(BoundaryError, match=r"pop.csv: line 4, column population"):
        lsoa_population(str(path))
    path.write_text("a,b\n1,2\n")
    with pytest.raises(BoundaryError, match="no column starting 'lsoa code"):
        lsoa_population(str(path))


def test_lsoa_to_msoa_by_name_and_by_space_agree() -> None:
    by_name = lsoa_to_msoa()
    assert len(by_name) == 1415 and (by_name["method"] == "name").all()
    msoa = load_msoa()
    assert set(by_name["msoa11cd"]) == set(msoa["msoa11cd"])
    nameless = load_lsoa()
    nameless["lsoa11nm"] = None
    spatial = lsoa_to_msoa(nameless)
    assert (spatial["method"] == "spatial").all()
    assert (spatial["msoa11cd"] == by_name["msoa11cd"]).all()
