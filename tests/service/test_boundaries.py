"""A home's own LSOA boundaries: loaded through the door, listed, and drawn on by analyses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vru.data import police_uk_months
from vru.geo.boundaries import THAMES_VALLEY, load_lsoa
from vru.lake.loaders import ingest_police_uk
from vru.service import BadRequest, Denied, open_session
from vru.service import boundaries as home_boundaries

READING = "E06000038"
PW = "a long enough password"


def vru(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "vru.cli", "--home", str(home), *args],
                          capture_output=True, text=True, env={**os.environ, **env})


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("bounds") / "home"
    ingest_police_uk(home, police_uk_months())
    return home


def test_load_list_and_use_in_gistar(home, tmp_path):
    # the force's districts but one: the map is drawn on these, and says what it left out
    reading = load_lsoa(districts=[d for d in THAMES_VALLEY if d != "E07000181"])
    reading = reading.to_crs("EPSG:4326")
    path = tmp_path / "reading.gpkg"
    reading.rename(columns={"lsoa11cd": "LSOA11CD", "lsoa11nm": "LSOA11NM"})[
        ["LSOA11CD", "LSOA11NM", "geometry"]].to_file(path, driver="GPKG")
    assert "no boundaries of your own" in vru(home, "boundaries", "list").stdout
    loaded = vru(home, "boundaries", "load", str(path))
    assert loaded.returncode == 0, loaded.stderr
    assert f"{len(reading):,} LSOAs (2011)" in loaded.stdout
    listed = vru(home, "boundaries", "list")
    assert "reading" in listed.stdout and "2011" in listed.stdout
    s = open_session(home)
    hot = s.analyse("gistar", category="Violence and sexual offences", cell="lsoa")
    assert set(hot.frame["cell"]) == set(reading["lsoa11cd"])  # the home's, not the shipped
    assert any("outside" in w for w in hot.meta.get("warnings", []))
    clusters = s.analyse("moran", category="Violence and sexual offences", cell="lsoa",
                         permutations=9)
    assert set(clusters.frame["cell"]) == set(reading["lsoa11cd"])
    acc = s.analyse("accuracy", map_from="2018-10", map_to="2018-11", start="2018-12",
                    end="2018-12", category=["Violence and sexual offences"], cell="lsoa")
    assert acc.frame["events_later"].iloc[0] > 0  # scored on the same (the home's) cells


def test_a_file_without_codes_is_refused_by_name(home, tmp_path):
    bad = load_lsoa(districts=[READING]).rename(columns={"lsoa11cd": "code"})
    path = tmp_path / "nocodes.geojson"
    bad[["code", "geometry"]].to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    s = open_session(home)
    with pytest.raises(BadRequest, match="nocodes"):
        home_boundaries.load(s, [path])


def test_only_admins_load_boundaries(home, tmp_path):
    from vru.governance.identity import add_user

    owner = open_session(home)
    add_user(owner.db, "ann", "analyst", password=PW)
    ann = open_session(home, user="ann", password=PW)
    with pytest.raises(Denied, match="admins"):
        home_boundaries.load(ann, [tmp_path / "whatever.geojson"])
    for command in (["boundaries", "load", str(tmp_path / "whatever.geojson")],
                    ["boundaries", "list"]):  # the CLI face, signed in
        got = vru(home, "--user", "ann", *command, VRU_PASSWORD=PW)
        assert got.returncode == 3 and "admins" in got.stderr
    from vru.governance import audit

    refused = [e for e in audit.entries(owner.db, actor="ann") if e.resource == "boundaries"]
    assert refused and all(e.decision == "deny" for e in refused)


def test_ingest_places_points_with_the_homes_own_boundaries(tmp_path):
    """A loaded 2011 boundary set answers point -> LSOA at ingest where it covers the point;
    elsewhere the shipped England and Wales set still does."""
    import gzip

    import numpy as np
    import shapely

    from vru.geo.crs import to_wgs84

    home = tmp_path / "home"
    lsoas = load_lsoa(districts=[READING])
    own = lsoas.iloc[[0]].copy()
    shipped_code = own["lsoa11cd"].iloc[0]
    own["lsoa11cd"] = "E01099999"  # a newer generalisation, say, under a code of its own
    path = tmp_path / "own.geojson"
    own.rename(columns={"lsoa11cd": "LSOA11CD"})[["LSOA11CD", "geometry"]].to_crs(
        "EPSG:4326").to_file(path, driver="GeoJSON")
    s = open_session(home)
    home_boundaries.load(s, [path])
    inside = shapely.point_on_surface(own.geometry.iloc[0])
    other = lsoas.iloc[[5]]
    beyond = shapely.point_on_surface(other.geometry.iloc[0])
    header = gzip.decompress(police_uk_months()[0].read_bytes()).decode("utf-8-sig")
    header = header.splitlines()[0]
    rows = [header]
    for i, pt in enumerate((inside, beyond)):
        lon, lat = to_wgs84(np.array([pt.x]), np.array([pt.y]))
        # no LSOA stated: the point decides
        rows.append(f"id{i:062d},2018-10,Thames Valley Police,Thames Valley Police,"
                    f"{lon[0]:.6f},{lat[0]:.6f},On or near X,,,Burglary,,")
    csv = tmp_path / "2018-10-thames-valley-street.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    got = ingest_police_uk(home, [csv]).summary()
    assert got["accepted"] == 2, got
    placed = {r["source_ref"]: r["lsoa11cd"]
              for r in s.sql("SELECT source_ref, lsoa11cd FROM incidents").to_pylist()}
    assert placed[f"id{0:062d}"] == "E01099999" != shipped_code
    assert placed[f"id{1:062d}"] == other["lsoa11cd"].iloc[0]
