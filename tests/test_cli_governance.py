"""Governance end to end: the real CLI on a fresh home, and the authorisation matrix."""

from __future__ import annotations

import getpass
import os
import sqlite3
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from vru.governance.agreements import agreement_from_mapping, register_agreement
from vru.governance.areas import define_area
from vru.governance.db import connect
from vru.governance.identity import add_user
from vru.lake.governed import AccessDenied, AggregateOnly, governed_query, governed_table
from vru.lake.store import Store
from vru.lake.tables import SPECS
from vru.sources.canonical import conform

SRC = str(Path(__file__).resolve().parents[1] / "src")


def vru(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC, "VRU_HOME": str(home)}
    env.pop("VRU_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "vru.cli", "--home", str(home), *args],
                          input=stdin, capture_output=True, text=True, env=env, timeout=120)


def test_fresh_home_users_add_and_audit_verify_then_tamper(tmp_path):
    home = tmp_path / "home"
    added = vru(home, "users", "add", "bob", "--role", "analyst", "--password-stdin",
                stdin="correct horse battery staple\n")
    assert added.returncode == 0, added.stderr
    assert "added bob (analyst)" in added.stdout
    ok = vru(home, "audit", "verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("ok ") and ok.stdout.strip().endswith("entries")
    assert int(ok.stdout.split()[1]) >= 1

    with sqlite3.connect(home / "vru.db") as con:  # an attacker with write access to the file
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            con.execute(f'DROP TRIGGER "{name}"')
        con.execute("UPDATE audit_log SET actor = 'nobody' WHERE seq = 1")
    bad = vru(home, "audit", "verify")
    assert bad.returncode == 1
    assert "entry 1" in bad.stdout


def test_users_list_shows_the_first_admin_and_added_users(tmp_path):
    home = tmp_path / "home"
    assert vru(home, "users", "add", "bob", "--role", "viewer").returncode == 0
    listed = vru(home, "users", "list")
    assert listed.returncode == 0, listed.stderr
    assert "bob" in listed.stdout
    assert getpass.getuser()[:10] in listed.stdout  # the OS user became the admin


def test_users_add_refused_for_a_bad_role(tmp_path):
    result = vru(tmp_path / "home", "users", "add", "bob", "--role", "wizard")
    assert result.returncode == 2 and "unknown role" in result.stderr


# -- authorisation matrix through the governed API and the service -----------------------------

PW = "correct horse battery staple"
NORTH, SOUTH = ["E01000001"], ["E01000003"]
ED = {
    "name": "ED", "dataset": "ed_assaults", "owner": "Royal Berkshire NHS FT",
    "purposes": ["violence_reduction"], "legal_basis": ["Crime and Disorder Act 1998 s115"],
    "retention_days": 1095, "start_date": date(2020, 1, 1), "end_date": date(2099, 1, 1),
    "levels": {"analyst": "record", "task_force_member": "aggregate",
               "ethics_board_member": "aggregate", "viewer": "public"},
}
SCHOOLS = {**ED, "name": "Schools", "dataset": "partner_schools", "owner": "Reading BC",
           "levels": {"analyst": "record", "task_force_member": "none"}}
#: 12 rows in North, 3 in South: the NHS rule shows 12 as 10 and hides 3
CODES = NORTH * 12 + SOUTH * 3
#: the environment sessions open with: the NHS rule at both levels below record
ENVIRON = {"VRU_AGGREGATE_DISCLOSURE": "nhs", "VRU_PUBLIC_DISCLOSURE": "nhs"}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    home = tmp_path_factory.mktemp("matrix")
    db = connect(home)  # the home's own audit key, as every session of it uses
    define_area(db, "North", NORTH)
    define_area(db, "South", SOUTH)
    for name, role, extra in [("ada", "admin", {}), ("ann", "analyst", {}),
                              ("olu", "partner_data_owner",
                               {"organisation": "Royal Berkshire NHS FT"}),
                              ("tia", "task_force_member", {"area": "North"}),
                              ("eve", "ethics_board_member", {}), ("vic", "viewer", {})]:
        add_user(db, name, role, password=PW, **extra)
    register_agreement(db, agreement_from_mapping(ED))
    register_agreement(db, agreement_from_mapping(SCHOOLS))
    store = Store(home)
    n = len(CODES)
    store.write(SPECS["ed_assaults"], conform(pa.table({
        "source_ref": [f"r{i}" for i in range(n)], "lsoa11cd": CODES,
        "month": ["2024-01"] * n,
        "arrival": pa.array([datetime(2024, 1, 1)] * n, pa.timestamp("us"))}),
        SPECS["ed_assaults"].schema))
    store.write(SPECS["incidents"], conform(pa.table({
        "source": ["police_uk"] * n, "source_ref": [f"c{i}" for i in range(n)],
        "month": ["2024-01"] * n, "lsoa11cd": CODES}), SPECS["incidents"].schema))
    schools = pa.schema([("lsoa11cd", pa.string()), ("pupil", pa.string())])
    store.write(SPECS["incidents"].__class__("partner_schools", schools, key=("pupil",)),
                pa.table({"lsoa11cd": CODES, "pupil": [f"p{i}" for i in range(n)]},
                         schema=schools))
    yield store, db
    db.dispose()


COUNT = "SELECT count(*) AS n FROM {t}"
# (actor, dataset, purpose, area) -> rows returned by a record read; ("aggregate", {lsoa:
# released count}) when only counts are allowed (then `counts --by lsoa` gives that); "deny".
MATRIX = [
    ("ada", "ed_assaults", "violence_reduction", None, 15),
    ("ann", "ed_assaults", "violence_reduction", None, 15),
    ("ann", "ed_assaults", "violence_reduction", "North", 12),
    ("ann", "ed_assaults", "research", None, "deny"),          # purpose not agreed
    ("olu", "ed_assaults", "violence_reduction", None, 15),    # their own organisation's data
    ("olu", "partner_schools", "violence_reduction", None, "deny"),
    ("olu", "incidents", "violence_reduction", None, "deny"),  # not their dataset
    ("tia", "ed_assaults", "violence_reduction", None, ("aggregate", {"E01000001": 10})),
    ("tia", "incidents", "violence_reduction", None, ("aggregate", {"E01000001": 10})),
    ("tia", "incidents", "violence_reduction", "South", "deny"),  # another area's rows
    ("tia", "partner_schools", "violence_reduction", None, "deny"),  # agreement says none
    ("eve", "ed_assaults", "violence_reduction", None, ("aggregate", {"E01000001": 10})),
    ("eve", "partner_schools", "violence_reduction", None, "deny"),
    ("vic", "ed_assaults", "violence_reduction", None, ("aggregate", {"E01000001": 10})),
    ("vic", "partner_schools", "violence_reduction", None, "deny"),
    ("nobody", "incidents", "violence_reduction", None, "deny"),
]


def _session(store: Store, actor: str, purpose: str, area: str | None):
    from vru.service import open_session

    return open_session(store.home, user=actor, password=PW, purpose=purpose, area=area,
                        environ=ENVIRON)


@pytest.mark.parametrize("actor, dataset, purpose, area, expected", MATRIX)
def test_authorisation_matrix(lake, actor, dataset, purpose, area, expected):
    from vru.service import Denied, SignInError

    store, db = lake
    if expected == "deny":
        with pytest.raises(AccessDenied) as denied:
            governed_table(store, db, actor, dataset, purpose, area=area)
        assert not isinstance(denied.value, AggregateOnly)
        with pytest.raises(AccessDenied):
            governed_query(store, db, actor, COUNT.format(t=dataset), purpose, area=area)
        if actor == "nobody":
            with pytest.raises(SignInError):
                _session(store, actor, purpose, area)
            return
        session = _session(store, actor, purpose, area)
        with pytest.raises(Denied):
            session.counts(dataset, "lsoa")
        return
    if isinstance(expected, tuple):
        with pytest.raises(AggregateOnly):
            governed_table(store, db, actor, dataset, purpose, area=area)
        with pytest.raises(AccessDenied) as no_sql:
            governed_query(store, db, actor, COUNT.format(t=dataset), purpose, area=area)
        assert "vru counts" in no_sql.value.reason
        session = _session(store, actor, purpose, area)
        with pytest.raises(Denied, match="vru counts"):
            session.sql(COUNT.format(t=dataset))
        got = session.counts(dataset, "lsoa")
        released = dict(zip(got.table["lsoa"].to_pylist(), got.table["n"].to_pylist(),
                            strict=True))
        assert released == expected[1]
        assert got.release.profile == "nhs"
        # the other area is held back: suppressed (3 is shown as *) for the force-wide
        # roles, outside the area for the task-force member
        assert got.withheld == (0 if actor == "tia" else 1)
        return
    rows = governed_table(store, db, actor, dataset, purpose, area=area)
    assert rows.num_rows == expected
    exact = _session(store, actor, purpose, area).counts(dataset, "lsoa")
    assert sum(exact.table["n"].to_pylist()) == expected and exact.release.exact


def test_verify_reports_a_tampered_head(tmp_path):
    import sqlite3

    home = tmp_path / "home"
    assert vru(home, "audit", "verify").returncode == 0
    con = sqlite3.connect(home / "vru.db")
    triggers = [r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    for t in triggers:
        con.execute(f'DROP TRIGGER "{t}"')
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    head = next(t for t in tables if "head" in t)
    cols = [r[1] for r in con.execute(f"PRAGMA table_info({head})")]
    mac_col = next(c for c in cols if "mac" in c)
    con.execute(f"UPDATE {head} SET {mac_col} = 'forged'")
    con.commit()
    con.close()
    run = vru(home, "audit", "verify")
    assert run.returncode == 1 and "TAMPERED" in run.stdout
