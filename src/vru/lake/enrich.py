"""Derived geography at ingest: both coordinate systems, the LSOA, and a status per row.

It runs on the distinct points only (data.police.uk snaps crimes to a few tens of thousands
of anonymous map points) and joins the answers back inside DuckDB.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vru.geo.lookup import AreaIndex, LayeredLookup, LsoaLookup
from vru.geo.lsoa_years import bridge_table, to_2011
from vru.sources.canonical import single


def to_bng(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # pyproj loads on the first projection (the background writer's, at ingest), not with
    # the module: it is a tenth of a second of every command's start-up otherwise
    from vru.geo.crs import to_bng as project

    return project(lon, lat)


def to_wgs84(e: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from vru.geo.crs import to_wgs84 as project

    return project(e, n)

# an index of the caller's own areas, or (default) the shipped LSOAs of England and Wales
Index = AreaIndex | LsoaLookup | LayeredLookup

GEO_COLUMNS = ("lon", "lat", "easting", "northing", "lsoa11cd", "geo_status")


def _points(con: duckdb.DuckDBPyConnection, src: str, index: Index) -> pa.Table:
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


_GEO = """
    coalesce(s.lon, nullif(p.lon, 'nan'::DOUBLE)) AS lon,
    coalesce(s.lat, nullif(p.lat, 'nan'::DOUBLE)) AS lat,
    coalesce(s.easting, nullif(p.easting, 'nan'::DOUBLE)) AS easting,
    coalesce(s.northing, nullif(p.northing, 'nan'::DOUBLE)) AS northing,
    coalesce(s.lsoa11cd, p.pip) AS lsoa11cd,
    CASE WHEN p.lon0 IS NULL THEN 'no_location'
         WHEN p.pip IS NULL THEN 'outside_boundaries'
         WHEN s.lsoa11cd IS NOT NULL AND s.lsoa11cd <> p.pip THEN 'lsoa_differs'
         ELSE 'ok' END AS geo_status"""

#: As `_GEO`, for rows that may carry only a 2021 code and no point (`_needs_bridge`).
_GEO_BRIDGED = (_GEO.replace("coalesce(s.lsoa11cd, p.pip) AS lsoa11cd",
                             "coalesce(s.lsoa11cd, p.pip, b.lsoa11cd) AS lsoa11cd")
                .replace("CASE WHEN p.lon0 IS NULL THEN 'no_location'",
                         "CASE WHEN p.lon0 IS NULL AND s.lsoa11cd IS NULL AND b.lsoa11cd "
                         "IS NOT NULL THEN 'lsoa_from_2021_code' "
                         "WHEN p.lon0 IS NULL THEN 'no_location'"))

_JOIN = """LEFT JOIN _pts p
      ON coalesce(s.lon, 'nan'::DOUBLE) = p.lon0 AND coalesce(s.lat, 'nan'::DOUBLE) = p.lat0
     AND coalesce(s.easting, 'nan'::DOUBLE) = p.e0
     AND coalesce(s.northing, 'nan'::DOUBLE) = p.n0"""


def enrich_select(con: duckdb.DuckDBPyConnection, src: str, extra: str = "",
                  index: Index | None = None, bridge: bool = False) -> str:
    """A SELECT over table ``src`` (alias ``s``) with its geography completed.

    Fills whichever of lon/lat or easting/northing is missing, the LSOA where the source
    gave none (point-in-polygon), and ``geo_status``: ``no_location`` (no point),
    ``outside_boundaries`` (a point no LSOA of England and Wales covers, or none of
    ``index``'s areas: kept, flagged),
    ``lsoa_differs`` (the source's LSOA is kept but the point falls in another — usual near
    borders, since data.police.uk snaps points and ONS boundaries are generalised), else
    ``ok``. ``extra`` adds more REPLACE items (``"expr AS col, ..."``) over ``s``. With
    ``bridge`` (see `needs_bridge`), a row with no point and only a 2021 LSOA gets its 2011
    LSOA from the ONS best fit (``lsoa_from_2021_code``).
    """
    con.register("_pts", _points(con, src, index or AreaIndex.lsoa()))
    more = f", {extra}" if extra else ""
    if not bridge:
        return f"SELECT s.* REPLACE ({_GEO}{more}) FROM {src} s {_JOIN}"
    con.register("_b21", bridge_table())
    return (f"SELECT s.* REPLACE ({_GEO_BRIDGED}{more}) FROM {src} s {_JOIN} "
            "LEFT JOIN _b21 b ON p.lon0 IS NULL AND b.lsoa21cd = s.lsoa21cd")


def needs_bridge(con: duckdb.DuckDBPyConnection, src: str) -> bool:
    """Does ``src`` hold rows with no point whose source stated only a 2021 LSOA? (Rare:
    data.police.uk gives a point with every LSOA.) Only then is the 2011 LSOA bridged from
    the ONS best fit, so the common case pays for no join."""
    return bool(con.sql(
        f"SELECT count(*) FROM {src} WHERE lsoa11cd IS NULL AND lsoa21cd IS NOT NULL "
        "AND lon IS NULL AND easting IS NULL").fetchall()[0][0])


class PointMemo:
    """What earlier parts of a batch learnt about their distinct points: the point in the
    other coordinate system and its LSOA. Month after month a force's rows fall on the same
    snapped map points, so each is projected and looked up once per batch, not per part.
    Valid for one index (the batch's); one thread at a time."""

    LIMIT = 2_000_000  # points kept; beyond it the memo starts again (bounded memory)

    def __init__(self) -> None:
        # per given system (True: lon/lat): the points as 16-byte keys, and their answers
        self._keys: dict[bool, pa.Array] = {}
        self._answers: dict[bool, tuple[np.ndarray, ...]] = {}

    def locate(self, uniq: np.ndarray, wgs: bool, index: Index) -> tuple[np.ndarray, ...]:
        """`_locate` of the distinct points ``uniq``, answering known ones from the memo."""
        keys = _as_keys(uniq)
        known = self._keys.get(wgs)
        at = (np.full(len(uniq), -1, np.int64) if known is None else
              np.asarray(pc.index_in(keys, value_set=known).fill_null(-1), dtype=np.int64))
        new = np.flatnonzero(at < 0)
        fresh = _locate(uniq[new], wgs, index)
        if known is None or len(known) + len(new) > self.LIMIT:
            self._keys[wgs], self._answers[wgs] = keys.take(pa.array(new)), fresh
            at[new] = np.arange(len(new))
        elif len(new):
            at[new] = len(known) + np.arange(len(new))
            self._keys[wgs] = pa.concat_arrays([known, keys.take(pa.array(new))])
            self._answers[wgs] = tuple(np.concatenate([old, got]) for old, got in
                                       zip(self._answers[wgs], fresh, strict=True))
        return tuple(a[at] for a in self._answers[wgs])


def _as_keys(points: np.ndarray) -> pa.Array:
    """Complex points as 16-byte binary keys (hashed as their bytes)."""
    points = np.ascontiguousarray(points, dtype=np.complex128)
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), points.size,
                                                [None, pa.py_buffer(points.view(np.uint8))])


def _locate(uniq: np.ndarray, wgs: bool, index: Index) -> tuple[np.ndarray, ...]:
    """(lon, lat, easting, northing, LSOA code or None) of distinct points given in one
    system (``wgs``: lon + i·lat, else easting + i·northing)."""
    if not len(uniq):
        empty = np.empty(0)
        return empty, empty, empty, empty, np.empty(0, dtype=object)
    if wgs:
        lon, lat = uniq.real.copy(), uniq.imag.copy()
        e, n = to_bng(lon, lat)
    else:
        e, n = uniq.real.copy(), uniq.imag.copy()
        lon, lat = to_wgs84(e, n)
    e, n = np.asarray(e, float), np.asarray(n, float)
    return (np.asarray(lon, float), np.asarray(lat, float), e, n,
            np.asarray(index.assign(e, n), dtype=object))


def enrich_arrow(con: duckdb.DuckDBPyConnection | None, rows: pa.Table,
                 index: Index | None = None, memo: PointMemo | None = None) -> pa.Table:
    """``rows`` with their geography completed as `enrich_select` does, staying in Arrow.

    Points are factorised in numpy when every located row gives the same CRS (the bulk
    sources do), so the answers for the distinct points are simply taken back per row,
    and with ``memo`` (the same index every call) points of earlier calls are not worked
    out again. Rows mixing systems are joined in DuckDB, on ``con`` or (None, e.g. from
    another thread) a connection of their own.
    """
    index = index or AreaIndex.lsoa()
    n = rows.num_rows

    def floats(name: str) -> np.ndarray:
        return rows[name].to_numpy(zero_copy_only=False).astype(float)  # null → NaN

    lon, lat, e, no = floats("lon"), floats("lat"), floats("easting"), floats("northing")
    has_wgs, has_bng = ~np.isnan(lon), ~np.isnan(e)
    if has_wgs.any() and has_bng.any():
        if con is None:
            with duckdb.connect() as own:
                return _enrich_engine(own, rows, index)
        return _enrich_engine(con, rows, index)
    wgs = bool(has_wgs.any())
    code, uniq = _distinct_points(lon + 1j * lat if wgs else e + 1j * no)
    ulon, ulat, ue, un, codes = (memo.locate(uniq, wgs, index) if memo is not None
                                 else _locate(uniq, wgs, index))
    pip = pa.array(codes, pa.string())
    located = code >= 0
    take = pa.array(np.where(located, code, 0)) if len(uniq) else None

    rows_point = pa.array(code.astype(np.int32), mask=~located)

    def per_row(values: np.ndarray) -> pa.Array:
        # each row points at its distinct point: a dictionary, which the Parquet writer
        # stores as it is (and every reader sees as plain numbers)
        return pa.DictionaryArray.from_arrays(
            rows_point, pa.array(np.asarray(values, float), from_pandas=True))

    given = single(rows["lsoa11cd"])
    if take is not None:
        found = pc.if_else(pa.array(located), pip.take(take), pa.nulls(n, pa.string()))
    else:
        found = pa.nulls(n, pa.string())
    differs = pc.fill_null(pc.not_equal(given, found), False)
    status = np.where(~located, 0, np.where(np.asarray(pc.is_null(found)), 1,
                                            np.where(np.asarray(differs), 2, 3)))
    # the source's LSOA where it gave one (data.police.uk always does for a located crime)
    unfilled = pc.and_(pc.is_null(given), pa.array(located))
    lsoa = pc.coalesce(given, found) if pc.any(unfilled).as_py() else given
    if "lsoa21cd" in rows.column_names:
        # no point and only a 2021 code: the 2011 LSOA from the ONS best fit, where unique
        stated21 = single(rows["lsoa21cd"])
        bridge = pc.and_(pc.and_(pc.is_null(lsoa), pc.is_valid(stated21)),
                         pa.array(~located))
        if pc.any(bridge).as_py():
            bridged = pc.if_else(bridge, to_2011(stated21), pa.nulls(n, pa.string()))
            lsoa = pc.coalesce(lsoa, bridged)
            status = np.where(np.asarray(pc.is_valid(bridged)), 4, status)
    statuses = pa.array(["no_location", "outside_boundaries", "lsoa_differs", "ok",
                         "lsoa_from_2021_code"])
    geo = {"lon": per_row(ulon), "lat": per_row(ulat), "easting": per_row(ue),
           "northing": per_row(un), "lsoa11cd": lsoa,
           # four values: kept as a dictionary (it reads back as strings)
           "geo_status": pa.DictionaryArray.from_arrays(
               pa.array(status.astype(np.int32)), statuses)}
    for name, col in geo.items():
        if not pa.types.is_dictionary(col.type):
            col = col.cast(rows.field(name).type)
        rows = rows.set_column(rows.column_names.index(name), name, col)
    return rows


def _distinct_points(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each point's position among the distinct points (-1 for NaN), and those points.

    Snapped data repeats a few thousand points over many rows: each is projected and
    looked up once. The points are hashed as their 16 bytes (a quarter of the time of
    sorting them); the distinct points come in order of first appearance.
    """
    code = np.full(key.size, -1, dtype=np.int64)
    ok = ~np.isnan(key)
    given = np.ascontiguousarray(key[ok], dtype=np.complex128)
    if not given.size:
        return code, given
    enc = pc.dictionary_encode(_as_keys(given))
    code[ok] = np.asarray(enc.indices)
    uniq = np.frombuffer(enc.dictionary.buffers()[1], dtype=np.complex128,
                         count=len(enc.dictionary)).copy()
    return code, uniq


def _enrich_engine(con: duckdb.DuckDBPyConnection, rows: pa.Table,
                   index: Index) -> pa.Table:
    """`enrich_arrow` for rows mixing coordinate systems: the join runs in DuckDB."""
    n = rows.num_rows
    cols = ["lon", "lat", "easting", "northing", "lsoa11cd"]
    con.register("_e", rows.select(cols).append_column("_i", pa.array(np.arange(n))))
    try:
        con.register("_pts", _points(con, "_e", index))
        # a parallel join returns rows in any order: put them back by their index
        geo = con.sql(f"SELECT s._i, {_GEO} FROM _e s {_JOIN}").to_arrow_table()
    finally:
        con.unregister("_e")
        con.unregister("_pts")
    back = np.empty(n, dtype=np.int64)
    back[geo["_i"].to_numpy()] = np.arange(n)
    geo = geo.take(pa.array(back))
    for name in GEO_COLUMNS:
        i = rows.column_names.index(name)
        rows = rows.set_column(i, rows.field(name), geo[name].cast(rows.field(name).type))
    return rows
