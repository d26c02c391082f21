"""Derived geography at ingest: both coordinate systems, the LSOA, and a status per row.

It runs on the distinct points only (data.police.uk snaps crimes to a few tens of thousands
of anonymous map points) and joins the answers back inside DuckDB.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from vru.geo.crs import to_bng, to_wgs84
from vru.geo.lookup import AreaIndex

GEO_COLUMNS = ("lon", "lat", "easting", "northing", "lsoa11cd", "geo_status")


def _points(con: duckdb.DuckDBPyConnection, src: str, index: AreaIndex) -> pa.Table:
    """Distinct given points of ``src`` with both CRSs and the LSOA that contains them."""
    got = con.execute(f"""
        SELECT DISTINCT coalesce(lon, 'nan'::DOUBLE) AS lon, coalesce(lat, 'nan'::DOUBLE) AS lat,
               coalesce(easting, 'nan'::DOUBLE) AS easting,
               coalesce(northing, 'nan'::DOUBLE) AS northing FROM {src}
        WHERE (lon IS NOT NULL AND lat IS NOT NULL)
           OR (easting IS NOT NULL AND northing IS NOT NULL)""").fetchnumpy()
    lon0, lat0 = (np.asarray(got[k], dtype=float) for k in ("lon", "lat"))
    e0, n0 = (np.asarray(got[k], dtype=float) for k in ("easting", "northing"))
    lon, lat, e, n = lon0.copy(), lat0.copy(), e0.copy(), n0.copy()
    need_bng = np.isnan(e) & ~np.isnan(lon)
    if need_bng.any():
        e[need_bng], n[need_bng] = to_bng(lon[need_bng], lat[need_bng])
    need_wgs = np.isnan(lon) & ~np.isnan(e)
    if need_wgs.any():
        lon[need_wgs], lat[need_wgs] = to_wgs84(e[need_wgs], n[need_wgs])
    found = index.assign(e, n) if len(e) else np.array([], dtype=object)
    return pa.table({"lon0": lon0, "lat0": lat0, "e0": e0, "n0": n0, "lon": lon, "lat": lat,
                     "easting": e, "northing": n,
                     "pip": pa.array(found, pa.string())})


def enrich_select(con: duckdb.DuckDBPyConnection, src: str, extra: str = "",
                  index: AreaIndex | None = None) -> str:
    """A SELECT over table ``src`` (alias ``s``) with its geography completed.

    Fills whichever of lon/lat or easting/northing is missing, the LSOA where the source
    gave none (point-in-polygon), and ``geo_status``: ``no_location`` (no point),
    ``outside_boundaries`` (a point in Great Britain no loaded LSOA covers: kept, flagged),
    ``lsoa_differs`` (the source's LSOA is kept but the point falls in another — usual near
    borders, since data.police.uk snaps points and ONS boundaries are generalised), else
    ``ok``. ``extra`` adds more REPLACE items (``"expr AS col, ..."``) over ``s``.
    """
    pts = _points(con, src, index or AreaIndex.lsoa())
    con.register("_pts", pts)
    more = f", {extra}" if extra else ""
    return f"""
        SELECT s.* REPLACE (
            coalesce(s.lon, nullif(p.lon, 'nan'::DOUBLE)) AS lon,
            coalesce(s.lat, nullif(p.lat, 'nan'::DOUBLE)) AS lat,
            coalesce(s.easting, nullif(p.easting, 'nan'::DOUBLE)) AS easting,
            coalesce(s.northing, nullif(p.northing, 'nan'::DOUBLE)) AS northing,
            coalesce(s.lsoa11cd, p.pip) AS lsoa11cd,
            CASE WHEN p.lon0 IS NULL THEN 'no_location'
                 WHEN p.pip IS NULL THEN 'outside_boundaries'
                 WHEN s.lsoa11cd IS NOT NULL AND s.lsoa11cd <> p.pip THEN 'lsoa_differs'
                 ELSE 'ok' END AS geo_status{more})
        FROM {src} s LEFT JOIN _pts p
          ON coalesce(s.lon, 'nan'::DOUBLE) = p.lon0 AND coalesce(s.lat, 'nan'::DOUBLE) = p.lat0
         AND coalesce(s.easting, 'nan'::DOUBLE) = p.e0
         AND coalesce(s.northing, 'nan'::DOUBLE) = p.n0"""
