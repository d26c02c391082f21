"""The audit log against someone who can write the database (or lose a file): each fault named."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from vru.governance import audit
from vru.governance.db import Database, connect
from vru.governance.errors import AuditError, SettingsError
from vru.governance.keys import anchor_path, key_path, load_key

GENESIS = "0" * 64


@pytest.fixture(autouse=True)
def _no_key_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VRU_AUDIT_KEY", raising=False)
    monkeypatch.delenv("VRU_AUDIT_HEAD", raising=False)


def fill(db: Database, n: int) -> None:
    for i in range(n):
        audit.record(db, actor=f"user{i % 3}", action="read", resource="incidents",
                     purpose="violence_reduction", decision="allow", reason=f"reason {i}",
                     table_versions={"incidents": i}, detail={"i": i})


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


def head_row(db: Database) -> tuple[int, str, str]:
    with db.engine.connect() as conn:
        return tuple(conn.execute(text("SELECT seq, mac, head_mac FROM audit_head")).one())


def put_back(head: tuple[int, str, str]) -> str:
    """SQL that restores a head row saved earlier (a replay: no key needed)."""
    seq, mac, head_mac = head
    return f"UPDATE audit_head SET seq = {seq}, mac = '{mac}', head_mac = '{head_mac}'"


def forged(seq: int) -> str:
    return ("INSERT INTO audit_log (seq, time, actor, purpose, action, resource, table_versions,"
            " decision, reason, detail, mac) VALUES "
            f"({seq}, '2025-01-01T00:00:00.000000Z', 'ghost', 'research', 'export', "
            f"'ed_assaults', '{{}}', 'allow', 'looks legit', '{{}}', '{'ab' * 32}')")


def append(db: Database) -> audit.AuditEntry:
    return audit.record(db, actor="ada", action="read", resource="incidents",
                        purpose="administration", decision="allow", reason="after")


def test_anchor_is_written_private_and_mac_ed(db: Database, tmp_path: Path) -> None:
    assert not anchor_path(tmp_path).exists()  # a fresh home has none until the first entry
    fill(db, 3)
    anchor = anchor_path(tmp_path)
    assert anchor == tmp_path / "keys" / "audit.head"
    assert stat.S_IMODE(anchor.stat().st_mode) == 0o600
    data = json.loads(anchor.read_text())
    assert data["seq"] == 3 and data["mac"] == audit.entries(db)[-1].mac
    assert [p.name for p in anchor.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert audit.verify(db).ok


def test_wiped_log_with_head_reset_is_named(db: Database) -> None:
    fill(db, 12)
    tamper(db, "DELETE FROM audit_log",
           f"UPDATE audit_head SET seq = 0, mac = '{GENESIS}', head_mac = '', anchored = FALSE")
    result = audit.verify(db)
    assert (result.ok, result.entries, result.first_bad) == (False, 0, 1)
    assert "wiped" in result.problem and "records 12 entries" in result.problem
    with pytest.raises(AuditError, match=r"head \(entry 0\) disagrees with the anchor"):
        append(db)
    assert audit.verify(db).entries == 0  # nothing was chained onto the wiped log


def test_truncated_log_with_head_put_back_is_named(db: Database) -> None:
    fill(db, 8)
    old_head = head_row(db)
    fill(db, 4)
    tamper(db, "DELETE FROM audit_log WHERE seq > 8", put_back(old_head))
    result = audit.verify(db)
    assert (result.ok, result.entries, result.first_bad) == (False, 8, 9)
    assert "entries 9-12 deleted from the end" in result.problem
    assert "anchor file records 12" in result.problem and "put back" in result.problem
    with pytest.raises(AuditError, match="disagrees with the anchor"):
        append(db)


def test_head_row_that_disagrees_with_the_anchor_is_named(db: Database) -> None:
    fill(db, 8)
    old_head = head_row(db)
    fill(db, 4)
    tamper(db, put_back(old_head))  # the log is whole; only the head row is old
    result = audit.verify(db)
    assert not result.ok and "head records entry 8" in result.problem
    with pytest.raises(AuditError, match=r"head \(entry 8\) disagrees with the anchor file"):
        append(db)


@pytest.mark.parametrize("gap", [1, 5])
def test_forged_entry_after_the_last_is_named_not_a_crash(db: Database, gap: int) -> None:
    fill(db, 10)
    tamper(db, forged(10 + gap))
    message = rf"audit entry {10 + gap} exists beyond the last entry vru wrote \(10\)"
    with pytest.raises(AuditError, match=message) as caught:
        append(db)
    assert not isinstance(caught.value.__cause__, IntegrityError)
    result = audit.verify(db)
    assert (result.ok, result.entries, result.first_bad) == (False, 11, 10 + gap)
    assert f"entry {10 + gap} was inserted" in result.problem
    assert "after the last entry vru wrote (10)" in result.problem


def test_edited_anchor_is_named(db: Database, tmp_path: Path) -> None:
    fill(db, 5)
    anchor = anchor_path(tmp_path)
    data = json.loads(anchor.read_text())
    anchor.write_text(json.dumps({**data, "seq": 3}))
    result = audit.verify(db)
    assert not result.ok and "was altered" in result.problem and str(anchor) in result.problem
    with pytest.raises(AuditError, match="anchor file .* was altered"):
        append(db)
    anchor.write_text("{ not json")
    result = audit.verify(db)
    assert not result.ok and "unreadable" in result.problem


def test_deleted_anchor_is_named(db: Database, tmp_path: Path) -> None:
    fill(db, 5)
    anchor_path(tmp_path).unlink()
    result = audit.verify(db)
    assert not result.ok and "missing" in result.problem and "5 entries" in result.problem
    with pytest.raises(AuditError, match="anchor file .* is missing"):
        append(db)
    assert not anchor_path(tmp_path).exists()  # not silently re-created


def test_anchor_put_back_from_an_old_copy_is_named(db: Database, tmp_path: Path) -> None:
    fill(db, 3)
    old = anchor_path(tmp_path).read_bytes()
    fill(db, 4)
    anchor_path(tmp_path).write_bytes(old)
    result = audit.verify(db)
    assert (result.ok, result.first_bad) == (False, 4)
    assert "older than the log" in result.problem


def test_writer_that_died_before_anchoring_is_accepted(db: Database, tmp_path: Path) -> None:
    """The state a process leaves when it dies between its commit and the anchor write."""
    fill(db, 6)
    before = anchor_path(tmp_path).read_bytes()
    append(db)  # entry 7 committed ...
    anchor_path(tmp_path).write_bytes(before)  # ... and the anchor still says 6
    assert audit.verify(db) == audit.VerifyResult(True, 7)
    assert append(db).seq == 8  # the next append brings the anchor up to date
    assert json.loads(anchor_path(tmp_path).read_text())["seq"] == 8
    assert audit.verify(db) == audit.VerifyResult(True, 8)


def test_anchor_one_ahead_is_a_deletion_not_a_crash(db: Database, tmp_path: Path) -> None:
    """The opposite order would leave this state after a crash; here it can only be tampering."""
    fill(db, 6)
    old_head = head_row(db)
    append(db)
    tamper(db, "DELETE FROM audit_log WHERE seq = 7", put_back(old_head))
    result = audit.verify(db)
    assert (result.ok, result.first_bad) == (False, 7)
    assert "entry 7 deleted from the end" in result.problem


def test_anchor_of_a_replaced_log_is_named(db: Database, tmp_path: Path) -> None:
    fill(db, 3)
    with db.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM audit_log"))]
    tamper(db, "DELETE FROM audit_log")
    # a genuine log of the same length, but not this one: its entries were written again
    tamper(db, f"UPDATE audit_head SET seq = 0, mac = '{GENESIS}', head_mac = ''")
    anchor = anchor_path(tmp_path).read_bytes()
    anchor_path(tmp_path).unlink()
    fill(db, 3)
    anchor_path(tmp_path).write_bytes(anchor)
    assert rows[2]["mac"] != audit.entries(db)[2].mac
    result = audit.verify(db)
    assert (result.ok, result.first_bad) == (False, 3)
    assert "not the entry the anchor file records" in result.problem


def test_unreadable_entries_are_named(db: Database) -> None:
    fill(db, 6)
    if db.dialect == "sqlite":  # drop NOT NULL the only way SQLite allows: rebuild the table
        loosen = ["CREATE TABLE loose AS SELECT * FROM audit_log", "DROP TABLE audit_log",
                  "ALTER TABLE loose RENAME TO audit_log"]
    else:
        loosen = ["ALTER TABLE audit_log ALTER COLUMN mac DROP NOT NULL"]
    tamper(db, "UPDATE audit_log SET detail = '{not json' WHERE seq = 2")
    result = audit.verify(db)
    assert (result.ok, result.first_bad) == (False, 2) and "not valid JSON" in result.problem
    assert audit.entries(db)[1].detail == {"unreadable": "{not json"}
    tamper(db, *loosen, "UPDATE audit_log SET detail = '{}' WHERE seq = 2")
    tamper(db, "UPDATE audit_log SET mac = NULL WHERE seq = 4")
    result = audit.verify(db)
    assert not result.ok and result.first_bad in (2, 4)
    tamper(db, "UPDATE audit_log SET mac = NULL WHERE seq = 1")
    result = audit.verify(db)
    assert (result.ok, result.first_bad) == (False, 1) and "mac is empty" in result.problem


def _home_db(home: Path) -> Database:
    return connect(home, f"sqlite:///{home / 'vru.db'}")


def test_deleted_key_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    db = _home_db(tmp_path)
    fill(db, 3)
    db.dispose()
    key_file = key_path(tmp_path, "audit")
    key_file.unlink()
    with pytest.raises(SettingsError, match="audit key .*audit.key is missing") as caught:
        load_key(tmp_path, "audit", create=True)
    assert "restore the key file from backup" in str(caught.value)
    assert "VRU_AUDIT_KEY" in str(caught.value)
    db = _home_db(tmp_path)
    try:
        with pytest.raises(AuditError, match="audit.key is missing"):
            append(db)
        result = audit.verify(db)
        assert (result.ok, result.entries) == (False, 3)
        assert "audit.key is missing" in result.problem and "backup" in result.problem
        assert not key_file.exists()
    finally:
        db.dispose()


def test_lost_keys_directory_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    db = _home_db(tmp_path)
    fill(db, 3)
    db.dispose()
    for path in (tmp_path / "keys").iterdir():
        path.unlink()
    db = _home_db(tmp_path)
    try:
        with pytest.raises(AuditError, match="missing.*holds 3 audit entries"):
            append(db)
        assert "holds 3 audit entries" in audit.verify(db).problem
        assert not key_path(tmp_path, "audit").exists()
    finally:
        db.dispose()


def test_fresh_home_still_creates_its_key(tmp_path: Path) -> None:
    db = _home_db(tmp_path)
    try:
        assert audit.verify(db) == audit.VerifyResult(True, 0)
        append(db)
        assert key_path(tmp_path, "audit").exists() and audit.verify(db).ok
    finally:
        db.dispose()


def test_anchor_location_from_the_environment(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VRU_AUDIT_KEY", "k" * 48)
    monkeypatch.setenv("VRU_AUDIT_HEAD", str(tmp_path / "shared" / "audit.head"))
    db = _home_db(tmp_path / "home")
    try:
        fill(db, 2)
        assert (tmp_path / "shared" / "audit.head").exists()
        assert not (tmp_path / "home" / "keys" / "audit.head").exists()
        assert audit.verify(db).ok
        (tmp_path / "shared" / "audit.head").unlink()
        assert "missing" in audit.verify(db).problem
    finally:
        db.dispose()


def test_log_written_before_the_anchor_is_adopted(db: Database, tmp_path: Path) -> None:
    fill(db, 4)
    # what a home upgraded from before the anchor looks like
    anchor_path(tmp_path).unlink()
    tamper(db, "UPDATE audit_head SET anchored = FALSE")
    assert audit.verify(db) == audit.VerifyResult(True, 4)
    assert append(db).seq == 5
    assert json.loads(anchor_path(tmp_path).read_text())["seq"] == 5
    anchor_path(tmp_path).unlink()  # from now on a missing anchor is a fault
    assert "missing" in audit.verify(db).problem


def test_clearing_the_anchored_flag_does_not_hide_a_wipe(db: Database) -> None:
    fill(db, 4)
    tamper(db, "DELETE FROM audit_log",
           f"UPDATE audit_head SET seq = 0, mac = '{GENESIS}', head_mac = '', anchored = FALSE")
    assert "wiped" in audit.verify(db).problem


def test_long_values_are_kept_whole(db: Database) -> None:
    resource = ",".join(f"table_{i:03d}" for i in range(40))  # 359 characters
    reason = "r" * 20_000
    entry = audit.record(db, actor="ada", action="write", resource=resource,
                         purpose="administration", decision="allow", reason=reason,
                         detail={"sql": "x" * 50_000})
    stored = audit.entries(db)[-1]
    assert len(stored.resource) == 200 and stored.detail["full_resource"] == resource
    assert stored.reason == reason and stored.detail["sql"] == "x" * 50_000
    assert entry.detail == stored.detail
    assert audit.verify(db).ok


def test_refusal_records_a_deny_with_its_stage(db: Database) -> None:
    entry = audit.refusal(db, actor="vic", action="export", resource="ed_assaults",
                          purpose="nonsense", reason="unknown purpose 'nonsense'",
                          stage="parse", detail={"argv": ["--purpose", "nonsense"]})
    stored = audit.entries(db)[-1]
    assert stored == entry and stored.decision == "deny"
    assert stored.detail == {"stage": "parse", "argv": ["--purpose", "nonsense"]}
    with pytest.raises(AuditError, match="stage"):
        audit.refusal(db, actor="vic", action="export", resource="x", purpose="p",
                      reason="r", stage="")
    assert audit.verify(db) == audit.VerifyResult(True, 1)
