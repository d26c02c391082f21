"""A force other than Thames Valley: its street file ingests with its LSOAs and its Gi* map
covers its events, with no boundaries loaded by hand."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import shapely

from vru.geo.boundaries import load_lsoa
from vru.geo.crs import to_wgs84

SURREY = ["E07000207", "E07000209", "E07000210"]  # Elmbridge, Guildford, Mole Valley
HEADER = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude",
          "Location", "LSOA code", "LSOA name", "Crime type", "Last outcome category",
          "Context"]


def _street_file(path: Path) -> int:
    """Rows at points inside real Surrey LSOAs, three per LSOA, more in the first ten."""
    lsoa = load_lsoa(districts=SURREY)
    pts = shapely.point_on_surface(np.asarray(lsoa.geometry.values, dtype=object))
    lon, lat = to_wgs84(shapely.get_x(pts), shapely.get_y(pts))
    rows, n = [], 0
    for i, (code, name) in enumerate(zip(lsoa["lsoa11cd"], lsoa["lsoa11nm"], strict=True)):
        for _ in range(3 + (20 if i < 10 else 0)):
            n += 1
            rows.append([f"{n:064x}", "2019-05", "Surrey Police", "Surrey Police",
                         f"{lon[i]:.6f}", f"{lat[i]:.6f}", "On or near High Street", code,
                         name or "", "Violence and sexual offences", "Under investigation", ""])
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    return n


def vru(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vru.cli", "--home", str(home), *args],
                          capture_output=True, text=True)


def test_surrey_rows_get_surrey_lsoas_and_a_surrey_map(tmp_path):
    home = tmp_path / "home"
    street = tmp_path / "2019-05-surrey-street.csv"
    n = _street_file(street)
    got = vru(home, "ingest", "police-uk", str(street), "--json")
    assert got.returncode == 0, got.stderr
    rows = vru(home, "sql", "SELECT geo_status, count(*) AS n FROM incidents GROUP BY 1",
               "--format", "csv")
    assert rows.stdout.replace('"', '').split() == ["geo_status,n", f"ok,{n}"]
    out = tmp_path / "hot.parquet"
    hot = vru(home, "hotspots", "gistar", "--category", "Violence and sexual offences",
              "--cell", "lsoa", "--out", str(out))
    assert hot.returncode == 0, hot.stderr
    assert "warning" not in hot.stderr  # every event lies in the study area
    t = pq.read_table(out)
    cells = set(t["cell"].to_pylist())
    assert cells == set(load_lsoa(districts=SURREY)["lsoa11cd"])  # Surrey's, no other force's
    assert int(sum(t["n"].to_pylist())) == n
    assert 3 in set(t["class"].to_pylist())  # the ten busy LSOAs stand out
