"""Runtime settings from the environment, refusing insecure defaults outside development."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vru.governance.errors import SettingsError
from vru.governance.keys import load_key

#: development: a developer's machine; local: the embedded default (SQLite in the home, the
#: CLI acting as the OS user); production: a shared deployment (PostgreSQL, several users).
MODES = ("development", "local", "production")
#: The `vru.governance.disclosure` profiles a level may use (docs/release.md).
DISCLOSURE_PROFILES = ("nhs", "ons", "cellkey", "none")
#: Default profile per level: aggregate (task-force members, the ethics board) and public
#: (viewers, published outputs).
DISCLOSURE_DEFAULTS = {"aggregate": "nhs", "public": "cellkey"}
#: HMAC label deriving the cell-key secret from the secret key: a new label, a new secret.
CELLKEY_LABEL = b"vru/cellkey/record-keys/v1"


@dataclass(frozen=True)
class Settings:
    """What a vru process needs to know about its deployment.

    Attributes
    ----------
    home
        The lake home.
    mode
        One of `MODES`.
    database_url
        SQLAlchemy URL of the metadata database; None means ``<home>/vru.db`` (SQLite).
    secret_key, audit_key, pseudonym_key
        Keys, never stored in the database or the lake.
    aggregate_profile, public_profile
        Disclosure profiles applied at the aggregate and public levels
        (``VRU_AGGREGATE_DISCLOSURE``, default "nhs"; ``VRU_PUBLIC_DISCLOSURE``, default
        "cellkey").
    """

    home: Path
    mode: str
    database_url: str | None
    secret_key: bytes
    audit_key: bytes
    pseudonym_key: bytes
    aggregate_profile: str = "nhs"
    public_profile: str = "cellkey"

    @property
    def cellkey_secret(self) -> int:
        """The seed of every record's cell key: a 63-bit integer >= 0, derived, never stored.

        HMAC-SHA256 of a fixed label under the secret key, so it needs no key file of its
        own, stays the same while the secret key does (the same cell keeps its answer) and
        says nothing about the secret key. Changing the secret key changes every released
        perturbed count once.
        """
        digest = hmac.new(self.secret_key, CELLKEY_LABEL, hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") >> 1

    @property
    def is_shared(self) -> bool:
        """True for a shared deployment, where every key must be set up by an operator."""
        return self.mode == "production"

    @classmethod
    def from_env(cls, home: Path, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``VRU_*`` environment variables and key files under ``home``.

        ``VRU_ENV`` picks the mode; without it the mode is "local" when ``VRU_DATABASE_URL``
        is unset (the embedded default) and "production" when it is set. In development and
        local mode missing keys are created as 0600 files under ``<home>/keys``; in
        production every key must already exist, be at least 32 characters and not be a
        placeholder, or `SettingsError` lists every problem at once.

        Parameters
        ----------
        home
            The lake home.
        environ
            Environment to read (default ``os.environ``).

        Returns
        -------
        Settings
        """
        env = dict(os.environ if environ is None else environ)
        home = Path(home)
        url = env.get("VRU_DATABASE_URL") or None
        mode = env.get("VRU_ENV") or ("local" if url is None else "production")
        problems: list[str] = []
        if mode not in MODES:
            raise SettingsError(f"VRU_ENV={mode!r} is not one of {', '.join(MODES)}.")
        profiles = {}
        for level in ("aggregate", "public"):
            var = f"VRU_{level.upper()}_DISCLOSURE"
            value = env.get(var, DISCLOSURE_DEFAULTS[level])
            if value not in DISCLOSURE_PROFILES:
                problems.append(f"{var}={value!r} is not one of {', '.join(DISCLOSURE_PROFILES)}")
            elif value == "none" and mode == "production":
                problems.append(f"{var}=none publishes unprotected counts below analyst level")
            profiles[level] = value
        create = mode != "production"
        keys: dict[str, bytes] = {}
        for name in ("secret", "audit", "pseudonym"):
            try:
                keys[name] = load_key(home, name, create=create, environ=env)
            except SettingsError as exc:
                problems.append(str(exc))
        if problems:
            raise SettingsError(f"refusing to start in {mode} mode:\n- " + "\n- ".join(problems))
        return cls(home=home, mode=mode, database_url=url, secret_key=keys["secret"],
                   audit_key=keys["audit"], pseudonym_key=keys["pseudonym"],
                   aggregate_profile=profiles["aggregate"], public_profile=profiles["public"])
