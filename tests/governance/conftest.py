"""Fixtures for governance tests: a metadata database on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from vru.governance.agreements import agreement_from_mapping, register_agreement
from vru.governance.areas import define_area
from vru.governance.db import Database, connect
from vru.governance.identity import add_user

AUDIT_KEY = b"test-audit-key-0123456789abcdef0123456789"
PG_ENV = "VRU_TEST_POSTGRES_URL"


def postgres_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set (start a server with: eval \"$(scripts/pg.sh)\")")
    return url


class PostgresSchema:
    """A throwaway schema in the test server, so each test starts from an empty database."""

    def __init__(self, url: str) -> None:
        self.base = url
        self.name = f"t_{uuid.uuid4().hex[:12]}"
        self.admin = create_engine(url)
        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.name}"'))
        self.url = make_url(url).update_query_dict(
            {"options": f"-csearch_path={self.name}"}).render_as_string(hide_password=False)

    def drop(self) -> None:
        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))
        self.admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a fresh, empty schema on the test PostgreSQL server."""
    schema = PostgresSchema(postgres_url())
    yield schema.url
    schema.drop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL: the SQLite file in the home, then a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vru.db'}"
        return
    schema = PostgresSchema(postgres_url())
    yield schema.url
    schema.drop()


@pytest.fixture
def db(db_url: str, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty metadata database (on each backend)."""
    database = connect(tmp_path, db_url, audit_key=AUDIT_KEY)
    yield database
    database.dispose()


ED_AGREEMENT = {
    "name": "RBH ED assaults 2024-27",
    "dataset": "ed_assaults",
    "owner": "Royal Berkshire NHS FT",
    "parties": ["Royal Berkshire NHS FT", "Thames Valley VRU"],
    "purposes": ["violence_reduction", "performance_reporting"],
    "legal_basis": ["Crime and Disorder Act 1998 s115"],
    "identifier_fields": ["attendance_ref"],
    "retention_days": 1095,
    "start_date": date(2024, 4, 1),
    "end_date": date(2027, 3, 31),
    "levels": {"analyst": "record", "task_force_member": "aggregate",
               "ethics_board_member": "aggregate", "viewer": "public"},
}
SCHOOL_AGREEMENT = {
    "name": "Reading school exclusions",
    "dataset": "partner_school_exclusions",
    "owner": "Reading Borough Council",
    "purposes": ["violence_reduction"],
    "legal_basis": "Police, Crime, Sentencing and Courts Act 2022 s16 (Serious Violence Duty)",
    "permitted_fields": ["exclusion_date", "exclusion_type", "lsoa11cd"],
    "retention_days": 2190,
    "start_date": "2024-09-01",
    "end_date": "2026-08-31",
    "levels": {"analyst": "record", "task_force_member": "none",
               "ethics_board_member": "aggregate"},
}
NORTH = ["E01000001", "E01000002"]
SOUTH = ["E01000003"]


@pytest.fixture
def world(db: Database) -> Database:
    """Two areas, one user per role, two partner agreements."""
    define_area(db, "North", NORTH)
    define_area(db, "South", SOUTH)
    add_user(db, "ada", "admin")
    add_user(db, "ann", "analyst")
    add_user(db, "olu", "partner_data_owner", organisation="Royal Berkshire NHS FT")
    add_user(db, "tia", "task_force_member", area="North")
    add_user(db, "eve", "ethics_board_member")
    add_user(db, "vic", "viewer")
    register_agreement(db, agreement_from_mapping(ED_AGREEMENT))
    register_agreement(db, agreement_from_mapping(SCHOOL_AGREEMENT))
    return db
