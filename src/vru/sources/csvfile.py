"""Streaming CSV reading shared by every source: encoding, header matching, malformed rows.

Rows come out as Arrow record batches of strings (typing and validation are each source's
job), with the record number of every row so a quarantined row can be found in the file.
A record number is the row's position counting the header as 1; it equals the physical line
number unless an earlier quoted field holds a line break.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from vru.sources.base import Problem, SourceError

BLOCK_SIZE = 8 << 20  # bytes per parsed block: bounds memory, big enough for throughput
_SNIFF = 1 << 16


def normalise_header(name: str) -> str:
    """Header cell → comparison key: BOM and spaces stripped, case folded, runs of space one."""
    return " ".join(name.replace("\ufeff", "").strip().casefold().split())


@dataclass
class CsvBatch:
    """A block of rows: string columns named by the caller's canonical names."""

    table: pa.Table
    records: np.ndarray  # int64 record number of each row (header = 1)


@dataclass
class FileFacts:
    """What a first pass over the bytes tells: checksum, encoding, size."""

    sha256: str
    encoding: str
    size: int
    notes: list[str] = field(default_factory=list)


def inspect_bytes(path: str | Path) -> FileFacts:
    """Hash the file and decide its encoding in one streamed pass.

    UTF-8 (with or without BOM) is preferred; a file that is not valid UTF-8 is read as
    cp1252 (Excel's default on British Windows), or latin-1 where cp1252 has no character.
    """
    path = Path(path)
    h = hashlib.sha256()
    dec = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    cp1252_ok = True
    size = 0
    with open(path, "rb") as f:
        head = f.read(_SNIFF)
        if b"\x00" in head:
            raise SourceError(path, "not a CSV text file (it holds binary data); "
                              "give the .csv files or the data.police.uk .zip")
        block = head
        while block:
            size += len(block)
            h.update(block)
            if utf8:
                try:
                    dec.decode(block)
                except UnicodeDecodeError:
                    utf8 = False
            if not utf8 and cp1252_ok:
                try:
                    block.decode("cp1252")
                except UnicodeDecodeError:
                    cp1252_ok = False
            block = f.read(BLOCK_SIZE)
    if utf8:
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    notes = []
    if utf8:
        enc = "utf-8"
    elif cp1252_ok:
        enc = "cp1252"
        notes.append(f"{path.name}: not UTF-8; read as Windows-1252 (cp1252)")
    else:
        enc = "latin-1"
        notes.append(f"{path.name}: not UTF-8; read as Latin-1")
    return FileFacts(sha256=h.hexdigest(), encoding=enc, size=size, notes=notes)


def read_header(path: Path, encoding: str) -> list[str]:
    """The header row's cells as written (BOM removed); [] when the first line is empty."""
    enc = "utf-8-sig" if encoding == "utf-8" else encoding  # pyarrow drops the BOM too
    with open(path, encoding=enc, newline="") as f:
        first = f.readline()
    if not first.strip():
        return []
    return next(csv.reader(io.StringIO(first)))


def read_batches(
    path: str | Path,
    columns: Mapping[str, Sequence[str]],
    required: Sequence[str],
    facts: FileFacts | None = None,
    problems: list[Problem] | None = None,
    block_size: int = BLOCK_SIZE,
) -> Iterator[CsvBatch]:
    """Stream a CSV as string batches with canonical column names.

    Parameters
    ----------
    path
        The CSV file.
    columns
        Canonical name → header spellings accepted for it (compared after `normalise_header`).
    required
        Canonical names whose column must be present; a missing one raises `SourceError`.
    facts
        From `inspect_bytes` (computed if not given).
    problems
        Malformed rows (wrong number of fields) are appended here as `Problem`s.

    Raises
    ------
    SourceError
        Empty file, no header, missing required columns, or an unreadable CSV structure.
    """
    path = Path(path)
    facts = facts or inspect_bytes(path)
    if problems is None:
        problems = []
    if facts.size == 0:
        raise SourceError(path, "the file is empty")
    header = read_header(path, facts.encoding)
    if not header:
        raise SourceError(path, "no header row: the first line is empty", line=1)
    keys = [normalise_header(h) for h in header]
    chosen: dict[str, str] = {}  # canonical → actual header text
    for canon, spellings in columns.items():
        for s in spellings:
            k = normalise_header(s)
            if k in keys:
                chosen[canon] = header[keys.index(k)]
                break
    missing = [c for c in required if c not in chosen]
    if missing:
        want = ", ".join(repr(columns[m][0]) for m in missing)
        raise SourceError(
            path,
            f"missing column(s) {want}; the header has: {', '.join(repr(h) for h in header)}. "
            "Check this is the right kind of file (see docs/formats.md).",
            line=1,
        )
    dup = {h for h in header if header.count(h) > 1 and h in chosen.values()}
    if dup:
        raise SourceError(path, f"column(s) {sorted(dup)} appear more than once in the header",
                          line=1)

    bad_numbers: list[int] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        n = row.number if row.number is not None and row.number >= 0 else None
        if n is not None:
            bad_numbers.append(n)
        problems.append(Problem(
            file=str(path), line=n, field=None,
            reason=(f"malformed row: {row.actual_columns} fields where the header has "
                    f"{row.expected_columns} (an unquoted comma or a cut line?)"),
            raw=row.text,
        ))
        return "skip"

    actual_names = list(chosen.values())
    read_opts = pacsv.ReadOptions(encoding=facts.encoding, block_size=block_size,
                                  use_threads=False)
    parse_opts = pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid)
    conv = pacsv.ConvertOptions(
        include_columns=actual_names,
        column_types={n: pa.string() for n in actual_names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    rename = {v: k for k, v in chosen.items()}
    next_record = 2  # the header is record 1
    try:
        reader = pacsv.open_csv(path, read_options=read_opts, parse_options=parse_opts,
                                convert_options=conv)
        for rb in reader:
            n = rb.num_rows
            seen_bad = len(bad_numbers)
            records = _record_numbers(next_record, n, bad_numbers)
            next_record = int(records[-1]) + 1 if n else next_record + (len(bad_numbers) - seen_bad)
            tbl = pa.Table.from_batches([rb]).rename_columns([rename[c] for c in rb.schema.names])
            yield CsvBatch(tbl, records)
    except pa.ArrowInvalid as e:
        raise SourceError(path, f"cannot be read as CSV after record {next_record - 1}: {e}. "
                          "Is a quoted field left open?") from None


def _record_numbers(start: int, n: int, bad: list[int]) -> np.ndarray:
    """Record numbers of ``n`` good rows from ``start``, skipping the malformed ones."""
    skip = {b for b in bad if b >= start}
    if not skip:
        return np.arange(start, start + n, dtype=np.int64)
    out = np.empty(n, dtype=np.int64)
    r = start
    for i in range(n):
        while r in skip:
            r += 1
        out[i] = r
        r += 1
    return out
