"""Retention: delete rows past their agreement's retention period, so no file keeps them.

For every dataset with a data sharing agreement, `apply_retention` asks the policy
(action "retention"), deletes the rows dated before the cutoff
(`vru.governance.agreements.retention_due`), and then makes the deletion physical:

- ``DeltaTable.delete`` only writes a new version; the old Parquet files still hold the rows,
  so the table is vacuumed with no retention window (``retention_hours=0``).
- Delta's log keeps, in each old commit's JSON, the ``add`` action of every file it wrote,
  with min/max statistics of its columns: the deleted values themselves. So a checkpoint is
  written at the new version and every older commit JSON, checkpoint and ``.crc`` is
  removed. Time travel to versions before retention is gone with them, which is the point:
  those versions held the deleted rows. (Audit entries still name the versions they read.)
- Quarantined lines of the dataset's files are raw text as the partner sent it. A line is
  purged when it was quarantined in a batch before the cutoff (a row sent before the cutoff
  describes an event before it), when every date written in it (``YYYY-MM-DD`` or
  ``DD/MM/YYYY``) is before the cutoff, or when its file's rows are all past retention.
  Quarantine is rewritten without them and purged the same way.
- Staging folders left by a killed ingest are removed.

The date a row is judged by: ``ed_assaults.arrival``; for ``incidents`` the time it
occurred (else its month), for rows from partner forces only (data.police.uk rows are public
open data, not shared under an agreement); for a partner table the contract's
``date_column``, read from the Delta table property ``vru.date_column`` (or given in
``date_columns``). A dataset without a known date column is reported as skipped, never
guessed.
"""

from __future__ import annotations

import fcntl
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from vru.governance import audit
from vru.governance.agreements import list_agreements, retention_due
from vru.governance.db import Database
from vru.governance.identity import User
from vru.governance.policy import authorise
from vru.lake import engine
from vru.lake.store import Store, arrow_schema
from vru.lake.tables import SPECS

#: Table property (`Store.properties`) naming a partner table's date column, from its contract.
DATE_PROPERTY = "date_column"
#: The date column of the built-in tables that agreements can govern.
BUILTIN_DATES = {"ed_assaults": "arrival", "incidents": "occurred_from"}
#: Quarantine ``source`` kinds whose lines belong to each built-in dataset.
BUILTIN_KINDS = {"ed_assaults": ("istv",), "incidents": ("force_extract",)}
_LOG_FILE = re.compile(r"^(\d{20})\.(json|crc|checkpoint\.parquet|checkpoint\.\d+\.\d+\.parquet)$")
_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_UK = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)")


@dataclass
class DatasetRetention:
    """What retention did to one dataset."""

    dataset: str
    cutoff: date | None = None
    date_column: str | None = None
    rows_deleted: int = 0
    quarantine_deleted: int = 0
    version_before: int | None = None
    version_after: int | None = None
    skipped: str | None = None  # why nothing was done, in words


@dataclass
class RetentionReport:
    """What one retention run did, per dataset, and what it removed from disk."""

    datasets: list[DatasetRetention] = field(default_factory=list)
    files_removed: int = 0
    log_files_removed: int = 0
    audit_seqs: list[int] = field(default_factory=list)

    @property
    def rows_deleted(self) -> int:
        """Rows deleted from every dataset."""
        return sum(d.rows_deleted for d in self.datasets)


class RetentionDenied(PermissionError):  # noqa: N818 - reads as a sentence at the raise site
    """The policy does not let this actor apply retention."""


def _lit(day: date) -> str:
    return f"'{day.isoformat()}'"


def _predicate(dataset: str, column: str, dtype: pa.DataType, cutoff: date) -> str:
    """SQL (DataFusion and DuckDB) selecting the rows dated before ``cutoff``."""
    when = f"{column} < {_lit(cutoff)}"
    if pa.types.is_timestamp(dtype):
        when = f"{column} < '{cutoff.isoformat()} 00:00:00'"
    if dataset == "incidents":
        # month-only rows: the whole month lies before the cutoff's month
        month = f"'{cutoff:%Y-%m}'"
        return (f"source <> 'police_uk' AND ({when} OR ({column} IS NULL AND month < {month}))")
    return when


def _date_column(store: Store, dataset: str, given: Mapping[str, str]) -> str | None:
    if dataset in given:
        return given[dataset]
    if store.exists(dataset):
        found = store.properties(dataset).get(DATE_PROPERTY)
        if found:
            return found
    return BUILTIN_DATES.get(dataset)


def _kinds(dataset: str) -> tuple[str, ...]:
    if dataset.startswith("partner_"):
        return (f"partner:{dataset.removeprefix('partner_')}",)
    return BUILTIN_KINDS.get(dataset, ())


def _distinct_files(store: Store, dataset: str, where: str | None) -> set[str]:
    con = duckdb.connect()
    try:
        if not engine.register(con, store, dataset, alias="t"):
            return set()
        names = con.sql("SELECT column_name FROM (DESCRIBE t)").fetchall()
        if ("source_file",) not in names:
            return set()
        clause = f"WHERE {where}" if where else ""
        return {r[0] for r in con.sql(f"SELECT DISTINCT source_file FROM t {clause}").fetchall()
                if r[0] is not None}
    finally:
        con.close()


def _dates_in(text: str | None) -> list[date]:
    found = []
    for y, m, d in _ISO.findall(text or ""):
        try:
            found.append(date(int(y), int(m), int(d)))
        except ValueError:
            continue
    for d, m, y in _UK.findall(text or ""):
        try:
            found.append(date(int(y), int(m), int(d)))
        except ValueError:
            continue
    return found


def _expired_lines(quarantine: pa.Table, kinds: tuple[str, ...], cutoff: date,
                   expired_files: set[str]) -> pa.ChunkedArray | pa.Array:
    """Mask of quarantine lines of ``kinds`` that are past retention (module docstring)."""
    out = []
    for kind, batch, file, raw in zip(quarantine["source"].to_pylist(),
                                      quarantine["batch_id"].to_pylist(),
                                      quarantine["source_file"].to_pylist(),
                                      quarantine["raw"].to_pylist(), strict=True):
        if kind not in kinds:
            out.append(False)
            continue
        sent = _batch_day(batch)
        dates = _dates_in(raw)
        out.append((sent is not None and sent < cutoff) or (bool(dates) and max(dates) < cutoff)
                   or file in expired_files)
    return pa.array(out, pa.bool_())


def _batch_day(batch_id: str | None) -> date | None:
    """The day of an ingest batch: its id starts ``YYYYMMDDTHHMMSSZ``."""
    if not batch_id or len(batch_id) < 8 or not batch_id[:8].isdigit():
        return None
    try:
        return date(int(batch_id[:4]), int(batch_id[4:6]), int(batch_id[6:8]))
    except ValueError:
        return None


def purge_history(path: Path) -> tuple[int, int]:
    """Make the current version of the Delta table at ``path`` its only one on disk.

    Vacuums every file the current version does not use, writes a checkpoint, and removes
    the older commit JSONs, checkpoints and checksums (their statistics hold values of
    removed rows).

    Returns
    -------
    tuple of int
        Data files removed, log files removed.
    """
    dt = DeltaTable(str(path))
    removed = dt.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    dt = DeltaTable(str(path))
    dt.create_checkpoint()
    current = dt.version()
    logs = 0
    for item in (path / "_delta_log").iterdir():
        match = _LOG_FILE.match(item.name)
        if match and int(match.group(1)) < current:
            item.unlink()
            logs += 1
    return len(removed), logs


def apply_retention(store: Store, db: Database, actor: str | User, today: date | None = None, *,
                    date_columns: Mapping[str, str] | None = None) -> RetentionReport:
    """Delete, for good, every row past its agreement's retention period.

    Parameters
    ----------
    store, db
        The lake and its metadata database.
    actor
        Who applies retention (the policy allows admins only).
    today
        The day retention is judged on (default today).
    date_columns
        Dataset -> date column, overriding the table property and built-in defaults.

    Returns
    -------
    RetentionReport
        Rows deleted per dataset and files removed; each dataset's result is also an audit
        entry (action "retention") with the versions before and after.

    Raises
    ------
    RetentionDenied
        When the policy does not let ``actor`` apply retention (the denial is audited).
    """
    name = actor.name if isinstance(actor, User) else str(actor)
    day = today or date.today()
    given = dict(date_columns or {})
    report = RetentionReport()
    datasets = sorted({a.dataset for a in list_agreements(db)})
    store.home.mkdir(parents=True, exist_ok=True)
    with open(store.home / ".ingest.lock", "w") as lock:  # same lock as ingest: one at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            _remove_stale_staging(store.home)
            quarantine_touched = False
            for dataset in datasets:
                result = DatasetRetention(dataset)
                report.datasets.append(result)
                decision = authorise(db, name, "retention", dataset, "administration",
                                     table_versions=_version(store, dataset),
                                     detail={"today": day.isoformat()})
                if not decision.allowed:
                    raise RetentionDenied(decision.reason)
                result.cutoff = retention_due(db, dataset, day)
                quarantine_touched |= _apply_one(store, dataset, result, given, report)
                entry = audit.record(
                    db, actor=name, action="retention", resource=dataset,
                    purpose="administration", decision="allow",
                    reason=(result.skipped or f"deleted {result.rows_deleted} rows and "
                            f"{result.quarantine_deleted} quarantined lines dated before "
                            f"{result.cutoff}"),
                    table_versions={k: v for k, v in {
                        dataset: result.version_after,
                        "quarantine": store.version("quarantine")}.items() if v is not None},
                    detail={"cutoff": str(result.cutoff), "date_column": result.date_column,
                            "rows_deleted": result.rows_deleted,
                            "quarantine_deleted": result.quarantine_deleted,
                            "version_before": result.version_before,
                            "version_after": result.version_after})
                report.audit_seqs.append(entry.seq)
            if quarantine_touched:
                files, logs = purge_history(store.path("quarantine"))
                report.files_removed += files
                report.log_files_removed += logs
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return report


def _version(store: Store, dataset: str) -> dict[str, int]:
    v = store.version(dataset)
    return {} if v is None else {dataset: v}


def _remove_stale_staging(home: Path) -> None:
    staging = home / "_staging"
    if staging.exists():  # only a killed ingest leaves it (we hold the ingest lock)
        shutil.rmtree(staging, ignore_errors=True)


def _apply_one(store: Store, dataset: str, result: DatasetRetention, given: Mapping[str, str],
               report: RetentionReport) -> bool:
    """Delete ``dataset``'s expired rows and quarantine lines; True when quarantine changed."""
    assert result.cutoff is not None
    dt = store.table(dataset)
    expired_files: set[str] = set()
    if dt is None:
        result.skipped = f"{dataset} is not in the lake yet"
    else:
        column = _date_column(store, dataset, given)
        result.date_column = column
        result.version_before = result.version_after = dt.version()
        schema = arrow_schema(dt)
        if column is None or column not in schema.names:
            result.skipped = (f"{dataset} has no date column to judge retention by (set the "
                              f"contract's date_column; table property {DATE_PROPERTY})")
        else:
            where = _predicate(dataset, column, schema.field(column).type, result.cutoff)
            before = _distinct_files(store, dataset, where)
            metrics = dt.delete(where)
            result.rows_deleted = int(metrics.get("num_deleted_rows") or 0)
            if result.rows_deleted:
                files, logs = purge_history(store.path(dataset))
                report.files_removed += files
                report.log_files_removed += logs
            result.version_after = store.version(dataset)
            expired_files = before - _distinct_files(store, dataset, None)
    return _purge_quarantine(store, dataset, result, expired_files)


def _purge_quarantine(store: Store, dataset: str, result: DatasetRetention,
                      expired_files: set[str]) -> bool:
    kinds = _kinds(dataset)
    if not kinds or not store.exists("quarantine"):
        return False
    assert result.cutoff is not None
    rows = store.read("quarantine")
    expired = _expired_lines(rows, kinds, result.cutoff, expired_files)
    n = int(pc.sum(expired).as_py() or 0)
    if n == 0:
        return False
    kept = rows.filter(pc.invert(expired)).cast(SPECS["quarantine"].schema)
    store.write(SPECS["quarantine"], kept, mode="overwrite",
                metadata={"vru_step": f"retention of {dataset}"})
    result.quarantine_deleted = n
    return True
