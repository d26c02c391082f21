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


def test_disclosure_profiles_parse_and_default(tmp_path: Path) -> None:
    from vru.governance.disclosure import PROFILES, describe
    from vru.governance.settings import DISCLOSURE_PROFILES

    assert set(DISCLOSURE_PROFILES) == set(PROFILES)  # every accepted value can be applied
    default = Settings.from_env(tmp_path, environ={})
    assert (default.aggregate_profile, default.public_profile) == ("nhs", "cellkey")
    for profile in DISCLOSURE_PROFILES:
        env = {"VRU_AGGREGATE_DISCLOSURE": profile, "VRU_PUBLIC_DISCLOSURE": profile}
        got = Settings.from_env(tmp_path, environ=env)
        assert (got.aggregate_profile, got.public_profile) == (profile, profile)
        assert describe(got.public_profile)
    for bad in ("NHS", "cell-key", "", "gdpr"):
        with pytest.raises(SettingsError, match=f"VRU_PUBLIC_DISCLOSURE={bad!r} is not one of"):
            Settings.from_env(tmp_path, environ={"VRU_PUBLIC_DISCLOSURE": bad})
    env = {"VRU_DATABASE_URL": "postgresql+psycopg://vru@db/vru", "VRU_SECRET_KEY": GOOD,
           "VRU_AUDIT_KEY": GOOD + "a", "VRU_PSEUDONYM_KEY": GOOD + "p",
           "VRU_AGGREGATE_DISCLOSURE": "none"}
    with pytest.raises(SettingsError, match="VRU_AGGREGATE_DISCLOSURE=none publishes"):
        Settings.from_env(tmp_path, environ=env)
    shared = Settings.from_env(tmp_path, environ={**env, "VRU_AGGREGATE_DISCLOSURE": "cellkey"})
    assert (shared.aggregate_profile, shared.public_profile) == ("cellkey", "cellkey")


def test_cellkey_secret_is_derived_from_the_secret_key(tmp_path: Path) -> None:
    one = Settings.from_env(tmp_path / "one", environ={"VRU_SECRET_KEY": GOOD})
    again = Settings.from_env(tmp_path / "again", environ={"VRU_SECRET_KEY": GOOD})
    other = Settings.from_env(tmp_path / "other", environ={"VRU_SECRET_KEY": GOOD + "x"})
    assert one.cellkey_secret == again.cellkey_secret  # stable: same key, same secret
    assert one.cellkey_secret != other.cellkey_secret
    assert all(0 <= s < 2**63 for s in (one.cellkey_secret, other.cellkey_secret))
    # A derived value, not the key itself nor another key's derivation.
    assert one.cellkey_secret.to_bytes(8, "big") not in one.secret_key
    assert one.cellkey_secret not in {int.from_bytes(k[:8], "big") >> 1
                                      for k in (one.secret_key, one.audit_key)}
    # Local mode: the key file made on first start gives the same secret on the next.
    local = tmp_path / "local"
    assert (Settings.from_env(local, environ={}).cellkey_secret
            == Settings.from_env(local, environ={}).cellkey_secret)
