"""The shipped LSOAs of England and Wales without their shapes: codes, districts, boxes.

Kept apart from `vru.geo.boundaries` so that what needs only the list (rates, the KPIs, the
district a code lies in) does not import geopandas, shapely and pyproj.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
import pyarrow.parquet as pq

from vru.data import asset

_EW_INDEX = "lsoa-2011-ew-index.parquet"


@lru_cache(maxsize=1)
def _index() -> pd.DataFrame:
    frame = pq.read_table(asset("geography", _EW_INDEX)).to_pandas()
    for col in ("lsoa11cd", "lad13cd"):
        frame[col] = frame[col].to_numpy(dtype=object)  # plain strings, whatever pandas infers
    return frame.sort_values("lsoa11cd", kind="stable").reset_index(drop=True)


@lru_cache(maxsize=1)
def _shipped_districts() -> frozenset[str]:
    return frozenset(_index()["lad13cd"])


def lsoa_index() -> pd.DataFrame:
    """The shipped LSOAs without their shapes: what :func:`load_lsoa` could load.

    Returns
    -------
    pandas.DataFrame
        ``lsoa11cd``, ``lad13cd`` and the LSOA's bounding box in whole metres of British
        National Grid (``minx``, ``miny``, ``maxx``, ``maxy``, rounded outward), sorted by
        ``lsoa11cd``; 34,753 rows covering England and Wales. Reading it costs milliseconds.
    """
    return _index().copy()
