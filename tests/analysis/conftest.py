"""Shared fixtures for the analysis tests: real police.uk violence counts on a 500 m BNG grid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from vru.data import asset

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
