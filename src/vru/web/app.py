"""The dashboard's application: FastAPI routes, security headers, errors as pages or JSON."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from vru.service import AuditBroken, BadRequest, Denied, ServiceError, SignInError, resolve_home
from vru.service.websessions import SessionStore
from vru.web.auth import NotSignedIn
from vru.web.settings import WebSettings

HERE = Path(__file__).parent
STATIC = HERE / "static"


def csp(settings: WebSettings) -> str:
    """The Content-Security-Policy: this host only (plus the tile host for images, when a
    tile URL is set); no inline script, no eval, no frames."""
    img = "'self' data: blob:" + (f" {settings.tile_origin}" if settings.tile_origin else "")
    return ("default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src {img}; font-src 'self'; connect-src 'self'; worker-src 'self'; "
            "child-src 'self'; frame-src 'none'; frame-ancestors 'none'; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; manifest-src 'self'")


class SecurityHeaders:
    """Adds the security headers to every response (plain ASGI: no per-request task)."""

    def __init__(self, app: Any, policy: str) -> None:
        self.app = app
        self.common = [(b"content-security-policy", policy.encode()),
                       (b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                       (b"referrer-policy", b"no-referrer"),
                       (b"cross-origin-opener-policy", b"same-origin"),
                       (b"cross-origin-resource-policy", b"same-origin"),
                       (b"permissions-policy",
                        b"camera=(), microphone=(), geolocation=(), payment=()")]

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(self.common)
        if not scope["path"].startswith("/static/"):
            extra.append((b"cache-control", b"no-store"))
        if scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", b"max-age=31536000"))

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in extra}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, with_headers)


#: The home a worker process of `vru serve --workers N` serves (set by the parent).
SERVE_HOME = "VRU_SERVE_HOME"


def app_from_env() -> FastAPI:
    """The app each worker process builds (uvicorn's factory for ``--workers``)."""
    import gc

    app = create_app(os.environ[SERVE_HOME])
    gc.freeze()  # the modules and app: full collections skip them
    return app


def create_app(home: str | Path | None = None, settings: WebSettings | None = None, *,
               environ: dict[str, str] | None = None) -> FastAPI:
    """The dashboard for the lake at ``home``.

    Parameters
    ----------
    home
        The lake home (default ``$VRU_HOME`` or ``./vru-home``).
    settings
        `WebSettings` (default: read from the environment once, here).
    environ
        The environment sessions are opened with (default ``os.environ``).

    Returns
    -------
    fastapi.FastAPI
        Serve it with uvicorn (``vru serve`` does).
    """
    from vru.web.routes import api, pages

    settings = settings or WebSettings.from_env(environ)
    path = resolve_home(home)
    app = FastAPI(title="vru dashboard API",
                  description="The JSON API behind the vru dashboard. Sign in at /login (a "
                              "session cookie); every call is authorised for your role, "
                              "released (suppression, rounding or perturbation) and audited. "
                              "State-changing calls need the X-CSRF-Token header.",
                  version="1", docs_url=None, redoc_url=None, lifespan=_lifespan)
    app.state.settings = settings
    app.state.home = path
    app.state.sessions = SessionStore(path, idle=settings.idle_minutes * 60,
                                      absolute=settings.absolute_hours * 3600, environ=environ)
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.state.templates.env.globals["tile_url"] = settings.tile_url or ""
    policy = csp(settings)

    app.add_middleware(SecurityHeaders, policy=policy)
    app.add_middleware(GZipMiddleware, minimum_size=2048, compresslevel=5)

    def wants_html(request: Request) -> bool:
        return not request.url.path.startswith(("/api/", "/openapi.json", "/static/"))

    def page_error(request: Request, status: int, title: str, message: str) -> Response:
        if wants_html(request):
            return request.app.state.templates.TemplateResponse(
                request, "error.html", {"title": title, "message": message,
                                        "web": getattr(request.state, "web", None)},
                status_code=status)
        return JSONResponse({"detail": message}, status_code=status)

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if wants_html(request):
            return RedirectResponse("/login", status_code=303)
        return JSONResponse({"detail": "sign in first: POST /login (username, password)"},
                            status_code=401)

    @app.exception_handler(AuditBroken)
    async def audit_broken(request: Request, exc: AuditBroken) -> Response:
        return page_error(request, 503, "The audit log cannot be written",
                          f"{exc.reason} — nothing runs until an admin investigates "
                          "(`vru audit verify`).")

    @app.exception_handler(Denied)
    async def denied(request: Request, exc: Denied) -> Response:
        return page_error(request, 403, "Not for your role", exc.reason)

    @app.exception_handler(SignInError)
    async def sign_in_error(request: Request, exc: SignInError) -> Response:
        return page_error(request, 401, "Sign in", str(exc))

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> Response:
        return page_error(request, 400, "That request cannot run as asked", str(exc))

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> Response:
        return page_error(request, 400, "That request cannot run as asked", str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}"
                             for e in exc.errors())
        return page_error(request, 422, "That request cannot run as asked", problems)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404 and wants_html(request):
            return page_error(request, 404, "Not found", "There is no such page.")
        return page_error(request, exc.status_code, "Error", str(exc.detail))

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.include_router(pages.router)
    app.include_router(api.router)

    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    app.state.sessions.close()  # signed-in sessions end with the server
