"""Test helpers for the force extract, ISTV and partner readers: writing CSVs, checking counts."""

from __future__ import annotations

import csv
import io
import tomllib
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from vru.sources.base import Parsed

NOW = datetime(2020, 6, 1, 12, 0)  # fixed clock for "in the future" checks

FORCE_HEADER = [
    "crime_ref", "force", "ho_offence_code", "offence_description", "committed_from",
    "committed_to", "easting", "northing", "longitude", "latitude", "location_description",
    "knife_flag", "domestic_flag", "outcome_type", "outcome_date", "victim_age_band",
]

ISTV_HEADER = [
    "site_code", "attendance_ref", "arrival_datetime", "assault_datetime", "assault_method",
    "location_type", "location_description",
]


def force_row(ref: str = "43/1/19", **over: str) -> dict[str, str]:
    """A valid force-extract row (override any field)."""
    row = {
        "crime_ref": ref, "force": "Thames Valley Police", "ho_offence_code": "8N",
        "offence_description": "Assault with injury", "committed_from": "2019-03-01 22:15",
        "committed_to": "", "easting": "", "northing": "", "longitude": "-0.971",
        "latitude": "51.455", "location_description": "Broad Street", "knife_flag": "Y",
        "domestic_flag": "N", "outcome_type": "1", "outcome_date": "2019-04-02",
        "victim_age_band": "18-24",
    }
    row.update(over)
    return row


def istv_row(ref: str = "A1", **over: str) -> dict[str, str]:
    """A valid ISTV row (override any field)."""
    row = {
        "site_code": "RHW01", "attendance_ref": ref, "arrival_datetime": "2019-03-02 01:10",
        "assault_datetime": "2019-03-02 00:30", "assault_method": "knife or sharp object",
        "location_type": "street", "location_description": "Cowley Road, Oxford",
    }
    row.update(over)
    return row


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Mapping[str, str]],
              encoding: str = "utf-8") -> Path:
    """Write rows (dicts keyed by header names) as a CSV file."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")  # so fields holding \r or \n are quoted
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(h, "") for h in header])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def assert_counts(p: Parsed) -> None:
    """Every row in is accepted or quarantined, and each problem names where it is."""
    assert p.rows_in == p.table.num_rows + len(p.problems)
    for q in p.problems:
        assert q.reason and q.file == p.file
        assert q.line is not None and q.line >= 2


GOOD_CONTRACT = """
name = "school_exclusions"
owner = "Reading Borough Council"
description = "Fixed-term and permanent exclusions, pupils aged 10-17"
retention_days = 2190
date_column = "exclusion_date"

[[columns]]
name = "pupil_id"
type = "string"
required = true
identifier = true

[[columns]]
name = "exclusion_type"
type = "string"
required = true
allowed = ["fixed-term", "permanent"]

[[columns]]
name = "exclusion_date"
type = "date"
required = true

[[columns]]
name = "days"
type = "integer"

[[columns]]
name = "score"
type = "number"

[[columns]]
name = "sen"
type = "boolean"

[[columns]]
name = "recorded_at"
type = "datetime"
"""


def good_contract() -> dict:
    """The example contract of docs/formats.md, extended to every type, as a dict."""
    return tomllib.loads(GOOD_CONTRACT)
