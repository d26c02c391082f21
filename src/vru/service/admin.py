"""Administration through the door: users, areas, agreements, retention and the audit log."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from vru.governance import audit, identity, signins
from vru.governance import db as gdb
from vru.governance.agreements import Agreement, list_agreements, load_agreement_file
from vru.governance.areas import Area, list_areas, load_areas_file
from vru.governance.errors import GovernanceError
from vru.governance.roles import Role
from vru.governance.settings import Settings
from vru.lake.retention import RetentionDenied, RetentionReport, apply_retention
from vru.service.errors import AuditBroken, BadRequest, Denied
from vru.service.home import resolve_home
from vru.service.session import Session


def _change(session: Session, resource: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    session.decide("admin", resource, purpose="administration",
                   detail={"change": getattr(fn, "__name__", str(fn))})
    try:
        return fn(session._db, *args, **kwargs)
    except (GovernanceError, OSError, ValueError) as exc:
        raise BadRequest(str(exc)) from None


def add_user(session: Session, name: str, role: str, *, area: str | None = None,
             password: str | None = None, organisation: str | None = None) -> identity.User:
    """Add a user (admins only; audited)."""
    return _change(session, "users", identity.add_user, name, role.replace("-", "_"),
                   area=area, password=password, organisation=organisation)


def list_users(session: Session) -> list[identity.User]:
    session.decide("admin", "users", purpose="administration")
    return identity.list_users(session._db)


def disable_user(session: Session, name: str) -> identity.User:
    """Disable an account and sign it out of every dashboard browser at once."""
    user = _change(session, "users", identity.disable_user, name)
    signins.remove_user(session._db, name)
    return user


def load_areas(session: Session, path: Path) -> list[Area]:
    return _change(session, "areas", load_areas_file, path)


def areas(session: Session) -> list[Area]:
    session.decide("admin", "areas", purpose="administration")
    return list_areas(session._db)


def add_agreement(session: Session, path: Path) -> Agreement:
    return _change(session, "agreements", load_agreement_file, path)


def agreements(session: Session) -> list[Agreement]:
    session.decide("admin", "agreements", purpose="administration")
    return list_agreements(session._db)


def retention(session: Session, today: date | None = None) -> RetentionReport:
    """Delete rows past their agreement's retention, for good (admins; audited)."""
    try:
        return apply_retention(session._store, session._db, session.user, today=today)
    except RetentionDenied as exc:
        raise Denied(str(exc)) from None


def verify_audit(session: Session) -> audit.VerifyResult:
    """Check the audit chain. A tampered log still verifies (and says where)."""
    try:
        session.decide("audit", "audit", purpose="administration")
    except AuditBroken:
        # the log cannot record this check, but those who may read it must still learn why
        if session.role not in (Role.ADMIN, Role.ETHICS_BOARD_MEMBER):
            raise
    return audit.verify(session._db)


def audit_entries(session: Session, limit: int = 30, actor: str | None = None,
                  dataset: str | None = None) -> list[audit.AuditEntry]:
    """The latest entries (admins and the ethics board; data owners for their datasets)."""
    session.decide("audit", dataset or "audit", purpose="administration")
    return audit.entries(session._db, limit=limit, actor=actor, dataset=dataset)


def init_admin(home: str | Path | None, name: str, password: str) -> identity.User:
    """The first admin of a shared deployment (refused once any admin exists)."""
    path = resolve_home(home)
    try:
        Settings.from_env(path)
        path.mkdir(parents=True, exist_ok=True)
        return identity.init_admin(gdb.connect(path), name, password)
    except (GovernanceError, ValueError) as exc:
        raise BadRequest(str(exc)) from None
