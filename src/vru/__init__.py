"""vru: the open data platform for Violence Reduction Units."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "open"]


def open(home=None, *, user=None, password=None, **kwargs):  # noqa: A001 - vru.open(home)
    """Sign in to the lake at ``home`` (default ``$VRU_HOME`` or ``./vru-home``).

    Without ``user`` the local OS user acts (the home's owner on the embedded default);
    ``user=NAME`` needs ``password``. Returns a `vru.service.Session`: ``tables()``,
    ``table(name).to_pandas()``, ``sql(...)``, ``counts(...)``, ``analyse(...)``.
    """
    from vru.service import open_session

    return open_session(home, user=user, password=password, **kwargs)
