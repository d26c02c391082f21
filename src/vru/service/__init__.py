"""The one door: every face (CLI, Python, web, reports) asks a signed-in `Session`.

    >>> import vru
    >>> lake = vru.open("vru-home")                      # the home's owner, locally
    >>> lake.counts("incidents", by="month,category")     # released, audited
    >>> lake.analyse("gistar", category="Robbery", cell="h3:9")
"""

from __future__ import annotations

from vru.service.errors import AuditBroken, BadRequest, Denied, ServiceError, SignInError
from vru.service.session import Session, TableRef, open_session, resolve_home

__all__ = ["AuditBroken", "BadRequest", "Denied", "ServiceError", "Session", "SignInError",
           "TableRef", "open_session", "resolve_home"]
