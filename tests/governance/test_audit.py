"""The audit chain: verification, each kind of tampering, the head, keys, concurrent appenders."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from vru.governance import audit
from vru.governance.db import Database, connect
from vru.governance.errors import AuditError
from vru.governance.keys import anchor_path

AUDIT_KEY = b"test-audit-key-0123456789abcdef0123456789"  # the same as conftest's


def fill(db: Database, n: int = 10) -> None:
    for i in range(n):
        audit.record(db, actor=f"user{i % 3}", action="read", resource="incidents",
                     purpose="violence_reduction", decision="allow" if i % 4 else "deny",
                     reason=f"reason {i}", table_versions={"incidents": i},
                     detail={"note": "é ✓", "i": i})


def tamper(db: Database, *statements: str) -> None:
    """Run raw SQL as someone with write access to the database, past the triggers."""
    with db.engine.begin() as conn:
        if db.dialect == "sqlite":
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        for statement in statements:
            conn.execute(text(statement))


def test_intact_chain_verifies(db: Database) -> None:
    assert audit.verify(db) == audit.VerifyResult(True, 0)
    fill(db)
    result = audit.verify(db)
    assert result.ok and result.entries == 10 and result.first_bad is None
    got = audit.entries(db)
    assert [e.seq for e in got] == list(range(1, 11))
    assert got[3].table_versions == {"incidents": 3} and got[3].detail["note"] == "é ✓"
    assert got[0].time.endswith("Z")


def test_log_is_append_only(db: Database) -> None:
    fill(db, 3)
    for statement in ("UPDATE audit_log SET reason = 'x' WHERE seq = 2",
                      "DELETE FROM audit_log WHERE seq = 2"):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(statement))
    assert audit.verify(db).ok


def test_detects_edited_entry(db: Database) -> None:
    fill(db)
    tamper(db, "UPDATE audit_log SET decision = 'allow', reason = 'fine' WHERE seq = 4")
    result = audit.verify(db)
    assert (result.ok, result.first_bad, result.entries) == (False, 4, 10)
    assert "edited" in result.problem


def test_detects_edited_last_entry(db: Database) -> None:
    fill(db)
    tamper(db, "UPDATE audit_log SET actor = 'someone_else' WHERE seq = 10")
    result = audit.verify(db)
    assert (result.ok, result.first_bad) == (False, 10)


def test_detects_deleted_entry(db: Database) -> None:
    fill(db)
    tamper(db, "DELETE FROM audit_log WHERE seq = 4")
    result = audit.verify(db)
    assert (result.ok, result.first_bad, result.entries) == (False, 4, 9)
    assert "missing" in result.problem and "deleted" in result.problem


def test_detects_entries_deleted_from_the_end(db: Database) -> None:
    fill(db)
    tamper(db, "DELETE FROM audit_log WHERE seq >= 9")
    result = audit.verify(db)
    assert (result.ok, result.first_bad) == (False, 9)
    assert "end of the log" in result.problem


def test_detects_deletion_hidden_by_renumbering(db: Database) -> None:
    fill(db)
    tamper(db, "DELETE FROM audit_log WHERE seq = 4",
           "UPDATE audit_log SET seq = seq + 1000 WHERE seq > 4",
           "UPDATE audit_log SET seq = seq - 1001 WHERE seq > 1000")
    result = audit.verify(db)
    assert (result.ok, result.first_bad) == (False, 4)
    assert "deleted" in result.problem and "renumbered" in result.problem


def _forged(seq: int) -> str:
    return ("INSERT INTO audit_log (seq, time, actor, purpose, action, resource, table_versions,"
            " decision, reason, detail, mac) VALUES "
            f"({seq}, '2025-01-01T00:00:00.000000Z', 'ghost', 'research', 'export', "
            f"'ed_assaults', '{{}}', 'allow', 'looks legit', '{{}}', '{'ab' * 32}')")


def test_detects_entry_inserted_at_the_end(db: Database) -> None:
    fill(db)
    tamper(db, _forged(11))
    result = audit.verify(db)
    assert (result.ok, result.first_bad, result.entries) == (False, 11, 11)
    assert "inserted" in result.problem


def test_detects_entry_inserted_in_the_middle(db: Database) -> None:
    fill(db)
    tamper(db, "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 5",
           "UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000", _forged(5))
    result = audit.verify(db)
    assert (result.ok, result.first_bad, result.entries) == (False, 5, 11)
    assert "inserted" in result.problem


@pytest.mark.parametrize(("a", "b"), [(3, 6), (3, 4)])
def test_detects_reordered_entries(db: Database, a: int, b: int) -> None:
    fill(db)
    tamper(db, f"UPDATE audit_log SET seq = 999 WHERE seq = {a}",
           f"UPDATE audit_log SET seq = {a} WHERE seq = {b}",
           f"UPDATE audit_log SET seq = {b} WHERE seq = 999")
    result = audit.verify(db)
    assert (result.ok, result.first_bad, result.entries) == (False, a, 10)
    assert "reordered" in result.problem and f"written as entry {b}" in result.problem


def test_altered_head_is_detected_and_blocks_appending(db: Database) -> None:
    fill(db)
    tamper(db, "UPDATE audit_head SET seq = 7")
    result = audit.verify(db)
    assert not result.ok and "head" in result.problem
    with pytest.raises(AuditError, match="head"):
        audit.record(db, actor="a", action="read", resource="incidents",
                     purpose="administration", decision="allow", reason="x")


def test_wrong_key_fails_from_the_first_entry(db: Database, tmp_path: Path) -> None:
    fill(db, 3)
    other = connect(tmp_path, db.url, audit_key=b"another-key-that-is-long-enough-000000")
    try:
        result = audit.verify(other)
        assert (result.ok, result.first_bad) == (False, 1)
    finally:
        other.dispose()


def test_rejects_unknown_decision(db: Database) -> None:
    with pytest.raises(AuditError, match="allow"):
        audit.record(db, actor="a", action="read", resource="r", purpose="p",
                     decision="maybe", reason="x")


def test_key_file_is_created_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VRU_AUDIT_KEY", raising=False)
    db = connect(tmp_path, f"sqlite:///{tmp_path / 'vru.db'}")
    try:
        fill(db, 2)
        key_file = tmp_path / "keys" / "audit.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert audit.verify(db).ok
    finally:
        db.dispose()
    monkeypatch.setenv("VRU_AUDIT_KEY", "x" * 40)  # a different key: the chain no longer checks
    db = connect(tmp_path, f"sqlite:///{tmp_path / 'vru.db'}")
    try:
        assert not audit.verify(db).ok
    finally:
        db.dispose()


def _append_many(url: str, home: str, worker: int, count: int) -> None:
    db = connect(Path(home), url, audit_key=AUDIT_KEY, migrate=False)
    for i in range(count):
        audit.record(db, actor=f"worker{worker}", action="write", resource="incidents",
                     purpose="administration", decision="allow", reason=f"#{i}")
    db.dispose()


def test_concurrent_appenders_do_not_fork_the_chain(db: Database, tmp_path: Path) -> None:
    fill(db, 1)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(db.url, str(tmp_path), w, 40))
               for w in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
        assert process.exitcode == 0
    result = audit.verify(db)
    assert result.ok and result.entries == 121
    assert [e.seq for e in audit.entries(db)] == list(range(1, 122))
    # the anchor outside the database followed every append, whoever made it
    assert json.loads(anchor_path(tmp_path).read_text())["seq"] == 121


def test_audit_env_key_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VRU_AUDIT_KEY", "k" * 48)
    db = connect(tmp_path, f"sqlite:///{tmp_path / 'vru.db'}")
    try:
        assert db.audit_key == b"k" * 48
        assert not (tmp_path / "keys" / "audit.key").exists()
    finally:
        db.dispose()
    assert os.environ["VRU_AUDIT_KEY"] == "k" * 48


def test_threads_of_one_process_share_commit_rounds(db: Database, monkeypatch) -> None:
    """Group commit: entries queued while an append is under way are written together in
    the next round (one transaction, one anchor fsync); every caller gets its own entry and
    the chain verifies."""
    import threading
    import time

    anchors: list[int] = []
    real = audit._write_anchor

    def counted(path, key, seq, mac):
        anchors.append(seq)
        real(path, key, seq, mac)

    monkeypatch.setattr(audit, "_write_anchor", counted)
    fill(db, 1)  # the log exists: its head and anchor
    anchors.clear()
    got: dict[int, audit.AuditEntry] = {}

    def one(i: int) -> None:
        got[i] = audit.record(db, actor=f"t{i}", action="read", resource="incidents",
                              purpose="violence_reduction", decision="allow", reason=str(i))

    # hold the append lock, as a slow fsync would: the first thread leads and waits on it,
    # five more queue behind it
    with audit._locked(anchor_path(db.home), exclusive=True):
        first = threading.Thread(target=one, args=(0,))
        first.start()
        group = audit._GROUPS[(str(db.url), str(db.home))]
        deadline = time.monotonic() + 10
        while group._waiting and time.monotonic() < deadline:  # the leader took its round
            time.sleep(0.01)
        rest = [threading.Thread(target=one, args=(i,)) for i in range(1, 6)]
        for t in rest:
            t.start()
        while len(group._waiting) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(group._waiting) == 5
    for t in [first, *rest]:
        t.join(10)
    assert sorted(e.seq for e in got.values()) == list(range(2, 8))
    assert {e.actor for e in got.values()} == {f"t{i}" for i in range(6)}
    assert anchors == [2, 7]  # two rounds: the leader alone, then the five together
    assert audit.verify(db) == audit.VerifyResult(True, 7)


def test_a_failed_round_fails_every_caller_in_it(db: Database, monkeypatch) -> None:
    """An entry that could not be written is never reported as written."""
    fill(db, 1)

    def broken(path, key, seq, mac):
        raise OSError("disk full")

    monkeypatch.setattr(audit, "_write_anchor", broken)
    with pytest.raises(AuditError, match="disk full"):
        fill(db, 1)
    group = audit._GROUPS[(str(db.url), str(db.home))]
    assert group._waiting == [] and group._writing is False  # the next caller can lead
