"""The metadata database: default location, URL handling, migrations on first use."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from vru.governance.db import MIGRATIONS, connect, current_revision, database_url, secure_home
from vru.governance.errors import SettingsError

TABLES = {"users", "areas", "area_lsoas", "agreements", "audit_log", "audit_head",
          "alembic_version"}


def _head() -> str:
    """The newest revision shipped (other migrations are added as the schema grows)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_default_is_sqlite_in_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VRU_DATABASE_URL", raising=False)
    home = tmp_path / "home"
    db = connect(home)
    try:
        assert (home / "vru.db").exists()
        assert db.dialect == "sqlite"
        assert set(inspect(db.engine).get_table_names()) >= TABLES
        assert current_revision(db) == _head()
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
        assert current_revision(db) == _head()
        assert set(inspect(db.engine).get_table_names()) >= TABLES
    finally:
        db.dispose()


def test_sqlite_files_are_owner_only_under_a_loose_umask(tmp_path: Path) -> None:
    # The file lives outside the home (VRU_DATABASE_URL may say so): it is still made 0600,
    # before SQLite creates it, and the write-ahead log and shared memory follow.
    file = tmp_path / "elsewhere" / "meta.db"
    old = os.umask(0o002)
    try:
        db = connect(tmp_path / "home", f"sqlite:///{file}")
        try:
            with db.begin() as conn:  # a write keeps the -wal and -shm files alive
                conn.execute(text("CREATE TABLE t (x INTEGER)"))
            sidecars = [file.with_name(file.name + end) for end in ("-wal", "-shm")]
            assert all(p.exists() for p in sidecars)
            assert {p.name: _mode(p) for p in [file, *sidecars]} == {
                p.name: 0o600 for p in [file, *sidecars]}
            assert _mode(tmp_path / "home") == 0o700
        finally:
            db.dispose()
    finally:
        os.umask(old)


def test_secure_home_tightens_what_is_there_and_says_what_changed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert secure_home(home) == [] and not home.exists()  # a missing home is not created
    (home / "keys").mkdir(parents=True, mode=0o755)
    (home / "lake").mkdir(mode=0o777)
    os.chmod(home / "lake", 0o777)
    (home / "keys" / "pseudonym.key").write_text("k" * 64)
    (home / "keys" / "audit.head").write_text("1 abc")
    (home / "vru.db").write_text("")
    (home / "vru.db-wal").write_text("")
    for p in (home, home / "keys", home / "keys" / "pseudonym.key", home / "keys" /
              "audit.head", home / "vru.db", home / "vru.db-wal"):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    changed = secure_home(home)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in changed) == [
        "home", "home/keys", "home/keys/audit.head", "home/keys/pseudonym.key", "home/lake",
        "home/vru.db", "home/vru.db-wal"]
    assert [_mode(p) for p in (home, home / "keys", home / "lake")] == [0o700] * 3
    assert _mode(home / "vru.db") == _mode(home / "keys" / "audit.head") == 0o600
    assert secure_home(home) == []  # already tight: nothing to do


@pytest.mark.postgres
def test_postgres_home_keeps_no_database_file(pg_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "keys").mkdir(parents=True)
    os.chmod(home, 0o755)
    os.chmod(home / "keys", 0o755)
    db = connect(home, pg_url)
    try:
        assert current_revision(db) == _head()
        assert not (home / "vru.db").exists()
        assert _mode(home) == _mode(home / "keys") == 0o700
    finally:
        db.dispose()


def test_a_new_sqlite_home_is_the_migrations_head_without_alembic(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from vru.governance.db import SQLITE_HEAD, head_revision, migrated_sqlite, sqlite_statements

    by_migrations = migrated_sqlite(tmp_path / "a")
    want = sqlite_statements(by_migrations)
    by_migrations.dispose()
    snap = json.loads(SQLITE_HEAD.read_text(encoding="utf-8"))
    assert snap["revision"] == head_revision() and snap["statements"] == want, (
        "the SQLite snapshot is not the migrations' head: run `python -m vru.governance.db`")
    made = connect(tmp_path / "b")  # the first command on a new home replays the snapshot
    assert sqlite_statements(made) == want and current_revision(made) == head_revision()
    made.dispose()
    # and imports no alembic to do it
    code = ("import sys; from pathlib import Path; from vru.governance.db import connect; "
            f"connect(Path({str(tmp_path / 'c')!r})); print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_the_reads_of_one_decision_see_one_moment(db) -> None:  # noqa: ANN001
    """A change committed while a decision is reading cannot mix old and new: the user read
    first and the user read after the change come from the same snapshot."""
    from vru.governance.identity import add_user, disable_user, get_user

    add_user(db, "ann", "analyst")
    add_user(db, "bob", "analyst")
    with db.reading():
        assert get_user(db, "ann") is not None  # the transaction's snapshot starts here
        other = connect(db.home, db.url, migrate=False)  # another process, say
        disable_user(other, "bob")
        other.dispose()
        bob = get_user(db, "bob")
        assert bob is not None and not bob.disabled
    bob = get_user(db, "bob")
    assert bob is not None and bob.disabled  # the next reading sees the change
