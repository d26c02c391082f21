"""Partner datasets: agreement required, identifiers pseudonymised before any lake file."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import vru
from vru.governance import db as gdb
from vru.governance.agreements import load_agreement_file
from vru.governance.errors import NoActiveAgreement
from vru.governance.pseudonymise import load_pseudonym_key, token
from vru.lake.loaders import ingest_partner
from vru.lake.store import Store, identifier_columns
from vru.lake.tables import partner_spec
from vru.sources.base import SourceError
from vru.sources.contract import load_contract

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
name = "first_name"
type = "string"
identifier = "first_name"

[[columns]]
name = "surname"
type = "string"
required = true
identifier = true

[[columns]]
name = "date_of_birth"
type = "date"
identifier = true

[[columns]]
name = "postcode"
type = "string"
identifier = "postcode"

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

ROWS = """pupil_id,first_name,surname,date_of_birth,postcode,exclusion_date,exclusion_type
P-ZQX-90172,Peregrine,Featherstonehaugh,2009-05-17,RG30 5PG,2024-03-01,fixed-term
P-ZQX-90173,Featherstonehaugh,Cholmondeley,2010-11-02,OX4 1YB,2024-03-02,permanent
P-ZQX-90174,Hortensia,Marjoribanks,2008-07-23,SL1 9QW,2024-03-03,expelled
"""
# Every raw identifier of ROWS, as a partner sent it (the quarantined row's too).
RAW = [b"P-ZQX-9017", b"Peregrine", b"Featherstonehaugh", b"Cholmondeley", b"Hortensia",
       b"Marjoribanks", b"2009-05-17", b"2010-11-02", b"2008-07-23", b"RG30 5PG", b"RG305PG",
       b"OX4 1YB", b"SL1 9QW"]


def _lake_bytes(home: Path) -> bytes:
    """Every byte of every file under the lake: data, Delta log, checkpoints, anything."""
    files = [p for p in (home / "lake").rglob("*") if p.is_file()]
    assert files
    return b"".join(p.read_bytes() for p in files)


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
    rows = vru.open(home).sql(
        "SELECT pupil_id, first_name, surname, date_of_birth, postcode, exclusion_type "
        "FROM partner_school_exclusions ORDER BY exclusion_date").to_pylist()
    assert [r["exclusion_type"] for r in rows] == ["fixed-term", "permanent"]
    assert all(len(r[c]) == 64 for r in rows
               for c in ("pupil_id", "first_name", "surname", "date_of_birth", "postcode"))
    # "Featherstonehaugh" is one pupil's surname and another's first name: two kinds, two
    # unrelated tokens, so the table does not tell that they share the word.
    assert rows[0]["surname"] != rows[1]["first_name"]
    key = load_pseudonym_key(home)
    assert rows[0]["surname"] == token("Featherstonehaugh", key, "surname")
    assert rows[1]["first_name"] == token("Featherstonehaugh", key, "first_name")
    assert rows[0]["postcode"] == token("RG305PG", key, "postcode")
    assert rows[0]["date_of_birth"] == token("2009-05-17", key, "date")
    q = vru.open(home).sql("SELECT field, raw FROM quarantine").to_pylist()
    assert q == [{"field": "exclusion_type", "raw": ""}]
    blobs = _lake_bytes(home)
    assert [raw for raw in RAW if raw in blobs] == []
    assert b"fixed-term" in blobs  # the search does see plain values
    again = ingest_partner(home, [data], contract).summary()
    assert (again["duplicates"], again["accepted"]) == (2, 0)


def test_retention_uses_the_contract_date_column(home, files):
    import getpass
    from datetime import date

    from vru.governance import identity
    from vru.lake.retention import apply_retention

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


def test_the_table_remembers_its_identifier_columns(home, files):
    contract, agreement, data = files
    load_agreement_file(gdb.connect(home), agreement)
    store = Store(home)
    assert identifier_columns(store, "partner_school_exclusions") == {}  # no table yet
    ingest_partner(home, [data], contract)
    found = identifier_columns(Store(home), "partner_school_exclusions")
    assert found == {"pupil_id": "identifier", "first_name": "first_name",
                     "surname": "surname", "date_of_birth": "date", "postcode": "postcode"}
    assert list(found) == load_contract(contract).identifier_columns  # contract order
    assert Store(home).properties("partner_school_exclusions")["date_column"] == (
        "exclusion_date")
    assert identifier_columns(store, "incidents") == {}


def test_a_table_of_old_single_key_tokens_is_not_mixed_with_new_ones(home, files):
    contract, agreement, data = files
    load_agreement_file(gdb.connect(home), agreement)
    c = load_contract(contract)
    schema = pa.schema([pa.field(f.name, pa.string()) if f.name in c.identifier_columns else f
                        for f in c.arrow_schema()] + [("row_hash", pa.int64()),
                                                     ("batch_id", pa.string())])
    old = partner_spec(c.name, schema, c.date_column)  # as tables were made before kinds
    Store(home).write(old, schema.empty_table())
    with pytest.raises(SourceError, match="older single-key scheme.*ingest its files again"):
        ingest_partner(home, [data], contract)
    assert Store(home).version("partner_school_exclusions") == 0
