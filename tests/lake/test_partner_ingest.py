"""Partner datasets: agreement required, identifiers pseudonymised before any lake file."""

from __future__ import annotations

from pathlib import Path

import pytest

import vru
from vru.governance import db as gdb
from vru.governance.agreements import load_agreement_file
from vru.governance.errors import NoActiveAgreement
from vru.lake.loaders import ingest_partner

CONTRACT = """
name = "school_exclusions"
owner = "Reading Borough Council"
retention_days = 2190
date_column = "exclusion_date"

[[columns]]
name = "pupil_id"
type = "string"
required = true
identifier = true

[[columns]]
name = "surname"
type = "string"
required = true
identifier = true

[[columns]]
name = "exclusion_date"
type = "date"
required = true

[[columns]]
name = "exclusion_type"
type = "string"
required = true
allowed = ["fixed-term", "permanent"]
"""

AGREEMENT = """
name = "Reading exclusions 2024"
dataset = "partner_school_exclusions"
owner = "Reading Borough Council"
parties = ["Reading Borough Council", "Thames Valley VRU"]
purposes = ["violence_reduction"]
legal_basis = "Crime and Disorder Act 1998 s115"
retention_days = 2190
start_date = 2020-01-01
end_date = 2030-12-31
[levels]
analyst = "record"
"""

ROWS = """pupil_id,surname,exclusion_date,exclusion_type
P-ZQX-90172,Featherstonehaugh,2024-03-01,fixed-term
P-ZQX-90173,Cholmondeley,2024-03-02,permanent
P-ZQX-90174,Marjoribanks,2024-03-03,expelled
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    (tmp_path / "c.toml").write_text(CONTRACT)
    (tmp_path / "a.toml").write_text(AGREEMENT)
    (tmp_path / "ex.csv").write_text(ROWS)
    return tmp_path / "c.toml", tmp_path / "a.toml", tmp_path / "ex.csv"


def test_refused_without_an_agreement(home, files):
    contract, _, data = files
    with pytest.raises(NoActiveAgreement, match="vru agreement add"):
        ingest_partner(home, [data], contract)
    assert not (home / "lake" / "partner_school_exclusions").exists()


def test_identifiers_never_reach_a_lake_file(home, files):
    contract, agreement, data = files
    load_agreement_file(gdb.connect(home), agreement)
    s = ingest_partner(home, [data], contract).summary()
    assert (s["rows_in"], s["accepted"], s["quarantined"]) == (3, 2, 1)
    rows = vru.open(home).sql("SELECT pupil_id, surname, exclusion_type FROM "
                              "partner_school_exclusions ORDER BY exclusion_date").to_pylist()
    assert [r["exclusion_type"] for r in rows] == ["fixed-term", "permanent"]
    assert all(len(r["pupil_id"]) == 64 and len(r["surname"]) == 64 for r in rows)
    q = vru.open(home).sql("SELECT field, raw FROM quarantine").to_pylist()
    assert q == [{"field": "exclusion_type", "raw": ""}]
    blobs = b"".join(p.read_bytes() for p in (home / "lake").rglob("*") if p.is_file())
    for raw in (b"Featherstonehaugh", b"Marjoribanks", b"P-ZQX-9017"):
        assert raw not in blobs
    assert b"fixed-term" in blobs  # the search does see plain values
    again = ingest_partner(home, [data], contract).summary()
    assert (again["duplicates"], again["accepted"]) == (2, 0)


def test_retention_uses_the_contract_date_column(home, files):
    import getpass
    from datetime import date

    from vru.governance import identity
    from vru.lake.retention import apply_retention
    from vru.lake.store import Store

    contract, agreement, data = files
    g = gdb.connect(home)
    load_agreement_file(g, agreement)
    ingest_partner(home, [data], contract)
    admin = identity.ensure_local_admin(g, getpass.getuser())
    token = vru.open(home).sql("SELECT pupil_id FROM partner_school_exclusions LIMIT 1")
    token = token.column(0)[0].as_py().encode()
    report = apply_retention(Store(home), g, admin, today=date(2030, 6, 1))
    assert report.rows_deleted == 2  # 2024 rows, 2,190 days before 2030-06-01
    assert vru.open(home).sql("SELECT count(*) FROM partner_school_exclusions"
                              ).column(0)[0].as_py() == 0
    blobs = b"".join(p.read_bytes() for p in (home / "lake").rglob("*") if p.is_file())
    assert token not in blobs
