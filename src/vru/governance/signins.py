"""Dashboard sign-ins in the metadata database: a row per signed-in browser.

Every worker process of `vru serve` reads the same rows, so a browser stays signed in
whichever process answers, a sign-out ends the session everywhere at once, and a restart
signs no one out. Only the SHA-256 of the browser's token is kept: a copy of the table
signs no one in.
"""

from __future__ import annotations

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


_GET = ("SELECT token_hash, user_name, purpose, csrf, created, seen FROM web_sessions "
        "WHERE token_hash = {}")


def get(db: Database, token_hash: str) -> SignIn | None:
    """The sign-in of ``token_hash``, or None.

    Asked on every dashboard request, so it is one statement on a pooled driver connection,
    without SQLAlchemy's transaction and result layers (they cost more than the lookup).
    """
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(_GET.format("?" if db.dialect == "sqlite" else "%s"), (token_hash,))
        row = cur.fetchone()
        cur.close()
    finally:
        raw.close()  # back to the pool, which ends any transaction the driver began
    return None if row is None else SignIn(*row)


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
