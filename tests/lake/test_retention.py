"""Retention: rows past their period are gone from every file under the home, kept rows stay."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vru.governance import audit
from vru.governance.agreements import agreement_from_mapping, register_agreement
from vru.governance.db import connect
from vru.governance.identity import add_user
from vru.lake.loaders import ingest_istv
from vru.lake.retention import RetentionDenied, apply_retention
from vru.lake.store import Store

KEY = b"test-audit-key-0123456789abcdef0123456789"
AGREEMENT = {
    "name": "ED assaults", "dataset": "ed_assaults", "owner": "Royal Berkshire NHS FT",
    "purposes": ["violence_reduction"], "legal_basis": ["Crime and Disorder Act 1998 s115"],
    "retention_days": 1095, "start_date": date(2015, 1, 1), "end_date": date(2099, 12, 31),
    "levels": {"analyst": "record"},
}
TODAY = date(2025, 6, 1)  # cutoff 2022-06-02
HEADER = ("site_code,attendance_ref,arrival_datetime,assault_datetime,assault_method,"
          "location_type,location_description")
OLD = ["Zanzibar Olddelete Lane", "Quagmire Olddelete Road"]
NEW = ["Marmalade Keepnew Street"]
BAD_OLD = "Xylophone Badold Alley"
BAD_NEW = "Trombone Badnew Close"


def istv_file(tmp_path: Path) -> Path:
    lines = [HEADER,
             f"RHW01,A1,2018-03-04 23:10,2018-03-04 22:50,knife,street,{OLD[0]}",
             f"RHW01,A2,2019-07-01 01:00,,punched,pub,{OLD[1]}",
             f"RHW01,A3,2024-02-02 02:00,,glass,street,{NEW[0]}",
             f"RHW01,A4,2018-05-05 05:00,,no such method,street,{BAD_OLD}",
             f"RHW01,A5,2024-05-05 05:00,,no such method,street,{BAD_NEW}"]
    path = tmp_path / "in" / "ed.csv"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def found_in_home(home: Path, value: str) -> list[str]:
    """Files under ``home`` holding ``value``: in their bytes, or in a Parquet file's values
    (pages may be compressed, so raw bytes alone could miss a value that is there)."""
    needle = value.encode()
    hits = []
    for path in home.rglob("*"):
        if not path.is_file():
            continue
        if needle in path.read_bytes():
            hits.append(str(path))
        elif path.suffix == ".parquet":
            table = pq.read_table(path)
            for column in table.columns:
                if pa.types.is_string(column.type) and any(
                        value in (v or "") for v in column.to_pylist()):
                    hits.append(str(path))
                    break
    return hits


@pytest.fixture
def world(tmp_path: Path):
    home = tmp_path / "home"
    db = connect(home, audit_key=KEY)
    add_user(db, "ada", "admin")
    add_user(db, "ann", "analyst")
    register_agreement(db, agreement_from_mapping(AGREEMENT))
    result = ingest_istv(home, [istv_file(tmp_path)], actor="ada")
    assert result.total("accepted") == 3 and result.total("quarantined") == 2
    (home / "_staging" / "killed-batch").mkdir(parents=True)  # left by a killed ingest
    (home / "_staging" / "killed-batch" / "rows.arrow").write_text(OLD[0])
    yield home, db
    db.dispose()


def test_expired_values_are_gone_from_every_file_and_kept_ones_stay(world):
    home, db = world
    store = Store(home)
    for value in [*OLD, *NEW, BAD_OLD, BAD_NEW]:
        assert found_in_home(home, value), value  # the search finds what is there
    report = apply_retention(store, db, "ada", today=TODAY)
    [ed] = report.datasets
    assert (ed.dataset, ed.cutoff, ed.date_column) == ("ed_assaults", date(2022, 6, 2), "arrival")
    assert ed.rows_deleted == 2 and ed.quarantine_deleted == 1
    for value in [*OLD, BAD_OLD]:
        assert found_in_home(home, value) == [], value
    for value in [*NEW, BAD_NEW]:
        assert found_in_home(home, value), value
    assert store.read("ed_assaults")["location_description"].to_pylist() == NEW
    assert not (home / "_staging").exists()


def test_retention_is_audited_with_counts_and_versions(world):
    home, db = world
    store = Store(home)
    report = apply_retention(store, db, "ada", today=TODAY)
    entry = [e for e in audit.entries(db) if e.seq == report.audit_seqs[0]][0]
    assert (entry.action, entry.resource, entry.decision) == ("retention", "ed_assaults", "allow")
    assert entry.detail["rows_deleted"] == 2 and entry.detail["quarantine_deleted"] == 1
    assert entry.table_versions["ed_assaults"] == store.version("ed_assaults")
    assert audit.verify(db).ok


def test_second_run_deletes_nothing_more(world):
    home, db = world
    store = Store(home)
    apply_retention(store, db, "ada", today=TODAY)
    again = apply_retention(store, db, "ada", today=TODAY)
    assert again.rows_deleted == 0 and again.datasets[0].quarantine_deleted == 0
    assert store.read("ed_assaults").num_rows == 1


def test_only_admins_apply_retention(world):
    home, db = world
    with pytest.raises(RetentionDenied, match="only admins"):
        apply_retention(Store(home), db, "ann", today=TODAY)
    assert Store(home).read("ed_assaults").num_rows == 3
    assert audit.entries(db)[-1].decision == "deny"


def test_partner_table_without_date_column_is_skipped_not_guessed(world, tmp_path):
    home, db = world
    register_agreement(db, agreement_from_mapping({
        **AGREEMENT, "name": "schools", "dataset": "partner_schools"}))
    report = apply_retention(Store(home), db, "ada", today=TODAY)
    skipped = {d.dataset: d.skipped for d in report.datasets}
    assert "not in the lake" in skipped["partner_schools"]
    assert skipped["ed_assaults"] is None
