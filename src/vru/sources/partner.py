"""Generic partner CSVs described by a contract → typed Arrow tables, with bad rows quarantined."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vru.sources import values as v
from vru.sources.base import Parsed, Problem
from vru.sources.contract import ColumnSpec, Contract
from vru.sources.csvfile import (
    inspect_bytes,
    normalise_header,
    read_batches,
    read_header,
)

_TYPE_WORDS = {
    "integer": "a whole number",
    "number": "a number",
    "date": f"a date ({v.DATE_FORMATS})",
    "datetime": f"a date-time ({v.DATETIME_FORMATS})",
    "boolean": "yes/no (Y/N, true/false, 1/0)",
}


def read_partner(path: str | Path, contract: Contract, *, now: datetime | None = None) -> Parsed:
    """Read a partner CSV against its contract.

    Parameters
    ----------
    path
        The CSV; its header names the contract's columns (case and spaces ignored; ``_`` may
        be written as a space).
    contract
        From `vru.sources.contract.load_contract`.
    now
        Clock for the "date in the future" check (default: the system clock).

    Returns
    -------
    Parsed
        Kind ``partner:<name>``; the table has the contract's columns typed, then
        ``source_file`` and ``source_line``. Rows failing a type, a required value, an allowed
        list, or with an impossible or future date are quarantined naming the column.
        Identifier columns are returned as given: the lake pseudonymises them
        (``contract.identifier_columns``). Columns the contract does not declare are dropped,
        with a note, so undeclared personal data is never kept.

    Raises
    ------
    SourceError
        Empty, binary or unreadable files, or a required column missing from the header.
    """
    path = Path(path)
    facts = inspect_bytes(path)
    spellings = {c.name: [c.name, c.name.replace("_", " ")] for c in contract.columns}
    required = contract.required_columns
    notes = list(facts.notes)
    problems: list[Problem] = []
    tables = []
    for batch in read_batches(path, spellings, required, facts=facts, problems=problems):
        tables.append(_convert(path, contract, batch.table, batch.records, now, problems))
    header = read_header(path, facts.encoding)
    known = {normalise_header(s) for ss in spellings.values() for s in ss}
    extra = [h for h in header if normalise_header(h) not in known]
    if extra:
        notes.append(f"{path.name}: column(s) {', '.join(repr(h) for h in extra)} are not in "
                     f"contract {contract.name!r}; dropped, not kept")
    absent = [c.name for c in contract.columns
              if not any(normalise_header(s) in {normalise_header(h) for h in header}
                         for s in spellings[c.name])]
    if absent:
        notes.append(f"{path.name}: optional column(s) {', '.join(absent)} absent; left empty")
    schema = contract.arrow_schema()
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    rows_in = table.num_rows + len(problems)
    if rows_in == 0:
        notes.append(f"{path.name}: header only, no data rows")
    return Parsed(kind=f"partner:{contract.name}", file=str(path), sha256=facts.sha256,
                  rows_in=rows_in, table=table, problems=problems, notes=notes)


def _convert(path: Path, contract: Contract, t: pa.Table, lines: np.ndarray,
             now: datetime | None, problems: list[Problem]) -> pa.Table:
    n = t.num_rows
    faults = v.Faults(n)
    out: dict[str, pa.Array] = {}
    for spec in contract.columns:
        text = (pc.utf8_trim_whitespace(t[spec.name].combine_chunks())
                if spec.name in t.column_names else pa.array([""] * n, pa.string()))
        out[spec.name] = _typed(spec, text, faults, now)
    problems.extend(faults.problems(str(path), lines, t))
    keep = pa.array(~faults.bad)
    cols = [out[c.name].filter(keep) for c in contract.columns]
    good = int((~faults.bad).sum())
    cols += [pa.array([path.name] * good, pa.string()),
             pa.array(lines[~faults.bad], pa.int64())]
    return pa.Table.from_arrays(cols, schema=contract.arrow_schema())


def _typed(spec: ColumnSpec, text: pa.Array, faults: v.Faults,
           now: datetime | None) -> pa.Array:
    """Parse one column, recording its failures in ``faults``; returns the typed values."""
    name = spec.name
    blank = v.is_blank(text)

    def quote(i: int) -> str:
        return repr(v.text_at(text, i))

    if spec.required:
        faults.add(blank, name, f"{name} is empty; the contract makes it required")
    if spec.type == "string":
        values = pc.if_else(pa.array(blank), pa.scalar(None, pa.string()), text)
        if spec.allowed is not None:
            allowed = pa.array(spec.allowed)
            at = pc.index_in(pc.utf8_lower(values), value_set=pc.utf8_lower(allowed))
            miss = np.asarray(pc.is_null(at).to_numpy(zero_copy_only=False)) & ~blank
            faults.add(miss, name, lambda i: f"{name} {quote(i)} is not an allowed value: use "
                       f"one of {', '.join(spec.allowed)}")
            values = pc.take(allowed, at)  # the contract's own spelling
        return values
    parser = {"integer": v.parse_integer, "number": v.parse_number, "date": v.parse_date,
              "datetime": v.parse_datetime, "boolean": v.parse_flag}[spec.type]
    parsed = parser(text)
    faults.add(parsed.bad, name, lambda i: f"{name} {quote(i)} is not "
               f"{_TYPE_WORDS[spec.type]}")
    if spec.type in ("date", "datetime"):
        faults.add(v.too_early_mask(parsed.values), name,
                   lambda i: f"{name} {quote(i)} is before {v.EARLIEST_YEAR}: a typing slip?")
        faults.add(v.future_mask(parsed.values, now), name,
                   lambda i: f"{name} {quote(i)} is in the future")
    return parsed.values
