"""data.police.uk files stating 2021 LSOA codes (from 2023): each in its year's column."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from vru.geo import lsoa_years
from vru.lake.loaders import ingest_police_uk

# real 2021-only codes: E01035234 was born of a split (in no lookup row), E01035235 is the
# best fit of the 2011 LSOA it split from, W01001960 a new Welsh code
NEW_CODES = ["E01035234", "E01035235", "W01001960"]


def rows_of(text: str) -> tuple[list[str], list[list[str]]]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader)
    return header, [r for r in reader if r]


def recoded(text: str, every: int = 10) -> tuple[str, dict[str, str]]:
    """The month with every ``every``-th row that states an LSOA restated with a 2021-only
    code; returns the file text and record number → the new code."""
    header, rows = rows_of(text)
    at = header.index("LSOA code")
    changed: dict[int, str] = {}
    stated = [i for i, r in enumerate(rows) if r[at]]
    for k, i in enumerate(stated[::every]):
        rows[i][at] = NEW_CODES[k % len(NEW_CODES)]
        changed[i + 2] = rows[i][at]  # record number: header is 1
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue(), changed


def incidents(home: Path) -> pa.Table:
    return DeltaTable(str(home / "lake" / "incidents")).to_pyarrow_table(
        columns=["source_line", "lsoa11cd", "lsoa21cd", "geo_status", "lon"])


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, street_month_text):
    tmp = tmp_path_factory.mktemp("y2021")
    text, changed = recoded(street_month_text)
    (tmp / "in").mkdir()
    orig = tmp / "in" / "2018-11-thames-valley-street.csv"
    orig.write_text(street_month_text, encoding="utf-8")
    new = tmp / "in" / "renamed-2018-11.csv"  # not data.police.uk's name: known by its header
    new.write_text(text, encoding="utf-8")
    before = ingest_police_uk(tmp / "before", [orig]).summary()
    after = ingest_police_uk(tmp / "after", [new]).summary()
    return before, after, changed, incidents(tmp / "before"), incidents(tmp / "after")


def by_line(t: pa.Table) -> dict[int, dict]:
    return {r["source_line"]: r for r in t.to_pylist()}


def test_every_row_is_accounted_for(ingested, street_month_text):
    before, after, changed, _, got = ingested
    n = len(rows_of(street_month_text)[1])
    assert len(changed) > 1000
    assert after["rows_in"] == n == after["accepted"] + after["quarantined"]
    assert after["quarantined"] == 0 and got.num_rows == n == before["added"]


def test_2021_codes_go_to_lsoa21cd_and_lsoa11cd_comes_from_the_point(ingested):
    _, _, changed, old, new = ingested
    old_rows, new_rows = by_line(old), by_line(new)
    located = same = 0
    for line, code in changed.items():
        r = new_rows[line]
        assert r["lsoa21cd"] == code
        assert r["lsoa11cd"] != code and r["lsoa11cd"] not in NEW_CODES
        if r["lon"] is None:  # no point: left to the bridge (the enrich step)
            assert r["lsoa11cd"] is None and r["geo_status"] == "no_location"
            continue
        located += 1
        assert lsoa_years.lsoa_year([r["lsoa11cd"]])[0] == 2011
        if old_rows[line]["geo_status"] == "ok":  # the stated 2011 code was the point's
            same += 1
            assert r["lsoa11cd"] == old_rows[line]["lsoa11cd"] and r["geo_status"] == "ok"
    assert located > 1000 and same > 0.9 * located


def test_unchanged_2011_codes_fill_both_columns(ingested):
    _, _, changed, old, new = ingested
    rows = [r for line, r in by_line(new).items() if line not in changed]
    stated = [r for r in rows if r["lsoa11cd"] is not None]
    assert stated
    kept = lsoa_years.in_2021([r["lsoa11cd"] for r in stated])
    for r, also in zip(stated, kept, strict=True):
        assert r["lsoa21cd"] == (r["lsoa11cd"] if also else None)
    assert kept.mean() > 0.9, "most LSOAs did not change in 2021"
    assert not kept.all(), "a Thames Valley month states 2011 codes that 2021 replaced"
    # the untouched rows read as before
    old_rows = by_line(old)
    assert all(old_rows[r["source_line"]]["lsoa11cd"] == r["lsoa11cd"] for r in rows)
