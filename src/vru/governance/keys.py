"""Secret keys kept outside the database: from an environment variable or a 0600 key file."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from vru.governance.errors import SettingsError

#: Known placeholder values that must never be used as a key outside development.
INSECURE_VALUES = frozenset(
    {"", "changethis", "changeme", "change-me", "secret", "password", "development", "dev",
     "test", "default", "key", "vru"}
)
MIN_KEY_LENGTH = 32

#: key name -> environment variable that may hold it
KEY_ENV = {
    "audit": "VRU_AUDIT_KEY",
    "pseudonym": "VRU_PSEUDONYM_KEY",
    "secret": "VRU_SECRET_KEY",
}


#: Environment variable naming the audit anchor file (default ``<home>/keys/audit.head``).
ANCHOR_ENV = "VRU_AUDIT_HEAD"


def key_path(home: Path, name: str) -> Path:
    """Return the key file of ``name`` under ``home`` (``<home>/keys/<name>.key``)."""
    return Path(home) / "keys" / f"{name}.key"


def anchor_path(home: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Return the audit anchor file: ``VRU_AUDIT_HEAD``, else ``<home>/keys/audit.head``.

    The anchor holds the last audit entry's sequence number and MAC outside the database
    (see `vru.governance.audit`); every process that appends to one log must share it.
    """
    env = os.environ if environ is None else environ
    chosen = env.get(ANCHOR_ENV)
    return Path(chosen) if chosen else Path(home) / "keys" / "audit.head"


def key_available(home: Path, name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Return True when key ``name`` is set in the environment or its key file exists."""
    env = os.environ if environ is None else environ
    return bool(env.get(KEY_ENV[name])) or key_path(home, name).exists()


def missing_audit_key_message(home: Path, evidence: str) -> str:
    """Say that the audit key is gone although ``evidence`` shows one was in use, and what to do."""
    path = key_path(home, "audit")
    return (f"the audit key {path} is missing, but {evidence}: restore the key file from "
            f"backup (mode 0600) or set {KEY_ENV['audit']} to the key. vru will not make a "
            "new audit key, because every existing audit entry would then fail verification.")


def key_problem(value: str) -> str | None:
    """Say why ``value`` is not an acceptable key, or return None when it is."""
    if value.strip().lower() in INSECURE_VALUES:
        return "is a well-known placeholder"
    if len(value) < MIN_KEY_LENGTH:
        return f"is shorter than {MIN_KEY_LENGTH} characters"
    return None


def load_key(home: Path, name: str, *, create: bool = True,
             environ: Mapping[str, str] | None = None) -> bytes:
    """Return the key ``name`` ("audit", "pseudonym" or "secret").

    Parameters
    ----------
    home
        The lake home; the key file is ``<home>/keys/<name>.key``.
    name
        Which key.
    create
        Create a random key file (mode 0600) when neither the environment variable nor the
        file exists. Shared deployments pass False so a missing key is an error, not a new
        key that silently breaks the audit chain or every pseudonym. The audit key is never
        created when its anchor file (`anchor_path`) exists: that is proof a key was lost.
    environ
        Environment to read (default ``os.environ``).

    Returns
    -------
    bytes
        The key as UTF-8 bytes of its text.

    Raises
    ------
    SettingsError
        When the key is missing (and ``create`` is False, or it is the audit key and the
        audit anchor exists), unreadable or insecure.
    """
    env = os.environ if environ is None else environ
    var = KEY_ENV[name]
    value = env.get(var)
    if value:
        problem = key_problem(value)
        if problem:
            raise SettingsError(f"{var} {problem}: set it to a random value, e.g. "
                                f"`python -c 'import secrets; print(secrets.token_hex(32))'`.")
        return value.encode("utf-8")
    path = key_path(home, name)
    if path.exists():
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"cannot read the {name} key file {path}: {exc}") from exc
        problem = key_problem(text)
        if problem:
            raise SettingsError(f"the {name} key in {path} {problem}: replace it with a random "
                                f"value or set {var}.")
        return text.encode("utf-8")
    anchor = anchor_path(home, env)
    if name == "audit" and anchor.exists():
        # The anchor is written on every audit entry with this key: the key existed once.
        raise SettingsError(missing_audit_key_message(
            home, f"the audit anchor {anchor} shows this home's audit log was written with one"))
    if not create:
        raise SettingsError(f"no {name} key: set {var} or create {path} (mode 0600) holding "
                            "a random value of at least 32 characters.")
    return _create_key_file(path).encode("utf-8")


def _create_key_file(path: Path) -> str:
    """Write a new random key to ``path`` (0600, directory 0700) unless another process won."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    value = secrets.token_hex(32)
    try:
        # O_EXCL: if two processes create the key at once, exactly one wins and both use it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value
