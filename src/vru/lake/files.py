"""Appending to a Delta table: Parquet files written by pyarrow on parallel threads, then
one Delta commit that adds them.

delta-rs's own writer encodes on one thread and took twice pyarrow's time for the same
rows; an append needs no rewrite of existing files, so vru writes the files itself and
commits them with their statistics. Files not yet committed are invisible to every reader,
so a killed append leaves the table at its last version (the stray files are removed by
``vacuum``).
"""

from __future__ import annotations

import json
import math
import os
import queue
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake.transaction import AddAction

from vru.sources.canonical import encodes

ROWS_PER_FILE = 1 << 21  # a writer starts a new file after this many rows
_END = object()


@dataclass
class _Open:
    writer: pq.ParquetWriter
    schema: pa.Schema
    rel: str
    partition: dict[str, str | None]
    rows: int = 0


def _partition_dir(values: dict[str, str | None]) -> str:
    parts = []
    for k, v in values.items():
        text = "__HIVE_DEFAULT_PARTITION__" if v is None else quote(str(v), safe="")
        parts.append(f"{k}={text}")
    return "/".join(parts)


def _json_value(v) -> object | None:
    """A Parquet statistic as Delta writes it in ``stats`` (None: leave it out)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, int | str):
        return v
    if isinstance(v, date) and not isinstance(v, datetime):
        return v.isoformat()
    return None  # timestamps and others: no min/max (readers then just do not skip)


def file_stats(path: Path, columns: Iterable[str]) -> str:
    """Delta ``stats`` JSON of a Parquet file: rows, and min/max/null counts per column."""
    meta = pq.read_metadata(path)
    names = list(columns)
    mins: dict[str, object] = {}
    maxs: dict[str, object] = {}
    nulls: dict[str, int] = dict.fromkeys(names, 0)
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        for c in range(rg.num_columns):
            col = rg.column(c)
            name = col.path_in_schema
            if name not in nulls:
                continue
            st = col.statistics
            if st is None or not st.has_null_count:
                nulls.pop(name)  # unknown: say nothing rather than something wrong
                mins.pop(name, None)
                maxs.pop(name, None)
                continue
            nulls[name] += st.null_count
            if st.has_min_max:
                lo, hi = _json_value(st.min), _json_value(st.max)
                if lo is not None and hi is not None:
                    mins[name] = lo if name not in mins else min(mins[name], lo)
                    maxs[name] = hi if name not in maxs else max(maxs[name], hi)
    # a column whose values are all null has no min/max but a full null count
    return json.dumps({"numRecords": meta.num_rows, "minValues": mins, "maxValues": maxs,
                       "nullCount": nulls})


def write_files(root: Path, schema: pa.Schema, partition_by: tuple[str, ...],
                batches: Iterable[pa.RecordBatch], statistics: list[str],
                unique: Iterable[str] = (), threads: int | None = None) -> list[AddAction]:
    """Write ``batches`` (of ``schema``) as Parquet files under table folder ``root``.

    ``statistics`` names the columns whose min/max are kept; ``unique`` those whose values
    rarely repeat (references, hashes): a dictionary is not tried, and neither is snappy,
    which shrinks hex digests and hashes by nothing and costs a third of their write.

    Batches are spread over ``threads`` writers (pyarrow encodes without the GIL), each
    keeping one open file per partition. Returns the `AddAction`s for one Delta commit.
    """
    threads = threads or max(1, min(2, os.cpu_count() or 1))
    file_schema = pa.schema([f for f in schema if f.name not in partition_by])
    stats_cols = [c for c in statistics if c in file_schema.names]
    dictionary = [c for c in file_schema.names if c not in set(unique)]
    compression = {c: "none" if c in set(unique) else "snappy" for c in file_schema.names}
    work: queue.Queue = queue.Queue(maxsize=2 * threads)
    done: list[_Open] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def open_file(values: dict[str, str | None], part: pa.Table) -> _Open:
        sub = _partition_dir(values)
        rel = (f"{sub}/" if sub else "") + f"part-{uuid.uuid4().hex}.snappy.parquet"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        # dictionaries and string views are written as such (a dictionary's pages are the
        # dictionary); without the Arrow schema in the footer, readers see plain types
        schema = pa.schema([part.schema.field(f.name).with_nullable(f.nullable)
                            if encodes(part.schema.field(f.name).type, f.type) else f
                            for f in file_schema])
        return _Open(pq.ParquetWriter(root / rel, schema, compression=compression,
                                      write_statistics=stats_cols or False,
                                      use_dictionary=dictionary or False, store_schema=False),
                     schema, rel, values)

    def close(f: _Open) -> None:
        f.writer.close()
        with lock:
            done.append(f)

    def worker() -> None:
        open_: dict[tuple, _Open] = {}
        try:
            while (b := work.get()) is not _END:
                for values, part in _split(b, partition_by):
                    key = tuple(values.values())
                    part = part.select(file_schema.names)
                    f = open_.get(key) or open_file(values, part)
                    open_[key] = f
                    if not part.schema.equals(f.schema):
                        part = part.cast(f.schema)
                    f.writer.write_table(part)
                    f.rows += part.num_rows
                    if f.rows >= ROWS_PER_FILE:
                        close(open_.pop(key))
            for f in open_.values():
                close(f)
        except BaseException as e:  # surfaced by the caller after join
            errors.append(e)
            while work.get() is not _END:  # keep draining so the producer never blocks
                pass

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    try:
        for b in batches:
            if b.num_rows:
                work.put(pa.Table.from_batches([b]))
    finally:
        for _ in pool:
            work.put(_END)
        for t in pool:
            t.join()
    if errors:
        raise errors[0]
    stamp = int(time.time() * 1000)
    return [AddAction(path=f.rel, size=(root / f.rel).stat().st_size,
                      partition_values=f.partition, modification_time=stamp,
                      data_change=True, stats=file_stats(root / f.rel, file_schema.names))
            for f in done if f.rows]


def _split(t: pa.Table, partition_by: tuple[str, ...]
           ) -> Iterable[tuple[dict[str, str | None], pa.Table]]:
    """``t`` cut by the values of its partition columns (as Delta's strings)."""
    if not partition_by:
        yield {}, t
        return
    names = list(partition_by)
    keys = t.select(names).group_by(names).aggregate([]).to_pylist()
    if len(keys) == 1:  # the usual case: one source per part, nothing decoded or filtered
        yield {c: None if v is None else str(v) for c, v in keys[0].items()}, t
        return
    for k in keys:
        mask = None
        for c, v in k.items():
            col = t[c].cast(pa.string())
            m = pc.is_null(col) if v is None else pc.fill_null(pc.equal(col, str(v)), False)
            mask = m if mask is None else pc.and_(mask, m)
        yield {c: None if v is None else str(v) for c, v in k.items()}, t.filter(mask)
