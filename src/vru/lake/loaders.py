"""One function per input kind: expand the user's paths, read each file, stage, commit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from vru.lake.ingest import Batch, IngestResult, Progress
from vru.lake.store import Store
from vru.sources import police_uk
from vru.sources.base import Problem, SourceError
from vru.sources.inputs import expand


def _read_into(batch: Batch, idx: int, table: str, blocks, problems: list[Problem],
               size: int, progress: Progress | None, label: str) -> None:
    rows = 0
    for rows_block, records in blocks:
        batch.stage(table, rows_block, idx)
        rows += rows_block.num_rows
        if progress and len(records):
            progress(label, min(size, int(records[-1])), 0)
    batch.quarantine(idx, problems)
    batch.count_read(idx, rows + len(problems), [])


def ingest_police_uk(home: Path, paths: list[str | Path], actor: str | None = None,
                     command: str = "ingest police-uk",
                     progress: Progress | None = None,
                     on_file: Callable[[str, int, int], None] | None = None) -> IngestResult:
    """Ingest data.police.uk street, outcomes and stop-and-search files (or their zip).

    A street file replaces its force-months in ``incidents``; an outcomes file adds to
    ``outcomes`` and updates the latest outcome of crimes held; stop-and-search files
    replace their force-months in ``stop_search``. Files that cannot be read at all are
    reported as rejected (with the reason) and the rest are still ingested.
    """
    store = Store(home)
    with Batch(store, actor, command, progress) as batch:
        files = []
        for p in paths:  # one unreadable path must not stop the others
            try:
                files.extend(expand([p], batch.workdir))
            except SourceError as e:
                batch.reject(batch.add_file(e.file), e)
        for n, inp in enumerate(files):
            if on_file:
                on_file(inp.name, n, len(files))
            idx = batch.add_file(inp.name)
            try:
                kind, facts = police_uk.open_file(inp.path)
                f = batch.files[idx]
                f.kind, f.sha256 = f"police_uk:{kind}", facts.sha256
                f.notes.extend(facts.notes)
                table = {"street": "incidents", "outcomes": "outcomes",
                         "stop_search": "stop_search"}[kind]
                if kind == "street":
                    batch.target("incidents", scope="source = 'police_uk'",
                                 replace_unit=("force", "month"))
                elif kind == "outcomes":
                    batch.target("outcomes")
                else:
                    batch.target("stop_search", replace_unit=("force", "month"))
                problems: list[Problem] = []
                blocks = police_uk.READERS[kind](inp.path, facts, problems, name=inp.name)
                _read_into(batch, idx, table, blocks, problems, facts.size, progress, inp.name)
            except SourceError as e:
                batch.reject(idx, e)
        return batch.commit()
