"""Dashboard sign-ins in the metadata database: a row per signed-in browser.

Every worker process of `vru serve` reads the same rows, so a browser stays signed in
whichever process answers, a sign-out ends the session everywhere at once, and a restart
signs no one out. Only the SHA-256 of the browser's token is kept: a copy of the table
signs no one in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import delete, insert, or_, update

from vru.governance.db import Database
from vru.governance.schema import web_sessions as _t


@dataclass(frozen=True)
class SignIn:
    """One row: who, for which purpose, the CSRF secret, and when (epoch seconds)."""

    token_hash: str
    user_name: str
    purpose: str
    csrf: str
    created: float
    seen: float


def add(db: Database, s: SignIn) -> None:
    with db.begin() as conn:
        conn.execute(insert(_t).values(**s.__dict__))


def get(db: Database, token_hash: str) -> SignIn | None:
    """The sign-in of ``token_hash``, or None (asked on every dashboard request)."""
    row = db.fetch_one("SELECT token_hash, user_name, purpose, csrf, created, seen "
                       "FROM web_sessions WHERE token_hash = ?", (token_hash,))
    return None if row is None else SignIn(*row)


def live(s: SignIn, now: float, idle: float, absolute: float) -> bool:
    """Not idle longer than ``idle`` seconds, nor older than ``absolute``."""
    return now - s.seen <= idle and now - s.created <= absolute


def token_hash(token: str) -> str:
    """What is kept of a browser's token: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def touch(db: Database, token_hash: str, seen: float) -> None:
    with db.begin() as conn:
        conn.execute(update(_t).where(_t.c.token_hash == token_hash).values(seen=seen))


def set_purpose(db: Database, token_hash: str, purpose: str) -> None:
    with db.begin() as conn:
        conn.execute(update(_t).where(_t.c.token_hash == token_hash).values(purpose=purpose))


def remove(db: Database, token_hash: str) -> None:
    with db.begin() as conn:
        conn.execute(delete(_t).where(_t.c.token_hash == token_hash))


def sweep(db: Database, idle_before: float, created_before: float) -> int:
    """Delete the sign-ins idle since ``idle_before`` or made before ``created_before``."""
    with db.begin() as conn:
        return conn.execute(delete(_t).where(or_(_t.c.seen < idle_before,
                                                 _t.c.created < created_before))).rowcount


def remove_user(db: Database, user_name: str) -> int:
    """Sign a user out of every browser (their account was disabled or removed)."""
    with db.begin() as conn:
        return conn.execute(delete(_t).where(_t.c.user_name == user_name)).rowcount
