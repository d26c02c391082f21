"""One function per input kind: expand the user's paths, read each file, stage, commit."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa

from vru.lake.ingest import Batch, IngestResult, Progress
from vru.lake.store import Store
from vru.sources import force_extract, istv, police_uk
from vru.sources.base import Problem, SourceError
from vru.sources.csvfile import inspect_bytes
from vru.sources.inputs import InputFile, expand

Handler = Callable[[Batch, int, InputFile, Progress | None], None]


def _run(home: Path, paths: Iterable[str | Path], handler: Handler, actor: str | None,
         command: str, progress: Progress | None, suffixes: tuple[str, ...] = (".csv",)
         ) -> IngestResult:
    store = Store(home)
    with Batch(store, actor, command, progress) as batch:
        files: list[InputFile] = []
        for p in paths:  # one unreadable path must not stop the others
            try:
                files.extend(expand([p], batch.workdir, suffixes))
            except SourceError as e:
                batch.reject(batch.add_file(e.file), e)
        for inp in files:
            idx = batch.add_file(inp.name)
            try:
                handler(batch, idx, inp, progress)
            except SourceError as e:
                batch.reject(idx, e)
        return batch.commit()


def _named(table: pa.Table, name: str) -> pa.Table:
    """Provenance names the file as the user gave it (zip!member), not a scratch copy."""
    i = table.column_names.index("source_file")
    return table.set_column(i, "source_file",
                            pa.array(np.full(table.num_rows, name, dtype=object), pa.string()))


def _police_uk_file(batch: Batch, idx: int, inp: InputFile, progress: Progress | None) -> None:
    kind, facts = police_uk.open_file(inp.path)
    f = batch.files[idx]
    f.kind, f.sha256 = f"police_uk:{kind}", facts.sha256
    f.notes.extend(facts.notes)
    if kind == "street":
        table = "incidents"
        batch.target(table, scope="source = 'police_uk'", replace_unit=("force", "month"))
    elif kind == "outcomes":
        table = "outcomes"
        batch.target(table)
    else:
        table = "stop_search"
        batch.target(table, replace_unit=("force", "month"))
    problems: list[Problem] = []
    rows = 0
    for block, _records in police_uk.READERS[kind](inp.path, facts, problems, name=inp.name):
        batch.stage(table, block, idx)
        rows += block.num_rows
        if progress:
            progress(inp.name, rows, 0)
    batch.quarantine(idx, problems)
    batch.count_read(idx, rows + len(problems))


def ingest_police_uk(home: Path, paths: list[str | Path], actor: str | None = None,
                     command: str = "ingest police-uk",
                     progress: Progress | None = None) -> IngestResult:
    """Ingest data.police.uk street, outcomes and stop-and-search files (or their zip).

    A street file replaces its force-months in ``incidents``; an outcomes file adds to
    ``outcomes`` and updates the latest outcome of crimes held; stop-and-search files
    replace their force-months in ``stop_search``. Files that cannot be read at all are
    reported as rejected (with the reason) and the rest are still ingested.
    """
    return _run(home, paths, _police_uk_file, actor, command, progress)


def _force_extract_file(batch: Batch, idx: int, inp: InputFile,
                        progress: Progress | None) -> None:
    facts = inspect_bytes(inp.path)
    f = batch.files[idx]
    f.kind, f.sha256 = "force_extract", facts.sha256
    f.notes.extend(facts.notes)
    batch.target("incidents", scope="source = 'force_extract'")
    rows = 0
    for block, problems in force_extract.iter_force_extract(inp.path, facts=facts):
        if block.num_rows:
            batch.stage("incidents", _named(block, inp.name), idx)
        batch.quarantine(idx, [_rename(p, inp) for p in problems])
        rows += block.num_rows + len(problems)
        if progress:
            progress(inp.name, rows, 0)
    batch.count_read(idx, rows)


def _rename(p: Problem, inp: InputFile) -> Problem:
    return Problem(inp.name, p.line, p.field, p.reason, p.raw)


def ingest_force_extract(home: Path, paths: list[str | Path], actor: str | None = None,
                         command: str = "ingest force-extract",
                         progress: Progress | None = None) -> IngestResult:
    """Ingest police force crime extracts (docs/formats.md) into ``incidents``.

    Rows are keyed by the force's crime reference: a later extract updates crimes already
    held (a new outcome, a corrected offence code) and adds new ones; it never removes.
    """
    return _run(home, paths, _force_extract_file, actor, command, progress)


def _istv_file(batch: Batch, idx: int, inp: InputFile, progress: Progress | None) -> None:
    parsed = istv.read_istv(inp.path)
    f = batch.files[idx]
    f.kind, f.sha256 = "istv", parsed.sha256
    f.notes.extend(parsed.notes)
    batch.target("ed_assaults")
    if parsed.table.num_rows:
        batch.stage("ed_assaults", _named(parsed.table, inp.name), idx)
    batch.quarantine(idx, [_rename(p, inp) for p in parsed.problems])
    batch.count_read(idx, parsed.rows_in)
    if progress:
        progress(inp.name, parsed.rows_in, 0)


def ingest_istv(home: Path, paths: list[str | Path], actor: str | None = None,
                command: str = "ingest istv", progress: Progress | None = None) -> IngestResult:
    """Ingest emergency-department assault files (NHS ISTV, ISB 1594) into ``ed_assaults``."""
    return _run(home, paths, _istv_file, actor, command, progress)
