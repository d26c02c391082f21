"""The shipped LSOAs of England and Wales without their shapes: codes, districts, boxes.

Kept apart from `vru.geo.boundaries` so that what needs only the list (rates, the KPIs, the
district a code lies in) does not import geopandas, shapely and pyproj.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vru.data import asset

if TYPE_CHECKING:  # pandas (0.3 s to import) only for the frame; ingest reads the arrays
    import pandas as pd

_EW_INDEX = "lsoa-2011-ew-index.parquet"
#: The shipped polygons (`vru.geo.boundaries` reads them; the lookup caches key on them).
SHIPPED_LSOA = "lsoa-2011-ew.parquet"


@lru_cache(maxsize=1)
def _table() -> pa.Table:
    # ParquetFile, not read_table: that goes through pyarrow.dataset, which imports pandas
    t = pq.ParquetFile(asset("geography", _EW_INDEX)).read()
    return t.take(pc.sort_indices(t, [("lsoa11cd", "ascending")]))


def lsoa_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shipped LSOA index as arrays, sorted by code, without pandas.

    Returns
    -------
    (codes, district codes, boxes)
        Object arrays of ``lsoa11cd`` and ``lad13cd``, and float64 ``(n, 4)`` boxes
        ``minx, miny, maxx, maxy`` in British National Grid metres.
    """
    t = _table()
    box = np.column_stack([t[c].to_numpy().astype(np.float64)
                           for c in ("minx", "miny", "maxx", "maxy")])
    return (np.asarray(t["lsoa11cd"].to_pylist(), dtype=object),
            np.asarray(t["lad13cd"].to_pylist(), dtype=object), box)


@lru_cache(maxsize=1)
def _index() -> pd.DataFrame:
    frame = _table().to_pandas()
    for col in ("lsoa11cd", "lad13cd"):
        frame[col] = frame[col].to_numpy(dtype=object)  # plain strings, whatever pandas infers
    return frame


@lru_cache(maxsize=1)
def _shipped_districts() -> frozenset[str]:
    return frozenset(_table()["lad13cd"].unique().to_pylist())


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
