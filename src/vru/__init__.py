"""vru: the open data platform for Violence Reduction Units."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "open"]


def open(home=None, **kwargs):  # noqa: A001 - mirrors the builtin on purpose: vru.open(home)
    """Open the lake at ``home`` (default ``$VRU_HOME`` or ``./vru-home``) and return a `Lake`."""
    from vru.lake.api import Lake

    return Lake.open(home, **kwargs)
