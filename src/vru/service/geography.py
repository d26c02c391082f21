"""Boundaries handed to a face as GeoJSON: the home's LSOAs, districts and task-force areas.

A map needs shapes before it has numbers. They are drawn from the boundaries the home uses
(its own files when loaded, else the shipped set for the districts its data fall in), limited
to the reader's task-force area when they have one, simplified for the browser and cached:
boundaries are published data, but which area a reader sees is a decision, so each request
passes the policy point (and is audited) like any read.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from vru.service.boundaries import lsoa_paths
from vru.service.errors import BadRequest
from vru.service.session import Session

LEVELS = ("lsoa", "district", "area")
#: Douglas-Peucker tolerance in metres: invisible at the zooms a district is read at; it keeps
#: the GeoJSON of a force's LSOAs near 3 MB (about 0.6 MB gzipped).
SIMPLIFY_METRES = 20.0
#: A district is drawn when it holds at least this share of the reader's located rows.
DISTRICT_SHARE = 0.001
#: Decimal places of WGS84 degrees kept (~1 m).
DECIMALS = 5

_cache: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class StudyArea:
    """The LSOAs a reader's map covers (British National Grid) and who it was decided for."""

    lsoa: gpd.GeoDataFrame  #: lsoa11cd, lsoa11nm, lad13cd, area, geometry (EPSG:27700)
    area: str | None  #: the task-force area the rows are limited to, if any
    table: str
    version: int


def _cached(key: tuple[Any, ...], build: Any) -> Any:
    with _lock:
        if key in _cache:
            return _cache[key]
    value = build()
    with _lock:
        if len(_cache) > 64:  # boundaries of a few tables x areas: keep it bounded
            _cache.pop(next(iter(_cache)))
        _cache[key] = value
    return value


def study_area(session: Session, table: str = "incidents", *, purpose: str | None = None,
               area: str | None = None) -> StudyArea:
    """The LSOAs of the districts ``table``'s rows fall in, as the reader may see them.

    Parameters
    ----------
    session
        The signed-in session (the decision is audited with ``via: boundaries``).
    table
        The lake table whose rows choose the districts.
    purpose, area
        As for `Session.counts`; a task-force member gets their own area only.

    Returns
    -------
    StudyArea
        LSOA polygons in British National Grid with their district and task-force area.
    """
    version = session.version(table)
    decision = session.decide("read", table, purpose=purpose, area=area,
                              versions={table: version}, detail={"via": "boundaries"})
    rf = decision.row_filter
    own = tuple(str(p) for p in (lsoa_paths(session) or ()))
    areas = _area_names(session)

    def build() -> gpd.GeoDataFrame:
        from vru.geo.boundaries import load_lsoa

        events = session.events(decision, table, version)
        with session.engine(events) as con:
            if "lsoa11cd" not in session.columns(events):
                raise BadRequest(f"{table} has no LSOA column: it cannot be mapped")
            rows = con.sql("SELECT lsoa11cd, count(*) FROM e_src WHERE lsoa11cd IS NOT NULL "
                           "GROUP BY 1").fetchall()
        districts = _main_districts(rows)
        if not districts:
            raise BadRequest(f"no row of {table} you may see lies in a known LSOA: there is "
                             "nothing to map (load data with `vru ingest`)")
        frame = load_lsoa(list(own) or None, districts=districts)
        if rf is not None:
            frame = frame[frame["lsoa11cd"].isin(rf.values)].reset_index(drop=True)
        frame["area"] = [areas.get(c) for c in frame["lsoa11cd"]]  # None, never NaN
        return frame

    key = ("study", table, version, rf.area if rf is not None else None, own,
           tuple(sorted(areas.items())))
    return StudyArea(_cached(key, build), rf.area if rf is not None else None, table, version)


def _main_districts(rows: list[tuple[str, int]]) -> list[str]:
    """Districts holding at least `DISTRICT_SHARE` of the rows (by their LSOA).

    Published points are snapped and some land over a force's border: a district with a
    handful of them would double the map for nothing. Their rows stay in every count; the
    map's note says how many lie off it.
    """
    from vru.geo.boundaries import lsoa_index

    index = lsoa_index()
    lad = dict(zip(index["lsoa11cd"].astype(str), index["lad13cd"].astype(str), strict=True))
    per: dict[str, int] = {}
    for code, n in rows:
        d = lad.get(str(code))
        if d is not None:
            per[d] = per.get(d, 0) + int(n)
    total = sum(per.values())
    return sorted(d for d, n in per.items() if total and n >= DISTRICT_SHARE * total)


def _area_names(session: Session) -> dict[str, str]:
    """LSOA code -> task-force area name (an LSOA in several areas keeps the first)."""
    from vru.governance.areas import list_areas

    out: dict[str, str] = {}
    for a in sorted(list_areas(session._db), key=lambda a: a.name):
        for code in a.lsoa11cd:
            out.setdefault(code, a.name)
    return out


def area_list(session: Session, table: str = "incidents", *,
              purpose: str | None = None) -> list[dict[str, Any]]:
    """Task-force areas the reader may ask for: name, description, LSOAs (audited).

    A task-force member is given their own area only; other readers every area.
    """
    from vru.governance.areas import list_areas

    version = session.version(table)
    decision = session.decide("read", table, purpose=purpose, versions={table: version},
                              detail={"via": "areas"})
    rf = decision.row_filter
    return [{"name": a.name, "description": a.description or "", "lsoas": len(a.lsoa11cd)}
            for a in sorted(list_areas(session._db), key=lambda a: a.name)
            if rf is None or a.name == rf.area]


def _features(frame: gpd.GeoDataFrame, props: Sequence[str], ident: str) -> list[dict]:
    geoms = shapely.simplify(frame.geometry.values, SIMPLIFY_METRES, preserve_topology=True)
    wgs = gpd.GeoSeries(geoms, crs="EPSG:27700").to_crs("EPSG:4326")
    wgs = shapely.set_precision(wgs.values, 10.0 ** -DECIMALS)
    out = []
    for i, geom in enumerate(wgs):
        if geom is None or geom.is_empty:
            continue
        p = {k: _plain(frame[k].iloc[i]) for k in props}
        out.append({"type": "Feature", "id": str(frame[ident].iloc[i]), "properties": p,
                    "geometry": json.loads(shapely.to_geojson(geom))})
    return out


def _plain(v: Any) -> Any:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def boundaries(session: Session, level: str = "lsoa", table: str = "incidents", *,
               purpose: str | None = None, area: str | None = None) -> dict[str, Any]:
    """Boundaries of the reader's study area as a GeoJSON FeatureCollection (WGS84).

    Parameters
    ----------
    level
        ``lsoa`` (code, name, district, area), ``district`` (LSOAs dissolved by district)
        or ``area`` (by task-force area; LSOAs in no area are left out).

    Returns
    -------
    dict
        A FeatureCollection; each feature's ``id`` is its code or name, and ``bbox`` the
        extent as [west, south, east, north].
    """
    if level not in LEVELS:
        raise BadRequest(f"level {level!r}: choose one of {', '.join(LEVELS)}")
    study = study_area(session, table, purpose=purpose, area=area)

    def build() -> dict[str, Any]:
        frame = study.lsoa
        if level == "lsoa":
            feats = _features(frame, ("lsoa11cd", "lsoa11nm", "lad13cd", "area"), "lsoa11cd")
        else:
            col = "lad13cd" if level == "district" else "area"
            parts = frame[frame[col].notna()]
            merged = parts.dissolve(by=col, as_index=False)[[col, "geometry"]]
            merged["lsoas"] = parts.groupby(col).size().reindex(merged[col]).to_numpy()
            if level == "district":
                merged["name"] = merged[col].map(_district_names())
            else:
                merged["name"] = merged[col]
            feats = _features(merged, (col, "name", "lsoas"), col)
        w, s, e, n = gpd.GeoSeries(frame.geometry.values, crs="EPSG:27700").to_crs(
            "EPSG:4326").total_bounds if len(frame) else (0.0, 0.0, 0.0, 0.0)
        return {"type": "FeatureCollection", "features": feats,
                "bbox": [round(float(v), DECIMALS) for v in (w, s, e, n)]}

    key = ("geojson", level, study.table, study.version, study.area, id(study.lsoa))
    return _cached(key, build)


def _district_names() -> dict[str, str]:
    from vru.geo.boundaries import load_lad

    try:
        lad = load_lad()
    except Exception:  # names are a courtesy: a map without them still works  # noqa: BLE001
        return {}
    code = next((c for c in lad.columns if c.lower().startswith("lad") and c.lower()
                 .endswith("cd")), None)
    name = next((c for c in lad.columns if c.lower().endswith("nm")), None)
    if code is None or name is None:
        return {}
    return dict(zip(lad[code].astype(str), lad[name].astype(str), strict=True))


def places(session: Session, table: str = "incidents", *, purpose: str | None = None,
           area: str | None = None, limit: int = 60) -> list[dict[str, Any]]:
    """The post towns inside the reader's study area, to name places on a map.

    Returns
    -------
    list of dict
        ``name``, ``lon``, ``lat``, alphabetical (from the shipped gazetteer).
    """
    study = study_area(session, table, purpose=purpose, area=area)

    def build() -> list[dict[str, Any]]:
        import csv
        import gzip

        from vru.data import asset
        from vru.geo.crs import to_bng

        with gzip.open(asset("gazetteer", "places.csv.gz"), "rt", encoding="utf-8") as f:
            rows = [r for r in csv.DictReader(f) if r["kind"] == "post_town"]
        if not rows:
            return []
        lon = np.array([float(p["lon"]) for p in rows])
        lat = np.array([float(p["lat"]) for p in rows])
        x, y = to_bng(lon, lat)
        hull = shapely.union_all(study.lsoa.geometry.values)
        inside = shapely.contains_xy(hull, x, y)
        picked = [rows[i] for i in np.flatnonzero(inside)][:limit]
        return [{"name": p["name"], "lon": round(float(p["lon"]), DECIMALS),
                 "lat": round(float(p["lat"]), DECIMALS)} for p in picked]

    return _cached(("places", study.table, study.version, study.area, id(study.lsoa), limit),
                   build)
