"""The governed read path: row filters, masks, levels, disclosure, audit, and SQL escapes."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from vru.governance import audit
from vru.governance.agreements import agreement_from_mapping, register_agreement
from vru.governance.areas import define_area
from vru.governance.db import Database, connect
from vru.governance.identity import add_user
from vru.lake.engine import ReadOnlyQuery
from vru.lake.governed import (
    AccessDenied,
    AggregateOnly,
    QueryRefused,
    governed_aggregate,
    governed_query,
    governed_table,
    table_versions,
)
from vru.lake.store import Store
from vru.lake.tables import SPECS
from vru.sources.canonical import conform

KEY = b"test-audit-key-0123456789abcdef0123456789"
NORTH = ["E01000001", "E01000002"]
SOUTH = ["E01000003"]
ED = {
    "name": "ED assaults", "dataset": "ed_assaults", "owner": "Royal Berkshire NHS FT",
    "purposes": ["violence_reduction"], "legal_basis": ["Crime and Disorder Act 1998 s115"],
    "identifier_fields": ["site_code"], "retention_days": 1095,
    "start_date": date(2020, 1, 1), "end_date": date(2099, 12, 31),
    "levels": {"analyst": "record", "task_force_member": "aggregate",
               "ethics_board_member": "aggregate", "viewer": "public"},
}
# 20 North assaults in E01000001, 3 in E01000002, 9 South: counts that exercise suppression.
ED_ROWS = ([("E01000001", "knife or sharp object")] * 20 + [("E01000002", "body part")] * 3
           + [("E01000003", "body part")] * 9)


def ed_table() -> pa.Table:
    n = len(ED_ROWS)
    t0 = datetime(2024, 5, 1, 22)
    return conform(pa.table({
        "source_ref": [f"RHW01:{i:04d}" for i in range(n)],
        "site_code": ["RHW01"] * n,
        "arrival": pa.array([t0 + timedelta(hours=i) for i in range(n)], pa.timestamp("us")),
        "month": ["2024-05"] * n,
        "weapon": [w for _, w in ED_ROWS],
        "location_type": ["street"] * n,
        "location_description": [f"Place {i}" for i in range(n)],
        "lsoa11cd": [c for c, _ in ED_ROWS],
        "source_file": ["ed.csv"] * n,
        "source_line": list(range(2, n + 2)),
    }), SPECS["ed_assaults"].schema)


def incidents_table() -> pa.Table:
    codes = ["E01000001"] * 12 + ["E01000003"] * 10
    n = len(codes)
    return conform(pa.table({
        "source": ["police_uk"] * n, "source_ref": [f"crime-{i}" for i in range(n)],
        "month": ["2024-05"] * n, "category": ["violent-crime"] * n, "lsoa11cd": codes,
    }), SPECS["incidents"].schema)


@pytest.fixture
def lake(tmp_path: Path) -> tuple[Store, Database]:
    db = connect(tmp_path, audit_key=KEY)
    define_area(db, "North", NORTH)
    define_area(db, "South", SOUTH)
    for name, role, extra in [("ada", "admin", {}), ("ann", "analyst", {}),
                              ("olu", "partner_data_owner",
                               {"organisation": "Royal Berkshire NHS FT"}),
                              ("tia", "task_force_member", {"area": "North"}),
                              ("eve", "ethics_board_member", {}), ("vic", "viewer", {})]:
        add_user(db, name, role, **extra)
    register_agreement(db, agreement_from_mapping(ED))
    store = Store(tmp_path)
    store.write(SPECS["ed_assaults"], ed_table())
    store.write(SPECS["incidents"], incidents_table())
    yield store, db
    db.dispose()


def test_analyst_reads_every_row_with_version_recorded(lake):
    store, db = lake
    t = governed_table(store, db, "ann", "ed_assaults", "violence_reduction")
    assert t.num_rows == len(ED_ROWS)
    assert "source_ref" in t.column_names and "site_code" in t.column_names
    assert table_versions(t) == {"ed_assaults": 0}
    last = audit.entries(db)[-1]
    assert (last.actor, last.action, last.decision) == ("ann", "read", "allow")
    assert last.table_versions == {"ed_assaults": 0}


def test_analyst_asking_for_an_area_gets_its_rows_only(lake):
    store, db = lake
    t = governed_table(store, db, "ann", "ed_assaults", "violence_reduction", area="South")
    assert set(t["lsoa11cd"].to_pylist()) == set(SOUTH)
    assert t.num_rows == 9


def test_task_force_member_cannot_read_rows_and_is_told_to_ask_for_counts(lake):
    store, db = lake
    with pytest.raises(AggregateOnly, match="count"):
        governed_table(store, db, "tia", "incidents", "violence_reduction")


def test_denied_purpose_is_a_permission_error_with_the_reason(lake):
    store, db = lake
    with pytest.raises(PermissionError, match="does not cover the purpose 'research'"):
        governed_table(store, db, "ann", "ed_assaults", "research")
    assert audit.entries(db)[-1].decision == "deny"


def test_old_version_is_read_and_recorded(lake):
    store, db = lake
    store.write(SPECS["ed_assaults"], ed_table().slice(0, 1), mode="append")
    t = governed_table(store, db, "ann", "ed_assaults", "violence_reduction", version=0)
    assert t.num_rows == len(ED_ROWS)
    assert audit.entries(db)[-1].table_versions == {"ed_assaults": 0}


@pytest.mark.parametrize("actor", ["tia", "eve", "vic", "olu"])
@pytest.mark.parametrize("sql", [
    "SELECT lsoa11cd, weapon, count(*) AS n FROM ed_assaults GROUP BY ALL",
    "SELECT lsoa11cd, count(*) AS n FROM incidents GROUP BY ALL",
    "SELECT 1",
])
def test_restricted_roles_are_refused_sql_and_told_to_use_counts(lake, actor, sql):
    store, db = lake
    before = len(audit.entries(db))
    with pytest.raises(AccessDenied, match="vru counts"):
        governed_query(store, db, actor, sql, "violence_reduction")
    new = audit.entries(db)[before:]
    assert [e.decision for e in new] == ["deny"]  # refused before any table was read
    assert new[0].actor == actor and new[0].detail["sql"] == sql


def test_record_level_role_graded_down_by_an_agreement_is_refused_sql(lake):
    store, db = lake
    register_agreement(db, agreement_from_mapping({
        **ED, "name": "Police incidents", "dataset": "incidents", "owner": "Thames Valley Police",
        "identifier_fields": [], "levels": {"analyst": "aggregate"}}))
    sql = "SELECT count(*) AS n FROM ed_assaults JOIN incidents USING (lsoa11cd)"
    with pytest.raises(AccessDenied, match="incidents .*aggregate level only.*vru counts"):
        governed_query(store, db, "ann", sql, "violence_reduction")
    last = audit.entries(db)[-1]
    assert (last.decision, last.detail["stage"], last.detail["sql"]) == ("deny", "level", sql)


def test_record_level_query_sees_only_the_area_views(lake):
    store, db = lake
    t = governed_query(store, db, "ann", "SELECT DISTINCT lsoa11cd FROM ed_assaults e "
                       "JOIN incidents i USING (lsoa11cd)", "violence_reduction", area="South")
    assert t["lsoa11cd"].to_pylist() == SOUTH


@pytest.mark.parametrize("sql, error", [
    ("SELECT * FROM read_parquet('lake/ed_assaults/*.parquet')", AccessDenied),
    ("SELECT * FROM '/etc/passwd'", LookupError),
    ("SELECT * FROM nosuch", LookupError),
    ("DELETE FROM incidents", ReadOnlyQuery),
    ("SELECT 1; SELECT 2", ReadOnlyQuery),
    ("SET enable_external_access = true", ReadOnlyQuery),
])
def test_query_cannot_reach_around_the_views(lake, sql, error):
    store, db = lake
    with pytest.raises(error):
        governed_query(store, db, "ann", sql, "violence_reduction", area="North")


def test_python_variables_and_query_function_do_not_leak(lake):
    store, db = lake
    secret = pa.table({"x": ["leak"]})  # noqa: F841 - a replacement scan would find it
    with pytest.raises(LookupError):
        governed_query(store, db, "ann", "SELECT * FROM secret", "violence_reduction")
    # query() runs SQL given as text, which no parse-tree check can see into
    with pytest.raises(QueryRefused, match="query"):
        governed_query(store, db, "ann", "SELECT count(*) AS n FROM query('SELECT * FROM "
                       "ed_assaults')", "violence_reduction", area="South")


def test_denied_table_in_query_is_refused(lake):
    store, db = lake
    with pytest.raises(AccessDenied, match="does not cover"):
        governed_query(store, db, "ann", "SELECT count(*) FROM ed_assaults", "research")


def test_aggregate_output_filtered_to_area_with_profile(lake):
    store, db = lake
    counts = pa.table({"lsoa11cd": NORTH + SOUTH, "n": [20, 3, 9]})
    t = governed_aggregate(db, "tia", counts, "violence_reduction", output="hotspots",
                           inputs=["ed_assaults"], count_columns=["n"],
                           group_columns=["lsoa11cd"], table_versions={"ed_assaults": 0})
    assert t.to_pylist() == [{"lsoa11cd": "E01000001", "n": 20},
                             {"lsoa11cd": "E01000002", "n": None}]
    assert table_versions(t) == {"ed_assaults": 0}
    analyst = governed_aggregate(db, "ann", counts, "violence_reduction", output="hotspots",
                                 inputs=["ed_assaults"], count_columns=["n"])
    assert analyst["n"].to_pylist() == [20, 3, 9]


def test_aggregate_output_without_area_column_is_refused_for_task_force(lake):
    store, db = lake
    counts = pa.table({"cell": ["a", "b"], "n": [20, 3]})
    with pytest.raises(AccessDenied, match="cannot be limited to area North"):
        governed_aggregate(db, "tia", counts, "violence_reduction", output="grid",
                           inputs=["incidents"], count_columns=["n"])


def test_area_read_after_a_merge_rewrote_files(tmp_path):
    """delta-rs writes string-view columns on merge; governed reads must still filter them."""
    import csv
    import gzip
    import io

    from vru.data import police_uk_months
    from vru.lake.loaders import ingest_police_uk

    home = tmp_path / "home"
    text = gzip.decompress(police_uk_months()[2].read_bytes()).decode("utf-8")
    (tmp_path / "2018-11-thames-valley-street.csv").write_text(text)
    ingest_police_uk(home, [tmp_path / "2018-11-thames-valley-street.csv"])
    crime = next(r for r in csv.reader(io.StringIO(text.split("\n", 1)[1])) if r and r[0])
    (tmp_path / "2019-01-thames-valley-outcomes.csv").write_text(
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
        f"LSOA name,Outcome type\n{crime[0]},2019-01,TVP,Thames Valley Police,{crime[4]},"
        f"{crime[5]},x,{crime[7]},{crime[8]},Suspect charged\n")
    s = ingest_police_uk(home, [tmp_path / "2019-01-thames-valley-outcomes.csv"]).summary()
    assert "incidents" in s["written"]  # the outcome was merged into incidents
    db = connect(home)
    define_area(db, "north", [crime[7]])
    add_user(db, "ana", "analyst")
    got = governed_query(Store(home), db, "ana", "SELECT outcome FROM incidents WHERE "
                         f"source_ref = '{crime[0]}'", "violence_reduction")
    assert got.column(0).to_pylist() == ["Suspect charged"]
    counts = governed_query(Store(home), db, "ana", "SELECT lsoa11cd, count(*) AS n FROM "
                            "incidents GROUP BY ALL", "violence_reduction", area="north")
    assert counts.column("lsoa11cd").to_pylist() == [crime[7]]
