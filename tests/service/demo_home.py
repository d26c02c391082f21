"""The demo home (synthetic Thames Valley, seed 1, full scale), built once per test session.

KPI and briefing tests need the planted headline figures at their real size ("1,300 →
1,222"), so the world is the one `vru demo` builds. It is built through the service's own
door into the session's base temporary folder the first time a test asks, and shared by
every later module of the session.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vru.service import admin, open_session
from vru.service.demo import build
from vru.synth import Manifest

PW = "correct horse battery staple"
#: The organisation owning the demo's ED data (its agreement's owner).
ED_OWNER = "Thames Valley acute trusts (synthetic)"
#: name -> (role, area, organisation)
USERS = {"ann": ("analyst", None, None), "vic": ("viewer", None, None),
         "tia": ("task_force_member", "reading", None),
         "eve": ("ethics_board_member", None, None),
         "pat": ("partner_data_owner", None, ED_OWNER)}


def demo_home(factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    """(home, manifest) of the seed-1 demo, with one user per restricted role."""
    home = factory.getbasetemp() / "demo-seed-1" / "home"
    done = home / ".built"
    if not done.exists():
        s = open_session(home)
        try:
            build(s, seed=1, say=lambda _text: None)
            for name, (role, area, org) in USERS.items():
                admin.add_user(s, name, role, area=area, password=PW, organisation=org)
        finally:
            s.close()
        done.write_text("ok")
    return home, Manifest.load(home / "synth")
