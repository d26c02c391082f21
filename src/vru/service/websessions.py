"""Sign-in sessions of a long-running face (the dashboard): a token per signed-in user, kept
server side (in the metadata database) with its CSRF secret, declared purpose and idle and
absolute expiry.

The token is the only thing a browser holds; it names a `Session` opened by `open_session`
(the password check, throttling and audit of the door). Only a hash of each token is kept,
so a copy of this table (a memory dump, a log) signs no one in.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vru.governance import db as gdb
from vru.governance import signins
from vru.governance.roles import PURPOSES, Role
from vru.service.errors import BadRequest, Denied
from vru.service.session import DEFAULT_PURPOSE, Session, open_session, resume_session

#: Defaults: signed out after 30 minutes without a request, and 12 hours after sign-in.
IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 12 * 60 * 60
#: The most a sign-in's last-seen time lags behind (see `SessionStore`).
TOUCH_SECONDS = 15.0
#: Purposes a role may declare for a dashboard session (the first is the default).
ROLE_PURPOSES: dict[Role, tuple[str, ...]] = {
    Role.ADMIN: ("violence_reduction", "administration", "performance_reporting", "research"),
    Role.ANALYST: ("violence_reduction", "performance_reporting", "research",
                   "operational_policing"),
    Role.TASK_FORCE_MEMBER: ("violence_reduction", "operational_policing"),
    Role.ETHICS_BOARD_MEMBER: ("violence_reduction", "ethics_oversight", "research"),
    Role.PARTNER_DATA_OWNER: ("administration", "violence_reduction"),
    Role.VIEWER: ("public_information",),
}


def purposes_for(role: Role) -> list[tuple[str, str]]:
    """(purpose, what it means) a user of ``role`` may declare; the first is the default."""
    return [(p, PURPOSES[p]) for p in ROLE_PURPOSES[role]]


@dataclass
class WebSession:
    """One browser's sign-in."""

    session: Session
    csrf: str
    purpose: str
    created: float
    seen: float
    token_hash: str = field(default="", repr=False)  # its row in `vru.governance.signins`
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def role(self) -> Role:
        return self.session.role

    def check_csrf(self, token: str | None) -> None:
        """Refuse a state-changing request whose CSRF token is not this session's."""
        if not token or not hmac.compare_digest(token.encode(), self.csrf.encode()):
            raise self.session.refuse("write", "web-session", "the form's security token is "
                                      "missing or stale: reload the page and try again",
                                      "csrf", purpose=self.purpose)


class SessionStore:
    """Tokens of signed-in browsers of one home (thread-safe).

    The sign-ins live in the metadata database (`vru.governance.signins`), so every worker
    process of the server shares them and a restart keeps them; each process keeps the
    `Session` it opened for a token, and the row decides on every request whether the token
    still holds (signed out elsewhere, expired, the account disabled).
    """

    def __init__(self, home: str | Path, *, idle: float = IDLE_SECONDS,
                 absolute: float = ABSOLUTE_SECONDS, environ: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.home = Path(home)
        self.idle, self.absolute = float(idle), float(absolute)
        self.environ = dict(environ) if environ is not None else None
        self.clock = clock
        self._db = gdb.connect(self.home)
        self._by_hash: dict[str, WebSession] = {}  # this process's sessions, by token hash
        self._lock = threading.Lock()
        # the last-seen time is written at most this often (a write per request would cost
        # more than the request): idle expiry may come this much early, never late
        self._touch = min(TOUCH_SECONDS, self.idle / 10)

    @staticmethod
    def _hash(token: str) -> str:
        return signins.token_hash(token)

    def sign_in(self, username: str, password: str,
                purpose: str | None = None) -> tuple[str, WebSession]:
        """Check the password through the door (throttled, audited) and open a session.

        Raises
        ------
        SignInError
            Wrong name or password, locked, throttled, disabled (one message).
        BadRequest
            A purpose the user's role may not declare.
        """
        s = open_session(self.home, user=username, password=password,
                         environ=self.environ)
        allowed = ROLE_PURPOSES[s.role]
        chosen = purpose or allowed[0]
        if chosen not in allowed:
            s.close()
            raise BadRequest(f"purpose {chosen!r}: a {s.role.value.replace('_', ' ')} declares "
                             f"one of {', '.join(allowed)}")
        s.purpose = chosen if chosen in PURPOSES else DEFAULT_PURPOSE
        token = secrets.token_urlsafe(32)
        now = self.clock()
        key = self._hash(token)
        web = WebSession(s, secrets.token_urlsafe(32), chosen, now, now, key)
        self._sweep(now)
        signins.add(self._db, signins.SignIn(key, s.name, chosen, web.csrf, now, now))
        with self._lock:
            self._by_hash[key] = web
        return token, web

    def get(self, token: str | None) -> WebSession | None:
        """The live session of ``token`` (its idle clock restarted), or None when unknown,
        signed out or expired (an expired one is deleted)."""
        if not token:
            return None
        key = self._hash(token)
        now = self.clock()
        row = signins.get(self._db, key)
        if row is None or not signins.live(row, now, self.idle, self.absolute):
            if row is not None:
                signins.remove(self._db, key)
            self._forget(key)
            return None
        with self._lock:
            web = self._by_hash.get(key)
        if web is None:  # signed in through another process, or before a restart
            resumed = resume_session(self.home, token, now=now, idle=self.idle,
                                     absolute=self.absolute, environ=self.environ)
            if resumed is None:  # the account is gone or disabled
                signins.remove(self._db, key)
                return None
            s, csrf, purpose = resumed
            web = WebSession(s, csrf, purpose, row.created, row.seen, key)
            with self._lock:
                web = self._by_hash.setdefault(key, web)
            if web.session is not s:
                s.close()
        if web.purpose != row.purpose:  # declared in another process
            web.purpose = web.session.purpose = row.purpose
        if now - row.seen >= self._touch:
            signins.touch(self._db, key, now)
        web.seen = now
        return web

    def set_purpose(self, web: WebSession, purpose: str) -> None:
        """Declare another purpose (one the role may declare)."""
        allowed = ROLE_PURPOSES[web.role]
        if purpose not in allowed:
            raise Denied(f"a {web.role.value.replace('_', ' ')} declares one of "
                         f"{', '.join(allowed)}")
        signins.set_purpose(self._db, web.token_hash, purpose)
        web.purpose = purpose

    def sign_out(self, token: str | None) -> None:
        if not token:
            return
        key = self._hash(token)
        signins.remove(self._db, key)
        self._forget(key)

    def _forget(self, key: str) -> None:
        with self._lock:
            web = self._by_hash.pop(key, None)
        if web is not None:
            web.session.close()

    def _sweep(self, now: float) -> None:
        signins.sweep(self._db, now - self.idle, now - self.absolute)
        with self._lock:
            dead = [k for k, w in self._by_hash.items()
                    if now - w.seen > self.idle or now - w.created > self.absolute]
        for k in dead:
            self._forget(k)

    def __len__(self) -> int:
        return len(self._by_hash)

    def close(self) -> None:
        """Close this process's sessions (the sign-ins stay: another process, or this one
        restarted, serves them)."""
        with self._lock:
            webs = list(self._by_hash.values())
            self._by_hash.clear()
        for w in webs:
            w.session.close()
        self._db.dispose()
