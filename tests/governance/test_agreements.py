"""Data sharing agreements: the TOML file, dates in force, the ingest guard, retention."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from vru.governance.agreements import (
    active_agreement,
    list_agreements,
    load_agreement_file,
    read_agreement_file,
    require_active_agreement,
    retention_due,
)
from vru.governance.db import Database
from vru.governance.errors import AgreementError, NoActiveAgreement
from vru.governance.roles import Level

GOOD = '''
name = "Reading school exclusions 2024-26"
dataset = "partner_school_exclusions"
owner = "Reading Borough Council"
parties = ["Reading Borough Council", "Thames Valley VRU"]
purposes = ["violence_reduction", "research"]
legal_basis = [
  "Crime and Disorder Act 1998 s115",
  "Police, Crime, Sentencing and Courts Act 2022 s16 (Serious Violence Duty)",
]
permitted_fields = ["exclusion_date", "exclusion_type"]
identifier_fields = ["pupil_id"]
retention_days = 730
start_date = 2024-09-01
end_date = 2026-08-31

[levels]
analyst = "record"
task_force_member = "aggregate"
viewer = "none"
'''


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agreement.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_agreement_file(db: Database, tmp_path: Path) -> None:
    loaded = load_agreement_file(db, write(tmp_path, GOOD))
    [stored] = list_agreements(db)
    assert stored == loaded
    assert stored.legal_basis[1].endswith("(Serious Violence Duty)")
    assert stored.level_for("analyst") is Level.RECORD
    assert stored.level_for("viewer") is None and stored.level_for("ethics_board_member") is None
    assert stored.owned_by("  reading borough   COUNCIL")
    with pytest.raises(AgreementError, match="already exists"):
        load_agreement_file(db, write(tmp_path, GOOD))
    load_agreement_file(db, write(tmp_path, GOOD.replace("730", "365")), replace=True)
    assert list_agreements(db)[0].retention_days == 365


def test_active_on_dates(db: Database, tmp_path: Path) -> None:
    load_agreement_file(db, write(tmp_path, GOOD))
    dataset = "partner_school_exclusions"
    assert active_agreement(db, dataset, date(2024, 8, 31)) is None
    assert active_agreement(db, dataset, date(2024, 9, 1)) is not None
    assert active_agreement(db, dataset, date(2026, 8, 31)) is not None
    assert active_agreement(db, dataset, date(2026, 9, 1)) is None
    assert require_active_agreement(db, dataset, date(2025, 1, 1)).name.startswith("Reading")


def test_ingest_guard_says_what_to_do(db: Database, tmp_path: Path) -> None:
    with pytest.raises(NoActiveAgreement, match="never had one.*vru agreement add FILE.toml"):
        require_active_agreement(db, "partner_youth_justice")
    load_agreement_file(db, write(tmp_path, GOOD))
    with pytest.raises(NoActiveAgreement, match="2024-09-01 to 2026-08-31") as caught:
        require_active_agreement(db, "partner_school_exclusions", date(2027, 1, 1))
    assert caught.value.dataset == "partner_school_exclusions"


def test_retention_due(db: Database, tmp_path: Path) -> None:
    load_agreement_file(db, write(tmp_path, GOOD))
    assert retention_due(db, "partner_school_exclusions", date(2025, 6, 1)) == date(2023, 6, 2)
    # After the agreement ends its retention period still governs what may be kept.
    assert retention_due(db, "partner_school_exclusions", date(2027, 1, 1)) == date(2025, 1, 1)
    with pytest.raises(NoActiveAgreement):
        retention_due(db, "partner_unknown", date(2025, 1, 1))


@pytest.mark.parametrize(("old", "new", "message"), [
    ('dataset = "partner_school_exclusions"', 'dataset = "Partner Schools"', "field 'dataset'"),
    ('purposes = ["violence_reduction", "research"]', 'purposes = ["marketing"]', "marketing"),
    ("retention_days = 730", "retention_days = -1", "field 'retention_days'"),
    ("retention_days = 730", "", "field 'retention_days' is required"),
    ("end_date = 2026-08-31", "end_date = 2023-01-01", "is before 'start_date'"),
    ("start_date = 2024-09-01", 'start_date = "1 Sept"', "field 'start_date' must be a date"),
    ('viewer = "none"', 'viewer = "everything"', "levels.viewer"),
    ('viewer = "none"', 'burglar = "record"', "unknown role 'burglar'"),
    ("legal_basis = [", "legal_basiss = [", "unknown field"),
    ("[levels]", "[levels", "not valid TOML"),
])
def test_bad_agreement_names_file_and_field(tmp_path: Path, old: str, new: str,
                                            message: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(AgreementError, match=message) as caught:
        read_agreement_file(path)
    assert str(path) in str(caught.value)
