"""The metadata database: default location, URL handling, migrations on first use."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import inspect

from vru.governance.db import connect, current_revision, database_url
from vru.governance.errors import SettingsError

TABLES = {"users", "areas", "area_lsoas", "agreements", "audit_log", "audit_head",
          "alembic_version"}


def test_default_is_sqlite_in_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VRU_DATABASE_URL", raising=False)
    home = tmp_path / "home"
    db = connect(home)
    try:
        assert (home / "vru.db").exists()
        assert db.dialect == "sqlite"
        assert set(inspect(db.engine).get_table_names()) >= TABLES
        assert current_revision(db) == "0001"
    finally:
        db.dispose()


def test_url_handling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VRU_DATABASE_URL", "postgresql://vru@db.example:5432/vru")
    assert database_url(tmp_path) == "postgresql+psycopg://vru@db.example:5432/vru"
    assert database_url(tmp_path, "sqlite:///x.db") == "sqlite:///x.db"
    with pytest.raises(SettingsError, match="unsupported database URL"):
        database_url(tmp_path, "mysql://x/y")


def _open(url: str, home: str) -> None:
    connect(Path(home), url).dispose()


def test_concurrent_first_use_migrates_once(db_url: str, tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_open, args=(db_url, str(tmp_path))) for _ in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
        assert process.exitcode == 0
    db = connect(tmp_path, db_url)
    try:
        assert current_revision(db) == "0001"
        assert set(inspect(db.engine).get_table_names()) >= TABLES
    finally:
        db.dispose()
