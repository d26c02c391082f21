"""The SQL sandbox of `vru sql`: signed-in attempts to reach around the governed views."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
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
    QueryRefused,
    _open_views,
    _view,
    governed_query,
    tables_read,
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
    "start_date": datetime(2020, 1, 1).date(), "end_date": datetime(2099, 12, 31).date(),
    "levels": {"analyst": "record", "task_force_member": "aggregate",
               "ethics_board_member": "aggregate", "viewer": "public"},
}
CODES = ["E01000001"] * 4 + ["E01000002"] * 2 + ["E01000003"] * 5  # 6 North, 5 South
PURPOSE = "violence_reduction"


def ed_table() -> pa.Table:
    n = len(CODES)
    t0 = datetime(2024, 5, 1, 22)
    return conform(pa.table({
        "source_ref": [f"RHW01:{i:04d}" for i in range(n)],
        "site_code": ["RHW01"] * n,
        "arrival": pa.array([t0 + timedelta(hours=i) for i in range(n)], pa.timestamp("us")),
        "month": ["2024-05"] * n, "weapon": ["body part"] * n, "location_type": ["street"] * n,
        "location_description": [f"Place {i}" for i in range(n)], "lsoa11cd": CODES,
    }), SPECS["ed_assaults"].schema)


def incidents_table() -> pa.Table:
    n = len(CODES)
    return conform(pa.table({
        "source": ["police_uk"] * n, "source_ref": [f"crime-{i}" for i in range(n)],
        "month": ["2024-05"] * n, "category": ["violent-crime"] * n, "lsoa11cd": CODES,
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


def _paths(store: Store) -> dict[str, str]:
    """What an attacker would paste: a data file of the snapshot (DuckDB's allowed_paths
    permits exactly these) and its directory."""
    uri = store.table("ed_assaults").file_uris()[0]
    path = uri.removeprefix("file://")
    return {"f": path, "d": str(Path(path).parent)}


# Each class of escape found, several payloads each; {f} is a real Parquet file of the view.
FILES = [
    "SELECT * FROM read_parquet('{f}')",
    "SELECT * FROM READ_PARQUET('{f}')",
    "FROM read_parquet('{f}')",
    "SELECT * FROM parquet_scan('{f}')",
    "SELECT * FROM read_csv('{f}')",
    "SELECT * FROM read_csv_auto('{f}')",
    "SELECT * FROM read_text('{f}')",
    "SELECT * FROM read_blob('{f}')",
    "SELECT * FROM read_json('{f}')",
    "SELECT * FROM glob('{d}/*')",
    "SELECT * FROM parquet_metadata('{f}')",
    "SELECT * FROM parquet_schema('{f}')",
    "SELECT * FROM sniff_csv('{f}')",
    "SELECT * FROM query('SELECT * FROM ed_assaults')",
    "SELECT * FROM query_table('ed_assaults')",
    "SELECT * FROM ed_assaults e JOIN incidents i USING (lsoa11cd), read_parquet('{f}')",
    "SELECT e.* FROM ed_assaults e JOIN read_parquet('{f}') p USING (lsoa11cd)",
    "SELECT p.* FROM ed_assaults e JOIN incidents i USING (lsoa11cd) "
    "JOIN read_parquet('{f}') p ON true",
    "SELECT * FROM (SELECT * FROM read_parquet('{f}')) s",
    "WITH x AS (SELECT * FROM read_parquet('{f}')) SELECT * FROM x JOIN incidents USING (lsoa11cd)",
    "WITH a AS (SELECT 1), b AS (SELECT * FROM a, read_text('{f}')) SELECT * FROM b",
    "SELECT * FROM incidents i, LATERAL (SELECT * FROM read_parquet('{f}') p "
    "WHERE p.lsoa11cd = i.lsoa11cd)",
    "SELECT lsoa11cd FROM ed_assaults UNION ALL SELECT lsoa11cd FROM read_parquet('{f}')",
    "SELECT lsoa11cd FROM ed_assaults JOIN incidents USING (lsoa11cd) UNION "
    "SELECT source_ref FROM read_parquet('{f}')",
    "SELECT * FROM ed_assaults WHERE lsoa11cd IN (SELECT lsoa11cd FROM read_parquet('{f}'))",
    "SELECT (SELECT string_agg(source_ref) FROM read_parquet('{f}')) AS x FROM ed_assaults",
    "SELECT * FROM (VALUES ((SELECT max(source_ref) FROM read_parquet('{f}')))) v(x)",
    "SELECT EXISTS (SELECT 1 FROM read_csv('{f}'))",
    "SELECT * FROM ed_assaults WHERE EXISTS (FROM glob('{d}/*'))",
    "SELECT list_transform([1], x -> (SELECT count(*) FROM read_parquet('{f}')))",
]
CATALOG = [
    "SELECT * FROM duckdb_views()",
    "SELECT sql FROM duckdb_views() WHERE view_name = 'ed_assaults'",
    "SELECT * FROM duckdb_tables()",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_functions()",
    "SELECT * FROM duckdb_views",
    "SELECT * FROM ed_assaults JOIN incidents USING (lsoa11cd), duckdb_views()",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM information_schema.views",
    "SELECT * FROM system.information_schema.tables",
    "SELECT * FROM pg_catalog.pg_views",
    "SELECT * FROM pg_views",
    "SELECT * FROM pg_class",
    "SELECT * FROM pg_settings",
    "SELECT * FROM sqlite_master",
    "SELECT * FROM pragma_table_info('ed_assaults')",
    "SELECT current_setting('allowed_paths')",
    "SELECT CURRENT_SETTING('allowed_paths')",
    "SELECT 'allowed_paths'.current_setting()",
    "SELECT * FROM ed_assaults WHERE current_setting('allowed_paths') IS NOT NULL",
    "SELECT lsoa11cd, current_setting('allowed_paths') OVER () FROM ed_assaults",
    "SELECT list_transform([1], x -> current_setting('allowed_paths'))",
    "SELECT (SELECT current_setting('allowed_paths')) FROM ed_assaults "
    "JOIN incidents USING (lsoa11cd)",
    "SELECT getvariable('x')",
    "SELECT pg_get_viewdef(1)",
    "SELECT pg_catalog.pg_get_viewdef(1)",
    "SELECT get_block_size('memory')",
    "SELECT stats(lsoa11cd) FROM ed_assaults",
    "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))",
    "SELECT * FROM which_secret('s3://x', 's3')",
    "DESCRIBE SELECT * FROM duckdb_views()",
    "SHOW TABLES",
    "SHOW ALL TABLES",
]
QUALIFIED = [
    "SELECT * FROM main.ed_assaults",
    "SELECT * FROM temp.ed_assaults",
    "SELECT * FROM temp.main.ed_assaults",
    "SELECT * FROM memory.main.ed_assaults",
    "SELECT * FROM ed_assaults JOIN temp.main.incidents USING (lsoa11cd)",
    "SELECT main.lower('A')",
    "SELECT * FROM __empty_ed_assaults",
]
SHADOWS = [
    "WITH pg_views AS (SELECT 1 AS x) SELECT * FROM pg_views",
    # the second pg_class is outside the WITH's scope: DuckDB would read the catalog's
    "SELECT * FROM (WITH pg_class AS (SELECT 1 AS x) SELECT * FROM pg_class) a, pg_class",
    "WITH incidents AS (SELECT 1 AS x) SELECT * FROM incidents",
    "WITH duckdb_views AS (SELECT 1 AS x) SELECT * FROM duckdb_views",
]
REFUSED = FILES + CATALOG + QUALIFIED + SHADOWS
STATEMENTS = [
    "PRAGMA database_list",
    "PRAGMA show_tables",
    "SET allowed_paths = ['/']",
    "SET enable_external_access = true",
    "RESET lock_configuration",
    "ATTACH '{d}/x.db' AS x",
    "COPY ed_assaults TO '{d}/leak.csv'",
    "COPY (SELECT * FROM ed_assaults) TO '{d}/leak.csv'",
    "EXPORT DATABASE '{d}/leak'",
    "CREATE TABLE t AS SELECT 1",
    "CREATE MACRO m() AS current_setting('allowed_paths')",
    "CREATE VIEW v AS SELECT * FROM read_parquet('{f}')",
    "INSTALL httpfs",
    "LOAD httpfs",
    "CALL duckdb_views()",
    "EXPLAIN SELECT * FROM ed_assaults",
    "DELETE FROM incidents",
    "SELECT 1; SELECT * FROM duckdb_views()",
    "SELECT * FROM ed_assaults; COPY ed_assaults TO '{d}/leak.csv'",
    "PIVOT ed_assaults ON weapon USING count(*)",
    "SELECT * FROM ed_assaults WHERE",  # does not parse
]
UNKNOWN = [
    "SELECT * FROM '{f}'",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM nosuch",
    "SELECT * FROM ed_assaults JOIN nosuch USING (lsoa11cd)",
]


def _attempt(lake, actor: str, payload: str, error: type[Exception]) -> None:
    store, db = lake
    sql = payload.format(**_paths(store))
    before = len(audit.entries(db))
    with pytest.raises(error):
        governed_query(store, db, actor, sql, PURPOSE, area="North" if actor == "ann" else None)
    new = audit.entries(db)[before:]
    # refused before any view was opened: one entry, a refusal, with the query as sent
    assert [(e.actor, e.decision, e.resource) for e in new] == [(actor, "deny", "sql")]
    assert new[0].detail["sql"] == sql and new[0].detail["stage"] == "parse"
    assert new[0].reason


@pytest.mark.parametrize("actor", ["ann", "ada"])
@pytest.mark.parametrize("payload", REFUSED)
def test_escapes_through_functions_and_catalog_are_refused_and_audited(lake, actor, payload):
    _attempt(lake, actor, payload, QueryRefused)


@pytest.mark.parametrize("actor", ["ann", "ada"])
@pytest.mark.parametrize("payload", STATEMENTS)
def test_statements_other_than_one_select_are_refused_and_audited(lake, actor, payload):
    _attempt(lake, actor, payload, ReadOnlyQuery)


@pytest.mark.parametrize("payload", UNKNOWN)
def test_names_that_are_not_lake_tables_are_refused_and_audited(lake, payload):
    _attempt(lake, "ann", payload, LookupError)


@pytest.mark.parametrize("comment", ["/* {pad} */ ", "-- {pad}\n"])
def test_a_long_comment_does_not_hide_the_attack_in_the_log(lake, comment):
    store, db = lake
    sql = (comment.format(pad="x" * 10_000)
           + "SELECT * FROM read_parquet('{f}')".format(**_paths(store)))
    with pytest.raises(QueryRefused, match="read_parquet"):
        governed_query(store, db, "ann", sql, PURPOSE)
    last = audit.entries(db)[-1]
    assert last.decision == "deny" and last.detail["sql"] == sql
    assert last.detail["sql"].endswith(f"read_parquet('{_paths(store)['f']}')")


def test_allowed_query_records_its_full_text(lake):
    store, db = lake
    sql = "/* " + "y" * 5_000 + " */ SELECT count(*) AS n FROM ed_assaults"
    assert governed_query(store, db, "ann", sql, PURPOSE)["n"].to_pylist() == [len(CODES)]
    last = audit.entries(db)[-1]
    assert (last.decision, last.resource, last.detail["sql"]) == ("allow", "ed_assaults", sql)


@pytest.mark.parametrize("actor", ["tia", "eve", "vic", "olu"])
@pytest.mark.parametrize("sql", ["SELECT 1", "SELECT * FROM range(3)",
                                 "SELECT count(*) FROM incidents",
                                 "SELECT * FROM read_parquet('x.parquet')"])
def test_restricted_roles_get_no_sql_at_all(lake, actor, sql):
    store, db = lake
    with pytest.raises(AccessDenied, match="vru counts"):
        governed_query(store, db, actor, sql, PURPOSE)
    last = audit.entries(db)[-1]
    assert (last.actor, last.decision, last.detail["sql"]) == (actor, "deny", sql)


@pytest.mark.parametrize("actor", ["ann", "ada"])
@pytest.mark.parametrize("sql, rows", [
    ("SELECT 1 AS x", [{"x": 1}]),
    ("SELECT * FROM range(3) r(x)", [{"x": 0}, {"x": 1}, {"x": 2}]),
    ("SELECT * FROM generate_series(1, 2) g(x)", [{"x": 1}, {"x": 2}]),
    ("SELECT * FROM unnest([5]) u(x)", [{"x": 5}]),
])
def test_queries_naming_no_table_pass_the_policy_point(lake, actor, sql, rows):
    store, db = lake
    assert governed_query(store, db, actor, sql, PURPOSE).to_pylist() == rows
    last = audit.entries(db)[-1]
    assert (last.actor, last.decision, last.resource, last.detail["sql"]) == (
        actor, "allow", "sql", sql)


def test_no_table_query_by_an_unknown_user_is_denied(lake):
    store, db = lake
    with pytest.raises(AccessDenied, match="not a user"):
        governed_query(store, db, "mallory", "SELECT 1", PURPOSE)
    assert audit.entries(db)[-1].decision == "deny"


@pytest.mark.parametrize("sql, expected", [
    ("SELECT DISTINCT lsoa11cd FROM ed_assaults e JOIN incidents i USING (lsoa11cd) "
     "ORDER BY 1", NORTH),
    ("WITH x AS (SELECT * FROM ed_assaults) SELECT DISTINCT lsoa11cd FROM x ORDER BY 1", NORTH),
    ("SELECT lsoa11cd FROM ed_assaults UNION SELECT lsoa11cd FROM incidents ORDER BY 1", NORTH),
    ("SELECT DISTINCT lsoa11cd FROM incidents i, LATERAL (SELECT i.month) l ORDER BY 1", NORTH),
    ("SELECT DISTINCT lsoa11cd FROM ed_assaults WHERE lsoa11cd IN "
     "(SELECT lsoa11cd FROM incidents) ORDER BY 1", NORTH),
])
def test_legitimate_shapes_run_inside_the_area(lake, sql, expected):
    store, db = lake
    got = governed_query(store, db, "ann", sql, PURPOSE, area="North")
    assert got.column(0).to_pylist() == expected


def test_ordinary_functions_still_work(lake):
    store, db = lake
    got = governed_query(store, db, "ann", "SELECT lower(weapon) AS w, repeat('a', 2) AS r, "
                         "json_extract('{\"k\": 1}', '$.k')::INT AS j, count(*) AS n "
                         "FROM ed_assaults GROUP BY ALL", PURPOSE, area="South")
    assert got.to_pylist() == [{"w": "body part", "r": "aa", "j": 1, "n": 5}]
    described = governed_query(store, db, "ann", "DESCRIBE ed_assaults", PURPOSE)
    assert "lsoa11cd" in described.column(0).to_pylist()


def test_file_virtual_columns_are_not_reachable_through_a_view(lake):
    store, db = lake
    with pytest.raises(duckdb.BinderException):
        governed_query(store, db, "ann", "SELECT filename FROM ed_assaults", PURPOSE,
                       area="North")


def test_tables_read_finds_tables_in_every_position(lake):
    store, _ = lake
    lake_tables = store.versions()
    assert tables_read("SELECT (SELECT count(*) FROM incidents) FROM ed_assaults e JOIN "
                       "ed_assaults f USING (lsoa11cd)", lake_tables) == ["ed_assaults",
                                                                           "incidents"]
    assert tables_read("SELECT 1", lake_tables) == []
    assert tables_read("WITH x AS (SELECT 1) SELECT * FROM x", lake_tables) == []


def test_the_views_alone_would_leak_so_the_parse_check_is_needed(lake):
    """Why the parse tree is checked: the locked connection must permit the snapshot's files
    (its views read them), so a table function there reads every area's rows."""
    store, db = lake
    from vru.governance.policy import authorise

    decision = authorise(db, "ann", "read", "ed_assaults", PURPOSE, area="North")
    con = _open_views({"ed_assaults": _view(store, "ed_assaults", None, decision)})
    try:
        f = _paths(store)["f"]
        assert con.execute("SELECT count(*) FROM ed_assaults").fetchone()[0] == 6
        assert con.execute(f"SELECT count(*) FROM read_parquet('{f}')").fetchone()[0] == len(CODES)
        with pytest.raises(duckdb.Error):  # but nothing else on disk
            con.execute("SELECT * FROM read_text('/etc/passwd')").fetchall()
        with pytest.raises(duckdb.Error):  # and the settings stay locked
            con.execute("SET enable_external_access = true")
    finally:
        con.close()
