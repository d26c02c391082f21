"""Where a lake home is: cheap to import, so a face can resolve it before the service loads."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOME = "vru-home"


def resolve_home(home: str | Path | None = None) -> Path:
    """``home``, else ``$VRU_HOME``, else ``./vru-home``."""
    return Path(home or os.environ.get("VRU_HOME") or DEFAULT_HOME).expanduser().resolve()
