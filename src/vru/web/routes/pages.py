"""The dashboard's pages: server-rendered tables of released figures, maps and charts drawn
by small scripts from the same JSON the API serves."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from vru.service import BadRequest, Denied, SignInError, admin
from vru.service.geography import area_list, boundaries
from vru.service.views import (
    LAYERS,
    ViewFilter,
    data_view,
    knox_view,
    label_list,
    map_view,
    times_view,
)
from vru.service.websessions import purposes_for
from vru.web import charts
from vru.web.auth import (
    COOKIE,
    LOGIN_COOKIE,
    User,
    check_csrf,
    login_token,
    redirect_home,
    set_cookie,
    sign_in,
    store,
)
from vru.web.filters import view_filter

router = APIRouter(include_in_schema=False)
Filter = Annotated[ViewFilter, Depends(view_filter)]
CELLS = ("grid:500", "grid:1000", "grid:2000", "h3:7", "h3:8", "lsoa")
ROWS_SHOWN = 100


def render(request: Request, name: str, context: dict[str, Any], status: int = 200
           ) -> HTMLResponse:
    web = getattr(request.state, "web", None)
    ctx = {"web": web, "path": request.url.path, "query": str(request.url.query),
           "nav": _nav(web), **context}
    return request.app.state.templates.TemplateResponse(request, name, ctx, status_code=status)


def _nav(web: Any) -> list[tuple[str, str]]:
    if web is None:
        return []
    role = web.role.value
    # pages whose requests the role's policy refuses are left out of the menu (the pages
    # themselves still ask, and say why not)
    items = [] if role == "partner_data_owner" else [("/", "Overview"), ("/map", "Map")]
    if role in ("admin", "analyst", "task_force_member", "ethics_board_member"):
        items += [("/times", "Times"), ("/near-repeats", "Near repeats")]
    if role != "partner_data_owner":
        items.append(("/areas", "Areas"))
    if role in ("admin", "analyst", "partner_data_owner"):
        items.append(("/data", "Data"))
    if role in ("admin", "ethics_board_member", "partner_data_owner"):
        items.append(("/governance", "Governance"))
    return items


def _filters(request: Request, f: ViewFilter, web: Any) -> dict[str, Any]:
    """What the filter form shows: the current values and the areas the reader may pick."""
    try:
        areas = area_list(web.session, f.table, purpose=web.purpose)
    except (Denied, BadRequest):
        areas = []
    return {"f": f, "areas": areas, "categories": _labels(web, f, "category"),
            "groups": _labels(web, f, "offence_group")}


def _labels(web: Any, f: ViewFilter, dimension: str) -> list[str]:
    if f.source != "police":
        return []
    try:
        return label_list(web.session, f, dimension, purpose=web.purpose)
    except (Denied, BadRequest):
        return []


# -- signing in and out -----------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request) -> Response:
    token = login_token(request)
    response = render(request, "login.html", {"csrf": token, "error": None})
    set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600)
    return response


@router.post("/login")
def login(request: Request, username: Annotated[str, Form(max_length=200)] = "",
          password: Annotated[str, Form(max_length=2000)] = "",
          csrf_token: Annotated[str | None, Form()] = None,
          purpose: Annotated[str | None, Form(max_length=40)] = None) -> Response:
    try:
        token, _ = sign_in(request, username, password, csrf_token, purpose)
        store(request).sign_out(request.cookies.get(COOKIE))  # a new token each sign-in
    except (SignInError, BadRequest) as exc:
        fresh = login_token(request)
        response = render(request, "login.html", {"csrf": fresh, "error": str(exc),
                                                  "username": username[:64]}, status=401)
        set_cookie(request, response, LOGIN_COOKIE, fresh, max_age=3600)
        return response
    return redirect_home(request, token)


@router.post("/logout")
def logout(request: Request, web: Annotated[Any, Depends(check_csrf)]) -> Response:
    store(request).sign_out(request.cookies.get(COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.post("/purpose")
def purpose(request: Request, purpose: Annotated[str, Form(max_length=40)],
            web: Annotated[Any, Depends(check_csrf)]) -> Response:
    store(request).set_purpose(web, purpose)
    return RedirectResponse("/", status_code=303)


# -- pages --------------------------------------------------------------------------------------


def _kpis(web: Any, period: str, area: str | None) -> tuple[list[dict[str, Any]], dict]:
    """The KPI records of `vru kpi` for the reader, as tiles (the same function)."""
    report = web.session.kpis(period or "rolling", purpose=web.purpose, area=area)
    return report.to_list(), report.meta


@router.get("/")
def overview(request: Request, web: User, f: Filter,
             period: Annotated[str, Query(max_length=40)] = "rolling") -> Response:
    if web.role.value == "partner_data_owner":  # their own datasets: the data page
        return RedirectResponse("/data", status_code=303)
    tiles, meta = _kpis(web, period, f.area)
    return render(request, "overview.html", {**_filters(request, f, web), "tiles": tiles,
                                             "meta": meta, "period": period,
                                             "purposes": purposes_for(web.role)})


@router.get("/map")
def map_page(request: Request, web: User, f: Filter,
             layer: Annotated[str, Query(max_length=12)] = "rate",
             cell: Annotated[str, Query(max_length=12)] = "grid:1000") -> Response:
    if layer == "gistar" and cell not in CELLS:
        cell = "lsoa"
    view = map_view(web.session, layer, f, cell=cell if layer != "rate" else "grid:1000",
                    purpose=web.purpose)
    rows = sorted(view.rows, key=lambda r: (r["value"] is None, -(r["value"] or 0)))
    shown = rows[:ROWS_SHOWN]
    params = {k: v for k, v in request.query_params.multi_items()}
    export = {fmt: "/api/export?" + urlencode([*request.query_params.multi_items(),
                                               ("format", fmt)])
              for fmt in ("csv", "geojson", "gpkg")}
    bbox = boundaries(web.session, "district", f.table, purpose=web.purpose,
                      area=f.area)["bbox"]
    return render(request, "map.html", {
        **_filters(request, f, web), "view": view, "rows": shown, "total": len(rows),
        "bbox": bbox,
        "layer": layer, "cell": cell, "layers": LAYERS, "cells": CELLS, "params": params,
        "export": export, "api": "/api/map?" + str(request.url.query),
        "legend": _legend(view)})


def _legend(view: Any) -> list[dict[str, Any]]:
    """Classes the map draws: quantile breaks of the released values, or the categories."""
    if view.kind == "classes":
        return [{"key": c["code"], "label": c["label"]} for c in view.classes]
    values = sorted(r["value"] for r in view.rows if r["value"] is not None)
    if not values:
        return []
    k = len(charts.SEQUENTIAL)
    cuts = sorted({values[min(len(values) - 1, int(len(values) * q / k))] for q in range(1, k)})
    lows = sorted({values[0], *cuts})
    highs = [*lows[1:], values[-1]]
    return [{"key": i, "low": lo, "high": hi,
             "shade": min(k - 1, round(i * (k - 1) / max(1, len(lows) - 1)))}
            for i, (lo, hi) in enumerate(zip(lows, highs, strict=True))]


@router.get("/times")
def times_page(request: Request, web: User, f: Filter) -> Response:
    view = times_view(web.session, f, purpose=web.purpose)
    specs = view["charts"]
    grid: dict[str, dict[int, Any]] = {}
    for r in view["matrix"]:
        grid.setdefault(r["weekday"], {})[r["hour"]] = r["value"]
    return render(request, "times.html", {**_filters(request, f, web), "view": view,
                                          "grid": grid, "specs": _json(specs)})


def _json(value: Any) -> Markup:
    """JSON for a data block (<script type="application/json">): never executed, and '<'
    escaped so no value can close the element."""
    text = json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")
    return Markup(text)  # noqa: S704 - escaped above


@router.get("/near-repeats")
def near_repeats(request: Request, web: User, f: Filter) -> Response:
    try:
        view = knox_view(web.session, f, purpose=web.purpose)
        problem = None
    except BadRequest as exc:
        view, problem = None, str(exc)
    return render(request, "near_repeats.html", {**_filters(request, f, web), "view": view,
                                                 "problem": problem})


@router.get("/areas")
def areas(request: Request, web: User, f: Filter) -> Response:
    found = area_list(web.session, f.table, purpose=web.purpose)
    return render(request, "areas.html", {**_filters(request, f, web), "found": found})


@router.get("/areas/{name}")
def area(request: Request, name: str, web: User, f: Filter) -> Response:
    f = ViewFilter(**{**f.__dict__, "area": name})
    tiles, meta = _kpis(web, "rolling", name)
    times = times_view(web.session, f, purpose=web.purpose)
    specs = {"trend": times["charts"]["trend"]}
    q = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "area"]
                  + [("area", name)])
    return render(request, "area.html", {**_filters(request, f, web), "name": name,
                                         "tiles": tiles, "meta": meta, "times": times,
                                         "specs": _json(specs),
                                         "q": q})


@router.get("/data")
def data(request: Request, web: User) -> Response:
    return render(request, "data.html", {"view": data_view(web.session, purpose=web.purpose)})


@router.get("/governance")
def governance(request: Request, web: User,
               actor: Annotated[str | None, Query(max_length=64)] = None,
               dataset: Annotated[str | None, Query(max_length=64)] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Response:
    out: dict[str, Any] = {"actor": actor or "", "dataset": dataset or "", "limit": limit}
    try:
        out["agreements"] = admin.agreements(web.session)
    except Denied as exc:
        out["agreements"], out["agreements_denied"] = [], exc.reason
    try:
        out["entries"] = admin.audit_entries(web.session, limit=limit, actor=actor or None,
                                             dataset=dataset or None)
    except Denied as exc:
        out["entries"], out["audit_denied"] = [], exc.reason
    return render(request, "governance.html", out)
