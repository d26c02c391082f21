"""Events → cell × time-bin counts, computed by DuckDB over the lake (never a full event load).

Cells (``cell=`` text):

* ``"grid:SIZE"`` — square British National Grid cells of SIZE metres.  The cell of an event is
  computed in SQL (``floor(easting / SIZE)``, ``floor(northing / SIZE)``).
* ``"h3:RES"`` — H3 hexagons, resolution 6–10.  DuckDB's h3 extension downloads at run time
  (forbidden here), so SQL lists the events' DISTINCT (lon, lat) points — data.police.uk
  points are snapped to anonymous map points, so there are few — and Python maps each
  distinct point once with :func:`vru.geo.grids.h3_cell`.
* ``"lsoa"``, ``"msoa"``, ``"district"`` — ONS areas from the events' ``lsoa11cd`` (MSOA and
  district through the lookups of :mod:`vru.geo.boundaries`).

In every case the engine maps location keys to study-area positions by joining an Arrow table
of the study cells, and groups by (position, integer time bin): one row per occupied study
cell × bin (plus one per bin for events outside the study area) leaves the engine.

The **study area** is the cells covering the loaded LSOA boundaries (optionally restricted to
some districts or LSOAs with ``area=``): every such cell is reported, empty ones with n = 0.
Events whose location falls in no study cell are counted in ``outside``; events without a
location in ``no_location``; neither vanishes silently.

Time bins (``time_bin=``): ``None`` (one total), ``"month"`` (the ``month`` column, so
data.police.uk works), ``"week"`` (ISO weeks starting Monday, of ``occurred_from``), ``"day"``,
``"hour_of_week"`` (0 = Monday 00:00–00:59 … 167, of ``occurred_from``; not aoristic — see
:func:`vru.analysis.times.hour_weekday_matrix` for that).  Every bin of the period is present,
empty bins as zeros.  Week/day/hour bins need event times: rows without ``occurred_from`` are
counted in ``no_time`` and a table of month-only data is refused (month bins count rows
without a readable ``month`` there).

**Coverage in time** (:mod:`vru.lake.coverage`): a month the lake does not hold is missing,
never zero. ``CellCounts.held`` marks each time bin held or not (a month bin is held when its
month is; a week bin when all seven of its days lie in held months; a day bin when its month
is) and ``CellCounts.coverage`` states the months held and missing in the period; analyses
skip or refuse bins not held.

**Loud, never silent:** of the located events, the share that falls in no study cell decides:
more than :data:`OUTSIDE_REFUSE` (50 %) and the aggregation is refused with an
`AggregationError` that gives the counts and what to load; more than :data:`OUTSIDE_WARN`
(1 %) and a sentence is added to ``CellCounts.warnings`` (the analyses put it in
``meta["warnings"]``, which the CLI prints with the result).

With ``harm=True`` each event is weighted by :mod:`vru.analysis.harm` (its offence code's
weight, else its police.uk category's, else 1) and ``value`` holds the weighted sums; ``n``
always holds the plain counts.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp
import shapely

from vru.analysis import weights as wts
from vru.analysis.harm import HarmWeights, default_weights
from vru.geo.boundaries import home_districts, load_lad, load_lsoa, load_msoa, lsoa_to_msoa
from vru.geo.crs import BNG, WGS84
from vru.geo.grids import (
    h3_cell,
    h3_cells_covering,
    h3_neighbours,
    h3_polygons,
    square_cells_covering,
    square_polygons,
)
from vru.lake.coverage import Coverage, coverage, month_runs
from vru.lake.events import KEY_MODULUS, Events
from vru.lake.store import Store

__all__ = [
    "TIME_BINS",
    "OUTSIDE_REFUSE",
    "OUTSIDE_WARN",
    "AggregationError",
    "CellCounts",
    "CellSpec",
    "StudyArea",
    "aggregate",
    "as_events",
    "parse_cell",
    "study_area",
]

TIME_BINS = ("month", "week", "day", "hour_of_week")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_LAD = re.compile(r"^[EW]0[6-9]\d{6}$")
#: Share of located events outside the study area above which an aggregation is refused.
OUTSIDE_REFUSE = 0.5
#: Share above which the result carries a warning.
OUTSIDE_WARN = 0.01


class AggregationError(ValueError):
    """The aggregation cannot run as asked; the message says why and what to do."""


LakeLike = Events | Store | str | Path


def as_events(source: LakeLike, table: str = "incidents",
              version: int | None = None) -> Events:
    """The event source an analysis reads.

    The service hands analyses an `Events` already limited to what the reader may see. A
    Store or a home folder means the home owner's own unrestricted access from Python (see
    docs/security.md); anything else (a signed-in session) must go through its ``analyse``.
    """
    if isinstance(source, Events):
        return source if source.table == table or table == "incidents" else source.at(table)
    if isinstance(source, Store | str | Path):
        try:
            return Events.whole(source, table, version)
        except LookupError as exc:
            raise AggregationError(str(exc)) from None
    raise TypeError(f"analyses read a governed event source, not {type(source).__name__}: "
                    "with a signed-in lake use lake.analyse(NAME, ...) so the area and the "
                    "release rules apply")


# ---------------------------------------------------------------------------------------------
# cells and the study area


@dataclass(frozen=True)
class CellSpec:
    """Which cells: ``kind`` in grid, h3, lsoa, msoa, district; ``size`` (m) or ``res``."""

    kind: str
    size: float | None = None
    res: int | None = None

    @property
    def text(self) -> str:
        """The spec as written on the command line, e.g. ``"grid:250"``, ``"h3:9"``."""
        if self.kind == "grid":
            return f"grid:{self.size:g}"
        if self.kind == "h3":
            return f"h3:{self.res}"
        return self.kind


def parse_cell(text: str | CellSpec) -> CellSpec:
    """Parse ``"grid:250"``, ``"h3:9"``, ``"lsoa"``, ``"msoa"`` or ``"district"``.

    Raises
    ------
    AggregationError
        Naming the accepted forms.
    """
    if isinstance(text, CellSpec):
        return text
    t = str(text).strip().lower()
    kind, _, arg = t.partition(":")
    if kind in ("lsoa", "msoa") and not arg:
        return CellSpec(kind)
    if kind in ("district", "lad") and not arg:
        return CellSpec("district")
    try:
        if kind == "grid":
            size = float(arg.removesuffix("m"))
            if not np.isfinite(size) or size < 10:
                raise ValueError
            return CellSpec("grid", size=size)
        if kind == "h3":
            res = int(arg)
            if not 6 <= res <= 10:
                raise ValueError
            return CellSpec("h3", res=res)
    except ValueError:
        pass
    raise AggregationError(
        f"cell {text!r} not understood: use grid:SIZE (metres, at least 10), h3:RES (6-10), "
        "lsoa, msoa or district"
    )


@dataclass
class StudyArea:
    """Every cell of the study area: ids, BNG polygons and centroids, and how to find them."""

    spec: CellSpec
    ids: np.ndarray  #: cell ids (object array)
    geometry: np.ndarray  #: shapely polygons in British National Grid
    lsoa: gpd.GeoDataFrame = field(repr=False)  #: the LSOA boundaries the area stands on
    cols: np.ndarray | None = field(default=None, repr=False)  #: grid only
    rows: np.ndarray | None = field(default=None, repr=False)
    member: dict[str, str] | None = field(default=None, repr=False)  #: lsoa11cd → cell id

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def centroids(self) -> np.ndarray:
        """(n, 2) BNG centroids of the cells."""
        c = shapely.centroid(self.geometry)
        return np.column_stack([shapely.get_x(c), shapely.get_y(c)])

    def position(self, ids: Sequence[Any] | np.ndarray) -> np.ndarray:
        """Index of each id in the study area, −1 where it is not a study cell."""
        return pd.Index(self.ids).get_indexer(pd.Index(np.asarray(ids, dtype=object)))

    def grid_position(self, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Index of each square cell (col, row) in the study area, −1 where absent."""
        assert self.cols is not None and self.rows is not None
        c0, r0 = int(self.cols.min()), int(self.rows.min())
        width = int(self.cols.max()) - c0 + 1
        height = int(self.rows.max()) - r0 + 1
        key = (self.rows - r0) * width + (self.cols - c0)
        order = np.argsort(key)
        skey = key[order]
        c = np.asarray(cols, dtype=np.int64) - c0
        r = np.asarray(rows, dtype=np.int64) - r0
        inside = (c >= 0) & (c < width) & (r >= 0) & (r < height)
        q = r * width + c
        pos = np.minimum(np.searchsorted(skey, q), skey.size - 1)
        hit = inside & (skey[pos] == q)
        return np.where(hit, order[pos], -1)

    def weights(self, spec: str = "contiguity") -> sp.csr_array:
        """Binary spatial weights (self included) among the study cells.

        ``"contiguity"``: the cell and its first ring — queen contiguity (k = 1) on the square
        grid, ``grid_disk(k=1)`` for H3, polygons that touch (within 1 m, which absorbs slivers
        between generalised boundaries) for LSOA/MSOA/district.  ``"distance:METRES"``: cells
        whose centroids lie within that distance.  ``"knn:K"``: the K nearest centroids.
        """
        kind, _, arg = str(spec).strip().lower().partition(":")
        try:
            if kind == "contiguity" and not arg:
                return self._contiguity()
            if kind == "distance":
                d = float(arg.removesuffix("m"))
                if d > 0:
                    return wts.distance_band_weights(self.centroids, d)
            if kind == "knn":
                k = int(arg)
                if k >= 1:
                    return wts.knn_weights(self.centroids, k)
        except ValueError as exc:
            if "k must be" in str(exc):
                raise AggregationError(f"weights {spec!r}: {exc}") from None
        raise AggregationError(
            f"weights {spec!r} not understood: use contiguity, distance:METRES or knn:K"
        )

    def _contiguity(self) -> sp.csr_array:
        if self.spec.kind == "grid":
            return wts.grid_weights(self.rows, self.cols, k=1)
        if self.spec.kind == "h3":
            pairs = h3_neighbours(self.ids.tolist(), 1)
            src = self.position(pairs["cell"].to_numpy(dtype=object))
            dst = self.position(pairs["neighbour"].to_numpy(dtype=object))
            keep = (src >= 0) & (dst >= 0)
            return wts.neighbour_list_weights(
                _lists(src[keep], dst[keep], len(self)), n=len(self)
            )
        tree = shapely.STRtree(self.geometry)
        a, b = tree.query(self.geometry, predicate="dwithin", distance=1.0)
        return wts.neighbour_list_weights(_lists(a, b, len(self)), n=len(self))

    def geometry_wgs84(self) -> gpd.GeoSeries:
        """Cell polygons in WGS84 (for GeoJSON and the browser)."""
        if self.spec.kind == "h3":
            return gpd.GeoSeries(h3_polygons(self.ids.tolist()), crs=WGS84)
        return gpd.GeoSeries(self.geometry, crs=BNG).to_crs(WGS84)


def _lists(src: np.ndarray, dst: np.ndarray, n: int) -> list[np.ndarray]:
    order = np.argsort(src, kind="stable")
    s, d = src[order], dst[order]
    cuts = np.searchsorted(s, np.arange(n + 1))
    return [d[cuts[i] : cuts[i + 1]] for i in range(n)]


def _restrict(lsoa: gpd.GeoDataFrame, area: tuple[str, ...]) -> gpd.GeoDataFrame:
    if not area:
        return lsoa
    lads = {a for a in area if _LAD.match(a)}
    codes = set(area) - lads
    keep = lsoa["lad13cd"].isin(lads) | lsoa["lsoa11cd"].isin(codes)
    if not keep.any():
        raise AggregationError(
            f"area {', '.join(area)} matches no loaded LSOA (give district codes such as "
            "E06000038 or LSOA codes)"
        )
    return lsoa[keep].reset_index(drop=True)


@lru_cache(maxsize=16)
def _study_area_cached(spec: CellSpec, lsoa_paths: tuple[str, ...] | None,
                       area: tuple[str, ...],
                       districts: tuple[str, ...] | None = None) -> StudyArea:
    lsoa = _restrict(load_lsoa(list(lsoa_paths) if lsoa_paths else None, districts=districts),
                     area)
    if spec.kind == "grid":
        cov = square_cells_covering(lsoa, spec.size, only_intersecting=True)
        ids = cov["cell_id"].to_numpy(dtype=object)
        return StudyArea(spec, ids, square_polygons(ids), lsoa,
                         cols=cov["col"].to_numpy(), rows=cov["row"].to_numpy())
    if spec.kind == "h3":
        # "overlap": every point of the area lies in a listed hexagon (none falls outside).
        ids = h3_cells_covering(lsoa, spec.res, contain="overlap")
        return StudyArea(spec, ids, h3_polygons(ids.tolist(), bng=True), lsoa)
    if spec.kind == "lsoa":
        ids = lsoa["lsoa11cd"].to_numpy(dtype=object)
        return StudyArea(spec, ids, np.asarray(lsoa.geometry.values, dtype=object), lsoa,
                         member=dict(zip(ids, ids, strict=True)))
    if spec.kind == "msoa":
        msoa = load_msoa()
        look = lsoa_to_msoa(lsoa, msoa).dropna(subset=["msoa11cd"])
        msoa = msoa[msoa["msoa11cd"].isin(set(look["msoa11cd"]))].reset_index(drop=True)
        return StudyArea(spec, msoa["msoa11cd"].to_numpy(dtype=object),
                         np.asarray(msoa.geometry.values, dtype=object), lsoa,
                         member=dict(zip(look["lsoa11cd"], look["msoa11cd"], strict=True)))
    lad = load_lad(sorted(set(lsoa["lad13cd"].dropna())))
    return StudyArea(spec, lad["lad13cd"].to_numpy(dtype=object),
                     np.asarray(lad.geometry.values, dtype=object), lsoa,
                     member=dict(zip(lsoa["lsoa11cd"], lsoa["lad13cd"], strict=True)))


def study_area(cell: str | CellSpec, area: Sequence[str] | str | None = None,
               lsoa_paths: Sequence[str | Path] | None = None,
               districts: Sequence[str] | None = None) -> StudyArea:
    """All cells covering the loaded LSOA boundaries (cached per arguments).

    Parameters
    ----------
    cell : str or CellSpec
        ``"grid:250"``, ``"h3:9"``, ``"lsoa"``, ``"msoa"`` or ``"district"``.
    area : str or sequence of str, optional
        Restrict to these district (``E06…``/``E07…``) or LSOA codes.
    lsoa_paths : sequence of paths, optional
        LSOA boundary files (default: the shipped England and Wales set).
    districts : sequence of str, optional
        The districts (``lad13cd``) to draw from the shipped set; by default those of
        ``area``, else the demo's Thames Valley (`aggregate` passes the data's districts).
    """
    spec = parse_cell(cell)
    a = (area,) if isinstance(area, str) else tuple(area or ())
    paths = tuple(str(Path(p).resolve()) for p in lsoa_paths) if lsoa_paths else None
    if districts is None and paths is None and a:
        lads = [x for x in a if _LAD.match(x)]
        districts = sorted({*lads, *home_districts([x for x in a if not _LAD.match(x)])})
    d = tuple(sorted(set(districts))) if districts is not None else None
    return _study_area_cached(spec, paths, tuple(sorted(set(a))), d)


def data_district_codes(events: Events) -> tuple[str, ...]:
    """The districts the located rows of ``events`` fall in (from their 2011 LSOAs)."""
    return _data_districts(str(events.store.home), events.table, events.version, events.lsoa)


@lru_cache(maxsize=32)
def _data_districts(home: str, table: str, version: int,
                    lsoa: frozenset[str] | None) -> tuple[str, ...]:
    events = Events(Store(Path(home)), table, version, lsoa=lsoa)
    con = duckdb.connect()
    try:
        events.register(con, "e_src")
        codes = [r[0] for r in con.execute(
            "SELECT DISTINCT lsoa11cd FROM e_src WHERE lsoa11cd IS NOT NULL").fetchall()]
    finally:
        con.close()
    return tuple(home_districts(codes))


# ---------------------------------------------------------------------------------------------
# the aggregation


@dataclass
class CellCounts:
    """Counts per study cell (and time bin), with what was read and what was left out."""

    area: StudyArea
    n: np.ndarray  #: (L,) or (L, T) event counts
    value: np.ndarray  #: same shape: counts, or harm-weighted sums when ``harm``
    bins: list[str] | None  #: time bin labels (``None`` without time bins)
    versions: dict[str, int]  #: lake table versions read
    params: dict[str, Any]  #: the parameters of the aggregation
    events: int  #: events matching the filters
    outside: int  #: with a location in no study cell
    no_location: int  #: without coordinates / LSOA
    no_time: int = 0  #: without an event time (or month, for month bins)
    groups: int = 0  #: rows that left the engine (cell position × bin groups)
    keys: np.ndarray | None = None  #: same shape as ``n``: cell keys (record keys summed,
                                    #: mod 256) when the source is keyed, for release
    held: np.ndarray | None = None  #: (T,) bool: time bin held by the lake (None: no bins
                                    #: in time, or hour of week)
    coverage: dict[str, Any] | None = None  #: months held and missing in the period
    warnings: list[str] = field(default_factory=list)  #: sentences for ``meta["warnings"]``

    def totals(self) -> np.ndarray:
        """Value per cell over all time bins."""
        return self.value if self.value.ndim == 1 else self.value.sum(axis=1)

    def to_frame(self, zeros: bool = True) -> pd.DataFrame:
        """Long table ``cell`` [, ``bin``], ``n`` [, ``harm``]; ``zeros=False`` drops empties."""
        harm = bool(self.params.get("harm"))
        if self.bins is None:
            df = pd.DataFrame({"cell": self.area.ids, "n": self.n})
            if harm:
                df["harm"] = self.value
        else:
            L, T = self.n.shape
            df = pd.DataFrame({"cell": np.repeat(self.area.ids, T),
                               "bin": np.tile(np.asarray(self.bins, dtype=object), L),
                               "n": self.n.ravel()})
            if harm:
                df["harm"] = self.value.ravel()
        return df if zeros else df[df["n"] > 0].reset_index(drop=True)


def _month_arg(text: str | None, what: str) -> str | None:
    if text is None:
        return None
    t = str(text).strip()
    if not _MONTH.match(t):
        raise AggregationError(f"{what} must be a month written YYYY-MM, got {text!r}")
    return t


def _as_list(v: str | Sequence[str] | None) -> list[str] | None:
    if v is None:
        return None
    return [v] if isinstance(v, str) else [str(x) for x in v]


def _where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    parts, params = ["TRUE"], []
    for col in ("category", "offence_group", "offence_code", "source"):
        vals = filters.get(col)
        if vals:
            parts.append(f"list_contains(?, e.{col})")
            params.append(vals)
    if filters.get("start"):
        parts.append("e.month >= ?")
        params.append(filters["start"])
    if filters.get("end"):
        parts.append("e.month <= ?")
        params.append(filters["end"])
    if filters.get("area_lsoa") is not None:
        parts.append("list_contains(?, e.lsoa11cd)")
        params.append(filters["area_lsoa"])
    return " AND ".join(parts), params


# Time bins are integers in SQL (months since year 0, weeks since Monday 1970-01-05, days since
# 1970-01-01, hour of the week), so no label string is built per group; labels are made once
# per bin from the integer range.
_WEEK0 = np.datetime64("1970-01-05", "D")  # a Monday
_DAY0 = np.datetime64("1970-01-01", "D")
_BIN_SQL = {
    None: "0",
    "month": "(TRY_CAST(substr(e.month, 1, 4) AS INTEGER) * 12 "
             "+ TRY_CAST(substr(e.month, 6, 2) AS INTEGER) - 1)",
    "week": "CAST(floor(date_diff('day', DATE '1970-01-05', CAST(e.occurred_from AS DATE)) / 7) "
            "AS INTEGER)",
    "day": "CAST(date_diff('day', DATE '1970-01-01', CAST(e.occurred_from AS DATE)) AS INTEGER)",
    "hour_of_week": "CAST((isodow(e.occurred_from) - 1) * 24 + hour(e.occurred_from) AS INTEGER)",
}

# Codes of the cell position for events that are in no study cell (positions are >= 0).
_OUTSIDE, _NO_LOC_TIMED, _NO_TIME, _NO_LOC_NO_TIME = -1, -2, -3, -4

#: DuckDB settings of the aggregation: a bounded memory (large group counts spill to disk
#: rather than grow the process) and no insertion order to keep.
ENGINE_CONFIG = {"memory_limit": "1GB", "preserve_insertion_order": False}


def _key_sql(spec: CellSpec) -> tuple[list[str], str]:
    """(location key expressions k1[, k2], condition that the key is present)."""
    if spec.kind == "grid":
        s = repr(float(spec.size))
        has = ("e.easting IS NOT NULL AND e.northing IS NOT NULL "
               "AND isfinite(e.easting) AND isfinite(e.northing)")
        # CASE: floor(inf) would fail the cast; such rows are counted as without location.
        return ([f"CASE WHEN {has} THEN CAST(floor(e.easting / {s}) AS BIGINT) END",
                 f"CASE WHEN {has} THEN CAST(floor(e.northing / {s}) AS BIGINT) END"], has)
    if spec.kind == "h3":
        return (["e.lon", "e.lat"],
                "e.lon IS NOT NULL AND e.lat IS NOT NULL AND isfinite(e.lon) AND isfinite(e.lat)")
    return ["e.lsoa11cd"], "e.lsoa11cd IS NOT NULL"


def _cell_table(con: duckdb.DuckDBPyConnection, spec: CellSpec, region: StudyArea,
                where: str, params: list[Any], has_key: str) -> pa.Table:
    """Arrow table ``k1`` [, ``k2``], ``pos``: location key → study-area position."""
    L = len(region)
    if spec.kind == "grid":
        assert region.cols is not None and region.rows is not None
        return pa.table({"k1": pa.array(region.cols, pa.int64()),
                         "k2": pa.array(region.rows, pa.int64()),
                         "pos": pa.array(np.arange(L, dtype=np.int32))})
    if spec.kind == "h3":
        # No h3 in the engine (its extension downloads): index each distinct point once here.
        pts = con.sql(f"SELECT DISTINCT e.lon AS k1, e.lat AS k2 FROM e_src e "
                      f"WHERE {where} AND {has_key}", params=params).fetchnumpy()
        lon = np.asarray(pts["k1"], dtype=np.float64)
        lat = np.asarray(pts["k2"], dtype=np.float64)
        pos = region.position(h3_cell(lat, lon, spec.res)).astype(np.int32)
        keep = pos >= 0
        return pa.table({"k1": lon[keep], "k2": lat[keep], "pos": pos[keep]})
    assert region.member is not None
    codes = np.asarray(list(region.member), dtype=object)
    pos = region.position(np.asarray(list(region.member.values()), dtype=object))
    keep = pos >= 0
    return pa.table({"k1": pa.array(codes[keep], pa.string()),
                     "pos": pa.array(pos[keep].astype(np.int32))})


def _month_index(text: str) -> int:
    return int(text[:4]) * 12 + int(text[5:7]) - 1


def _day_index(day: np.datetime64) -> int:
    return int((day - _DAY0).astype(np.int64))


def _bin_range(time_bin: str, lo: int | None, hi: int | None, start: str | None,
               end: str | None) -> tuple[int, list[str]]:
    """(integer bin of the first label, labels) of every bin of the period, empty ones too.

    The period runs from ``start`` (its first day) or else the earliest event, to ``end`` (its
    last day) or else the latest event.
    """
    if time_bin == "hour_of_week":
        return 0, [str(h) for h in range(168)]
    if time_bin == "month":
        m0 = _month_index(start) if start else lo
        m1 = _month_index(end) if end else hi
        assert m0 is not None and m1 is not None
        return m0, [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(m0, m1 + 1)]
    first = _day_index(np.datetime64(start, "D")) if start else None
    last = (_day_index(np.datetime64(end, "M") + np.timedelta64(1, "M")) - 1) if end else None
    if time_bin == "week":
        w_of = _day_index(_WEEK0)
        w0 = (first - w_of) // 7 if first is not None else lo
        w1 = (last - w_of) // 7 if last is not None else hi
        assert w0 is not None and w1 is not None
        days = _WEEK0 + 7 * np.arange(w0, w1 + 1)
        return w0, np.datetime_as_string(days, unit="D").tolist()
    d0 = first if first is not None else lo
    d1 = last if last is not None else hi
    assert d0 is not None and d1 is not None
    return d0, np.datetime_as_string(_DAY0 + np.arange(d0, d1 + 1), unit="D").tolist()


def aggregate(
    lake: LakeLike,
    cell: str | CellSpec = "grid:500",
    time_bin: str | None = None,
    *,
    category: str | Sequence[str] | None = None,
    offence_group: str | Sequence[str] | None = None,
    offence_code: str | Sequence[str] | None = None,
    source: str | Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    area: str | Sequence[str] | None = None,
    harm: bool | HarmWeights = False,
    table: str = "incidents",
    version: int | None = None,
    lsoa_paths: Sequence[str | Path] | None = None,
) -> CellCounts:
    """Count (or harm-weight) events per study cell and time bin, in the engine.

    DuckDB reads only the needed columns (filters pushed into the Parquet scan), maps each
    event's location key to its study-area position by a join against an Arrow table of the
    study cells, and groups by (position, integer time bin).  Only those groups — at most
    cells × bins, plus one per bin for events outside the study area — leave the engine, as
    NumPy arrays that are scattered into the dense cube.

    Parameters
    ----------
    lake : Lake, Store, str or Path
        The lake (or its home folder).
    cell : str, default "grid:500"
        ``grid:SIZE``, ``h3:RES``, ``lsoa``, ``msoa`` or ``district``.
    time_bin : {None, "month", "week", "day", "hour_of_week"}
        Time bins (see the module docstring).
    category, offence_group, offence_code, source : str or list of str, optional
        Keep only these data.police.uk categories / Home Office groups / codes / sources.
    start, end : str, optional
        First and last month ``YYYY-MM`` (inclusive, on the ``month`` column).
    area : str or list of str, optional
        District or LSOA codes restricting the study area (and the events, by ``lsoa11cd``).
    harm : bool or HarmWeights, default False
        Weight events (True: :func:`vru.analysis.harm.default_weights`).
    table : str, default "incidents"
        Lake table to read.
    version : int, optional
        Table version (default: the current one, recorded in ``versions``).
    lsoa_paths : list of paths, optional
        LSOA boundaries of the study area (default: the shipped set).

    Returns
    -------
    CellCounts

    Raises
    ------
    AggregationError
        Unknown cell or time bin, bad months, no such table, or time bins asked of data known
        only to the month.
    """
    spec = parse_cell(cell)
    if time_bin is not None and time_bin not in TIME_BINS:
        raise AggregationError(f"time_bin {time_bin!r} not understood: use one of {TIME_BINS}")
    start, end = _month_arg(start, "start"), _month_arg(end, "end")
    if start and end and end < start:
        raise AggregationError(f"end {end} is before start {start}")
    events = as_events(lake, table, version)
    table = events.table
    versions = {table: events.version}
    if events.lsoa is not None:
        # a reader limited to an area studies that area's cells only
        inside = sorted(events.lsoa)
        area = inside if not area else _intersect(area, inside, lsoa_paths)
    # the shipped boundaries of the districts the data fall in: any force, no set-up
    districts = data_district_codes(events) if lsoa_paths is None and not area else None
    region = study_area(spec, area, lsoa_paths, districts)
    weights = default_weights() if harm is True else (harm or None)
    filters = {"category": _as_list(category), "offence_group": _as_list(offence_group),
               "offence_code": _as_list(offence_code), "source": _as_list(source),
               "start": start, "end": end,
               "area_lsoa": region.lsoa["lsoa11cd"].tolist() if area else None}
    where, params = _where(filters)
    keys, has_key = _key_sql(spec)
    with tempfile.TemporaryDirectory(prefix="vru-aggregate-") as spill:
        con = duckdb.connect(config={**ENGINE_CONFIG, "temp_directory": spill})
        try:
            events.register(con, "e_src")
            con.register("__cells", _cell_table(con, spec, region, where, params, has_key))
            if weights is not None:
                codes, cats = weights.tables()
                con.register("__harm_code", codes)
                con.register("__harm_cat", cats)
            res = con.sql(_cube_sql(keys, has_key, time_bin, where, weights,
                                    events.key_seed is not None), params=params)
            cols = res.fetchnumpy()
        except duckdb.Error as exc:
            raise AggregationError(f"aggregation over {table!r} failed: {exc}") from None
        finally:
            con.close()
    cov = _coverage(events)
    counts = _assemble(cols, region, time_bin, start, end, versions, {
        "cell": spec.text, "time_bin": time_bin, "category": filters["category"],
        "offence_group": filters["offence_group"], "offence_code": filters["offence_code"],
        "source": filters["source"], "start": start, "end": end,
        "area": list(area) if isinstance(area, list | tuple) else area,
        "harm": weights is not None, "harm_weights": weights.source if weights else None,
        "table": table,
    })
    counts.coverage = cov.meta(start, end, filters["source"]) if cov is not None else None
    if cov is not None and counts.bins is not None and time_bin != "hour_of_week":
        counts.held = _held_bins(time_bin, counts.bins,
                                 set(cov.months(filters["source"])))
    # below record level the sentence gives the share only (the counts are released apart)
    label = events.area if events.lsoa is not None else area
    _check_outside(counts, cov, filters["source"], label,
                   exact=events.lsoa is None and events.key_seed is None)
    return counts


def _coverage(events: Events) -> Coverage | None:
    """The table's coverage in time, or None for a table without months."""
    try:
        return coverage(events)
    except LookupError:
        return None


def _held_bins(time_bin: str, labels: list[str], months: set[str]) -> np.ndarray:
    """Whether each bin is held: its month (month, day) or all its seven days (week)."""
    if time_bin == "month":
        return np.array([b in months for b in labels], dtype=bool)
    if time_bin == "day":
        return np.array([b[:7] in months for b in labels], dtype=bool)
    first = np.asarray(labels, dtype="datetime64[D]")
    last = first + np.timedelta64(6, "D")
    a = np.datetime_as_string(first.astype("datetime64[M]"), unit="M")
    b = np.datetime_as_string(last.astype("datetime64[M]"), unit="M")
    return np.array([x in months and y in months for x, y in zip(a, b, strict=True)])


def _check_outside(counts: CellCounts, cov: Coverage | None, source: list[str] | None,
                   area: str | Sequence[str] | None, exact: bool = True) -> None:
    """Refuse when most located events fall outside the study area; warn when some do."""
    inside = int(counts.n.sum())
    located = inside + counts.outside
    if located == 0 or counts.outside == 0:
        return
    share = counts.outside / located
    if share <= OUTSIDE_WARN:
        return
    lsoa = counts.area.lsoa
    districts = lsoa["lad13cd"].dropna().nunique() if "lad13cd" in lsoa else 0
    if isinstance(area, list | tuple):
        area = ", ".join(area[:3]) + (f" and {len(area) - 3:,} more" if len(area) > 3 else "")
    where = f"the study area ({area}: " if area else "the loaded boundaries ("
    where += f"{len(lsoa):,} LSOAs in {districts:,} districts)"
    text = (f"{counts.outside:,} of {located:,} located events ({share:.1%}) fall outside "
            f"{where}" if exact else
            f"{share:.0%} of the located events fall outside {where}")
    forces = sorted({f for _, f in cov.pairs(source) if f}) if cov is not None else []
    whose = "the districts these events lie in" + (
        f" (the data are {', '.join(forces)}'s)" if forces else "")
    if share > OUTSIDE_REFUSE:
        raise AggregationError(
            f"{text}: a map of these cells would leave most events out. Load the LSOA "
            f"boundaries of {whose} (`vru boundaries load FILE`), or choose an area that "
            "holds the data")
    counts.warnings.append(
        f"{text}; they are left out of the cells (over {OUTSIDE_REFUSE:.0%} would be "
        f"refused): load the LSOA boundaries of {whose} (`vru boundaries load FILE`) to "
        "count them")


def missing_bins_message(counts: CellCounts) -> str:
    """The months (or weeks) not held among a cube's bins, as one phrase."""
    assert counts.bins is not None and counts.held is not None
    gone = [b for b, h in zip(counts.bins, counts.held, strict=True) if not h]
    if counts.params.get("time_bin") == "month":
        return f"months not held: {month_runs(gone)}"
    return f"{len(gone)} {counts.params.get('time_bin')}s not wholly held: {', '.join(gone[:6])}" \
        + (" ..." if len(gone) > 6 else "")


def _intersect(area: str | Sequence[str], inside: list[str],
               lsoa_paths: Sequence[str | Path] | None) -> list[str]:
    """LSOA codes of ``area`` (districts or LSOAs) that are also in ``inside``."""
    asked = (area,) if isinstance(area, str) else tuple(area)
    codes = set(_restrict(load_lsoa(list(lsoa_paths) if lsoa_paths else None), asked)
                ["lsoa11cd"])
    both = [c for c in inside if c in codes]
    if not both:
        raise AggregationError(f"{', '.join(asked)} lies outside the area you may see")
    return both


def _cube_sql(keys: list[str], has_key: str, time_bin: str | None, where: str,
              weights: HarmWeights | None, keyed: bool = False) -> str:
    """The grouping query: one row per (study position or code, integer bin)."""
    value, joins = "", ""
    if weights is not None:
        joins = ("LEFT JOIN __harm_code hc ON hc.offence_code = e.offence_code "
                 "LEFT JOIN __harm_cat hk ON hk.category = e.category")
        value = f", coalesce(hc.weight, hk.weight, {float(weights.default)!r}) AS w"
    timed = "TRUE" if time_bin is None else "b IS NOT NULL"
    on = " AND ".join(f"c.k{i + 1} = ev.k{i + 1}" for i in range(len(keys)))
    k = ", ".join(f"{expr} AS k{i + 1}" for i, expr in enumerate(keys))
    return (
        f"WITH ev AS (SELECT {k}, ({has_key}) AS located, {_BIN_SQL[time_bin]} AS b{value}"
        + (", e.record_key AS rk" if keyed else "") + " "
        f"FROM e_src e {joins} WHERE {where}) "
        f"SELECT CAST(CASE WHEN NOT located THEN "
        f"(CASE WHEN {timed} THEN {_NO_LOC_TIMED} ELSE {_NO_LOC_NO_TIME} END) "
        f"WHEN NOT ({timed}) THEN {_NO_TIME} ELSE coalesce(c.pos, {_OUTSIDE}) END AS INTEGER) "
        f"AS p, CASE WHEN located AND {timed} THEN b ELSE 0 END AS t, count(*) AS n"
        + (", sum(w) AS v" if weights is not None else "")
        + (", sum(rk) AS ks" if keyed else "")
        + f" FROM ev LEFT JOIN __cells c ON {on} GROUP BY ALL"
    )


def _assemble(cols: dict[str, np.ndarray], region: StudyArea, time_bin: str | None,
              start: str | None, end: str | None, versions: dict[str, int],
              params: dict[str, Any]) -> CellCounts:
    p = np.asarray(cols["p"], dtype=np.int64)
    t = np.asarray(cols["t"], dtype=np.int64)
    n = np.asarray(cols["n"], dtype=np.int64)
    v = np.asarray(cols["v"], dtype=np.float64) if "v" in cols else None
    ks = np.asarray(cols["ks"], dtype=np.float64) if "ks" in cols else None
    events = int(n.sum())
    no_location = int(n[(p == _NO_LOC_TIMED) | (p == _NO_LOC_NO_TIME)].sum())
    no_time = int(n[p == _NO_TIME].sum())
    timed_any = bool(((p != _NO_TIME) & (p != _NO_LOC_NO_TIME)).any())
    if time_bin not in (None, "month") and events and not timed_any:
        raise AggregationError(
            f"{time_bin} bins need event times, but every matching event is known only to "
            "the month (data.police.uk); use time_bin='month' or a force extract"
        )
    kept = p >= _OUTSIDE  # located and timed
    outside = int(n[p == _OUTSIDE].sum())
    L = len(region)
    groups = int(p.size)
    inside = p >= 0
    if time_bin is None:
        counts = np.bincount(p[inside], weights=n[inside], minlength=L).astype(np.int64)
        vals = (np.bincount(p[inside], weights=v[inside], minlength=L) if v is not None
                else counts.astype(np.float64))
        keys = (_mod(np.bincount(p[inside], weights=ks[inside], minlength=L))
                if ks is not None else None)
        return CellCounts(region, counts, vals, None, versions, params, events, outside,
                          no_location, no_time, groups, keys)
    lo = int(t[kept].min()) if kept.any() else None
    hi = int(t[kept].max()) if kept.any() else None
    if lo is None and not (start and end) and time_bin != "hour_of_week":
        raise AggregationError("no matching events, and no start/end to define the time bins")
    first, labels = _bin_range(time_bin, lo, hi, start, end)
    T = len(labels)
    tt = t - first
    ok = inside & (tt >= 0) & (tt < T)
    outside += int(n[inside & ~ok].sum())  # rounding at period edges (week bins)
    flat = p[ok] * T + tt[ok]
    counts = np.bincount(flat, weights=n[ok], minlength=L * T).reshape(L, T).astype(np.int64)
    vals = (np.bincount(flat, weights=v[ok], minlength=L * T).reshape(L, T) if v is not None
            else counts.astype(np.float64))
    keys = (_mod(np.bincount(flat, weights=ks[ok], minlength=L * T).reshape(L, T))
            if ks is not None else None)
    return CellCounts(region, counts, vals, labels, versions, params, events, outside,
                      no_location, no_time, groups, keys)


def _mod(sums: np.ndarray) -> np.ndarray:
    """Key sums (exact in float64 far beyond any cell's size × 255) as cell keys."""
    return np.mod(np.rint(sums).astype(np.int64), KEY_MODULUS)
