"""The shipped England and Wales LSOAs: lazy lookup, districts from data, user boundary files."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from vru.geo.boundaries import (
    THAMES_VALLEY,
    BoundaryError,
    data_districts,
    district_bounds,
    home_districts,
    load_lsoa,
    lsoa_index,
    read_user_boundaries,
)
from vru.geo.lookup import AreaIndex, LsoaLookup

ELMBRIDGE = "E07000207"  # Surrey
CARDIFF = "W06000015"
SEA = (700_000.0, 200_000.0)  # North Sea, east of the Essex coast


def _inner_point(lookup: LsoaLookup, district: str) -> tuple[str, shapely.Point]:
    """An LSOA of ``district`` whose representative point only that district's boxes hold."""
    frame = load_lsoa(districts=[district])
    pts = shapely.point_on_surface(np.asarray(frame.geometry.values, dtype=object))
    for code, p in zip(frame["lsoa11cd"], pts, strict=True):
        if lookup.districts_for([p.x], [p.y]) == [district]:
            return code, p
    raise AssertionError(f"no LSOA of {district} lies inside its neighbours' boxes")


def test_shipped_set_covers_england_and_wales() -> None:
    index = lsoa_index()
    assert len(index) == 34_753 and index["lsoa11cd"].is_unique
    assert index["lsoa11cd"].is_monotonic_increasing
    districts = district_bounds()
    assert len(districts) == 348 and districts["n_lsoa"].sum() == 34_753
    assert set(THAMES_VALLEY) <= set(districts["lad13cd"])
    assert districts["lad13cd"].str.startswith("W06").sum() == 22
    cardiff = load_lsoa(districts=[CARDIFF])
    assert len(cardiff) == 214 and set(cardiff["lad13cd"]) == {CARDIFF}
    assert cardiff["lsoa11nm"].str.startswith("Cardiff").all()
    assert cardiff.crs.to_epsg() == 27700 and cardiff.geometry.is_valid.all()
    with pytest.raises(BoundaryError, match="no district X99"):
        load_lsoa(districts=["X99"])


@pytest.mark.parametrize("district", [ELMBRIDGE, CARDIFF])
def test_point_of_another_force_gets_its_lsoa_with_no_set_up(district: str) -> None:
    lookup = LsoaLookup()  # a fresh one: nothing read yet
    code, p = _inner_point(lookup, district)
    assert lookup.loaded == []
    assert lookup.assign([p.x], [p.y])[0] == code
    assert lookup.loaded == [district]  # only the district the point needs was read
    # the process-wide lookup that ingest uses answers the same
    assert AreaIndex.lsoa().assign([p.x], [p.y])[0] == code


def test_sea_and_missing_points_are_outside_and_read_nothing() -> None:
    lookup = LsoaLookup()
    got = lookup.assign([SEA[0], np.nan, 0.0], [SEA[1], 1.0, 0.0])
    assert list(got) == [None, None, None]
    assert lookup.loaded == []
    assert lookup.assign(np.array([]), np.array([])).shape == (0,)


def test_lazy_lookup_answers_like_one_index_over_its_districts() -> None:
    lookup = LsoaLookup()
    frame = load_lsoa(districts=[CARDIFF, "W06000014", "W06000018", "W06000022"])
    whole = AreaIndex.from_frame(frame, "lsoa11cd")
    rng = np.random.default_rng(3)
    minx, miny, maxx, maxy = load_lsoa(districts=[CARDIFF]).total_bounds
    x, y = rng.uniform(minx, maxx, 20_000), rng.uniform(miny, maxy, 20_000)
    got = lookup.assign(x, y)
    assert set(lookup.loaded) <= set(district_bounds()["lad13cd"])
    # where the one index over four districts finds an LSOA, the lazy lookup finds the same
    found = whole.assign(x, y)
    hit = found != None  # noqa: E711 (object array)
    assert hit.sum() > 10_000 and (got[hit] == found[hit]).all()
    assert (lookup.assign_index(x, y) >= 0).sum() >= hit.sum()


def test_districts_from_codes_and_points() -> None:
    assert home_districts(["E01033415", "E01033415", None]) == ["E06000038"]  # Reading
    assert home_districts(["E01035234"]) == []  # a 2021 code: not a 2011 LSOA
    with pytest.raises(BoundaryError, match="E01035234"):
        home_districts(["E01035234", "E01033415"], strict=True)
    lookup = LsoaLookup()
    code, p = _inner_point(lookup, CARDIFF)
    got = data_districts(["E01033415"], [p.x, SEA[0], np.nan], [p.y, SEA[1], np.nan])
    assert got == ["E06000038", CARDIFF]
    assert home_districts([code]) == [CARDIFF]
    assert list(load_lsoa(districts=got)["lad13cd"].unique()) != []


def test_default_shipped_lsoa_is_the_thames_valley_set() -> None:
    assert set(load_lsoa()["lad13cd"]) == set(THAMES_VALLEY)
    assert len(load_lsoa()) == 1415


@pytest.mark.parametrize("epsg", [4326, 27700])
@pytest.mark.parametrize("suffix,driver", [(".geojson", "GeoJSON"), (".gpkg", "GPKG"),
                                            (".shp", "ESRI Shapefile")])
def test_user_boundary_files(tmp_path, epsg: int, suffix: str, driver: str) -> None:
    cardiff = load_lsoa(districts=[CARDIFF]).iloc[:6]
    mine = cardiff.rename(columns={"lsoa11cd": "LSOA11CD", "lsoa11nm": "Lsoa11Nm"})
    mine = mine[["LSOA11CD", "Lsoa11Nm", "geometry"]].to_crs(epsg)
    path = tmp_path / f"mine{suffix}"
    mine.to_file(path, driver=driver)
    got = read_user_boundaries(path)
    assert got.crs.to_epsg() == 27700
    assert list(got.columns) == ["lsoa11cd", "lsoa11nm", "geometry"]
    assert list(got["lsoa11cd"]) == list(cardiff["lsoa11cd"])
    assert list(got["lsoa11nm"]) == list(cardiff["lsoa11nm"])
    # reprojected back to the grid within a millimetre-scale area change
    assert np.allclose(got.area, cardiff.area, rtol=1e-6)
    p = shapely.point_on_surface(cardiff.geometry.iloc[2])
    assert AreaIndex.from_frame(got, "lsoa11cd").assign([p.x], [p.y])[0] == got["lsoa11cd"][2]


def test_user_boundaries_with_2021_codes_and_no_names(tmp_path) -> None:
    frame = load_lsoa(districts=[CARDIFF]).iloc[:3]
    mine = gpd.GeoDataFrame({"lsoa21cd": ["W01001960", "W01001961", "W01001962"]},
                            geometry=frame.geometry.values, crs=27700)
    mine.to_file(tmp_path / "b.gpkg", driver="GPKG")
    got = read_user_boundaries(tmp_path / "b.gpkg")
    assert list(got.columns) == ["lsoa21cd", "lsoa21nm", "geometry"]
    assert got["lsoa21nm"].isna().all()


def test_user_boundary_errors_name_the_file_and_field(tmp_path) -> None:
    frame = load_lsoa(districts=[CARDIFF]).iloc[:2]
    path = tmp_path / "wrong.gpkg"
    frame.rename(columns={"lsoa11cd": "area_code"}).to_file(path, driver="GPKG")
    with pytest.raises(BoundaryError, match=r"wrong\.gpkg: no LSOA11CD or LSOA21CD field "
                                            r"\(fields: area_code"):
        read_user_boundaries(path)
    with pytest.raises(FileNotFoundError, match="nowhere.shp"):
        read_user_boundaries(tmp_path / "nowhere.shp")
    twice = tmp_path / "twice.geojson"
    frame.assign(lsoa11cd="W01000001").to_file(twice, driver="GeoJSON")
    with pytest.raises(BoundaryError, match=r"twice\.geojson: LSOA11CD W01000001 appears twice"):
        read_user_boundaries(twice)
    junk = tmp_path / "junk.gpkg"
    junk.write_text("not a geopackage")
    with pytest.raises(BoundaryError, match=r"junk\.gpkg: not a readable"):
        read_user_boundaries(junk)


def test_built_districts_are_kept_for_the_next_process(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("VRU_CACHE_DIR", str(tmp_path))
    first = LsoaLookup()
    code, p = _inner_point(first, CARDIFF)
    assert first.assign([p.x], [p.y])[0] == code
    kept = sorted(f.name for f in tmp_path.glob("lsoa-ew-*/*"))
    assert kept == [f"{CARDIFF}.idx"]
    again = LsoaLookup()  # as a new process would: reads the kept index, same answers
    rng = np.random.default_rng(5)
    x, y = p.x + rng.normal(0, 2000, 5000), p.y + rng.normal(0, 2000, 5000)
    assert (again.assign(x, y) == first.assign(x, y)).all()


def test_user_files_filtered_by_district(tmp_path) -> None:
    two = load_lsoa(districts=[CARDIFF, "W06000014"])
    two.groupby("lad13cd").head(3).to_crs(4326).to_file(tmp_path / "two.geojson",
                                                        driver="GeoJSON")
    got = load_lsoa(tmp_path / "two.geojson", districts=[CARDIFF])
    assert len(got) == 3 and set(got["lad13cd"]) == {CARDIFF}
    assert len(load_lsoa(tmp_path / "two.geojson")) == 6
