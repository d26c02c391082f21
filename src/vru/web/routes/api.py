"""The JSON API behind every page: each route is one call of the service, as the signed-in
user (authorise, run, release, audit); OpenAPI at /openapi.json."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from vru.service import admin
from vru.service.geography import area_list, boundaries, places
from vru.service.views import (
    EXPORTS,
    LAYERS,
    ViewFilter,
    data_view,
    export_view,
    knox_view,
    map_view,
    place_view,
    times_view,
)
from vru.web import charts
from vru.web.auth import User, check_csrf, store
from vru.web.encoded import json_response
from vru.web.filters import view_filter

router = APIRouter(prefix="/api", tags=["api"])
PERIOD_HELP = ("as `vru kpi --period`: rolling (12 months to the last held), 2020, 2020/21, "
               "rolling:2020-06, 28d, 2020-01..2020-06")
Filter = Annotated[ViewFilter, Depends(view_filter)]
Cell = Annotated[str, Query(description="h3:6..h3:10, grid:250|500|1000|2000 (or lsoa for "
                                        "gistar)", max_length=12)]


@router.get("/me", summary="Who is signed in, their role, area, purpose and release rule")
def me(web: User) -> dict[str, Any]:
    s = web.session
    return {"user": s.name, "role": s.role.value, "area": s.user.area, "purpose": web.purpose,
            "csrf_token": web.csrf}


@router.post("/purpose", summary="Declare the purpose of this session (CSRF token needed)")
def set_purpose(request: Request, purpose: Annotated[str, Form(max_length=40)],
                web: Annotated[Any, Depends(check_csrf)]) -> dict[str, str]:
    store(request).set_purpose(web, purpose)
    return {"purpose": web.purpose}


@router.get("/overview", summary="KPI tiles: this period against the last (as `vru kpi`)")
def overview(web: User, f: Filter,
             period: Annotated[str, Query(description=PERIOD_HELP, max_length=40)] = "rolling"
             ) -> dict[str, Any]:
    report = web.session.kpis(period or "rolling", purpose=web.purpose, area=f.area)
    return {"tiles": report.to_list(), "meta": _plain(report.meta)}


def _plain(v: Any) -> Any:
    """Metadata as JSON (dates and tuples as text and lists)."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if v is None or isinstance(v, str | int | float | bool):
        return v
    return str(v)


@router.get("/boundaries/{level}", summary="LSOA, district or task-force area boundaries "
            "(GeoJSON, WGS84)")
def boundaries_geojson(request: Request, level: str, web: User, f: Filter) -> Response:
    return json_response(request, boundaries(web.session, level, f.table, purpose=web.purpose,
                                             area=f.area))


@router.get("/places", summary="Towns to name on the map")
def place_names(web: User, f: Filter) -> list[dict[str, Any]]:
    return places(web.session, f.table, purpose=web.purpose, area=f.area)


@router.get("/areas", summary="Task-force areas you may see")
def areas(web: User, f: Filter) -> list[dict[str, Any]]:
    return area_list(web.session, f.table, purpose=web.purpose)


@router.get("/map", summary="A map layer's released values (with geometry=true: GeoJSON "
            "features)")
def map_layer(request: Request, web: User, f: Filter,
              layer: Annotated[str, Query(description=", ".join(LAYERS), max_length=12)
                               ] = "rate",
              cell: Cell = "grid:1000", geometry: bool = False) -> Response:
    view = map_view(web.session, layer, f, cell=_cell(layer, cell), purpose=web.purpose)
    full = geometry or layer != "rate"  # rates join the LSOA boundaries in the browser
    return json_response(request, view, "full" if full else "values",
                         lambda v: v.payload(full))


def _cell(layer: str, cell: str) -> str:
    return "lsoa" if layer == "gistar" and cell in ("", "lsoa") else (cell or "grid:1000")


@router.get("/place", summary="One LSOA's or cell's counts by month and hour x weekday")
def place(web: User, f: Filter, id: Annotated[str, Query(max_length=40)],  # noqa: A002
          cell: Annotated[str, Query(max_length=12)] = "lsoa") -> dict[str, Any]:
    out = dict(place_view(web.session, f, id, cell=cell, purpose=web.purpose))
    out["chart"] = charts.monthly(out["months"], f"{id}, {f.title()}", count="n")
    return out


@router.get("/times", summary="Hour x weekday and the monthly trend, with Vega-Lite specs")
def times(request: Request, web: User, f: Filter) -> Response:
    return json_response(request, times_view(web.session, f, purpose=web.purpose))


@router.get("/near-repeats", summary="The Knox near-repeat table (police events with times)")
def near_repeats(request: Request, web: User, f: Filter,
                 permutations: Annotated[int, Query(ge=19, le=999)] = 99) -> Response:
    return json_response(request, knox_view(web.session, f, permutations=permutations,
                                            purpose=web.purpose))


@router.get("/counts", summary="The governed table builder: counts by dimensions")
def counts(web: User, table: Annotated[str, Query(max_length=64)],
           by: Annotated[str, Query(max_length=200)],
           where: Annotated[list[str] | None, Query(max_length=200)] = None,
           rate: bool = False, area: Annotated[str | None, Query(max_length=80)] = None
           ) -> dict[str, Any]:
    c = web.session.counts(table, by.split(","), where or None, rate=rate,
                           purpose=web.purpose, area=area or None)
    return {"rows": c.table.to_pylist(), "withheld": c.withheld,
            "release": c.meta["release"], "table_versions": c.meta["table_versions"]}


@router.get("/data", summary="Tables and versions, the ingest log and quarantine")
def data(web: User) -> dict[str, Any]:
    return data_view(web.session, purpose=web.purpose)


@router.get("/agreements", summary="Data sharing agreements (admins)")
def agreements(web: User) -> list[dict[str, Any]]:
    return [_agreement(a) for a in admin.agreements(web.session)]


def _agreement(a: Any) -> dict[str, Any]:
    return {"name": a.name, "dataset": a.dataset, "owner": a.owner,
            "purposes": list(a.purposes), "legal_basis": list(a.legal_basis),
            "start": str(a.start_date), "end": str(a.end_date),
            "retention_days": a.retention_days, "levels": dict(a.levels)}


@router.get("/audit", summary="Search the audit log (admins, the ethics board; data owners "
            "for their datasets)")
def audit(web: User, actor: Annotated[str | None, Query(max_length=64)] = None,
          dataset: Annotated[str | None, Query(max_length=64)] = None,
          limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    found = admin.audit_entries(web.session, limit=limit, actor=actor or None,
                                dataset=dataset or None)
    return [_entry(e) for e in found]


def _entry(e: Any) -> dict[str, Any]:
    keys = ("seq", "time", "actor", "action", "resource", "purpose", "decision", "reason")
    return {k: (str(getattr(e, k)) if getattr(e, k, None) is not None else None)
            for k in keys}


@router.get("/export", summary="The current map view as CSV, GeoJSON or GeoPackage "
            "(released; the export is itself a decision)")
def export(web: User, f: Filter,
           format: Annotated[str, Query(description=", ".join(EXPORTS), max_length=8)  # noqa: A002
                             ] = "csv",
           layer: Annotated[str, Query(max_length=12)] = "rate",
           cell: Cell = "grid:1000") -> Response:
    body, media, name = export_view(web.session, layer, f, format, cell=_cell(layer, cell),
                                    purpose=web.purpose)
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
