"""Tamper-evident audit log: each entry HMAC-SHA256-chained to the one before it.

The key lives outside the database (``VRU_AUDIT_KEY`` or ``<home>/keys/audit.key``), so
someone who can write to the database can neither forge an entry nor hide a change:
`verify` recomputes the chain and names the first entry that was edited, deleted, inserted
or moved. A MACed head row (last seq and MAC) catches entries deleted from the end.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from vru.governance._common import dumps, loads, utc_now
from vru.governance.db import Database
from vru.governance.errors import AuditError
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


def record(db: Database, *, actor: str, action: str, resource: str, purpose: str,
           decision: str, reason: str, table_versions: Mapping[str, int] | None = None,
           detail: Mapping[str, Any] | None = None) -> AuditEntry:
    """Append an entry to the audit log and return it.

    Parameters
    ----------
    db
        The metadata database.
    actor, action, resource, purpose
        Who did what to which table or output, and why.
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
        When the decision is invalid, or the log's head was tampered with (vru then
        refuses to extend the chain: a new entry would otherwise vouch for the tampering).
    """
    if decision not in DECISIONS:
        raise AuditError(f"decision must be 'allow' or 'deny', got {decision!r}")
    key = db.audit_key
    row = _Row(time=utc_now(), actor=str(actor)[:64], purpose=str(purpose)[:64],
               action=str(action)[:32], resource=str(resource)[:200],
               table_versions=dumps(dict(table_versions or {})), decision=decision,
               reason=str(reason), detail=dumps(dict(detail or {})))
    # BEGIN IMMEDIATE on SQLite, the head row locked FOR UPDATE on PostgreSQL: appenders
    # queue here, so two processes can never chain onto the same previous entry.
    with db.begin(exclusive=True) as conn:
        head = conn.execute(select(audit_head).where(audit_head.c.id == 1)
                            .with_for_update()).first()
        if head is None or not _head_ok(key, head):
            raise AuditError("the audit log's head record is missing or was altered, so the "
                             "log cannot be extended; run `vru audit verify` and investigate")
        seq = head.seq + 1
        mac = _mac(key, head.mac, seq, row)
        conn.execute(insert(audit_log).values(seq=seq, mac=mac, **row.__dict__))
        conn.execute(update(audit_head).where(audit_head.c.id == 1)
                     .values(seq=seq, mac=mac, head_mac=_head_mac(key, seq, mac)))
    return AuditEntry(seq=seq, time=row.time, actor=row.actor, purpose=row.purpose,
                      action=row.action, resource=row.resource,
                      table_versions=dict(table_versions or {}), decision=decision,
                      reason=row.reason, detail=loads(row.detail), mac=mac)


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(seq=row.seq, time=row.time, actor=row.actor, purpose=row.purpose,
                      action=row.action, resource=row.resource,
                      table_versions=loads(row.table_versions) or {}, decision=row.decision,
                      reason=row.reason, detail=loads(row.detail) or {}, mac=row.mac)


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


def verify(db: Database) -> VerifyResult:
    """Recompute the chain and the head; name the first entry at fault.

    Returns
    -------
    VerifyResult
        ``ok`` is False when an entry was edited, deleted (anywhere, including the end),
        inserted or reordered; ``first_bad`` and ``problem`` say which and how.
    """
    key = db.audit_key
    with db.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
        head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).first()
        head_ok = head is not None and _head_ok(key, head)
        prev, expected = GENESIS, 1
        rows = conn.execution_options(yield_per=1000).execute(
            select(audit_log).order_by(audit_log.c.seq))
        for row in rows:
            if row.seq != expected or not hmac.compare_digest(row.mac,
                                                              _mac(key, prev, row.seq, row)):
                rows.close()
                first_bad, problem = _diagnose(conn, key, row, prev, expected,
                                               head.seq if head_ok else None)
                return VerifyResult(False, total, first_bad, problem)
            prev, expected = row.mac, expected + 1
    last = expected - 1
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


def _diagnose(conn: Connection, key: bytes, bad: Any, prev: str, expected: int,
              head_seq: int | None) -> tuple[int, str]:
    """Say what kind of tampering makes ``bad`` fail, looking at the entries around it."""
    s = bad.seq
    if s > expected:
        gone = f"entry {expected} is" if s == expected + 1 else f"entries {expected}-{s - 1} are"
        return expected, (f"{gone} missing: deleted from the log (the chain jumps from entry "
                          f"{expected - 1} to {s})")
    if head_seq is not None and s > head_seq:
        return s, (f"entry {s} was inserted: it comes after the last entry vru wrote "
                   f"({head_seq}) and has no valid MAC")
    window = conn.execute(select(audit_log).where(audit_log.c.seq.between(s - _WINDOW,
                                                                          s + _WINDOW))
                          .order_by(audit_log.c.seq)).all()
    nxt = next((r for r in window if r.seq > s), None)

    def genuine(row: Any, prev_mac: str, seq: int) -> bool:
        return hmac.compare_digest(row.mac, _mac(key, prev_mac, seq, row))

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
    if nxt is None:
        return s, (f"entry {s}, the last, does not match its MAC: it was changed, or added "
                   "without the audit key")
    return s, (f"entry {s} does not match its MAC: it was changed, or entries around it were "
               "deleted, inserted or reordered")
