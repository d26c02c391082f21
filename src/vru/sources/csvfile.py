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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
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
    The bytes are read into one reused buffer and checked by Arrow's UTF-8 validator, so
    no text object is made of a file that may be gigabytes long.
    """
    path = Path(path)
    h = hashlib.sha256()
    utf8 = _Utf8()
    cp1252_ok = True
    size = 0
    buf = bytearray(BLOCK_SIZE)
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


def utf8_copy(path: Path, facts: FileFacts, workdir: Path) -> Path:
    """The file itself if UTF-8, else a UTF-8 copy in ``workdir`` (for engines that read
    only UTF-8)."""
    if facts.encoding == "utf-8":
        return path
    workdir.mkdir(parents=True, exist_ok=True)
    dest = workdir / f"{facts.sha256[:16]}.utf8.csv"
    with open(path, encoding=facts.encoding, newline="") as src, \
            open(dest, "w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    return dest


@dataclass(frozen=True)
class EngineInput:
    """A file for `read_engine`: where it is, the name the user knows, its byte facts."""

    path: Path
    name: str
    facts: FileFacts


def read_engine(con, inputs: Sequence[EngineInput], columns: Mapping[str, Sequence[str]],
                required: Sequence[str], workdir: Path, query: str = "SELECT * FROM _csv"
                ) -> tuple[pa.Table | None, dict[str, int], list[Problem],
                           dict[str, SourceError]]:
    """Read CSVs with DuckDB's parallel reader and transform their rows in the same pass.

    ``query`` reads relation ``_csv``: the canonical columns (all strings; others are
    dropped) and ``_fi``, the file's index, which it must keep, changing no row order.
    Files sharing a header are read in one scan, straight into Arrow, in file order; the result gets
    ``_name`` (the file as the user knows it) and ``_record``: the row's number in its file
    counting the header as 1 (the line number unless an earlier field holds a line break
    or blank lines precede). Rows DuckDB cannot split into the header's fields become
    problems with their physical line.

    Returns
    -------
    (rows or None when no file could be read, rows in per file name, problems,
     errors per file name)
        A file in ``errors`` was not read at all (e.g. a required column missing).
    """
    errors: dict[str, SourceError] = {}
    groups: dict[tuple[str, ...], list[tuple[EngineInput, Path, dict[str, int]]]] = {}
    for inp in inputs:
        try:
            header, positions = match_columns(inp.path, inp.facts, columns, required)
            src = utf8_copy(inp.path, inp.facts, workdir)
        except SourceError as e:
            errors[inp.name] = e
            continue
        groups.setdefault(tuple(header), []).append((inp, src, positions))
    problems: list[Problem] = []
    parts: list[pa.Table] = []

    def scan(header: tuple[str, ...], members) -> None:
        t, found = _scan(con, header, members, columns, query)
        parts.append(t)
        problems.extend(found)

    for header, members in groups.items():
        try:
            scan(header, members)
        except SourceError as e:
            if len(members) == 1:
                errors[members[0][0].name] = e
                continue
            for m in members:  # find which file spoils the shared scan
                try:
                    scan(header, [m])
                except SourceError as e:
                    errors[m[0].name] = e
    table = pa.concat_tables(parts) if parts else None
    counts = dict.fromkeys((i.name for i in inputs if i.name not in errors), 0)
    if table is not None and table.num_rows:
        names = pc.value_counts(table["_name"]).to_pylist()
        for item in names:
            counts[item["values"]] += item["counts"]
    for p in problems:
        counts[p.file] += 1
    return table, counts, problems, errors


def _scan(con, header: tuple[str, ...], members, columns, query: str
          ) -> tuple[pa.Table, list[Problem]]:
    """One DuckDB scan of files sharing ``header``, transformed by ``query``, to Arrow."""
    names = {str(src): inp.name for inp, src, _ in members}
    spec = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header))) + "}"
    positions = members[0][2]
    renamed = ", ".join(f"c{positions[c]} AS {c}" if c in positions else f"NULL::VARCHAR AS {c}"
                        for c in columns)
    con.execute("DROP TABLE IF EXISTS _rej; DROP TABLE IF EXISTS _scan")
    # rows must come out in file order, since a row's record number is its place there:
    # with insertion order free, a big file's blocks can arrive out of order
    order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    con.execute("SET preserve_insertion_order = true; SET produce_arrow_string_view = true")
    try:
        table = con.sql(
            f"WITH _csv AS (SELECT {renamed}, file_index::INTEGER AS _fi FROM read_csv("
            f"?, header = true, auto_detect = false, columns = {spec}, delim = ',', "
            "quote = '\"', escape = '\"', store_rejects = true, "
            f"rejects_table = '_rej', rejects_scan = '_scan')) {query}", params=[list(names)]
        ).to_arrow_table()
    except Exception as e:  # duckdb.Error: a file as a whole cannot be read
        first = members[0][0]
        raise SourceError(first.path if len(members) == 1 else ", ".join(names.values()),
                          f"cannot be read as CSV: {str(e).splitlines()[0]}") from None
    finally:
        con.execute(f"SET preserve_insertion_order = {str(order).lower()}; "
                    "SET produce_arrow_string_view = false")
    rejects = con.execute("""
        SELECT s.file_path, r.line, any_value(r.csv_line), any_value(r.error_type),
               any_value(r.error_message)
        FROM _rej r JOIN _scan s USING (scan_id, file_id)
        GROUP BY ALL ORDER BY 1, 2""").fetchall()
    problems = [Problem(file=names[fp], line=int(line), field=None,
                        reason=f"malformed row: {msg} ({kind.lower()}; an unquoted comma or a "
                               "cut line?)", raw=(raw_line or "").strip("\r\n"))
                for fp, line, raw_line, kind, msg in rejects]
    return _number(table, names, rejects), problems


def _number(table: pa.Table, names: dict[str, str], rejects: list[tuple]) -> pa.Table:
    """Replace the scan's ``_fi`` (file index) by ``_name`` and ``_record`` (rows are in
    file order)."""
    n = table.num_rows
    paths = list(names)
    idx = (table["_fi"].combine_chunks().to_numpy(zero_copy_only=False).astype(np.int32)
           if n else np.zeros(0, np.int32))
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]]) if n else np.zeros(0, np.int64)
    if len(np.unique(idx[starts])) != len(starts):
        raise RuntimeError("the CSV scan returned a file's rows out of order")  # a DuckDB bug
    run = np.repeat(starts, np.diff(np.r_[starts, n]))
    record = np.arange(n, dtype=np.int64) - run + 2
    by_file: dict[str, list[int]] = {}
    for fp, line, *_rest in rejects:
        by_file.setdefault(fp, []).append(int(line))
    for fi, fp in enumerate(paths):
        if fp in by_file:
            # good row k (0-based) of a file follows its reject j when k >= line_j - 2 - j
            gaps = np.array([ln - 2 - j for j, ln in enumerate(sorted(by_file[fp]))])
            rows = idx == fi
            k = record[rows] - 2
            record[rows] += np.searchsorted(gaps, k, side="right")
    # the user's name of each row's file, as a dictionary: one string per file, not per row
    name = pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()),
                                          pa.array(list(names.values()), pa.string()))
    return (table.drop_columns(["_fi"]).append_column("_name", name)
            .append_column("_record", pa.array(record, pa.int64())))


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
