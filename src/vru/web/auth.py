"""Signing in and out of the dashboard: the login form, session cookies and CSRF tokens.

The browser holds an opaque token in an HttpOnly, SameSite=Lax cookie (Secure over HTTPS);
everything else (who, role, purpose, CSRF secret, expiry) stays in the service's session
store. Every form and every state-changing call carries the session's CSRF token; the login
form, before there is a session, a double-submit token.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from vru.service import BadRequest, SignInError
from vru.service.websessions import SessionStore, WebSession, purposes_for

COOKIE = "vru_session"
LOGIN_COOKIE = "vru_login"
CSRF_HEADER = "x-csrf-token"


class NotSignedIn(Exception):
    """No live session: a page sends the browser to /login, the API answers 401."""


def store(request: Request) -> SessionStore:
    return request.app.state.sessions


def _secure(request: Request) -> bool:
    mode = request.app.state.settings.secure_cookies
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


def set_cookie(request: Request, response: Response, name: str, value: str,
               max_age: int | None = None) -> None:
    response.set_cookie(name, value, httponly=True, samesite="lax", secure=_secure(request),
                        path="/", max_age=max_age)


def current(request: Request) -> WebSession:
    """The signed-in session of this request (dependency of every route but /login)."""
    web = store(request).get(request.cookies.get(COOKIE))
    if web is None:
        raise NotSignedIn()
    request.state.web = web
    return web


User = Annotated[WebSession, Depends(current)]


def check_csrf(request: Request, web: User,
               csrf_token: Annotated[str | None, Form()] = None) -> WebSession:
    """A form post or state-changing call: its token (form field or header) must match."""
    web.check_csrf(csrf_token or request.headers.get(CSRF_HEADER))
    return web


def login_token(request: Request) -> str:
    """The login form's double-submit token: reuse the cookie's, else a new one."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)


def sign_in(request: Request, username: str, password: str, token: str | None,
            purpose: str | None) -> tuple[str, WebSession]:
    """Check the login form's token, then sign in through the door.

    Raises
    ------
    HTTPException
        400 when the form's token does not match its cookie (a forged cross-site login).
    SignInError, BadRequest
        From the service (wrong password, throttled, locked; a purpose not allowed).
    """
    cookie = request.cookies.get(LOGIN_COOKIE)
    if not cookie or not token or not hmac.compare_digest(cookie.encode(), token.encode()):
        raise HTTPException(400, "the login form expired: reload /login and sign in again")
    if not username or not password:
        raise SignInError("give a user name and a password")
    if len(username) > 64 or len(password) > 1024:
        raise SignInError("the user name or password is not accepted")
    return store(request).sign_in(username, password, purpose or None)


def redirect_home(request: Request, token: str) -> RedirectResponse:
    response = RedirectResponse("/", status_code=303)
    set_cookie(request, response, COOKIE, token)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


__all__ = ["COOKIE", "CSRF_HEADER", "LOGIN_COOKIE", "BadRequest", "NotSignedIn", "User",
           "check_csrf", "current", "login_token", "purposes_for", "redirect_home",
           "set_cookie", "sign_in", "store"]
