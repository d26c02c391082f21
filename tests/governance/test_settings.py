"""Settings refuse insecure defaults outside development and the embedded local mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from vru.governance.errors import SettingsError
from vru.governance.settings import Settings

GOOD = "0123456789abcdef0123456789abcdef-good"


def test_local_mode_creates_keys(tmp_path: Path) -> None:
    settings = Settings.from_env(tmp_path, environ={})
    assert settings.mode == "local" and settings.database_url is None
    assert len({settings.secret_key, settings.audit_key, settings.pseudonym_key}) == 3
    again = Settings.from_env(tmp_path, environ={})
    assert again.audit_key == settings.audit_key  # read back from the key files
    for name in ("secret", "audit", "pseudonym"):
        assert (tmp_path / "keys" / f"{name}.key").stat().st_mode & 0o077 == 0


def test_production_refuses_missing_and_default_keys(tmp_path: Path) -> None:
    env = {"VRU_DATABASE_URL": "postgresql+psycopg://vru@db/vru", "VRU_SECRET_KEY": "changethis",
           "VRU_AUDIT_KEY": "short", "VRU_PUBLIC_DISCLOSURE": "none"}
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(tmp_path, environ=env)
    message = str(caught.value)
    assert "production mode" in message
    assert "VRU_SECRET_KEY is a well-known placeholder" in message
    assert "VRU_AUDIT_KEY is shorter than 32" in message
    assert "no pseudonym key" in message
    assert "VRU_PUBLIC_DISCLOSURE=none" in message
    assert not (tmp_path / "keys").exists()  # nothing was created behind the operator's back


def test_production_with_real_keys(tmp_path: Path) -> None:
    env = {"VRU_DATABASE_URL": "postgresql+psycopg://vru@db/vru", "VRU_SECRET_KEY": GOOD,
           "VRU_AUDIT_KEY": GOOD + "a", "VRU_PSEUDONYM_KEY": GOOD + "p",
           "VRU_PUBLIC_DISCLOSURE": "ons"}
    settings = Settings.from_env(tmp_path, environ=env)
    assert settings.is_shared and settings.public_profile == "ons"
    assert settings.aggregate_profile == "nhs"


def test_development_mode_allows_generated_keys(tmp_path: Path) -> None:
    env = {"VRU_ENV": "development", "VRU_DATABASE_URL": "postgresql+psycopg://vru@db/vru"}
    assert Settings.from_env(tmp_path, environ=env).mode == "development"
    with pytest.raises(SettingsError, match="VRU_ENV='staging'"):
        Settings.from_env(tmp_path, environ={"VRU_ENV": "staging"})


def test_placeholder_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "audit.key").write_text("changeme\n")
    with pytest.raises(SettingsError, match="audit key in .*audit.key is a well-known"):
        Settings.from_env(tmp_path, environ={})
