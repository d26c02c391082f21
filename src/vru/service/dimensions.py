"""The dimensions of the governed table builder: what counts can be broken down by.

A dimension is one entry here: its name, the columns it needs and either a SQL expression
over the governed view (alias ``e``) or a lookup table joined on a key. A table offers the
dimensions whose columns its view shows, so hidden columns (identifiers, fields an agreement
withholds) can never become a dimension.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa

from vru.service.errors import BadRequest

# months are YYYY-MM text; these expressions are NULL for a row without a readable month
_Y = "TRY_CAST(substr(e.month, 1, 4) AS INTEGER)"
_M = "TRY_CAST(substr(e.month, 6, 2) AS INTEGER)"

#: Which timestamp gives a table's time of day, and when it is known to the hour.
_TIME = {
    "occurred_from": "CASE WHEN e.time_precision IN ('minute', 'window') THEN e.occurred_from "
                     "END",
    "assault": "coalesce(e.assault, e.arrival)",
    "date": "e.date",
}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Lookup:
    """A table joined to the view: ``on`` columns of ``e`` = the lookup's, gives ``value``."""

    alias: str
    on: tuple[str, ...]
    build: Callable[..., pa.Table]


@dataclass(frozen=True)
class Dimension:
    """One way to break counts down."""

    name: str
    help: str
    needs: tuple[str, ...]
    sql: str
    lookup: Lookup | None = None
    geography: str | None = None  # "lsoa", "msoa", "district", "area": rates are possible


def _time_sql(columns: set[str]) -> str | None:
    for col, expr in _TIME.items():
        if col in columns:
            return expr
    return None


def _fixed() -> dict[str, Dimension]:
    fy = (f"CASE WHEN {_M} >= 4 THEN CAST({_Y} AS VARCHAR) || '/' || "
          f"lpad(CAST(({_Y} + 1) % 100 AS VARCHAR), 2, '0') ELSE CAST({_Y} - 1 AS VARCHAR) || "
          f"'/' || lpad(CAST({_Y} % 100 AS VARCHAR), 2, '0') END")
    dims = [
        Dimension("month", "calendar month, YYYY-MM", ("month",), "e.month"),
        Dimension("quarter", "calendar quarter, YYYY-Qn", ("month",),
                  f"CAST({_Y} AS VARCHAR) || '-Q' || CAST(({_M} + 2) // 3 AS VARCHAR)"),
        Dimension("year", "calendar year", ("month",), "substr(e.month, 1, 4)"),
        Dimension("financial_year", "April to March, YYYY/YY (how UK public bodies report)",
                  ("month",), fy),
        Dimension("category", "data.police.uk crime type", ("category",), "e.category"),
        Dimension("offence_group", "Home Office offence group", ("offence_group",),
                  "e.offence_group"),
        Dimension("source", "where the record came from (police_uk, force_extract...)",
                  ("source",), "e.source"),
        Dimension("age_band", "victim age band, where recorded", ("victim_age_band",),
                  "e.victim_age_band"),
        Dimension("lsoa", "LSOA 2011 code", ("lsoa11cd",), "e.lsoa11cd", geography="lsoa"),
        Dimension("weapon", "ED: ISTV method or weapon", ("weapon",), "e.weapon"),
        Dimension("location_type", "ED: ISTV location type", ("location_type",),
                  "e.location_type"),
        Dimension("site", "ED: the emergency department's ODS code", ("site_code",),
                  "e.site_code"),
        Dimension("msoa", "MSOA 2011 code (shipped for Thames Valley only)", ("lsoa11cd",),
                  "lk_msoa.msoa11cd",
                  Lookup("lk_msoa", ("lsoa11cd",), lambda **_: _msoa_lookup()),
                  geography="msoa"),
        Dimension("district", "local authority district (2013 code)", ("lsoa11cd",),
                  "lk_district.lad13cd",
                  Lookup("lk_district", ("lsoa11cd",), lambda **_: _district_lookup()),
                  geography="district"),
        Dimension("area", "task-force area", ("lsoa11cd",), "lk_area.area",
                  Lookup("lk_area", ("lsoa11cd",), lambda areas, **_: _area_lookup(areas)),
                  geography="area"),
    ]
    return {d.name: d for d in dims}


FIXED = _fixed()
_CELL = re.compile(r"^(h3):(\d{1,2})$|^(grid):(\d{2,6})$")


def dimension(name: str, columns: set[str]) -> Dimension:
    """The dimension ``name`` over a view with ``columns``; `BadRequest` says what exists."""
    time = _time_sql(columns)
    if name in ("hour", "weekday"):
        if time is None:
            raise BadRequest(f"{name} needs event times, which this table does not have; "
                             f"dimensions here: {', '.join(available(columns))}")
        sql = (f"hour({time})" if name == "hour"
               else f"CAST(isodow({time}) AS INTEGER)")
        return Dimension(name, "", (), sql)
    m = _CELL.match(name)
    if m:
        if not {"easting", "northing", "lon", "lat"} <= columns:
            raise BadRequest(f"{name} cells need located rows; this table has no coordinates")
        if m.group(1):
            res = int(m.group(2))
            if not 6 <= res <= 10:
                raise BadRequest(f"H3 resolution {res} is outside 6..10")
            return Dimension(name, "", ("lon", "lat"), "lk_h3.cell",
                             Lookup("lk_h3", ("lon", "lat"),
                                    lambda points, **_: _h3_lookup(points, res)))
        size = int(m.group(4))
        if size < 100:
            raise BadRequest("grid cells smaller than 100 m single out addresses; use >= 100")
        return Dimension(name, "", ("easting", "northing"),
                         f"CAST(CAST(floor(e.easting / {size}) * {size} AS BIGINT) AS VARCHAR) "
                         f"|| '_' || CAST(CAST(floor(e.northing / {size}) * {size} AS BIGINT) "
                         "AS VARCHAR)")
    found = FIXED.get(name)
    if found is None or not set(found.needs) <= columns:
        raise BadRequest(f"no dimension {name!r} for this table; dimensions here: "
                         f"{', '.join(available(columns))}")
    return found


def known(name: str) -> bool:
    """Is ``name`` a dimension of any table (checked before the policy point)?"""
    return name in FIXED or name in ("hour", "weekday") or bool(_CELL.match(name))


def available(columns: set[str]) -> list[str]:
    """Dimension names a view with ``columns`` offers."""
    names = [d.name for d in FIXED.values() if set(d.needs) <= columns]
    if _time_sql(columns) is not None:
        names += ["hour", "weekday"]
    if {"easting", "northing", "lon", "lat"} <= columns:
        names += ["h3:RES (6-10)", "grid:SIZE (metres, >= 100)"]
    return names


@lru_cache(maxsize=1)
def _msoa_lookup() -> pa.Table:
    from vru.geo.boundaries import lsoa_to_msoa

    df = lsoa_to_msoa()
    return pa.table({"lsoa11cd": df["lsoa11cd"].astype(str).tolist(),
                     "msoa11cd": df["msoa11cd"].tolist()})


@lru_cache(maxsize=1)
def _district_lookup() -> pa.Table:
    """Every LSOA 2011 of England and Wales and its district (no shapes needed)."""
    from vru.geo.lsoa_list import lsoa_index

    df = lsoa_index()
    return pa.table({"lsoa11cd": df["lsoa11cd"].astype(str).tolist(),
                     "lad13cd": df["lad13cd"].astype(str).tolist()})


def _area_lookup(areas: dict[str, frozenset[str]]) -> pa.Table:
    pairs = [(code, name) for name, codes in sorted(areas.items()) for code in sorted(codes)]
    return pa.table({"lsoa11cd": pa.array([p[0] for p in pairs], pa.string()),
                     "area": pa.array([p[1] for p in pairs], pa.string())})


def _h3_lookup(points: pa.Table, res: int) -> pa.Table:
    from vru.geo.grids import h3_cell

    lon = np.asarray(points["lon"].to_numpy(zero_copy_only=False), dtype=np.float64)
    lat = np.asarray(points["lat"].to_numpy(zero_copy_only=False), dtype=np.float64)
    cells = h3_cell(lat, lon, res) if len(lon) else np.array([], dtype=object)
    return pa.table({"lon": lon, "lat": lat, "cell": pa.array(list(cells), pa.string())})
