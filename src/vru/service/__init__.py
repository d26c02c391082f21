"""The one door: every face (CLI, Python, web, reports) asks a signed-in `Session`.

    >>> import vru
    >>> lake = vru.open("vru-home")                      # the home's owner, locally
    >>> lake.counts("incidents", by="month,category")     # released, audited
    >>> lake.analyse("gistar", category="Robbery", cell="h3:9")

The session and what it needs (the lake, the governance database, the analyses) load on
first use of one of its names, not with the package: a face can resolve the home and start
reading its inputs while they load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vru.service.errors import AuditBroken, BadRequest, Denied, ServiceError, SignInError
from vru.service.home import resolve_home

if TYPE_CHECKING:
    from vru.service.session import Session, TableRef, open_session

__all__ = ["AuditBroken", "BadRequest", "Denied", "ServiceError", "Session", "SignInError",
           "TableRef", "open_session", "resolve_home"]

_LAZY = frozenset({"Session", "TableRef", "open_session"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from vru.service import session

        return getattr(session, name)
    raise AttributeError(f"module 'vru.service' has no attribute {name!r}")
