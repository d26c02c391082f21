"""The layouts of data.police.uk files: their columns, and each file's kind.

Cheap to import (no engine, no checks): `vru.service.readahead` parses street files with it
while the rest of the ingest loads. The checks and the canonical rows are `police_uk`'s.
"""

from __future__ import annotations

import re
from pathlib import Path

from vru.sources.csvfile import CsvInput, FileFacts, FileRows, read_file

STREET_COLUMNS = {
    "crime_id": ["Crime ID"], "month": ["Month"], "reported_by": ["Reported by"],
    "falls_within": ["Falls within"], "lon": ["Longitude"], "lat": ["Latitude"],
    "location": ["Location"], "lsoa_code": ["LSOA code"], "lsoa_name": ["LSOA name"],
    "crime_type": ["Crime type"], "outcome": ["Last outcome category"], "context": ["Context"],
}
STREET_REQUIRED = ["crime_id", "month", "falls_within", "lon", "lat", "crime_type"]

OUTCOME_COLUMNS = {
    "crime_id": ["Crime ID"], "month": ["Month"], "reported_by": ["Reported by"],
    "falls_within": ["Falls within"], "lon": ["Longitude"], "lat": ["Latitude"],
    "location": ["Location"], "lsoa_code": ["LSOA code"], "lsoa_name": ["LSOA name"],
    "outcome": ["Outcome type"],
}
OUTCOME_REQUIRED = ["crime_id", "month", "outcome"]

STOP_COLUMNS = {
    "type": ["Type"], "date": ["Date"], "part_of_operation": ["Part of a policing operation"],
    "operation": ["Policing operation"], "lat": ["Latitude"], "lon": ["Longitude"],
    "gender": ["Gender"], "age_range": ["Age range"],
    "self_defined_ethnicity": ["Self-defined ethnicity"],
    "officer_defined_ethnicity": ["Officer-defined ethnicity"], "legislation": ["Legislation"],
    "object_of_search": ["Object of search"], "outcome": ["Outcome"],
    "outcome_linked": ["Outcome linked to object of search"],
    "removal_of_clothing": ["Removal of more than just outer clothing"],
    # not in the published layout, but some exports carry them: the force when the name
    # does not say it
    "reported_by": ["Reported by"], "falls_within": ["Falls within"],
}
STOP_REQUIRED = ["type", "date", "lat", "lon"]

KINDS = ("street", "outcomes", "stop_search")
_NAME = re.compile(r"(\d{4}-\d{2})-(.+?)-(street|outcomes|stop-and-search)\.csv(\.gz)?$", re.I)


def kind_of(path: Path) -> str | None:
    """File kind from its header, else from its data.police.uk name; None if neither says.

    The header decides: a renamed file is still known, and a misnamed one is read as what
    it holds rather than refused for lacking the named kind's columns.
    """
    return _kind_of_header(path) or _kind_of_name(path)


def _kind_of_name(path: Path) -> str | None:
    m = _NAME.search(path.name)
    if not m:
        return None
    return {"street": "street", "outcomes": "outcomes",
            "stop-and-search": "stop_search"}[m.group(3).lower()]


def _kind_of_header(path: Path) -> str | None:
    """The kind whose identifying columns the first line holds (any case, BOM, quotes)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if head[:2] == b"\x1f\x8b":  # gzipped: the reader will say what it is
        return None
    first = head.decode("utf-8", "replace").lstrip("\ufeff").splitlines()[:1]
    names = {c.strip().strip('"').strip().lower() for c in first[0].split(",")} if first else set()
    for kind, needed in _HEADER_KINDS:
        if needed <= names:
            return kind
    return None


# columns that tell one kind from the others (street and outcomes share the rest)
_HEADER_KINDS = (
    ("street", {"crime id", "crime type"}),
    ("outcomes", {"crime id", "outcome type"}),
    ("stop_search", {"type", "date", "object of search"}),
)


# columns with few distinct values each, read as dictionaries so checks run once per value;
# the Crime ID is unique, and the LSOA name is only ever quoted (a quarantined row as it
# was written): their dictionaries would cost parse time (a tenth, for the name) for nothing
STREET_DICTIONARY = frozenset(STREET_COLUMNS) - {"crime_id", "lsoa_name"}


def read_ahead(path: Path, facts: FileFacts) -> FileRows | None:
    """A street file's rows as `read_street` parses them (for
    `vru.sources.readahead.Readahead`); None for other files."""
    if kind_of(path) != "street":
        return None
    return read_file(CsvInput(path, str(path), facts), STREET_COLUMNS, STREET_REQUIRED,
                     STREET_DICTIONARY)
