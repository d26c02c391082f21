"""Demo sign-ins: one user per role with a random password, for the dashboard of `vru demo`.

The passwords are shown once to the home's owner and kept in ``<home>/demo-logins.txt``,
readable by the owner only (mode 0600). Running the demo again gives each a new password.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from vru.governance import identity
from vru.governance.agreements import list_agreements
from vru.governance.areas import list_areas
from vru.governance.errors import GovernanceError
from vru.service.errors import BadRequest
from vru.service.session import Session

FILE = "demo-logins.txt"
#: (user name, role)
DEMO_USERS = (("demo-admin", "admin"), ("demo-analyst", "analyst"),
              ("demo-taskforce", "task_force_member"), ("demo-ethics", "ethics_board_member"),
              ("demo-partner", "partner_data_owner"), ("demo-viewer", "viewer"))


@dataclass(frozen=True)
class DemoLogin:
    name: str
    role: str
    area: str | None
    organisation: str | None
    password: str


def ensure_demo_logins(session: Session) -> tuple[list[DemoLogin], Path]:
    """Create (or reset the passwords of) the demo users; write them to ``demo-logins.txt``
    with mode 0600 (admins only; each change audited)."""
    session.decide("admin", "users", purpose="administration",
                   detail={"change": "demo logins"})
    db = session._db
    areas = sorted(a.name for a in list_areas(db))
    partner = next((a.owner for a in list_agreements(db) if a.dataset.startswith("partner_")),
                   None)
    out: list[DemoLogin] = []
    for name, role in DEMO_USERS:
        area = (areas[0] if areas else None) if role == "task_force_member" else None
        org = partner if role == "partner_data_owner" else None
        if role == "task_force_member" and area is None:
            continue  # no task-force areas in this home
        if role == "partner_data_owner" and org is None:
            continue
        password = secrets.token_urlsafe(12)
        try:
            if identity.get_user(db, name) is None:
                identity.add_user(db, name, role, area=area, password=password,
                                  organisation=org)
            else:
                identity.set_password(db, name, password)
        except (GovernanceError, ValueError) as exc:
            raise BadRequest(f"demo user {name}: {exc}") from None
        out.append(DemoLogin(name, role, area, org, password))
    path = session.home / FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("# vru demo sign-ins (random; `vru demo` again gives new ones)\n")
        for d in out:
            where = f" area={d.area}" if d.area else ""
            f.write(f"{d.name}\t{d.password}\t{d.role}{where}\n")
    os.chmod(path, 0o600)
    return out, path
