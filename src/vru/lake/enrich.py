"""Derived geography at ingest: both coordinate systems, the LSOA, and a status per row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vru.geo.crs import to_bng, to_wgs84
from vru.geo.lookup import AreaIndex


def _f(table: pa.Table, name: str) -> np.ndarray:
    return np.array(pc.fill_null(table[name], np.nan).to_numpy(zero_copy_only=False),
                    dtype=float)


def _unique_apply(fn, a: np.ndarray, b: np.ndarray):
    """Apply a vectorised point function once per distinct point (police.uk points repeat)."""
    ok = ~np.isnan(a) & ~np.isnan(b)
    out1 = np.full(a.shape, np.nan)
    out2 = np.full(a.shape, np.nan)
    if ok.any():
        pts = np.column_stack([a[ok], b[ok]])
        uniq, inv = np.unique(pts, axis=0, return_inverse=True)
        r1, r2 = fn(uniq[:, 0], uniq[:, 1])
        out1[ok] = np.asarray(r1)[inv.ravel()]
        out2[ok] = np.asarray(r2)[inv.ravel()]
    return out1, out2


def enrich(table: pa.Table, index: AreaIndex | None = None) -> pa.Table:
    """Fill whichever of lon/lat or easting/northing is missing, and lsoa11cd / geo_status.

    ``geo_status``: ``no_location`` (no point), ``outside_boundaries`` (a point in Great
    Britain that no loaded LSOA covers: kept, flagged), ``lsoa_differs`` (the source's own
    LSOA code is kept, but the point falls in another LSOA — usual near borders, because
    data.police.uk snaps points and ONS boundaries are generalised), else ``ok``.
    """
    if table.num_rows == 0:
        return table
    index = index or AreaIndex.lsoa()
    lon, lat = _f(table, "lon"), _f(table, "lat")
    e, n = _f(table, "easting"), _f(table, "northing")
    need_bng = np.isnan(e) & ~np.isnan(lon)
    if need_bng.any():
        ee, nn = _unique_apply(to_bng, lon[need_bng], lat[need_bng])
        e[need_bng], n[need_bng] = ee, nn
    need_wgs = np.isnan(lon) & ~np.isnan(e)
    if need_wgs.any():
        lo, la = _unique_apply(to_wgs84, e[need_wgs], n[need_wgs])
        lon[need_wgs], lat[need_wgs] = lo, la
    has_point = ~np.isnan(e) & ~np.isnan(n)
    found = np.full(len(e), None, dtype=object)
    if has_point.any():
        found[has_point] = index.assign(e[has_point], n[has_point])
    stated = table["lsoa11cd"].to_numpy(zero_copy_only=False)
    stated_present = np.asarray(pc.is_valid(table["lsoa11cd"]), dtype=bool)
    found_present = np.not_equal(found, None)
    lsoa = np.where(stated_present, stated, found)
    status = np.full(len(e), "ok", dtype=object)
    status[has_point & ~found_present] = "outside_boundaries"
    differs = has_point & found_present & stated_present & (stated != found)
    status[differs] = "lsoa_differs"
    status[~has_point] = "no_location"
    repl = {"lon": pa.array(lon), "lat": pa.array(lat), "easting": pa.array(e),
            "northing": pa.array(n), "lsoa11cd": pa.array(lsoa, pa.string()),
            "geo_status": pa.array(status, pa.string())}
    for name, arr in repl.items():
        if name in table.column_names:
            i = table.column_names.index(name)
            arr = pc.if_else(pc.is_nan(arr), pa.scalar(None, pa.float64()), arr) \
                if pa.types.is_floating(arr.type) else arr
            table = table.set_column(i, name, arr.cast(table.schema.field(name).type))
    return table
