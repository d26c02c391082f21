"""Shared fixtures for the analysis tests: police.uk counts on a grid, and lakes built once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from vru.data import asset, police_uk_months
from vru.lake.loaders import ingest_force_extract, ingest_police_uk
from vru.synth import generate

CELL = 500.0


@dataclass(frozen=True)
class GridCounts:
    """Violence counts per occupied 500 m cell, plus the full lattice around them."""

    rows: np.ndarray  # row index of each occupied cell
    cols: np.ndarray  # column index of each occupied cell
    counts: np.ndarray  # events per occupied cell
    centres: np.ndarray  # (n, 2) BNG cell centres of occupied cells
    lattice: np.ndarray  # (n_rows, n_cols) counts over the bounding box, zeros included


@pytest.fixture(scope="session")
def violence_grid() -> GridCounts:
    path = asset("police-uk", "2018-11-thames-valley-street.csv.gz")
    df = pd.read_csv(path, encoding="utf-8-sig")
    df = df[df["Crime type"] == "Violence and sexual offences"].dropna(
        subset=["Longitude", "Latitude"]
    )
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    east, north = to_bng.transform(df["Longitude"].to_numpy(), df["Latitude"].to_numpy())
    r = np.floor(north / CELL).astype(np.int64)
    c = np.floor(east / CELL).astype(np.int64)
    r -= r.min()
    c -= c.min()
    n_rows, n_cols = int(r.max()) + 1, int(c.max()) + 1
    lattice = np.zeros((n_rows, n_cols))
    np.add.at(lattice, (r, c), 1.0)
    occ_r, occ_c = np.nonzero(lattice)
    centres = np.column_stack([(occ_c + 0.5) * CELL, (occ_r + 0.5) * CELL])
    return GridCounts(occ_r, occ_c, lattice[occ_r, occ_c], centres, lattice)


@pytest.fixture(scope="session")
def synth_lake(tmp_path_factory):
    """Four years of a synthetic Thames Valley at a tenth of real volume, ingested once."""
    root = tmp_path_factory.mktemp("recovery")
    manifest = generate(root / "world", seed=11, start="2017-01", end="2020-12", scale=0.1)
    result = ingest_force_extract(root / "home", manifest.files("force_extract"))
    assert all(f.status == "ok" for f in result.files)
    return root / "home", manifest


@pytest.fixture(scope="session")
def police_lake(tmp_path_factory):
    """The shipped data.police.uk street months, ingested once."""
    home = tmp_path_factory.mktemp("police") / "home"
    ingest_police_uk(home, police_uk_months())
    return home
