"""The dashboard's views: each a released, audited answer a page draws (map layers, times,
near repeats, one place's detail).

A view is a filter (`ViewFilter`: source, offence, period, area) and one or more calls of the
door (`Session.counts`, `Session.analyse`), shaped for a map or a chart. Numbers are exactly
what those calls released; a view adds geometry and labels, never a figure of its own.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely

from vru.governance.disclosure import MARKER
from vru.service.errors import BadRequest, Denied
from vru.service.geography import DECIMALS, study_area
from vru.service.session import Session

#: source name a person picks -> the lake table it reads
SOURCES = {"police": "incidents", "hospital": "ed_assaults"}
LAYERS = {
    "rate": "LSOA rate per 1,000 residents",
    "cells": "counts per H3 hexagon or grid square",
    "gistar": "Gi* hot and cold spots",
    "emerging": "emerging hot-spot categories",
    "density": "kernel density (record-level readers only)",
}
CELLS = re.compile(r"^(h3:(6|7|8|9|10)|grid:(250|500|1000|2000))$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class ViewFilter:
    """What a page is filtered by; every field optional."""

    source: str = "police"
    category: tuple[str, ...] = ()
    offence_group: tuple[str, ...] = ()
    start: str | None = None
    end: str | None = None
    area: str | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise BadRequest(f"source {self.source!r}: choose {' or '.join(SOURCES)}")
        for label, v in (("from", self.start), ("to", self.end)):
            if v is not None and not _MONTH.match(v):
                raise BadRequest(f"{label}={v!r}: write a month as YYYY-MM, e.g. 2021-06")
        if self.start and self.end and self.start > self.end:
            raise BadRequest(f"the period {self.start}..{self.end} ends before it starts")

    @property
    def table(self) -> str:
        return SOURCES[self.source]

    def where(self) -> dict[str, list[str]]:
        """Filters of the governed table builder."""
        w: dict[str, list[str]] = {}
        if self.category:
            w["category"] = list(self.category)
        if self.offence_group:
            w["offence_group"] = list(self.offence_group)
        if self.start or self.end:
            w["month"] = [f"{self.start or '1900-01'}..{self.end or '2999-12'}"]
        return w

    def params(self) -> dict[str, Any]:
        """Parameters of the registered analyses."""
        p: dict[str, Any] = {"start": self.start, "end": self.end}
        if self.category:
            p["category"] = list(self.category)
        if self.offence_group:
            p["offence_group"] = list(self.offence_group)
        return p

    def title(self) -> str:
        what = ", ".join(self.category or self.offence_group) or "all offences"
        when = f"{self.start or 'first month'} to {self.end or 'last month'}"
        where = f", {self.area}" if self.area else ""
        return f"{what}, {when}{where} ({self.source} data)"


@dataclass
class MapView:
    """A map layer: GeoJSON features with released values, the table behind it, the notes."""

    layer: str
    title: str
    features: list[dict[str, Any]]
    rows: list[dict[str, Any]]  #: the same values as a table (``shown`` is text: * or a number)
    value_label: str
    kind: str  #: "sequential" (a number per place) or "classes" (a category per place)
    classes: list[dict[str, Any]] = field(default_factory=list)  #: for "classes": code, label
    note: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def payload(self, geometry: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"layer": self.layer, "title": self.title,
                               "value_label": self.value_label, "kind": self.kind,
                               "classes": self.classes, "note": self.note,
                               "meta": _jsonable(self.meta), "rows": self.rows}
        if geometry:
            out["features"] = self.features
        return out

    def geojson(self) -> dict[str, Any]:
        return {"type": "FeatureCollection", "features": self.features,
                "properties": {"layer": self.layer, "title": self.title,
                               "value_label": self.value_label, "kind": self.kind,
                               "classes": self.classes, "note": self.note}}


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is None or isinstance(v, str | int | float | bool):
        return v
    return str(v)


def _num(v: Any) -> float | None:
    if v is None or v is pd.NA:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _shown(v: float | None, digits: int = 0) -> str:
    if v is None:
        return MARKER
    return f"{v:,.{digits}f}"


def _feature(ident: str, geom: Any, props: dict[str, Any]) -> dict[str, Any]:
    geom = shapely.set_precision(geom, 10.0 ** -DECIMALS)
    return {"type": "Feature", "id": ident, "properties": {"id": ident, **props},
            "geometry": json.loads(shapely.to_geojson(geom))}


def map_view(session: Session, layer: str, f: ViewFilter, *, cell: str = "h3:8",
             purpose: str | None = None) -> MapView:
    """One map layer for the reader, released and audited.

    Parameters
    ----------
    layer
        ``rate``, ``cells``, ``gistar``, ``emerging`` or ``density`` (see `LAYERS`).
    f
        The page's filter.
    cell
        Cells of the ``cells``, ``gistar`` and ``emerging`` layers: ``h3:6``..``h3:10`` or
        ``grid:250|500|1000|2000`` (``gistar`` also takes ``lsoa``).

    Returns
    -------
    MapView
        Suppressed values are ``None`` in ``value`` and ``*`` in ``shown``; ``note`` says how
        the figures were released.
    """
    if layer not in LAYERS:
        raise BadRequest(f"layer {layer!r}: choose one of {', '.join(LAYERS)}")
    if not (CELLS.match(cell) or (layer == "gistar" and cell == "lsoa")):
        raise BadRequest(f"cell {cell!r}: use h3:6..h3:10 or grid:250, grid:500, grid:1000, "
                         "grid:2000" + (" (or lsoa for Gi*)" if layer == "gistar" else ""))
    if layer in ("gistar", "emerging", "density") and f.source != "police":
        raise BadRequest(f"{LAYERS[layer]} run on police incidents; choose source=police or "
                         "the rate or cells layer for hospital data")
    action = "analyse" if layer in ("gistar", "emerging", "density") else "read"

    def build() -> MapView:
        if layer == "rate":
            return _rate(session, f, purpose)
        if layer == "cells":
            return _cells(session, f, cell, purpose)
        if layer == "density":
            return _density(session, f, purpose)
        return _analysis_layer(session, layer, f, cell, purpose)

    return _decided(session, ("map", layer, cell), f, action,
                    f"analysis:{layer}" if action == "analyse" else f.table,
                    {"via": "map", "layer": layer, "cell": cell}, purpose, build)


def _decided(session: Session, what: tuple[Any, ...], f: ViewFilter, action: str,
             resource: str, detail: dict[str, Any], purpose: str | None, build: Any) -> Any:
    """Decide (and audit) the request every time; serve a view released for the same
    decision before from the cache, else build it.

    What a view releases depends only on the decision (level, profile, area, fields and
    columns shown), the purpose, the table version and the request, so those are the key.
    """
    version = session.version(f.table)
    d = session.decide(action, resource, purpose=purpose, area=f.area,
                       inputs=(f.table,) if action == "analyse" else (),
                       versions={f.table: version}, detail={**detail, "filter": f.where()})
    key = (what, f, f.table, version, d.level, d.disclosure_profile,
           d.row_filter.area if d.row_filter is not None else None,
           tuple(sorted((k, tuple(sorted(v))) for k, v in d.permitted_fields.items())),
           tuple(sorted(d.column_masks)), purpose or session.purpose, str(session.home))
    return _cached_view(key, build)


def _cached_view(key: tuple[Any, ...], build: Any) -> Any:
    """The view kept under ``key``, else ``build()``'s, built once however many ask at once."""
    with _views_lock:
        hit = _views.get(key)
        if hit is not None:
            _views.move_to_end(key)
            return hit
        # one build per view: twenty browsers opening the same map at once wait for the
        # first instead of each building it (which starved the server for tens of seconds)
        building = _building.setdefault(key, threading.Lock())
    with building:
        with _views_lock:
            hit = _views.get(key)
            if hit is not None:
                return hit
        try:
            view = build()
        except BaseException:
            with _views_lock:
                _building.pop(key, None)
            raise
        with _views_lock:  # kept before the lock goes, so a later arrival finds it
            _views[key] = view
            _building.pop(key, None)
            while len(_views) > VIEWS_KEPT:
                _views.popitem(last=False)
    return view


#: Released map layers kept (each a few MB at most).
VIEWS_KEPT = 48
_views: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_views_lock = threading.Lock()
_building: dict[tuple[Any, ...], threading.Lock] = {}  # views being built, one lock each


def _release_note(counts_meta: Mapping[str, Any], withheld: int = 0) -> str:
    rel = counts_meta.get("release") or {}
    note = rel.get("note") or ""
    if rel.get("profile") in ("nhs", "ons") and withheld:
        note += f"; {withheld:,} places withheld (shown as * and hatched)"
    if rel.get("profile") == "cellkey":
        note += " — perturbed values, not exact counts"
    return note


def _rate(session: Session, f: ViewFilter, purpose: str | None) -> MapView:
    study = study_area(session, f.table, purpose=purpose, area=f.area)
    c = session.counts(f.table, ["lsoa"], f.where(), rate=True, purpose=purpose, area=f.area)
    got = c.table.to_pandas().set_index("lsoa")
    exact = c.release.exact
    feats, rows = [], []
    from vru.service.geography import boundaries

    shapes = {ft["id"]: ft for ft in boundaries(session, "lsoa", f.table, purpose=purpose,
                                                area=f.area)["features"]}
    withheld = 0
    for code, name, area in zip(study.lsoa["lsoa11cd"], study.lsoa["lsoa11nm"],
                                study.lsoa["area"], strict=True):
        if code in got.index:
            n, rate = _num(got.at[code, "n"]), _num(got.at[code, "rate_per_1000"])
        elif exact:
            n, rate = 0.0, 0.0  # an exact table lists every LSOA with an event
        else:
            n = rate = None  # withheld: fewer than the release threshold, or none
            withheld += 1
        props = {"label": f"{name} ({code})", "area": area if isinstance(area, str) else None,
                 "n": n, "value": rate,
                 "shown": _shown(rate, 2), "n_shown": _shown(n), "suppressed": n is None}
        rows.append(props | {"id": code})
        ft = shapes.get(code)
        if ft is not None:
            feats.append({"type": "Feature", "id": code, "geometry": ft["geometry"],
                          "properties": {"id": code, **props}})
    note = _release_note(c.meta, withheld)
    off = [code for code in got.index if code not in shapes]
    if off:
        n_off = sum(int(_num(got.at[code, "n"]) or 0) for code in off)
        note += (f"; {len(off):,} LSOAs with {n_off:,} events lie in districts holding under "
                 "0.1% of the rows and are left off the map")
    return MapView("rate", f"Events per 1,000 residents by LSOA: {f.title()}", feats, rows,
                   "rate per 1,000", "sequential", note=note,
                   meta={**c.meta, "withheld": withheld})


def _cell_geoms(ids: list[str], cell: str) -> list[Any]:
    from vru.geo.grids import h3_polygons

    if cell.startswith("h3:"):
        return list(h3_polygons(ids))
    size = float(cell.split(":")[1])
    xy = np.array([[float(p) for p in i.split("_")] for i in ids]).reshape(-1, 2)
    boxes = shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + size, xy[:, 1] + size)
    import geopandas as gpd

    return list(gpd.GeoSeries(boxes, crs="EPSG:27700").to_crs("EPSG:4326").values)


def _cells(session: Session, f: ViewFilter, cell: str, purpose: str | None) -> MapView:
    c = session.counts(f.table, [cell], f.where(), purpose=purpose, area=f.area)
    t = c.table.to_pandas()
    ids = [str(v) for v in t[cell]]
    geoms = _cell_geoms(ids, cell) if ids else []
    feats, rows = [], []
    for ident, n, g in zip(ids, t["n"], geoms, strict=True):
        v = _num(n)
        props = {"label": ident, "n": v, "value": v, "shown": _shown(v), "n_shown": _shown(v),
                 "suppressed": v is None}
        rows.append(props | {"id": ident})
        feats.append(_feature(ident, g, props))
    note = _release_note(c.meta)
    if not c.release.exact and c.withheld:
        note += f"; {c.withheld:,} cells with small counts are not drawn"
    return MapView("cells", f"Events per {cell} cell: {f.title()}", feats, rows, "events",
                   "sequential", note=note, meta={**c.meta, "withheld": c.withheld})


def _analysis_layer(session: Session, layer: str, f: ViewFilter, cell: str,
                    purpose: str | None) -> MapView:
    params = f.params()
    if layer == "emerging":
        params["time_bin"] = "month"
    r = session.analyse(layer, cell=cell, purpose=purpose, area=f.area, **params)
    frame = r.frame
    feats, rows = [], []
    if layer == "gistar":
        key, label = "class", "label"
        classes = [{"code": k, "label": lab} for k, lab in sorted(
            {int(k): str(lab) for k, lab in zip(frame["class"], frame["label"],
                                                  strict=True)}.items(), reverse=True)]
        full = [(3, "Hot spot, 99% confidence"), (2, "Hot spot, 95% confidence"),
                (1, "Hot spot, 90% confidence"), (0, "Not significant"),
                (-1, "Cold spot, 90% confidence"), (-2, "Cold spot, 95% confidence"),
                (-3, "Cold spot, 99% confidence")]
        names = {c["code"]: c["label"] for c in classes}
        classes = [{"code": k, "label": names.get(k, lab)} for k, lab in full]
    else:
        key, label = "pattern_code", "pattern"
        seen = {int(k): str(lab) for k, lab in zip(frame["pattern_code"], frame["pattern"],
                                                     strict=True)}
        classes = [{"code": k, "label": seen[k]} for k in sorted(seen)]
    for i in range(len(frame)):
        ident = str(frame["cell"].iloc[i])
        n = _num(frame["n"].iloc[i])
        code = int(frame[key].iloc[i])
        props = {"label": ident, "n": n, "n_shown": _shown(n), "value": code,
                 "shown": str(frame[label].iloc[i]), "suppressed": n is None}
        if layer == "gistar":
            props["z"] = round(float(frame["z"].iloc[i]), 2)
        rows.append(props | {"id": ident})
        feats.append(_feature(ident, frame.geometry.iloc[i], props))  # no pattern: grey
    rel = r.meta.get("release", {})
    note = rel.get("note", "")
    if rel.get("profile") not in (None, "none"):
        note += ("; the statistic was computed from released counts (a suppressed count "
                 "enters as the middle of its range)")
    meta = {k: v for k, v in r.meta.items() if k in ("release", "warnings", "events",
                                                     "table_versions", "area", "audit_seq",
                                                     "parameters")}
    title = f"{LAYERS[layer].capitalize()} ({cell}): {f.title()}"
    return MapView(layer, title, feats, rows, "class", "classes", classes, note, meta)


def _density(session: Session, f: ViewFilter, purpose: str | None) -> MapView:
    from vru.service.formats import density_frame

    params = {k: v for k, v in f.params().items()}
    r = session.analyse("density", cell_size=500.0, purpose=purpose, area=f.area, **params)
    frame = density_frame(r).to_pandas()
    size = float(r.grid.cell_size)
    keep = frame["density_per_km2"] >= frame["density_per_km2"].max() * 0.02
    frame = frame[keep].reset_index(drop=True)
    x0 = frame["easting"].to_numpy() - size / 2
    y0 = frame["northing"].to_numpy() - size / 2
    import geopandas as gpd

    boxes = gpd.GeoSeries(shapely.box(x0, y0, x0 + size, y0 + size),
                          crs="EPSG:27700").to_crs("EPSG:4326").values
    feats, rows = [], []
    for i, g in enumerate(boxes):
        v = round(float(frame["density_per_km2"].iloc[i]), 2)
        ident = f"{int(x0[i])}_{int(y0[i])}"
        props = {"label": ident, "n": None, "n_shown": "", "value": v, "shown": f"{v:,.2f}",
                 "suppressed": False}
        rows.append(props | {"id": ident})
        feats.append(_feature(ident, g, props))
    return MapView("density", f"Kernel density (events per km²): {f.title()}", feats, rows,
                   "events per km²", "sequential",
                   note="record-level output: for analysts only; cells under 5% of the peak "
                        "are not drawn", meta={k: v for k, v in r.meta.items()
                                               if k in ("release", "parameters", "events")})


# -- times, near repeats, a place's detail ----------------------------------------------------


def times_view(session: Session, f: ViewFilter, *, purpose: str | None = None) -> dict:
    """Hour x weekday and the monthly trend, released, with the briefing's chart specs.

    Police incidents use the ``times`` analysis (each event spread over its time window);
    hospital attendances are counted by hour and weekday of the assault (or arrival).

    Returns
    -------
    dict
        ``matrix``: rows of weekday, hour, value (None where suppressed); ``trend``: rows of
        month, events; ``charts``: Vega-Lite specs of both (`vru.service.charts`);
        ``summary``, ``note``, ``meta``.
    """
    police = f.source == "police"

    def build() -> dict:
        out = _times(session, f, purpose)
        out["charts"] = times_charts(out, f.title())
        return out

    return _decided(session, ("times",), f, "analyse" if police else "read",
                    "analysis:times" if police else f.table, {"via": "times"}, purpose,
                    build)


def times_charts(view: dict, title: str) -> dict[str, Any]:
    """The briefing's hour x weekday heat map and monthly trend of a times view's rows."""
    from vru.service import charts

    m = pd.DataFrame(view["matrix"] or [], columns=["weekday", "hour", "value"])
    t = pd.DataFrame(view["trend"] or [], columns=["month", "events"])
    return {"matrix": charts.hour_weekday_heatmap(
                m, count="value", title=f"Events by hour and weekday: {title}",
                description="Heat map of events by hour of day and day of week; the table "
                            "below holds the same values (* where a count is suppressed)"),
            "trend": charts.monthly_trend(
                t, count="events", title=f"Events per month: {title}",
                description="Line chart of events per month held; months not held are left "
                            "out and suppressed months are gaps; the table holds the same "
                            "values")}


def _times(session: Session, f: ViewFilter, purpose: str | None) -> dict:
    if f.source == "police":
        r = session.analyse("times", purpose=purpose, area=f.area, **f.params())
        matrix = []
        if r.matrix is not None:
            for day in r.matrix.index:
                for hour in r.matrix.columns:
                    v = _num(r.matrix.at[day, hour])
                    matrix.append({"weekday": str(day), "hour": int(hour),
                                   "value": None if v is None else round(v, 1)})
        trend = []
        summary = ""
        if r.trend is not None:
            for m, v in zip(r.trend.counts["month"], r.trend.counts["events"], strict=True):
                trend.append({"month": str(m)[:7], "events": _num(v)})
            try:
                summary = r.trend.summary()
            except (ValueError, TypeError):  # suppressed months: no total to state
                summary = ""
        rel = r.meta.get("release", {})
        meta = {k: v for k, v in r.meta.items() if k in ("release", "warnings", "events",
                                                         "no_time", "audit_seq", "area")}
        return {"matrix": matrix, "trend": trend, "summary": summary,
                "note": rel.get("note", ""), "meta": meta}
    hw = session.counts(f.table, ["weekday", "hour"], f.where(), purpose=purpose, area=f.area)
    mo = session.counts(f.table, ["month"], f.where(), purpose=purpose, area=f.area)
    got = {(d, int(h)): _num(n) for d, h, n in zip(hw.table["weekday"].to_pylist(),
                                                   hw.table["hour"].to_pylist(),
                                                   hw.table["n"].to_pylist(), strict=True)}
    from vru.service.dimensions import WEEKDAYS

    exact = hw.release.exact
    matrix = [{"weekday": d, "hour": h, "value": got.get((d, h), 0.0 if exact else None)}
              for d in WEEKDAYS for h in range(24)]
    trend = [{"month": m, "events": _num(n)} for m, n in zip(mo.table["month"].to_pylist(),
                                                              mo.table["n"].to_pylist(),
                                                              strict=True)]
    return {"matrix": matrix, "trend": trend, "summary": "",
            "note": hw.release.note, "meta": {"release": hw.meta["release"],
                                              "audit_seq": hw.meta["audit_seq"]}}


def knox_view(session: Session, f: ViewFilter, *, permutations: int = 99,
              purpose: str | None = None) -> dict:
    """The Knox near-repeat table of the filter's police events with times (force extract).

    Returns
    -------
    dict
        ``rows``: distance band, time band, observed (None where suppressed), expected,
        Knox ratio, p; ``note``; ``meta``.
    """
    if f.source != "police":
        raise BadRequest("the near-repeat test runs on police incidents with event times")
    if f.start is None and f.end is None:  # pairs grow as n²: the last 3 months by default
        held = session.counts(f.table, ["month"], {"source": ["force_extract"]},
                              purpose=purpose, area=f.area)
        ms = sorted(m for m in held.table["month"].to_pylist() if m)
        if ms:
            f = ViewFilter(f.source, f.category, f.offence_group, ms[max(0, len(ms) - 3)],
                           ms[-1], f.area)
    g = f

    def build() -> dict:
        return _knox(session, g, permutations, purpose)

    return _decided(session, ("knox", permutations), f, "analyse", "analysis:near_repeat",
                    {"via": "near repeats", "permutations": permutations}, purpose, build)


def _knox(session: Session, f: ViewFilter, permutations: int, purpose: str | None) -> dict:
    r = session.analyse("near_repeat", purpose=purpose, area=f.area, source="force_extract",
                        permutations=permutations, **f.params())
    frame = r.frame.copy()
    rows = []
    for rec in frame.to_dict("records"):
        rows.append({k: (None if (isinstance(v, float) and math.isnan(v)) or v is pd.NA
                         else (v.item() if isinstance(v, np.generic) else v))
                     for k, v in rec.items()})
    rel = r.meta.get("release", {})
    return {"rows": rows, "columns": list(frame.columns), "note": rel.get("note", ""),
            "period": [f.start, f.end],
            "meta": {k: v for k, v in r.meta.items() if k in ("release", "events",
                                                              "audit_seq", "area",
                                                              "parameters")}}


def place_view(session: Session, f: ViewFilter, place: str, *, cell: str = "lsoa",
               purpose: str | None = None) -> dict:
    """One LSOA's (or cell's) counts by month and by hour x weekday, released.

    Returns
    -------
    dict
        ``place``, ``total`` (None where suppressed), ``months`` (month, n), ``times``
        (weekday, hour, n; empty where the source has no times), ``note``.
    """
    if cell != "lsoa" and not CELLS.match(cell):
        raise BadRequest(f"cell {cell!r}: use lsoa, h3:6..h3:10 or grid:SIZE")
    if not re.match(r"^[A-Za-z0-9_]{1,40}$", place):
        raise BadRequest(f"place {place!r}: give an LSOA code or a cell id from the map")
    where = f.where() | {cell: [place]}
    total = session.counts(f.table, [cell], where, purpose=purpose, area=f.area)
    months = session.counts(f.table, ["month"], where, purpose=purpose, area=f.area)
    try:
        hw = session.counts(f.table, ["weekday", "hour"], where, purpose=purpose,
                            area=f.area)
        times = [{"weekday": d, "hour": int(h), "n": _num(n)} for d, h, n in zip(
            hw.table["weekday"].to_pylist(), hw.table["hour"].to_pylist(),
            hw.table["n"].to_pylist(), strict=True)]
    except BadRequest:
        times = []
    n = total.table["n"].to_pylist()
    return {"place": place, "cell": cell,
            "total": _num(n[0]) if n else (0.0 if total.release.exact else None),
            "months": [{"month": m, "n": _num(v)} for m, v in zip(
                months.table["month"].to_pylist(), months.table["n"].to_pylist(),
                strict=True)],
            "times": times, "note": total.release.note,
            "withheld": months.withheld}


# -- exports and the data page ------------------------------------------------------------------

EXPORTS = {"csv": "text/csv; charset=utf-8", "geojson": "application/geo+json",
           "gpkg": "application/geopackage+sqlite3"}


def export_view(session: Session, layer: str, f: ViewFilter, fmt: str, *,
                cell: str = "h3:8", purpose: str | None = None) -> tuple[bytes, str, str]:
    """The current map layer as a file, released exactly as it is drawn.

    The export is its own decision (action ``export``, audited): a role that may look but
    not take figures away is refused here.

    Returns
    -------
    (bytes, media type, file name)
    """
    if fmt not in EXPORTS:
        raise BadRequest(f"format {fmt!r}: choose {', '.join(EXPORTS)}")
    view = map_view(session, layer, f, cell=cell, purpose=purpose)
    version = session.version(f.table)
    resource = f"analysis:{layer}" if layer in ("gistar", "emerging", "density") else f.table
    session.decide("export", resource, purpose=purpose, area=f.area,
                   inputs=(f.table,) if resource != f.table else (),
                   versions={f.table: version},
                   detail={"via": "map export", "layer": layer, "cell": cell, "format": fmt,
                           "filter": f.where()})
    name = f"vru-{layer}-{f.source}-{f.start or 'all'}-{f.end or 'all'}.{fmt}"
    cols = ["id", "label", "n_shown", "shown", "suppressed"]
    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        buf.write(f"# {view.title}\n# {view.note}\n")
        w = csv.writer(buf)
        w.writerow(["id", "place", "events", view.value_label, "suppressed"])
        for r in view.rows:
            w.writerow([r["id"], r["label"], r["n_shown"], r["shown"], r["suppressed"]])
        return buf.getvalue().encode(), EXPORTS[fmt], name
    feats = [ft for ft in view.features]
    if fmt == "geojson":
        doc = {"type": "FeatureCollection", "name": view.title, "note": view.note,
               "features": [{**ft, "properties": {k: ft["properties"].get(k) for k in cols}}
                            for ft in feats]}
        return json.dumps(doc).encode(), EXPORTS[fmt], name
    import tempfile
    from pathlib import Path

    import geopandas as gpd
    from shapely.geometry import shape

    frame = gpd.GeoDataFrame(
        {k: [("*" if ft["properties"].get(k) is None else ft["properties"].get(k))
             if k in ("n_shown", "shown") else ft["properties"].get(k) for ft in feats]
         for k in cols},
        geometry=[shape(ft["geometry"]) for ft in feats], crs="EPSG:4326")
    frame["suppressed"] = frame["suppressed"].astype(bool)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.gpkg"
        frame.to_file(path, driver="GPKG", layer=layer)
        return path.read_bytes(), EXPORTS[fmt], name


def data_view(session: Session, *, purpose: str | None = None, limit: int = 50) -> dict:
    """Tables and versions, the latest ingest batches and quarantined rows with reasons.

    The ingest log and quarantine hold rows as partners sent them: the policy gives them to
    analysts and admins; for other readers their entry says why not.
    """
    out: dict[str, Any] = {"tables": [{"table": t, "version": v}
                                      for t, v in sorted(session.tables().items())]}
    for name, cols in (("ingest_log", ["finished", "actor", "kind", "source_file", "status",
                                       "rows_in", "accepted", "quarantined", "duplicates",
                                       "message"]),
                       ("quarantine", ["source", "source_file", "line", "field", "reason"])):
        try:  # the policy first: whether the table exists yet is no one's business below
            session.decide("read", name, purpose=purpose, detail={"via": "data page"})
            t = session.table(name).to_arrow().to_pandas()
        except Denied as exc:
            out[name] = {"denied": exc.reason}
            continue
        except BadRequest:
            out[name] = {"rows": [], "columns": cols, "total": 0}
            continue
        cols = [c for c in cols if c in t.columns]
        if name == "ingest_log" and "finished" in t.columns:
            t = t.sort_values("finished", ascending=False)
        entry: dict[str, Any] = {"columns": cols, "total": int(len(t)),
                                 "rows": _jsonable(t[cols].head(limit).astype(object)
                                                   .where(t[cols].head(limit).notna(), None)
                                                   .to_dict("records"))}
        if name == "quarantine" and len(t):
            entry["reasons"] = [{"reason": str(k), "rows": int(v)} for k, v in
                                t["reason"].value_counts().head(20).items()]
        out[name] = entry
    return out


def label_list(session: Session, f: ViewFilter, dimension: str = "category", *,
               purpose: str | None = None) -> list[str]:
    """The labels of ``dimension`` (category or offence_group) the reader's rows hold, for a
    filter form (labels only; a label whose count is withheld is not listed)."""
    if dimension not in ("category", "offence_group"):
        raise BadRequest("labels are listed for category or offence_group")

    def build() -> list[str]:
        c = session.counts(f.table, [dimension], None, purpose=purpose, area=f.area)
        return sorted(v for v in c.table[dimension].to_pylist() if v)

    g = ViewFilter(f.source, area=f.area)  # the list does not depend on the other filters
    return _decided(session, ("labels", dimension), g, "read", f.table,
                    {"via": "filter form"}, purpose, build)
