"""One function per input kind: expand the user's paths, read each file, stage, commit."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from vru.lake.ingest import Batch, IngestResult, Progress
from vru.lake.store import Store
from vru.lake.tables import PSEUDONYM_PROPERTY, TableSpec, partner_spec
from vru.sources import canonical, force_extract, istv, partner, police_uk
from vru.sources.base import Problem, SourceError
from vru.sources.contract import load_contract
from vru.sources.csvfile import CsvInput, FileFacts, inspect_bytes
from vru.sources.inputs import InputFile, expand
from vru.sources.readahead import Parse, Readahead

Handler = Callable[[Batch, int, InputFile, Progress | None], None]


def _run(home: Path, paths: Iterable[str | Path], handler: Handler, actor: str | None,
         command: str, progress: Progress | None, suffixes: tuple[str, ...] = (".csv",),
         finish: Callable[[Batch], None] | None = None,
         read_ahead: Parse | None = None, ahead: Readahead | None = None) -> IngestResult:
    """Expand the paths, hand each file to ``handler``, then ``finish``, and commit.

    With ``read_ahead``, the files' facts and rows are made by a `Readahead` thread in
    file order while the batch works on earlier ones: ``ahead``, started by the caller
    before this was called, else one of our own (zip members are added to it once
    extracted).
    """
    store = Store(home)
    own = ahead is None and read_ahead is not None
    if own:
        ahead = Readahead([], read_ahead)
    try:
        with Batch(store, actor, command, progress) as batch:
            batch.ahead = ahead
            files: list[InputFile] = []
            for p in paths:  # one unreadable path must not stop the others
                try:
                    files.extend(expand([p], batch.workdir, suffixes))
                except SourceError as e:
                    batch.reject(batch.add_file(e.file), e)
            if ahead is not None:
                ahead.add([inp.path for inp in files])
            for inp in files:
                idx = batch.add_file(inp.name)
                try:
                    handler(batch, idx, inp, progress)
                except SourceError as e:
                    batch.reject(idx, e)
            if finish:
                finish(batch)
            return batch.commit()
    finally:
        if own and ahead is not None:
            ahead.close()


STREET_CHUNK_BYTES = 64 << 20  # street files are read and committed in parts of about this
                                # much CSV (~280k rows): memory stays bounded whatever the input


def _chunks(items: list, sizes: list[int], limit: int) -> list[list]:
    """Consecutive groups of items of at most ``limit`` bytes (a bigger one stands alone)."""
    out: list[list] = [[]]
    total = 0
    for item, size in zip(items, sizes, strict=True):
        if out[-1] and total + size > limit:
            out.append([])
            total = 0
        out[-1].append(item)
        total += size
    return out


def _facts(batch: Batch, path: Path) -> FileFacts:
    """Byte facts of an input file: read ahead, else now."""
    if batch.ahead is not None and (facts := batch.ahead.facts(path)) is not None:
        return facts
    return inspect_bytes(path)


def _named(table: pa.Table, name: str) -> pa.Table:
    """Provenance names the file as the user gave it (zip!member), not a scratch copy."""
    i = table.column_names.index("source_file")
    return table.set_column(i, "source_file",
                            canonical.repeat(name, table.num_rows).cast(pa.string()))


def ingest_police_uk(home: Path, paths: list[str | Path], actor: str | None = None,
                     command: str = "ingest police-uk",
                     progress: Progress | None = None,
                     force: str | None = None, ahead: Readahead | None = None) -> IngestResult:
    """Ingest data.police.uk street, outcomes and stop-and-search files (or their zip).

    A street file replaces its force-months in ``incidents``; an outcomes file adds to
    ``outcomes`` and updates the latest outcome of crimes held; stop-and-search files
    replace their force-months in ``stop_search``. Files that cannot be read at all are
    reported as rejected (with the reason) and the rest are still ingested. A file's kind
    comes from its header (else data.police.uk's name).

    Parameters
    ----------
    force
        The force of rows whose file does not say it (``--force``): a stop-and-search file
        whose name is not data.police.uk's and that has no "Falls within"/"Reported by"
        column, or street and outcomes rows that leave both blank. A force the file states
        wins.
    ahead
        Files already being read (`vru.sources.readahead.Readahead` with
        `vru.sources.police_uk.read_ahead`), e.g. by a face while the service loaded:
        their facts and street rows are taken from it. Without it, the files are read
        ahead from here on.
    """
    streets: list[tuple[int, InputFile]] = []

    def one(batch: Batch, idx: int, inp: InputFile, progress: Progress | None) -> None:
        if police_uk.kind_of(inp.path) == "street":
            # the bulk: read together in the engine once all are known, while their
            # checksums are still being computed
            streets.append((idx, inp))
            return
        kind, facts = police_uk.open_file(inp.path, _facts(batch, inp.path))
        batch.describe(idx, f"police_uk:{kind}", facts.sha256, facts.notes)
        table = "outcomes" if kind == "outcomes" else "stop_search"
        batch.target(table, replace_unit=() if kind == "outcomes" else ("force", "month"))
        problems: list[Problem] = []
        rows = 0
        for block, _records in police_uk.READERS[kind](inp.path, facts, problems,
                                                       name=inp.name, force=force):
            batch.stage(table, block, idx)
            rows += block.num_rows
        batch.quarantine(idx, problems)
        batch.count_read(idx, rows + len(problems))
        if progress:
            progress(inp.name, rows, 0)

    def known(batch: Batch, group: list[tuple[int, InputFile]]) -> list[CsvInput]:
        """The group's files with their byte facts; a file that is not text is rejected."""
        out = []
        for idx, inp in group:
            try:
                kind, facts = police_uk.open_file(inp.path, _facts(batch, inp.path))
            except SourceError as e:
                batch.reject(idx, e)
                continue
            batch.describe(idx, f"police_uk:{kind}", facts.sha256, facts.notes)
            out.append(CsvInput(inp.path, inp.name, facts))
        return out

    def street_files(batch: Batch) -> None:
        if not streets:
            return
        batch.target("incidents", source="police_uk", replace_unit=("force", "month"))
        by_name = {inp.name: idx for idx, inp in streets}
        groups = _chunks(streets, [inp.path.stat().st_size for _, inp in streets],
                         STREET_CHUNK_BYTES)
        done = 0
        for group in groups:
            if progress:
                progress(f"street files {done + 1}-{done + len(group)} of {len(streets)}",
                         done, len(streets))
            done += len(group)
            chunk = known(batch, group)
            if not chunk:
                continue
            rows, counts, problems, errors = police_uk.read_street(
                batch.con, chunk, force, ready=batch.ahead.rows if batch.ahead else None)
            for name, err in errors.items():
                batch.reject(by_name[name], err)
            for name, n in counts.items():
                batch.count_read(by_name[name], n)
            for p in problems:
                batch.quarantine(by_name[p.file], [p])
            names = canonical.single(pc.dictionary_encode(rows["_name"]))
            index = pa.array([by_name[n] for n in names.dictionary.to_pylist()], pa.int32())
            rows = rows.drop_columns(["_name"]).append_column(
                "_file", index.take(names.indices) if rows.num_rows
                else pa.array([], pa.int32()))
            batch.stage_arrow("incidents", rows)
            del rows
            batch.flush("incidents")

    return _run(home, paths, one, actor, command, progress, finish=street_files,
                read_ahead=police_uk.read_ahead, ahead=ahead)


def _force_extract_file(batch: Batch, idx: int, inp: InputFile,
                        progress: Progress | None) -> None:
    facts = inspect_bytes(inp.path)
    batch.describe(idx, "force_extract", facts.sha256, facts.notes)
    batch.target("incidents", source="force_extract")
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
    batch.describe(idx, "istv", parsed.sha256, parsed.notes)
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


def ingest_partner(home: Path, paths: list[str | Path], contract_path: str | Path,
                   actor: str | None = None, command: str = "ingest partner",
                   progress: Progress | None = None) -> IngestResult:
    """Ingest a partner dataset described by its contract into ``partner_<name>``.

    Needs a data sharing agreement in force for ``partner_<name>`` (`vru agreement add`).
    Identifier columns are replaced by keyed HMAC-SHA256 tokens before anything is staged,
    each kind of field under its own sub-key (`vru.governance.pseudonymise.kind_key`), so
    raw identifiers never reach a lake file; for the same reason a quarantined row of such a
    dataset keeps its file, line, field and reason but not its raw text. The table records
    its identifier columns (`vru.lake.store.identifier_columns`).

    Raises
    ------
    ContractError
        The contract itself is invalid.
    NoActiveAgreement
        No agreement in force covers the dataset.
    SourceError
        The table exists but holds tokens of the older single-key scheme: they would never
        match the new ones (duplicates missed, linkage broken), so the table must be removed
        and its files ingested again.
    """
    from vru.governance import db as gdb
    from vru.governance.agreements import require_active_agreement
    from vru.governance.pseudonymise import load_pseudonym_key, pseudonymise_table

    contract = load_contract(contract_path)
    require_active_agreement(gdb.connect(Path(home)), contract.table_name)
    key = load_pseudonym_key(Path(home))
    ids = contract.identifier_kinds
    fields = [pa.field(f.name, pa.string()) if f.name in ids else f
              for f in contract.arrow_schema()]
    schema = pa.schema([*fields, ("row_hash", pa.int64()), ("batch_id", pa.string())])
    spec = partner_spec(contract.name, schema, contract.date_column, ids)
    _refuse_old_tokens(Store(home), spec, contract.path)

    def one(batch: Batch, idx: int, inp: InputFile, progress: Progress | None) -> None:
        parsed = partner.read_partner(inp.path, contract)
        batch.describe(idx, parsed.kind, parsed.sha256, parsed.notes)
        batch.target(spec.name, spec=spec)
        if parsed.table.num_rows:
            rows = pseudonymise_table(parsed.table, ids, key)
            rows = _named(rows, inp.name)
            batch.stage(spec.name, canonical.conform(rows, schema), idx)
        redact = bool(ids)
        batch.quarantine(idx, [Problem(inp.name, p.line, p.field, p.reason,
                                       "" if redact else p.raw) for p in parsed.problems])
        batch.count_read(idx, parsed.rows_in)
        if progress:
            progress(inp.name, parsed.rows_in, 0)

    return _run(home, paths, one, actor, command, progress)


def _refuse_old_tokens(store: Store, spec: TableSpec, contract_path: str) -> None:
    """Refuse to add new-scheme tokens to a partner table holding tokens of another scheme."""
    wanted = dict(spec.properties).get(PSEUDONYM_PROPERTY)
    if wanted is None or not store.exists(spec.name):
        return
    held = store.properties(spec.name).get(PSEUDONYM_PROPERTY)
    if held != wanted:
        raise SourceError(contract_path, f"table {spec.name} holds pseudonyms made under "
                          f"{held or 'the older single-key scheme'!s}, which never match "
                          f"those made now ({wanted}); remove {store.path(spec.name)} and "
                          "ingest its files again")
