"""Streaming CSV reading shared by every source: encoding, header matching, malformed rows.

Rows come out as Arrow record batches of strings (typing and validation are each source's
job), with the record number of every row so a quarantined row can be found in the file.
A record number is the row's position counting the header as 1; it equals the physical line
number unless an earlier quoted field holds a line break.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from vru.sources.base import Problem, SourceError

BLOCK_SIZE = 8 << 20  # bytes per parsed block: bounds memory, big enough for throughput
_SNIFF = 1 << 16
# bytes per step of the checksum and encoding pass: a block that stays in the CPU's cache
# (8 MB blocks made it a third slower, 0.36 against 0.26 s for 226 MB)
INSPECT_BLOCK = 1 << 20


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
    The bytes are read into one reused buffer and checked by Arrow's UTF-8 validator, so
    no text object is made of a file that may be gigabytes long.
    """
    path = Path(path)
    h = hashlib.sha256()
    utf8 = _Utf8()
    cp1252_ok = True
    size = 0
    buf = bytearray(INSPECT_BLOCK)
    with open(path, "rb") as f:
        n = f.readinto(buf)
        if b"\x00" in buf[:min(n, _SNIFF)]:
            raise SourceError(path, "not a CSV text file (it holds binary data); "
                              "give the .csv files or the data.police.uk .zip")
        while n:
            block = memoryview(buf)[:n]
            size += n
            h.update(block)
            if utf8.ok:
                utf8.feed(block)
            if not utf8.ok and cp1252_ok:
                try:
                    bytes(block).decode("cp1252")
                except UnicodeDecodeError:
                    cp1252_ok = False
            n = f.readinto(buf)
    notes = []
    if utf8.finish():
        enc = "utf-8"
    elif cp1252_ok:
        enc = "cp1252"
        notes.append(f"{path.name}: not UTF-8; read as Windows-1252 (cp1252)")
    else:
        enc = "latin-1"
        notes.append(f"{path.name}: not UTF-8; read as Latin-1")
    return FileFacts(sha256=h.hexdigest(), encoding=enc, size=size, notes=notes)


class _Utf8:
    """Streaming UTF-8 check by Arrow's vectorised validator, block by block; a character
    cut by a block's end is checked whole with the next block's first bytes."""

    def __init__(self) -> None:
        self.ok = True
        self._carry = b""  # the first 1-3 bytes of a character the last block cut

    def feed(self, block: memoryview) -> None:
        if not self._carry and _ascii(block):
            return  # ASCII is UTF-8, and no character is cut: most files, ten times faster
        start = 0
        if self._carry:
            need = _char_length(self._carry[0]) - len(self._carry)
            start = min(need, len(block))
            piece = self._carry + bytes(block[:start])
            if len(piece) < _char_length(piece[0]):  # still incomplete (a tiny block)
                self._carry = piece
                return
            self.ok = _valid_utf8(piece)
            self._carry = b""
        end = len(block)
        lead = end - 1
        while lead >= start and lead > end - 4 and block[lead] & 0xC0 == 0x80:
            lead -= 1  # back over continuation bytes to the last character's first byte
        if lead >= start and block[lead] >= 0xC0 and end - lead < _char_length(block[lead]):
            end = lead
            self._carry = bytes(block[lead:])
        if self.ok and end > start:
            self.ok = _valid_utf8(block[start:end])

    def finish(self) -> bool:
        if self.ok and self._carry:
            self.ok = False  # the file ends inside a character
        return self.ok


def _ascii(block: memoryview) -> bool:
    """Whether every byte is below 0x80, a UTF-8 byte order mark at the start allowed."""
    body = block[3:] if bytes(block[:3]) == b"\xef\xbb\xbf" else block
    return not len(body) or int(np.frombuffer(body, np.uint8).max()) < 0x80


def _char_length(lead: int) -> int:
    """Bytes in the UTF-8 character that starts with byte ``lead`` (1 if not a lead)."""
    return 2 if 0xC0 <= lead < 0xE0 else 3 if 0xE0 <= lead < 0xF0 else \
        4 if 0xF0 <= lead < 0xF8 else 1


def _valid_utf8(data) -> bool:
    body = pa.py_buffer(data)
    offsets = pa.py_buffer(np.array([0, body.size], dtype=np.int32))
    try:
        pa.Array.from_buffers(pa.binary(), 1, [None, offsets, body]).cast(pa.string())
    except pa.ArrowInvalid:
        return False
    return True


def read_header(path: Path, encoding: str) -> list[str]:
    """The header row's cells as written (BOM removed); [] when the first line is empty."""
    enc = "utf-8-sig" if encoding == "utf-8" else encoding  # pyarrow drops the BOM too
    with open(path, encoding=enc, newline="") as f:
        first = f.readline()
    if not first.strip():
        return []
    return next(csv.reader(io.StringIO(first)))


def match_columns(path: Path, facts: FileFacts, columns: Mapping[str, Sequence[str]],
                  required: Sequence[str]) -> tuple[list[str], dict[str, int]]:
    """The header row and, for each canonical column found in it, its position.

    Raises
    ------
    SourceError
        Empty file, empty first line, a required column missing, or a wanted column twice.
    """
    if facts.size == 0:
        raise SourceError(path, "the file is empty")
    header = read_header(path, facts.encoding)
    if not header:
        raise SourceError(path, "no header row: the first line is empty", line=1)
    keys = [normalise_header(h) for h in header]
    positions: dict[str, int] = {}
    for canon, spellings in columns.items():
        for sp in spellings:
            k = normalise_header(sp)
            if k in keys:
                positions[canon] = keys.index(k)
                break
    missing = [c for c in required if c not in positions]
    if missing:
        want = ", ".join(repr(columns[m][0]) for m in missing)
        raise SourceError(
            path,
            f"missing column(s) {want}; the header has: {', '.join(repr(h) for h in header)}. "
            "Check this is the right kind of file (see docs/formats.md).",
            line=1,
        )
    dup = sorted({header[i] for i in positions.values() if keys.count(keys[i]) > 1})
    if dup:
        raise SourceError(path, f"column(s) {dup} appear more than once in the header", line=1)
    return header, positions


@dataclass(frozen=True)
class CsvInput:
    """A file for `read_files`: where it is, the name the user knows, its byte facts."""

    path: Path
    name: str
    facts: FileFacts


READ_THREADS = 2  # files parsed at once; each by one thread (small files parse best whole)


FileRows = tuple[pa.Table, list[Problem]]  # what `read_file` returns


def read_files(inputs: Sequence[CsvInput], columns: Mapping[str, Sequence[str]],
               required: Sequence[str], dictionary: Collection[str] = (),
               threads: int = READ_THREADS,
               ready: Callable[[Path], FileRows | SourceError | None] | None = None
               ) -> tuple[pa.Table | None, dict[str, int], list[Problem],
                          dict[str, SourceError]]:
    """Read whole CSV files with Arrow's parser, several at once, into one table.

    The table has the canonical ``columns`` (strings, ``''`` where empty or absent; those in
    ``dictionary`` dictionary-encoded, one dictionary per column for all the files, so
    checks can run once per distinct value), ``_name`` (the file as the user knows it) and
    ``_record``: the row's number in its file counting the header as 1 (the line number
    unless an earlier field holds a line break or blank lines precede). Rows come in file
    order. Rows Arrow cannot split into the header's fields become problems. ``ready``
    gives a file's rows already read by `read_file` with the same columns (a
    `vru.sources.readahead.Readahead`), or None to read it here.

    Returns
    -------
    (rows or None when no file could be read, rows in per file name, problems,
     errors per file name)
        A file in ``errors`` was not read at all (e.g. a required column missing, a quote
        left open).
    """
    def one(inp: CsvInput) -> FileRows | SourceError:
        got = ready(inp.path) if ready else None
        if isinstance(got, SourceError):  # as read_file would have raised it here
            return got
        if got is not None:  # read ahead under the path's name: the user's name here
            t, found = got
            return t, [replace(p, file=inp.name) for p in found]
        try:
            return read_file(inp, columns, required, dictionary)
        except SourceError as e:
            return e

    if threads > 1 and len(inputs) > 1:
        with ThreadPoolExecutor(min(threads, len(inputs))) as pool:
            results = list(pool.map(one, inputs))
    else:
        results = [one(inp) for inp in inputs]
    errors: dict[str, SourceError] = {}
    problems: list[Problem] = []
    parts: list[pa.Table] = []
    names: list[str] = []
    for inp, res in zip(inputs, results, strict=True):
        if isinstance(res, SourceError):
            errors[inp.name] = res
            continue
        t, found = res
        fi = len(names)
        names.append(inp.name)
        parts.append(t.append_column("_fi", pa.array(np.full(t.num_rows, fi, np.int32))))
        problems.extend(found)
    counts = dict.fromkeys((i.name for i in inputs if i.name not in errors), 0)
    for p in problems:
        counts[p.file] += 1
    if not parts:
        return None, counts, problems, errors
    table = pa.concat_tables(parts).unify_dictionaries().combine_chunks()
    fi = table["_fi"].to_numpy()
    for i, n in enumerate(np.bincount(fi, minlength=len(names)).tolist()):
        counts[names[i]] += n
    name = pa.DictionaryArray.from_arrays(pa.array(fi), pa.array(names, pa.string()))
    table = table.drop_columns(["_fi"]).append_column("_name", name)
    return table, counts, problems, errors


def read_file(inp: CsvInput, columns: Mapping[str, Sequence[str]], required: Sequence[str],
              dictionary: Collection[str]) -> FileRows:
    """One file's rows as `read_files` describes them (``_record`` included), and its
    malformed rows as problems."""
    header, positions = match_columns(inp.path, inp.facts, columns, required)
    bad: list[Problem] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        n = row.number if row.number is not None and row.number >= 0 else None
        bad.append(Problem(
            file=inp.name, line=n, field=None,
            reason=(f"malformed row: {row.actual_columns} fields where the header has "
                    f"{row.expected_columns} (an unquoted comma or a cut line?)"),
            raw=(row.text or "").strip("\r\n")))
        return "skip"

    # columns by position: a header may repeat or misspell the names of columns not wanted
    wanted = {canon: f"c{i}" for canon, i in positions.items()}
    text, dict_type = pa.string(), pa.dictionary(pa.int32(), pa.string())
    try:
        t = pacsv.read_csv(
            inp.path,
            read_options=pacsv.ReadOptions(
                encoding=inp.facts.encoding, use_threads=False, skip_rows=1,
                column_names=[f"c{i}" for i in range(len(header))], block_size=BLOCK_SIZE),
            parse_options=pacsv.ParseOptions(newlines_in_values=True,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(wanted.values()),
                column_types={c: dict_type if canon in dictionary else text
                              for canon, c in wanted.items()},
                strings_can_be_null=False, quoted_strings_can_be_null=False,
                # inspect_bytes validated the bytes (or Arrow transcoded them): once is enough
                check_utf8=False))
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        raise SourceError(inp.path, f"cannot be read as CSV: {str(e).splitlines()[0]}. Is a "
                          "quoted field left open?") from None
    n = t.num_rows
    cols, out = [], []
    for canon in columns:
        if canon in wanted:
            cols.append(t[wanted[canon]])
        else:  # an optional column the file lacks: empty, as an empty field reads
            cols.append(pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)),
                                                       pa.array([""]))
                        if canon in dictionary else pa.array([""] * n, pa.string()))
        out.append(canon)
    record = np.arange(2, n + 2, dtype=np.int64)
    lines = sorted(p.line for p in bad if p.line is not None)
    if lines:
        # good row k (0-based) follows malformed row j (its record number line_j) when
        # k >= line_j - 2 - j
        gaps = np.array([ln - 2 - j for j, ln in enumerate(lines)])
        record += np.searchsorted(gaps, np.arange(n), side="right")
    return (pa.Table.from_arrays([*cols, pa.array(record)], names=[*out, "_record"]),
            sorted(bad, key=lambda p: p.line or 0))


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
    header, positions = match_columns(path, facts, columns, required)
    chosen = {canon: header[i] for canon, i in positions.items()}

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
