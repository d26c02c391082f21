"""Tamper-evident audit log: HMAC-chained entries, a MACed head row and an anchor file.

The key lives outside the database (``VRU_AUDIT_KEY`` or ``<home>/keys/audit.key``), so
someone who can write to the database can neither forge an entry nor hide a change:
`verify` recomputes the chain and names the first entry that was edited, deleted, inserted
or moved. A MACed head row (last seq and MAC) catches entries deleted from the end; because
an old head row can be put back (or the genesis row restored) by anyone who can write the
database, the same two values are also kept, MACed, in an anchor file beside the key
(``<home>/keys/audit.head`` or ``VRU_AUDIT_HEAD``), which catches a wiped or truncated log.

Order of writes (why a crash is safe): `record` holds an exclusive lock on
``<anchor>.lock`` from before its transaction until the anchor is written, commits the entry
first and writes the anchor second. A process that dies in between leaves the log one entry
*ahead* of the anchor, never behind it, and that entry is chain-valid: only the key holder
can make one, so accepting "anchor exactly one behind, and it names the log's previous
entry" lets nothing through that an attacker without the key could produce. The opposite
order would leave the anchor one ahead after a crash, which looks exactly like the last
entry deleted with the head row put back, so it could not be accepted. `verify` reads the
anchor and the head under a shared lock, so it never sees a writer between the two steps;
the next `record` brings a lagging anchor up to date.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from vru.governance._common import dumps, loads, utc_now
from vru.governance.db import Database
from vru.governance.errors import AuditError, SettingsError
from vru.governance.keys import anchor_path, key_available, missing_audit_key_message
from vru.governance.schema import audit_head, audit_log

GENESIS = "0" * 64
DECISIONS = ("allow", "deny")
_WINDOW = 50  # entries either side of a failure searched to say what kind of tampering it was


@dataclass(frozen=True)
class AuditEntry:
    """One audit log entry."""

    seq: int
    time: str
    actor: str
    purpose: str
    action: str
    resource: str
    table_versions: dict[str, int]
    decision: str
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)
    mac: str = ""


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of `verify`.

    Attributes
    ----------
    ok
        True when every entry and the head check out.
    entries
        How many entries the log holds.
    first_bad
        The sequence number of the first entry at fault (None when ok, or when only the head
        is at fault).
    problem
        What is wrong, in words; "" when ok.
    """

    ok: bool
    entries: int
    first_bad: int | None = None
    problem: str = ""


def _mac(key: bytes, prev: str, seq: int, row: Any) -> str:
    """MAC of an entry: HMAC-SHA256 over the previous MAC and the entry's canonical form."""
    canonical = dumps({
        "seq": seq, "time": row.time, "actor": row.actor, "purpose": row.purpose,
        "action": row.action, "resource": row.resource,
        # The stored JSON text itself, so the MAC covers exactly the bytes in the database.
        "table_versions": row.table_versions, "decision": row.decision,
        "reason": row.reason, "detail": row.detail,
    })
    return hmac.new(key, f"{prev}\n{canonical}".encode(), hashlib.sha256).hexdigest()


def _head_mac(key: bytes, seq: int, mac: str) -> str:
    return hmac.new(key, f"head\n{seq}\n{mac}".encode(), hashlib.sha256).hexdigest()


def _head_ok(key: bytes, head: Any) -> bool:
    if head.seq == 0 and head.head_mac == "":
        return head.mac == GENESIS
    return hmac.compare_digest(head.head_mac, _head_mac(key, head.seq, head.mac))


@dataclass(frozen=True)
class _Row:
    """Column values of an entry about to be written (duck-types a result row for `_mac`)."""

    time: str
    actor: str
    purpose: str
    action: str
    resource: str
    table_versions: str
    decision: str
    reason: str
    detail: str


#: The lengths of the columns `record` cuts a value to (the whole value goes in detail).
_LIMITS = {"actor": 64, "purpose": 64, "action": 32, "resource": 200}
#: The stages a refusal is recorded at (other words are allowed; these are the usual ones).
REFUSAL_STAGES = ("parse", "policy", "login", "throttle", "release", "agreement", "ethics")


@dataclass(frozen=True)
class _Anchor:
    seq: int
    mac: str


def _anchor_mac(key: bytes, seq: int, mac: str) -> str:
    return hmac.new(key, f"anchor\n{seq}\n{mac}".encode(), hashlib.sha256).hexdigest()


def _load_anchor(path: Path, key: bytes) -> tuple[_Anchor | None, str]:
    """Read the anchor file: (anchor, "") or (None, "") when absent, (None, fault) if bad."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, ""
    except OSError as exc:
        return None, f"the audit anchor file {path} cannot be read ({exc})"
    try:
        data = json.loads(text)
        seq, mac, check = data["seq"], data["mac"], data["anchor_mac"]
        if not (isinstance(seq, int) and isinstance(mac, str) and isinstance(check, str)):
            raise TypeError("wrong types")
    except (ValueError, KeyError, TypeError):
        return None, (f"the audit anchor file {path} is unreadable (not vru's format): it was "
                      "altered or replaced; restore it from backup")
    if not hmac.compare_digest(check, _anchor_mac(key, seq, mac)):
        return None, (f"the audit anchor file {path} was altered (its MAC does not match the "
                      "audit key); restore it from backup")
    return _Anchor(seq, mac), ""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: The anchor is one fixed-size record rewritten in place: one write well inside a disk
#: sector and one fsync per entry (a temp file and a rename cost two fsyncs more, and the
#: policy point pays them on every request).
ANCHOR_BYTES = 256


def _write_anchor(path: Path, key: bytes, seq: int, mac: str) -> None:
    """Rewrite the anchor in place (mode 0600), padded to `ANCHOR_BYTES`, and fsync it."""
    body = json.dumps({"seq": seq, "mac": mac, "anchor_mac": _anchor_mac(key, seq, mac)})
    data = body.encode().ljust(ANCHOR_BYTES - 1) + b"\n"
    created = not path.exists()
    if created:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)  # the new file's name must survive a power cut


@contextmanager
def _locked(anchor: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold ``<anchor>.lock``: exclusive while appending, shared while taking a snapshot."""
    lock = anchor.with_name(anchor.name + ".lock")
    if exclusive:
        anchor.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        if exclusive:
            raise AuditError(f"cannot open the audit lock file {lock}: {exc}") from exc
        yield  # a reader without the directory (a fresh home) has nothing to wait for
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _key(db: Database) -> bytes:
    """The audit key; an error, never a new key, when it is gone but the log holds entries."""
    # Database.audit_key would create a fresh key file: only right for an empty log.
    if db._audit_key is None and not key_available(db.home, "audit"):
        with db.engine.connect() as conn:
            held = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
            head_seq = conn.execute(select(audit_head.c.seq)
                                    .where(audit_head.c.id == 1)).scalar()
        if held or (head_seq or 0) > 0:
            raise AuditError(missing_audit_key_message(
                db.home, f"the metadata database holds {max(held, head_seq or 0)} audit "
                "entries written with one"))
    try:
        return db.audit_key
    except SettingsError as exc:
        raise AuditError(str(exc)) from exc


def _beyond(seq: int, last: int) -> str:
    return (f"audit entry {seq} exists beyond the last entry vru wrote ({last}): it was added "
            "without vru; run `vru audit verify`")


def _check_append(conn: Connection, head: Any, anchor: _Anchor | None, path: Path) -> None:
    """Refuse to extend a log whose head row disagrees with the anchor file."""
    if anchor is None:
        if head.seq == 0 or not head.anchored:
            return  # a fresh log, or one written before vru kept an anchor: adopt its head
        raise AuditError(f"the audit anchor file {path} is missing, but the log holds "
                         f"{head.seq} entries: restore it from backup (it belongs beside the "
                         "audit key); vru will not extend a log it cannot check. Run "
                         "`vru audit verify`")
    if anchor.seq == head.seq and hmac.compare_digest(anchor.mac, head.mac):
        return
    if anchor.seq == head.seq - 1:  # a writer died between its commit and the anchor
        prev = GENESIS if anchor.seq == 0 else conn.execute(
            select(audit_log.c.mac).where(audit_log.c.seq == anchor.seq)).scalar()
        if isinstance(prev, str) and hmac.compare_digest(prev, anchor.mac):
            return
    fresh = (" (a deliberately new database belongs in a new home: this home's audit key and "
             "anchor belong to the old one)") if head.seq == 0 else ""
    raise AuditError(f"the audit log's head (entry {head.seq}) disagrees with the anchor file "
                     f"{path} (entry {anchor.seq}): entries were deleted or the log was reset, "
                     f"so vru will not extend it; run `vru audit verify` and investigate{fresh}")


def _cut(values: dict[str, str], detail: dict[str, Any]) -> dict[str, str]:
    """Cut each value to its column; keep the whole value in ``detail["full_<column>"]``."""
    cut = {}
    for column, value in values.items():
        limit = _LIMITS[column]
        if len(value) > limit:
            detail[f"full_{column}"] = value
        cut[column] = value[:limit]
    return cut


def _append(db: Database, rows: list[_Row]) -> list[tuple[int, str]]:
    """Chain ``rows`` onto the log in one transaction and one anchor write: (seq, MAC) each."""
    key = _key(db)
    path = anchor_path(db.home)
    out: list[tuple[int, str]] = []
    seq = 0
    # The file lock spans commit and anchor write (see the module docstring); inside it,
    # BEGIN IMMEDIATE on SQLite and the head row locked FOR UPDATE on PostgreSQL keep out
    # anything that appends without taking the file lock.
    with _locked(path, exclusive=True):
        try:
            with db.begin(exclusive=True) as conn:
                head = conn.execute(select(audit_head).where(audit_head.c.id == 1)
                                    .with_for_update()).first()
                if head is None or not _head_ok(key, head):
                    raise AuditError("the audit log's head record is missing or was altered, "
                                     "so the log cannot be extended; run `vru audit verify` "
                                     "and investigate")
                anchor, fault = _load_anchor(path, key)
                if fault:
                    raise AuditError(f"{fault}; vru will not extend the audit log until it "
                                     "checks out (run `vru audit verify`)")
                _check_append(conn, head, anchor, path)
                extra = conn.execute(select(func.min(audit_log.c.seq))
                                     .where(audit_log.c.seq > head.seq)).scalar()
                if extra is not None:
                    raise AuditError(_beyond(extra, head.seq))
                seq, mac = head.seq, head.mac
                for row in rows:
                    seq += 1
                    mac = _mac(key, mac, seq, row)
                    conn.execute(insert(audit_log).values(seq=seq, mac=mac, **row.__dict__))
                    out.append((seq, mac))
                conn.execute(update(audit_head).where(audit_head.c.id == 1)
                             .values(seq=seq, mac=mac, head_mac=_head_mac(key, seq, mac),
                                     anchored=True))
        except IntegrityError as exc:
            # A row was slipped in at our seq after the check (possible on PostgreSQL).
            raise AuditError(_beyond(seq, seq - 1)) from exc
        try:
            _write_anchor(path, key, seq, mac)
        except OSError as exc:
            raise AuditError(f"audit entry {seq} was written but the anchor file {path} could "
                             f"not be updated ({exc}); fix the file system, then run `vru audit "
                             "verify`") from exc
    return out


class _Group:
    """Group commit for the threads of one process appending to one log.

    The thread that finds no append under way leads: it writes every entry waiting at that
    moment (its own among them) in one transaction with one fsync of the anchor, then hands
    the lead to the first entry that arrived meanwhile. Each caller returns only once its
    own entry is committed and anchored, and an error reaches every caller whose entry was in
    the round. A lone caller (the CLI) writes alone, exactly as before; twenty browsers
    share rounds instead of queueing for a lock and an fsync each.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiting: list[tuple[_Row, dict[str, Any], threading.Event]] = []
        self._writing = False

    def append(self, db: Database, row: _Row) -> tuple[int, str]:
        slot: dict[str, Any] = {}
        done = threading.Event()
        with self._mutex:
            self._waiting.append((row, slot, done))
            lead = not self._writing
            self._writing = True
        if not lead:
            done.wait()
            lead = slot.pop("lead", False)
        if lead:
            with self._mutex:
                batch, self._waiting = self._waiting, []
            try:
                results = _append(db, [r for r, _, _ in batch])
            except BaseException as exc:  # no entry of the round was written
                for _, s, _ev in batch:
                    s["error"] = exc
            else:
                for (_, s, _ev), res in zip(batch, results, strict=True):
                    s["result"] = res
            with self._mutex:
                if self._waiting:  # arrived during the round: the first of them leads next
                    nxt = self._waiting[0]
                    nxt[1]["lead"] = True
                    nxt[2].set()
                else:
                    self._writing = False
            for _, _s, ev in batch:
                ev.set()
        if "error" in slot:
            raise slot["error"]
        return slot["result"]


#: One group per database (URL and home) in this process.
_GROUPS: dict[tuple[str, str], _Group] = {}


def record(db: Database, *, actor: str, action: str, resource: str, purpose: str,
           decision: str, reason: str, table_versions: Mapping[str, int] | None = None,
           detail: Mapping[str, Any] | None = None) -> AuditEntry:
    """Append an entry to the audit log and return it.

    Parameters
    ----------
    db
        The metadata database.
    actor, action, resource, purpose
        Who did what to which table or output, and why. A value longer than its column
        (64, 32, 200 and 64 characters) is cut there and kept whole in
        ``detail["full_<name>"]``; ``reason`` and ``detail`` are never cut.
    decision
        "allow" or "deny".
    reason
        Why, in words.
    table_versions
        Lake table -> Delta version read or written.
    detail
        Anything else worth keeping (JSON-serialisable).

    Raises
    ------
    AuditError
        When the decision is invalid; when the audit key is missing although the log holds
        entries; when the head row is missing or altered, disagrees with the anchor file, or
        the anchor is missing or altered; when an entry exists beyond the last one vru
        wrote. vru then refuses to extend the chain: a new entry would vouch for tampering.
    """
    if decision not in DECISIONS:
        raise AuditError(f"decision must be 'allow' or 'deny', got {decision!r}")
    full = dict(detail or {})
    cut = _cut({"actor": str(actor), "purpose": str(purpose), "action": str(action),
                "resource": str(resource)}, full)
    row = _Row(time=utc_now(), **cut, table_versions=dumps(dict(table_versions or {})),
               decision=decision, reason=str(reason), detail=dumps(full))
    seq, mac = _GROUPS.setdefault((str(db.url), str(db.home)), _Group()).append(db, row)
    return AuditEntry(seq=seq, time=row.time, actor=row.actor, purpose=row.purpose,
                      action=row.action, resource=row.resource,
                      table_versions=dict(table_versions or {}), decision=decision,
                      reason=row.reason, detail=loads(row.detail), mac=mac)


def refusal(db: Database, *, actor: str, action: str, resource: str, purpose: str,
            reason: str, stage: str, detail: Mapping[str, Any] | None = None,
            table_versions: Mapping[str, int] | None = None) -> AuditEntry:
    """Record a refusal (a ``deny``) made at ``stage``, the same way wherever it is made.

    Parameters
    ----------
    db
        The metadata database.
    actor, action, resource, purpose
        As given by the person refused (unknown purposes and actions included).
    reason
        Why, in words; kept whole.
    stage
        Where the request was stopped, one of `REFUSAL_STAGES` usually: "parse" (the request
        could not be understood), "policy", "login", "throttle", "release" (disclosure
        control withheld the output)...; stored as ``detail["stage"]``.
    detail
        Anything else worth keeping; never secrets such as passwords.
    table_versions
        Lake table -> Delta version, when the refusal concerns a version read.

    Returns
    -------
    AuditEntry
        The entry written.

    Raises
    ------
    AuditError
        When ``stage`` is empty, or as `record`.
    """
    if not isinstance(stage, str) or not stage.strip():
        raise AuditError(f"a refusal needs the stage it was made at (e.g. "
                         f"{', '.join(REFUSAL_STAGES)}), got {stage!r}")
    merged = {**dict(detail or {}), "stage": stage}
    return record(db, actor=actor, action=action, resource=resource, purpose=purpose,
                  decision="deny", reason=reason, table_versions=table_versions, detail=merged)


def _json(text: Any) -> Any:
    """Parse a JSON column; text that is not JSON (a damaged row) is returned as it is."""
    try:
        return loads(text)
    except (TypeError, ValueError):
        return text


def _entry(row: Any) -> AuditEntry:
    versions, detail = _json(row.table_versions), _json(row.detail)
    return AuditEntry(seq=row.seq, time=row.time, actor=row.actor, purpose=row.purpose,
                      action=row.action, resource=row.resource,
                      table_versions=versions if isinstance(versions, dict) else {},
                      decision=row.decision, reason=row.reason,
                      detail=detail if isinstance(detail, dict) else
                      {"unreadable": detail} if detail else {}, mac=row.mac)


def entries(db: Database, *, actor: str | None = None, dataset: str | None = None,
            since: str | None = None, limit: int | None = None) -> list[AuditEntry]:
    """Return audit entries, oldest first.

    Parameters
    ----------
    actor
        Only this actor's entries.
    dataset
        Only entries that concern this dataset: as the resource, as a table version read or
        written, or as an input of an analysis output (what a partner data owner may see).
    since
        Only entries at or after this UTC time (ISO 8601 text, e.g. "2025-01-01").
    limit
        At most this many (the newest ones).
    """
    query = select(audit_log)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if since is not None:
        query = query.where(audit_log.c.time >= since)
    if dataset is not None:
        quoted = f'%"{dataset}"%'
        query = query.where(or_(audit_log.c.resource == dataset,
                                audit_log.c.table_versions.like(quoted),
                                audit_log.c.detail.like(quoted)))
    query = query.order_by(audit_log.c.seq.desc())
    if limit is not None:
        query = query.limit(limit)
    with db.engine.connect() as conn:
        found = [_entry(r) for r in conn.execute(query)]
    if dataset is not None:  # LIKE is a coarse prefilter; keep only real mentions
        found = [e for e in found if e.resource == dataset or dataset in e.table_versions
                 or dataset in (e.detail.get("inputs") or [])]
    return found[::-1]


def _genuine(key: bytes, row: Any, prev: Any, seq: int) -> bool:
    """True when ``row`` carries the MAC vru would give it as entry ``seq`` after ``prev``."""
    if not isinstance(row.mac, str) or not isinstance(prev, str):
        return False
    return hmac.compare_digest(row.mac, _mac(key, prev, seq, row))


def _damage(row: Any) -> str:
    """Describe what makes ``row`` unreadable (NULL or non-JSON columns), or ""."""
    found = []
    for column in ("time", "actor", "purpose", "action", "resource", "decision", "reason",
                   "mac", "table_versions", "detail"):
        value = getattr(row, column)
        if value is None:
            found.append(f"{column} is empty (NULL)")
        elif column in ("table_versions", "detail"):
            try:
                json.loads(value)
            except (TypeError, ValueError):
                found.append(f"{column} is not valid JSON")
    return f" ({'; '.join(found)})" if found else ""


@dataclass(frozen=True)
class _Snapshot:
    """What `verify` reads under the shared lock: the head row, the anchor, the log's extent."""

    total: int
    last_seq: int
    head: Any
    anchor: _Anchor | None
    anchor_fault: str


def _snapshot(db: Database, key: bytes, path: Path) -> _Snapshot:
    # Under the shared lock no writer sits between its commit and its anchor write.
    with _locked(path, exclusive=False), db.engine.connect() as conn:
        total, last_seq = conn.execute(select(func.count(), func.max(audit_log.c.seq))).one()
        head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).first()
        anchor, fault = _load_anchor(path, key)
    return _Snapshot(total, last_seq or 0, head, anchor, fault)


def verify(db: Database) -> VerifyResult:
    """Recompute the chain, the head row and the anchor file; name the first fault.

    Returns
    -------
    VerifyResult
        ``ok`` is False when an entry was edited, deleted (anywhere, including the end, and
        with the head row put back to match), inserted or reordered, when the whole log was
        wiped, when the head row or the anchor file is missing, altered or disagrees with
        the log, or when the audit key is missing; ``first_bad`` and ``problem`` say which
        and how. Entries appended while verify runs are left for the next run.
    """
    path = anchor_path(db.home)
    try:
        key = _key(db)
    except AuditError as exc:
        with db.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
        return VerifyResult(False, total, None, f"cannot check the audit log: {exc}")
    snap = _snapshot(db, key, path)
    head, anchor, total = snap.head, snap.anchor, snap.total
    head_ok = head is not None and _head_ok(key, head)
    trusted = max(([head.seq] if head_ok else []) + ([anchor.seq] if anchor else []),
                  default=None)
    prev, expected, anchored_mac = GENESIS, 1, GENESIS if anchor and anchor.seq == 0 else None
    with db.engine.connect() as conn:
        rows = conn.execution_options(yield_per=1000).execute(
            select(audit_log).where(audit_log.c.seq <= snap.last_seq).order_by(audit_log.c.seq))
        for row in rows:
            if row.seq != expected or not _genuine(key, row, prev, row.seq):
                rows.close()
                first_bad, problem = _diagnose(conn, key, row, prev, expected, trusted,
                                               head_ok)
                return VerifyResult(False, total, first_bad, problem + _damage(row))
            if anchor is not None and row.seq == anchor.seq:
                anchored_mac = row.mac
            prev, expected = row.mac, expected + 1
    last = expected - 1
    fault = _anchor_fault(snap, path, head_ok, last, anchored_mac)
    if fault:
        return VerifyResult(False, total, *fault)
    if head is None:
        return VerifyResult(False, total, None, "the audit head record is missing")
    if not head_ok:
        return VerifyResult(False, total, None, "the audit head record was altered (its MAC "
                            "does not match)")
    if head.seq > last:
        gone = f"entry {last + 1}" if head.seq == last + 1 else f"entries {last + 1}-{head.seq}"
        return VerifyResult(False, total, last + 1, f"{gone} deleted from the end of the log "
                            f"(the head records {head.seq} entries, {last} remain)")
    if head.seq != last or head.mac != prev:
        return VerifyResult(False, total, head.seq + 1, f"the head records entry {head.seq} "
                            f"as the last, but the log goes on to {last}")
    return VerifyResult(True, total)


def _anchor_fault(snap: _Snapshot, path: Path, head_ok: bool, last: int,
                  anchored_mac: str | None) -> tuple[int | None, str] | None:
    """Compare the (chain-valid) log, ``last`` entries long, with the anchor file."""
    head, anchor = snap.head, snap.anchor
    if snap.anchor_fault:
        return None, snap.anchor_fault
    if anchor is None:
        legacy = head_ok and not head.anchored  # written before vru kept an anchor
        if last == 0 and (head is None or head.seq == 0) or legacy:
            return None
        held = max(last, head.seq if head_ok else 0)
        return None, (f"the audit anchor file {path} is missing, but the log holds {held} "
                      "entries: it was deleted (restore it from backup, with the audit key)")
    if anchor.seq > last:
        reset = " and the head row was put back to match" if head_ok and head.seq == last else ""
        if last == 0:
            return 1, (f"the audit log was wiped: the anchor file records {anchor.seq} "
                       f"entries, the log holds none{reset}")
        gone = f"entry {anchor.seq}" if anchor.seq == last + 1 else \
            f"entries {last + 1}-{anchor.seq}"
        return last + 1, (f"{gone} deleted from the end of the log (the anchor file records "
                          f"{anchor.seq} entries, {last} remain){reset}")
    if anchored_mac is None or not hmac.compare_digest(anchored_mac, anchor.mac):
        return anchor.seq, (f"entry {anchor.seq} is not the entry the anchor file records: "
                            "the log was replaced or rewritten (another home's log, or an old "
                            "copy)")
    if anchor.seq < last - 1:
        return anchor.seq + 1, (f"the anchor file records entry {anchor.seq} as the last but "
                                f"the log goes on to {last}: the anchor is older than the log "
                                "(put back from an old copy, or vru ran with another "
                                "VRU_AUDIT_HEAD)")
    # anchor.seq == last - 1: the writer of entry `last` died before updating the anchor.
    # Entry `last` is chain-valid, so only the key holder wrote it; the head row must agree.
    return None


def _diagnose(conn: Connection, key: bytes, bad: Any, prev: str, expected: int,
              head_seq: int | None, head_ok: bool) -> tuple[int, str]:
    """Say what kind of tampering makes ``bad`` fail, looking at the entries around it.

    ``head_seq`` is the last entry vru is known to have written (head row or anchor file).
    """
    s = bad.seq
    if head_seq is not None and s > head_seq:  # beyond anything vru wrote: never a deletion
        return s, (f"entry {s} was inserted: it comes after the last entry vru wrote "
                   f"({head_seq}) and has no valid MAC")
    if s > expected:
        gone = f"entry {expected} is" if s == expected + 1 else f"entries {expected}-{s - 1} are"
        return expected, (f"{gone} missing: deleted from the log (the chain jumps from entry "
                          f"{expected - 1} to {s})")
    window = conn.execute(select(audit_log).where(audit_log.c.seq.between(s - _WINDOW,
                                                                          s + _WINDOW))
                          .order_by(audit_log.c.seq)).all()
    nxt = next((r for r in window if r.seq > s), None)

    def genuine(row: Any, prev_mac: Any, seq: int) -> bool:
        return _genuine(key, row, prev_mac, seq)

    if nxt is not None and genuine(nxt, bad.mac, nxt.seq):
        return s, f"entry {s} was edited: its content no longer matches its MAC"
    macs = [GENESIS] + [r.mac for r in window]
    for seq in range(max(1, s - _WINDOW), s + _WINDOW + 1):
        if any(genuine(bad, m, seq) for m in macs):
            if seq != s:
                return s, (f"entry {s} is out of place: it was written as entry {seq} "
                           "(entries were reordered)")
            return s, (f"entry {s} is genuine but does not follow entry {s - 1}: the entries "
                       "before it were reordered or replaced")
    if nxt is not None and (genuine(nxt, prev, nxt.seq - 1) or genuine(nxt, prev, nxt.seq)):
        return s, f"entry {s} was inserted: it has no valid MAC and the chain continues without it"
    if nxt is not None:
        for gap in range(1, _WINDOW + 1):
            if genuine(nxt, bad.mac, nxt.seq + gap):
                return s, (f"{gap} entr{'y' if gap == 1 else 'ies'} before entry {s} "
                           "were deleted and the later entries renumbered to hide it")
    if s == 1 and not head_ok:
        return s, ("entry 1 does not match its MAC and neither does the head record: the audit "
                   "key in use is not the one that wrote this log (restore the key from backup "
                   "or set VRU_AUDIT_KEY), or the whole log was rewritten")
    if nxt is None:
        return s, (f"entry {s}, the last, does not match its MAC: it was changed, or added "
                   "without the audit key")
    return s, (f"entry {s} does not match its MAC: it was changed, or entries around it were "
               "deleted, inserted or reordered")
