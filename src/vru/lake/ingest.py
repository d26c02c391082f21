"""Ingest: read → validate → quarantine → stage → diff against the lake → commit.

Every input row ends up accepted (added or updated), quarantined, or a duplicate of what the
lake already holds, and the three add up to the rows read. Readers stage rows in DuckDB
(block by block, bounded memory, spilling to disk) or, for bulk street files, as one Arrow
table per part; the diff against the lake runs in DuckDB. A part of new rows is appended in
the background (geography, then Parquet on every core, then one Delta commit) while the
next part is read; anything that diffs against the table waits for it first. A table gets
no commit when nothing changed. Delta commits are atomic, so a killed ingest leaves every
table at its last version and the re-run, diffing against it, ingests exactly once.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import shutil
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vru.geo.home_files import home_boundary_files
from vru.geo.lookup import home_lookup
from vru.governance.db import secure_home
from vru.lake import engine
from vru.lake.enrich import PointMemo, enrich_arrow, enrich_select, needs_bridge
from vru.lake.store import Store, writer_properties
from vru.lake.tables import INGEST_LOG, SPECS, TableSpec, content_columns
from vru.sources.base import QUARANTINE_SCHEMA, Problem, SourceError
from vru.sources.canonical import conform, repeat
from vru.sources.readahead import Readahead

Progress = Callable[[str, int, int], None]  # (what, done, total)

DERIVED = frozenset({"easting", "northing", "geo_status"})  # geography the lake computes

MEMORY_LIMIT = "512MB"  # DuckDB's share while staging and diffing; it spills beyond this


@dataclass
class FileResult:
    """Counts for one input file."""

    name: str
    kind: str = ""
    sha256: str | None = None
    rows_in: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    status: str = "ok"
    message: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class IngestResult:
    """What one ingest command did: per-file counts and the lake versions after it."""

    batch_id: str
    files: list[FileResult]
    tables: dict[str, int]
    written: dict[str, int]

    def total(self, key: str) -> int:
        return sum(getattr(f, key) for f in self.files)

    def summary(self) -> dict:
        out = {k: self.total(k) for k in ("rows_in", "accepted", "quarantined", "duplicates",
                                          "added", "updated", "removed")}
        out["tables"] = self.tables
        out["written"] = self.written
        out["batch_id"] = self.batch_id
        out["rejected_files"] = [{"file": f.name, "reason": f.message}
                                 for f in self.files if f.status == "rejected"]
        out["files"] = [asdict(f) for f in self.files]
        return out


@dataclass
class _Target:
    spec: TableSpec
    scope: str | None = None  # SQL filter of the rows this batch may touch, e.g. source='x'
    fixed: tuple[str, ...] = ()  # key columns the scope pins to one value: left out of keys
    replace_unit: tuple[str, ...] = ()  # replace these units (force-month) wholesale


def _now() -> datetime:
    return datetime.now(UTC)


def _q(v: str) -> str:
    return "'" + str(v).replace("'", "''") + "'"


class Batch:
    """One ingest command: stage rows from many files, then `commit` them together."""

    def __init__(self, store: Store, actor: str | None = None, command: str = "",
                 progress: Progress | None = None) -> None:
        self.store = store
        self.actor = actor or getpass.getuser()
        self.command = command
        self.progress = progress
        self.started = _now()
        self.batch_id = f"{self.started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
        self.files: list[FileResult] = []
        self.problems: list[tuple[int, Problem]] = []
        self.targets: dict[str, _Target] = {}
        self._staged: set[str] = set()
        self._arrow: dict[str, pa.Table] = {}  # tables staged as Arrow (`stage_arrow`)
        self.ahead: Readahead | None = None  # files read ahead of the batch, if any
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vru-write")
        self._pending: dict[str, Future] = {}  # table → its background append
        # Arrow-staged table → its rows with their geography, made in the background from
        # the moment they are staged: while the diff runs and the part before is written
        self._geo_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vru-geo")
        self._geo: dict[str, Future] = {}
        self._points = PointMemo()  # the geography of points met in earlier parts
        self._written: dict[str, int] = {}  # table → version this batch committed
        self._staging = store.home / "_staging" / self.batch_id
        self.con: duckdb.DuckDBPyConnection | None = None
        self._lock_file = None
        self._touch: set[str] = {"quarantine"}
        self._lsoa_index = None
        self._index_lock = threading.Lock()

    @property
    def lsoa_index(self):
        """Point → LSOA: the home's own 2011 boundaries where it loaded some, then the
        shipped. Made on first use, which is the background writer's first part for
        street files: the first part is read meanwhile."""
        with self._index_lock:
            if self._lsoa_index is None:
                self._lsoa_index = home_lookup(home_boundary_files(self.store.home))
            return self._lsoa_index

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> Batch:
        secure_home(self.store.home, create=True)  # owner-only before anything is staged
        self._lock_file = open(self.store.home / ".ingest.lock", "w")  # noqa: SIM115
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)  # one ingest at a time per home
        stale = self.store.home / "_staging"
        if stale.exists():  # left by a killed ingest: never committed, safe to drop
            shutil.rmtree(stale, ignore_errors=True)
        self._staging.mkdir(parents=True)
        # staged rows live in DuckDB: native storage, bounded memory, spills to disk
        self.con = duckdb.connect(":memory:", config={
            "memory_limit": MEMORY_LIMIT, "temp_directory": str(self._staging / "spill"),
            "preserve_insertion_order": False})
        return self

    def __exit__(self, *exc) -> None:
        self._pool.shutdown(wait=True)  # a part being written is committed or not, whole
        self._geo_pool.shutdown(wait=True, cancel_futures=True)
        if self.con is not None:
            with contextlib.suppress(Exception):
                self.con.close()
        shutil.rmtree(self._staging, ignore_errors=True)
        if self._lock_file:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()

    @property
    def workdir(self) -> Path:
        """Scratch space for extracted zips and decompressed files."""
        return self._staging / "inputs"

    # -- staging -------------------------------------------------------------------------
    def add_file(self, name: str, kind: str = "") -> int:
        self.files.append(FileResult(name=name, kind=kind))
        return len(self.files) - 1

    def describe(self, idx: int, kind: str, sha256: str, notes: list[str]) -> None:
        """Record what file ``idx`` turned out to be: its kind, checksum and notes."""
        f = self.files[idx]
        f.kind, f.sha256 = kind, sha256
        f.notes.extend(notes)

    def reject(self, idx: int, err: SourceError) -> None:
        f = self.files[idx]
        f.status, f.message = "rejected", str(err)

    def target(self, table: str, source: str | None = None,
               replace_unit: tuple[str, ...] = (), spec: TableSpec | None = None) -> None:
        """Declare that this batch writes ``table``; with ``source``, only that source's
        rows (every staged row has it, and the lake's rows of other sources are untouched)."""
        if table not in self.targets:
            scope = f"source = {_q(source)}" if source else None
            self.store.upgrade(spec or SPECS[table])  # a table older than its spec's columns
            self.targets[table] = _Target(spec or SPECS[table], scope=scope,
                                          replace_unit=replace_unit,
                                          fixed=("source",) if source else ())
        self._touch.add(table)

    def stage(self, table: str, rows: pa.Table | str, file_idx: int | None) -> None:
        """Stage canonical rows of ``table`` read from file ``file_idx``.

        ``rows`` is an Arrow table or the name of a DuckDB table on `con` (readers that
        parse in the engine); with ``file_idx`` None it carries each row's ``_file``.
        Geography is completed in the engine (`enrich_select`). ``row_hash``, where the
        reader did not set it, covers the content as the source gave it — derived geography
        as it was before enrichment — so a new boundary set or PROJ release does not turn
        every row into an "update".
        """
        spec = self.targets[table].spec
        con = self.con
        src = rows
        if isinstance(rows, pa.Table):
            con.register("_in", rows)
            src = "_in"
        cols = [f.name for f in spec.schema]
        parts = ", ".join(f'coalesce(CAST(s."{c}" AS VARCHAR), chr(0))'
                          for c in content_columns(spec))
        repl = (f"coalesce(s.row_hash, (md5_number_lower(concat_ws(chr(31), {parts})) >> 1)"
                f"::BIGINT) AS row_hash, "
                f"'{self.batch_id}' AS batch_id")
        if "geo_status" in cols:
            bridge = "lsoa21cd" in cols and needs_bridge(con, src)
            select = enrich_select(con, src, extra=repl, index=self.lsoa_index, bridge=bridge)
        else:
            select = f"SELECT s.* REPLACE ({repl}) FROM {src} s"
        # file_idx None: ``rows`` carries a ``_file`` column (several files staged at once)
        file_col = "_file::INTEGER" if file_idx is None else f"{int(file_idx)}::INTEGER"
        select = f"SELECT {', '.join(cols)}, {file_col} AS _file FROM ({select})"
        if table not in self._staged:
            con.execute(f'CREATE TABLE "s_{table}" AS {select}')
            self._staged.add(table)
        else:
            con.execute(f'INSERT INTO "s_{table}" {select}')
        if src == "_in":
            con.unregister("_in")

    def stage_arrow(self, table: str, rows: pa.Table) -> None:
        """Stage canonical rows that a bulk reader already holds in Arrow, whole.

        ``rows`` carry ``_file`` and their ``row_hash``. The rows stay in Arrow, so the first
        load of new units goes to the Parquet writers without another copy, and their
        geography is completed there, in the background (the diff needs none of it).
        One call per flush of ``table``.
        """
        if table in self._staged:
            raise RuntimeError(f"{table}: stage_arrow takes a flush's rows in one call")
        spec = self.targets[table].spec
        n = rows.num_rows
        rows = rows.set_column(rows.column_names.index("batch_id"), "batch_id",
                               repeat(self.batch_id, n))
        rows = rows.select([*spec.schema.names, "_file"]).append_column(
            "_rid", pa.array(np.arange(n, dtype=np.int64)))
        self._geo[table] = self._geo_pool.submit(
            lambda: enrich_arrow(None, rows, self.lsoa_index, self._points))
        self._arrow[table] = rows
        self.con.register(f"s_{table}", rows)
        self._staged.add(table)

    def quarantine(self, file_idx: int, problems: list[Problem]) -> None:
        self.problems.extend((file_idx, p) for p in problems)

    def count_read(self, file_idx: int, rows_in: int) -> None:
        self.files[file_idx].rows_in += rows_in

    # -- commit --------------------------------------------------------------------------
    def flush(self, table: str) -> None:
        """Commit what is staged for ``table`` now and free it.

        Large inputs are committed in parts so memory stays bounded; each part holds whole
        release units (a force-month comes from one file), and an interrupted run is made
        whole by the re-run, which diffs against what was committed.
        """
        if table not in self._staged:
            return
        self._settle(table)  # the diff must see the part written before
        if self.progress:
            self.progress(f"merging into {table}", 0, 1)
        v = self._apply(self.con, self.targets[table])
        if v is not None:
            self._written[table] = v
        unused = self._geo.pop(table, None)  # no row of the part was written: not needed
        if unused is not None:
            unused.cancel()
        if self._arrow.pop(table, None) is not None:
            self.con.unregister(f"s_{table}")
        else:
            self.con.execute(f'DROP TABLE "s_{table}"')
        self._staged.discard(table)

    def commit(self) -> IngestResult:
        con = self.con
        for name in list(self._staged):
            self.flush(name)
        self._settle()
        written = self._written
        if "outcomes" in written or ("incidents" in written and self.store.exists("outcomes")):
            v = self._apply_outcomes(con)
            if v is not None:
                written["incidents"] = v
        per_file = Counter(i for i, _ in self.problems)
        for i, f in enumerate(self.files):
            if f.status != "rejected":
                f.quarantined += per_file[i]
        v = self._write_quarantine()
        if v is not None:
            written["quarantine"] = v
        for name in self._touch:
            self.store.ensure(self.targets[name].spec if name in self.targets else SPECS[name])
        tables = {n: self.store.version(n) for n in sorted(self._touch)}
        self._write_log(tables)
        return IngestResult(self.batch_id, self.files, tables, written)

    def _apply(self, con: duckdb.DuckDBPyConnection, tgt: _Target) -> int | None:
        """Diff the staged rows of one table against the lake and commit what changed."""
        spec = tgt.spec
        staged = f'"s_{spec.name}"'
        # a file that failed part-way is rejected whole: what it staged is ignored
        rejected = [i for i, f in enumerate(self.files) if f.status == "rejected"] or [-1]
        live = f"_file NOT IN ({', '.join(map(str, rejected))})"
        # the identity within this batch's scope: a pinned source need not be compared
        key = _key_sql(tuple(k for k in spec.key if k not in tgt.fixed) or spec.key)
        unit = list(tgt.replace_unit)
        unit_cols = "".join(f", {u}" for u in unit)
        rid = "_rid" if spec.name in self._arrow else "rowid"
        arrow = spec.name in self._arrow
        # rows staged in Arrow are read where they are; engine-staged ones are narrowed once
        _replace(con, "nk", "VIEW" if arrow else "TABLE", f"""
            SELECT {rid} AS rid, {key} AS k, row_hash, _file, source_line{unit_cols}
            FROM {staged} WHERE {live}""")
        # later occurrences of a key inside this batch: duplicates if identical, else
        # conflicts. Distinct 64-bit hashes prove distinct keys, at a fraction of the cost
        # of grouping the keys themselves; only a shared hash needs the full search.
        distinct = con.execute("SELECT count(*) = count(DISTINCT hash(k)) FROM nk"
                               ).fetchall()[0][0]
        con.execute("""
            CREATE OR REPLACE TEMP TABLE dup AS SELECT * FROM (
                SELECT rid, row_hash = first_value(row_hash) OVER w AS same,
                       first_value(_file) OVER w AS f0, first_value(source_line) OVER w AS l0,
                       row_number() OVER w AS occ
                FROM nk WHERE k IN (SELECT k FROM nk GROUP BY k HAVING count(*) > 1)
                WINDOW w AS (PARTITION BY k ORDER BY _file, source_line)) WHERE occ > 1"""
                    + (" AND false" if distinct else ""))
        old = engine.register(con, self.store, spec.name, alias="old_all")
        scope = f"WHERE {tgt.scope}" if tgt.scope else ""
        if old:
            if unit:
                tup = ", ".join(unit)
                where = (f"{scope + ' AND' if scope else 'WHERE'} ({tup}) IN "
                         f"(SELECT DISTINCT {tup} FROM nk)")
            else:
                where = f"{scope + ' AND' if scope else 'WHERE'} {key} IN (SELECT k FROM nk)"
            con.execute(f"CREATE OR REPLACE TEMP TABLE ok AS SELECT {key} AS k, row_hash"
                        f"{unit_cols} FROM old_all {where}")
        else:
            con.execute(f"CREATE OR REPLACE TEMP TABLE ok AS SELECT k, row_hash{unit_cols} "
                        "FROM nk WHERE false")
        clash = con.execute("SELECT (SELECT count(*) FROM dup) + (SELECT count(*) FROM ok)"
                            ).fetchall()[0][0]
        # nothing repeated and nothing held: every row is new (the usual monthly load)
        _replace(con, "st", "VIEW" if not clash else "TABLE", """
            SELECT rid, _file, source_line, k, NULL::INTEGER AS f0, NULL::BIGINT AS l0,
                   nk.* EXCLUDE (rid, _file, source_line, k, row_hash), 'added' AS status
            FROM nk""" if not clash else """
            SELECT nk.rid, nk._file, nk.source_line, nk.k, d.f0, d.l0,
                   nk.* EXCLUDE (rid, _file, source_line, k, row_hash), CASE
                WHEN d.rid IS NOT NULL AND d.same THEN 'duplicate'
                WHEN d.rid IS NOT NULL THEN 'conflict'
                WHEN o.k IS NULL THEN 'added'
                WHEN o.row_hash = nk.row_hash THEN 'duplicate'
                ELSE 'updated' END AS status
            FROM nk LEFT JOIN dup d USING (rid) LEFT JOIN ok o ON o.k = nk.k""")
        if clash:
            self._ensure_geo(spec.name)
        if clash and old:
            self._confirm_updates(con, tgt, rid)
        for fi, status, n in con.execute(
                "SELECT _file, status, count(*) FROM st GROUP BY ALL").fetchall():
            f = self.files[fi]
            if status == "added":
                f.added += n
                f.accepted += n
            elif status == "updated":
                f.updated += n
                f.accepted += n
            elif status == "duplicate":
                f.duplicates += n
        conflicts = con.execute(
            "SELECT _file, source_line, k, f0, l0 FROM st WHERE status = 'conflict'").fetchall()
        for fi, line, k, f0, l0 in conflicts:
            self.problems.append((fi, Problem(
                file=self.files[fi].name, line=line, field=",".join(spec.key),
                reason=(f"same {'/'.join(spec.key)} ({k}) as {self.files[f0].name} line {l0} "
                        "with different content; one release must be chosen"),
                raw="")))
        meta = {"batch_id": self.batch_id, "actor": self.actor}
        if unit and not clash:  # every row new: every unit it touches changes
            changed_units = [tuple(r) for r in con.execute(
                f"SELECT DISTINCT {', '.join(unit)} FROM nk").fetchall()]
        elif unit:
            removed = con.execute(f"""
                SELECT {', '.join(unit)}, count(*) FROM ok
                WHERE k NOT IN (SELECT k FROM nk) GROUP BY ALL""").fetchall()
            first_file = dict(((*r[:-1],), r[-1]) for r in con.execute(
                f"SELECT {', '.join(unit)}, min(_file) FROM nk GROUP BY ALL").fetchall())
            for *u, n in removed:
                self.files[first_file[tuple(u)]].removed += n
            changed_units = [tuple(r) for r in con.execute(f"""
                SELECT DISTINCT {', '.join(unit)} FROM st WHERE status IN ('added','updated')
                UNION SELECT {', '.join(unit)} FROM ok WHERE k NOT IN (SELECT k FROM nk)
            """).fetchall()]
        if unit:
            if not changed_units:
                return None
            con.register("cu", pa.table({u: [c[i] for c in changed_units]
                                         for i, u in enumerate(unit)}))
            # a changed unit is written whole: every first occurrence of its keys
            keep = "true" if not clash else (
                f"status IN ('added', 'updated', 'duplicate') AND rid NOT IN "
                f"(SELECT rid FROM dup) AND ({', '.join(unit)}) IN (SELECT * FROM cu)")
            unit_pred = " OR ".join(
                "(" + " AND ".join(f"{u} = {_q(v)}" for u, v in zip(unit, c, strict=True)) + ")"
                for c in changed_units)
            predicate = f"({tgt.scope}) AND ({unit_pred})" if tgt.scope else unit_pred
            held = con.execute("SELECT count(*) FROM ok").fetchall()[0][0]
            if not held:  # units the lake does not hold yet (a new month): nothing to replace
                return self._append(con, spec, live, keep, meta)
            return self.store.write(spec, self._rows(con, spec, live, keep,
                                                     self._all_kept(con, keep)),
                                    mode="overwrite", predicate=predicate, metadata=meta)
        n_upd, n_add = con.execute("SELECT count(*) FILTER (status='updated'), "
                                   "count(*) FILTER (status='added') FROM st").fetchall()[0]
        if n_upd + n_add == 0:
            return None
        if n_upd == 0 or not old:
            return self._append(con, spec, live, "status IN ('added', 'updated')", meta)
        reader = self._rows(con, spec, live, "status IN ('added', 'updated')", False)
        dt = self.store.table(spec.name)
        pred = " AND ".join(f"t.{k} = s.{k}" for k in spec.key)
        from deltalake import CommitProperties
        (dt.merge(reader, predicate=pred, source_alias="s", target_alias="t",
                  writer_properties=writer_properties(spec.schema),
                  commit_properties=CommitProperties(custom_metadata=meta))
           .when_matched_update_all().when_not_matched_insert_all().execute())
        return self.store.version(spec.name)

    def _ensure_geo(self, table: str) -> None:
        """Complete the geography of rows staged in Arrow, where a diff or write needs it."""
        geo = self._geo.pop(table, None)
        if geo is not None:
            self._arrow[table] = geo.result()
            self.con.register(f"s_{table}", self._arrow[table])

    def _confirm_updates(self, con: duckdb.DuckDBPyConnection, tgt: _Target, rid: str
                         ) -> None:
        """Rows marked 'updated' whose stored content equals the staged one are duplicates.

        A row hash is a fast filter: equal hashes mean equal content, but a difference
        (a reformatted number, or a hash from another library version) is confirmed here
        on the columns the lake stores, leaving out geography it derives itself.
        """
        if not con.execute("SELECT count(*) FROM st WHERE status = 'updated'").fetchall()[0][0]:
            return
        spec = tgt.spec
        cols = [c for c in content_columns(spec) if c not in DERIVED]
        same = " AND ".join(f"n.{c} IS NOT DISTINCT FROM o.{c}" for c in cols)
        scope = f"WHERE {tgt.scope}" if tgt.scope else ""
        con.execute(f"""
            UPDATE st SET status = 'duplicate' WHERE rid IN (
                SELECT n.{rid} FROM "s_{spec.name}" n
                JOIN (SELECT * FROM old_all {scope}) o
                  ON {_key_sql(spec.key, 'n')} = {_key_sql(spec.key, 'o')}
                WHERE n.{rid} IN (SELECT rid FROM st WHERE status = 'updated') AND {same})""")

    @staticmethod
    def _all_kept(con: duckdb.DuckDBPyConnection, keep: str) -> bool:
        """Whether every live staged row satisfies ``keep`` (the first load of new units)."""
        total, kept = con.execute(f"SELECT count(*), count(*) FILTER ({keep}) FROM st"
                                  ).fetchall()[0]
        return total == kept

    def _rejected(self) -> list[int]:
        return [i for i, f in enumerate(self.files) if f.status == "rejected"]

    def _arrow_rows(self, spec: TableSpec) -> pa.Table:
        """The live rows staged in Arrow, as the table's columns (encodings kept)."""
        return self._live(spec, self._arrow[spec.name], self._rejected())

    @staticmethod
    def _live(spec: TableSpec, arrow: pa.Table, rejected: list[int]) -> pa.Table:
        """``arrow`` without the rows of ``rejected`` files, as ``spec``'s columns."""
        if rejected:
            arrow = arrow.filter(pc.invert(pc.is_in(arrow["_file"],
                                                    pa.array(rejected, pa.int32()))))
        return conform(arrow, spec.schema, keep_encoded=True)

    def _rows(self, con: duckdb.DuckDBPyConnection, spec: TableSpec, live: str,
              keep: str, all_kept: bool) -> pa.RecordBatchReader:
        """The staged rows whose diff status satisfies ``keep``, as the table's schema."""
        self._ensure_geo(spec.name)
        arrow = spec.name in self._arrow
        if arrow and all_kept:
            plain = self._arrow_rows(spec).cast(spec.schema)  # delta-rs writes plain strings
            return pa.RecordBatchReader.from_batches(spec.schema, plain.to_batches(1 << 18))
        staged = f'"s_{spec.name}"'
        drop = "_file, _rid" if arrow else "_file"
        if all_kept:
            select = f"SELECT * EXCLUDE ({drop}) FROM {staged} WHERE {live}"
        else:
            select = (f"SELECT * EXCLUDE ({drop}) FROM {staged} n SEMI JOIN "
                      f"(SELECT rid FROM st WHERE {keep}) w ON n.{'_rid' if arrow else 'rowid'}"
                      " = w.rid")
        return _conform_reader(con.sql(select), spec.schema)

    def _append(self, con: duckdb.DuckDBPyConnection, spec: TableSpec, live: str, keep: str,
                meta: dict) -> int | None:
        """Append the kept rows. Rows already in Arrow are written in the background while
        the next part is read; `flush` waits for them before anything diffs against the
        table again. Returns the version when written here, None when deferred."""
        all_kept = self._all_kept(con, keep)
        if spec.name not in self._arrow or not all_kept:
            return self.store.write(spec, self._rows(con, spec, live, keep, all_kept),
                                    mode="append", metadata=meta)
        staged, geo = self._arrow[spec.name], self._geo.pop(spec.name, None)
        rejected = self._rejected()
        store = self.store

        def write() -> int:
            rows = staged if geo is None else geo.result()
            return store.write(spec, self._live(spec, rows, rejected), "append", None, meta)

        self._pending[spec.name] = self._pool.submit(write)
        return None

    def _settle(self, table: str | None = None) -> None:
        """Wait for background writes (of ``table``, or all) and record their versions."""
        for name in [table] if table else list(self._pending):
            fut = self._pending.pop(name, None)
            if fut is not None:
                self._written[name] = fut.result()

    def _apply_outcomes(self, con: duckdb.DuckDBPyConnection) -> int | None:
        """Set incidents.outcome to each crime's latest reported outcome."""
        if not (engine.register(con, self.store, "incidents", alias="inc")
                and engine.register(con, self.store, "outcomes", alias="outc")):
            return None
        latest = con.sql("""
            WITH latest AS (
                SELECT source, source_ref, arg_max(outcome, outcome_date) AS outcome,
                       max(outcome_date) AS outcome_date
                FROM outc GROUP BY ALL)
            SELECT l.* FROM latest l JOIN inc i USING (source, source_ref)
            WHERE (i.outcome_date IS NULL OR l.outcome_date >= i.outcome_date)
              AND (i.outcome IS DISTINCT FROM l.outcome
                   OR i.outcome_date IS DISTINCT FROM l.outcome_date)""").to_arrow_table()
        if latest.num_rows == 0:
            return None
        dt = self.store.table("incidents")
        from deltalake import CommitProperties
        (dt.merge(latest, predicate="t.source = s.source AND t.source_ref = s.source_ref",
                  writer_properties=writer_properties(SPECS["incidents"].schema),
                  source_alias="s", target_alias="t",
                  commit_properties=CommitProperties(custom_metadata={
                      "batch_id": self.batch_id, "actor": self.actor,
                      "vru_step": "apply latest outcomes"}))
           .when_matched_update(updates={"outcome": "s.outcome",
                                         "outcome_date": "s.outcome_date"})
           .execute())
        return self.store.version("incidents")

    def _write_quarantine(self) -> int | None:
        if not self.problems:
            return None
        rows = {f.name: [] for f in QUARANTINE_SCHEMA}
        for fi, p in self.problems:
            f = self.files[fi]
            if f.status == "rejected":
                continue
            rows["batch_id"].append(self.batch_id)
            rows["source"].append(f.kind)
            rows["source_file"].append(p.file if p.file else f.name)
            rows["file_sha256"].append(f.sha256)
            rows["line"].append(p.line)
            rows["field"].append(p.field)
            rows["reason"].append(p.reason)
            rows["raw"].append(p.raw)
        new = pa.table(rows, schema=QUARANTINE_SCHEMA)
        if new.num_rows == 0:
            return None
        con = duckdb.connect()
        if engine.register(con, self.store, "quarantine", alias="old"):
            con.register("new", new)
            new = con.sql("""
                SELECT n.* FROM new n ANTI JOIN old o
                ON o.file_sha256 IS NOT DISTINCT FROM n.file_sha256
                   AND o.line IS NOT DISTINCT FROM n.line
                   AND o.field IS NOT DISTINCT FROM n.field AND o.reason = n.reason
            """).to_arrow_table().cast(QUARANTINE_SCHEMA)
        con.close()
        if new.num_rows == 0:
            return None
        return self.store.write(SPECS["quarantine"], new, mode="append",
                                metadata={"batch_id": self.batch_id})

    def _write_log(self, tables: dict[str, int]) -> None:
        finished = _now()
        rows = []
        for f in self.files:
            rows.append({
                "batch_id": self.batch_id, "actor": self.actor, "started": self.started,
                "finished": finished, "command": self.command, "source_file": f.name,
                "file_sha256": f.sha256, "kind": f.kind, "status": f.status,
                "message": "; ".join([f.message, *f.notes]).strip("; "),
                "rows_in": f.rows_in, "accepted": f.accepted, "quarantined": f.quarantined,
                "duplicates": f.duplicates, "added": f.added, "updated": f.updated,
                "removed": f.removed, "table_versions": json.dumps(tables),
            })
        if rows:
            self.store.write(SPECS["ingest_log"], pa.Table.from_pylist(rows, schema=INGEST_LOG),
                             mode="append", metadata={"batch_id": self.batch_id})


def _replace(con: duckdb.DuckDBPyConnection, name: str, kind: str, select: str) -> None:
    """Make ``name`` a temp VIEW or TABLE of ``select``, whichever it was before."""
    for (was,) in con.execute(f"SELECT 'VIEW' FROM duckdb_views() WHERE view_name = '{name}' "
                              f"UNION ALL SELECT 'TABLE' FROM duckdb_tables() "
                              f"WHERE table_name = '{name}'").fetchall():
        con.execute(f"DROP {was} {name}")
    con.execute(f"CREATE TEMP {kind} {name} AS {select}")


def _key_sql(key: tuple[str, ...], alias: str | None = None) -> str:
    cols = [f"{alias}.{k}" if alias else k for k in key]
    if len(cols) == 1:
        return cols[0]
    return "concat_ws(chr(31), " + ", ".join(f"coalesce(CAST({c} AS VARCHAR), '')"
                                             for c in cols) + ")"


def _conform_reader(rel: duckdb.DuckDBPyRelation, schema: pa.Schema,
                    rows: int = 262_144) -> pa.RecordBatchReader:
    src = rel.to_arrow_reader(rows)

    def gen() -> Iterator[pa.RecordBatch]:
        for b in src:
            if b.schema.equals(schema):
                yield b
            else:
                yield from pa.Table.from_batches([b]).select(schema.names).cast(
                    schema).to_batches()

    return pa.RecordBatchReader.from_batches(schema, gen())
