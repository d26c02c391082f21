"""What every source reader returns: canonical rows, quarantined rows with reasons, and counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa


class SourceError(Exception):
    """A whole file cannot be used (wrong columns, empty, not CSV...).

    The message names the file and, where it can, the line and field, and says what to do.
    """

    def __init__(self, file: str | Path, message: str, line: int | None = None,
                 field: str | None = None) -> None:
        self.file = str(file)
        self.line = line
        self.field = field
        self.message = message
        where = self.file
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Problem:
    """One input row that could not be used, and why (a row of the quarantine table)."""

    file: str
    line: int | None  # 1-based physical line number in the file (header is line 1)
    field: str | None
    reason: str  # a sentence a person can act on
    raw: str  # the row as it was read (re-joined if it had to be)


QUARANTINE_SCHEMA = pa.schema([
    ("batch_id", pa.string()),
    ("source", pa.string()),
    ("source_file", pa.string()),
    ("file_sha256", pa.string()),
    ("line", pa.int64()),
    ("field", pa.string()),
    ("reason", pa.string()),
    ("raw", pa.string()),
])


@dataclass
class Parsed:
    """The result of reading one input file.

    ``rows_in`` counts data rows seen in the file (header excluded); every one of them is
    either in ``table`` or in ``problems``: ``rows_in == table.num_rows + len(problems)``.
    Duplicates are decided later, by the lake, against what it already holds.
    """

    kind: str  # "street", "outcomes", "stop_search", "force_extract", "istv", "partner:<name>"
    file: str
    sha256: str
    rows_in: int
    table: pa.Table
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "read as cp1252, not UTF-8"

    def __post_init__(self) -> None:
        if self.rows_in != self.table.num_rows + len(self.problems):
            raise AssertionError(
                f"{self.file}: {self.rows_in} rows in but {self.table.num_rows} accepted + "
                f"{len(self.problems)} quarantined"
            )


# Great Britain's extent, generous by a few km, in WGS84 and British National Grid.
GB_LON = (-8.8, 2.1)
GB_LAT = (49.8, 60.95)
GB_EASTING = (0.0, 700_000.0)
GB_NORTHING = (0.0, 1_300_000.0)
