"""Residents and deprivation per study cell, from the shipped IoD 2019 files (by LSOA)."""

from __future__ import annotations

import gzip
from functools import lru_cache

import numpy as np
import pandas as pd
import shapely

from vru.analysis.aggregate import StudyArea
from vru.data import asset
from vru.geo.boundaries import lsoa_population

__all__ = ["cell_covariates"]


@lru_cache(maxsize=1)
def _imd_decile() -> pd.Series:
    with gzip.open(asset("deprivation", "File_1_-_IMD2019_Index_of_Multiple_Deprivation.csv.gz"),
                   "rt", encoding="utf-8-sig") as fh:
        raw = pd.read_csv(fh, dtype=str)
    code = next(c for c in raw.columns if c.lower().startswith("lsoa code"))
    dec = next(c for c in raw.columns if "decile" in c.lower())
    return pd.Series(pd.to_numeric(raw[dec]).to_numpy(), index=raw[code].str.strip())


def cell_covariates(area: StudyArea, cell_area: np.ndarray) -> dict[str, np.ndarray]:
    """``population`` and ``deprivation`` of each study cell.

    A cell takes the LSOA its centre lies in: its residents are that LSOA's (mid-2015,
    IoD 2019 File 6) times the cell's share of the LSOA's area; ``deprivation`` weights them
    by ``(11 − IMD decile) / 10`` (1 in the most deprived tenth of England, 0.1 in the
    least). Cells whose centre lies in no LSOA get 0; LSOAs without figures (Wales) 0 too.
    """
    lsoa = area.lsoa
    pts = shapely.points(area.centroids)
    tree = shapely.STRtree(np.asarray(lsoa.geometry.values, dtype=object))
    cell_i, lsoa_i = tree.query(pts, predicate="within")
    which = np.full(len(area), -1, dtype=np.int64)
    which[cell_i] = lsoa_i
    codes = lsoa["lsoa11cd"].to_numpy(dtype=object)
    pop = lsoa_population().set_index("lsoa11cd")["population"]
    lsoa_pop = pd.Series(codes).map(pop).fillna(0).to_numpy(dtype=np.float64)
    lsoa_area = np.asarray(shapely.area(np.asarray(lsoa.geometry.values, dtype=object)))
    weight = (11 - pd.Series(codes).map(_imd_decile()).fillna(11).to_numpy()) / 10.0
    ok = which >= 0
    population = np.zeros(len(area))
    population[ok] = lsoa_pop[which[ok]] * cell_area[ok] / lsoa_area[which[ok]]
    deprivation = np.zeros(len(area))
    deprivation[ok] = population[ok] * weight[which[ok]]
    return {"population": population, "deprivation": deprivation}
