"""The lake's governed read path: every read authorised, filtered, masked and audited.

Three doors, each asking `vru.governance.policy.authorise` first (the decision, with the
table versions read, is the audit entry):

- `governed_table`: rows of one table, for record-level roles only; rows outside the
  decision's area are filtered out and columns the agreement hides are dropped.
- `governed_query`: ad hoc DuckDB SQL (``vru sql``), for record-level roles only (admin,
  analyst): restricted roles (task force, ethics board, viewer, partner data owner) get
  counts from the governed table builder (``vru counts``), never free SQL. The sandbox:

  1. one SELECT statement; DuckDB's whole parse tree (``json_serialize_sql``) is walked:
     every relation must be a lake table named alone (or a WITH name that shadows nothing),
     every table function one of `TABLE_FUNCTIONS`, and no function may read files, run SQL
     given as text or describe the engine (`DENIED_FUNCTIONS`, `DENIED_PREFIXES`, and the
     catalog's own table functions, pragmas and pg_catalog macros);
  2. every lake table read is authorised (a query reading none as resource ``sql``), and a
     decision below record level refuses the query;
  3. the query runs on a private connection holding nothing but views of those tables (area
     filter applied, hidden columns absent), with file access limited to the snapshot's
     Parquet files, extensions and Python variable scans off, and the configuration locked.

  Every refusal is audited as ``deny`` with the full query text: the sandbox's own refusals
  (stage ``parse``, ``role`` or ``level``) as well as the policy's.
- `governed_aggregate`: counts an analysis computed (by area, cell, month...), filtered to
  the decision's area and put through its disclosure profile.

The views read Parquet files by path, so paths are in the view definitions and in
``allowed_paths``; the parse-tree rules keep both out of reach (no catalog, settings or
introspection function passes). Registering Arrow datasets instead would hide the paths but
was measured 2.5-6x slower over 1.1M incidents and fails on the string-view columns delta-rs
merges write (the pushed-down filter has no string/string_view kernel).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

import duckdb
import pyarrow as pa

from vru.governance import audit, disclosure
from vru.governance.db import Database
from vru.governance.identity import User, get_user
from vru.governance.policy import ROLE_LEVEL, Decision, PolicyConfig, authorise
from vru.governance.roles import Level, Role
from vru.lake.engine import ReadOnlyQuery
from vru.lake.store import Store, arrow_schema

#: Schema metadata keys of returned tables.
META_VERSIONS = b"vru:table_versions"
META_AUDIT = b"vru:audit_seq"


class AccessDenied(PermissionError):  # noqa: N818 - reads as a sentence at the raise site
    """The policy said no, or the read asked for more detail than the decision allows.

    Attributes
    ----------
    reason
        Why, in words a person understands (the policy's reason where it decided).
    decision
        The policy decision, when there was one.
    """

    def __init__(self, reason: str, decision: Decision | None = None) -> None:
        self.reason = reason
        self.decision = decision
        super().__init__(reason)


class AggregateOnly(AccessDenied):
    """Record-level rows were asked for by a role that may see only counts."""


def _name(actor: str | User) -> str:
    return actor.name if isinstance(actor, User) else str(actor)


def _check(decision: Decision) -> Decision:
    if not decision.allowed:
        raise AccessDenied(decision.reason, decision)
    return decision


def _hidden(schema: pa.Schema, name: str, decision: Decision) -> set[str]:
    """Columns of table ``name`` this decision does not let the reader see."""
    hidden = set(decision.column_masks)
    permitted = decision.permitted_fields.get(name)
    if permitted:
        hidden |= {f.name for f in schema if f.name not in permitted}
    return hidden & set(schema.names)


@dataclass(frozen=True)
class _View:
    """A governed view: its SQL (already limited to the area, hidden columns left out) and the
    Parquet files of the Delta version it reads."""

    sql: str
    files: tuple[str, ...]
    columns: tuple[str, ...]
    empty: pa.Table | None  # the table has no data files yet


def _view(store: Store, name: str, version: int | None, decision: Decision) -> _View:
    """The view of ``name`` a decision allows: nothing outside it is reachable through it.

    It reads the Delta version's Parquet files natively in DuckDB (the engine's way,
    `vru.lake.engine.register`), which copes with the string-view columns delta-rs writes on
    merge where an Arrow dataset scan cannot.
    """
    dt = store.table(name, version)
    if dt is None:
        have = ", ".join(store.versions()) or "none yet"
        raise LookupError(f"no table {name!r} in the lake; tables: {have}")
    schema = arrow_schema(dt)
    rf = decision.row_filter
    if rf is not None and rf.column not in schema.names:
        raise AccessDenied(f"{name} has no {rf.column} column, so it cannot be limited to "
                           f"area {rf.area}; it cannot be read at area level", decision)
    hidden = _hidden(schema, name, decision)
    cols = tuple(c for c in schema.names if c not in hidden)
    where = ""
    if rf is not None:
        values = ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(rf.values))
        where = f' WHERE "{rf.column}" IN ({values or "NULL"})'
    files = tuple(dt.file_uris())
    select = ", ".join(f'"{c}"' for c in cols)
    if not files:
        return _View("", (), cols, schema.empty_table().select(list(cols)))
    listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    sql = (f"SELECT {select} FROM read_parquet([{listing}], hive_partitioning = true, "
           f"union_by_name = true){where}")
    return _View(sql, files, cols, None)


def _open_views(views: Mapping[str, _View]) -> duckdb.DuckDBPyConnection:
    """A locked connection holding only ``views``: it may read their files and nothing else."""
    con = duckdb.connect()
    con.execute("SET python_enable_replacements = false")  # no scans of Python variables
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    paths = sorted({f for v in views.values() for f in v.files})
    if paths:
        con.execute("SET allowed_paths = ?", [paths])
    con.execute("SET enable_external_access = false")  # no other files, ATTACH, extensions
    for name, v in views.items():
        if v.empty is not None:
            con.register(f"__empty_{name}", v.empty)
            con.execute(f'CREATE TEMP VIEW "{name}" AS SELECT * FROM "__empty_{name}"')
        else:
            con.execute(f'CREATE TEMP VIEW "{name}" AS {v.sql}')
    con.execute("SET lock_configuration = true")  # the query cannot turn any of it back
    return con


def _with_meta(table: pa.Table, versions: Mapping[str, int], audit_seqs: Sequence[int],
               **extra: Any) -> pa.Table:
    meta = dict(table.schema.metadata or {})
    meta[META_VERSIONS] = json.dumps(dict(versions), sort_keys=True).encode()
    meta[META_AUDIT] = json.dumps(list(audit_seqs)).encode()
    for key, value in extra.items():
        meta[f"vru:{key}".encode()] = json.dumps(value).encode()
    return table.replace_schema_metadata(meta)


def table_versions(table: pa.Table) -> dict[str, int]:
    """The lake table versions a governed read returned (from the table's metadata)."""
    raw = (table.schema.metadata or {}).get(META_VERSIONS)
    return json.loads(raw) if raw else {}


def _current_version(store: Store, name: str, version: int | None) -> int:
    if version is not None:
        return version
    found = store.version(name)
    if found is None:
        have = ", ".join(store.versions()) or "none yet"
        raise LookupError(f"no table {name!r} in the lake; tables: {have}")
    return found


def governed_table(store: Store, db: Database, actor: str | User, name: str, purpose: str,
                   version: int | None = None, *, area: str | None = None,
                   columns: Sequence[str] | None = None, on: date | None = None,
                   config: PolicyConfig | None = None) -> pa.Table:
    """Read the rows of lake table ``name`` that ``actor`` may see, for ``purpose``.

    Parameters
    ----------
    store, db
        The lake and its metadata database.
    actor
        The user reading.
    name
        The lake table.
    purpose
        Why (one of `vru.governance.roles.PURPOSES`), judged against the agreements.
    version
        The Delta version to read (default: the current one).
    area
        Limit rows to this task-force area (task-force members always get their own).
    columns
        Only these columns (each must be visible to the actor).
    on
        The day agreements are judged on (default today).
    config
        Disclosure profiles below record level.

    Returns
    -------
    pyarrow.Table
        Rows filtered to the area, hidden columns dropped; the schema metadata holds the
        version read (`table_versions`) and the audit entry.

    Raises
    ------
    AccessDenied
        When the policy denies the read (the reason says why).
    AggregateOnly
        When the actor's level is aggregate or public: they may ask for counts instead.
    LookupError
        When the table does not exist.
    """
    v = _current_version(store, name, version)
    decision = authorise(db, actor, "read", name, purpose, area=area,
                         table_versions={name: v}, on=on, config=config,
                         detail={"via": "governed_table"}, needs=Level.RECORD)
    if not decision.allowed and "-level output" in decision.reason:
        # recorded as the refusal it is; say what may be asked instead
        raise AggregateOnly(
            f"{_name(actor)} may not see the rows of {name}, only counts: use "
            f"`vru counts {name} --by month` (or an analysis), released after disclosure "
            "control", decision)
    decision = _check(decision)
    if decision.level is not Level.RECORD:
        raise AggregateOnly(
            f"{_name(actor)} may see {name} at {decision.level} level only, never its rows: ask "
            f"for counts instead (`vru counts {name} --by month`, or an analysis), which are "
            "shown after disclosure control", decision)
    view = _view(store, name, v, decision)
    if columns is not None:
        unseen = [c for c in columns if c not in view.columns]
        if unseen:
            raise AccessDenied(f"column(s) {', '.join(unseen)} of {name} are not available to "
                               f"{_name(actor)}; visible: {', '.join(view.columns)}",
                               decision)
    con = _open_views({name: view})
    try:
        picked = ", ".join(f'"{c}"' for c in (columns if columns is not None else view.columns))
        table = con.sql(f'SELECT {picked} FROM "{name}"').to_arrow_table()
    finally:
        con.close()
    return _with_meta(table, {name: v}, [decision.audit_seq])


# -- ad hoc SQL ------------------------------------------------------------------------------

#: Table functions a query may call in FROM: each makes rows from its arguments alone (no
#: files, no catalog, no settings).
TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
#: Scalar functions that introspect the engine, its settings or its log, run SQL given as a
#: string, or stall it (the catalog's table functions and pg_catalog macros are added by
#: `_denied_functions`).
DENIED_FUNCTIONS = frozenset({
    "current_setting", "getvariable", "current_query", "current_database", "current_schema",
    "current_schemas", "current_catalog", "in_search_path", "stats", "sleep_ms", "pg_sleep",
    "write_log", "parse_duckdb_log_message", "json_serialize_sql", "json_deserialize_sql",
    "json_execute_serialized_sql", "query", "query_table", "glob", "sniff_csv", "which_secret",
    "get_block_size", "enable_logging", "disable_logging", "checkpoint",
    "force_checkpoint",
})
#: Name prefixes of functions that read files or other databases, or describe the engine.
DENIED_PREFIXES = ("read_", "parquet_", "duckdb_", "pragma_", "sqlite_", "postgres_",
                   "iceberg_", "delta_", "pg_", "has_", "arrow_", "python_", "__")
#: Catalog schemas and system objects a table reference may never name.
CATALOG_NAMES = frozenset({"information_schema", "pg_catalog", "system", "temp", "main",
                           "memory"})
#: Parse-tree table references a query may use (SHOW_REF only around a query: DESCRIBE,
#: SUMMARIZE); anything else, including kinds a later DuckDB adds, is refused.
TABLE_REFS = frozenset({"BASE_TABLE", "JOIN", "SUBQUERY", "TABLE_FUNCTION", "EMPTY",
                        "EXPRESSION_LIST", "PIVOT", "SHOW_REF"})
#: How restricted roles get figures instead of SQL.
COUNTS_ADVICE = ("use the governed table builder instead: `vru counts TABLE --by DIM` (counts "
                 "by dimensions, disclosure-controlled)")


class QueryRefused(AccessDenied):
    """The query reaches for something outside the lake's governed views (files, the
    catalog, settings, functions that run SQL given as text)."""


@cache
def _catalog() -> tuple[frozenset[str], frozenset[str]]:
    """System relation names DuckDB resolves on any connection, and catalog functions to deny.

    Asked of DuckDB itself, so objects a later version adds are covered: every table
    function and pragma (only `TABLE_FUNCTIONS` are let through), every pg_catalog function,
    and every macro whose body reads a relation (``get_block_size`` reads
    ``pragma_database_size()``; its expansion is invisible in the query's parse tree).
    """
    con = duckdb.connect()
    try:
        relations = {r[0].lower() for r in con.execute(
            "SELECT view_name FROM duckdb_views() UNION ALL SELECT table_name FROM "
            "duckdb_tables() UNION ALL SELECT schema_name FROM duckdb_schemas() UNION ALL "
            "SELECT database_name FROM duckdb_databases()").fetchall()}
        # a table function's name also used by a scalar (repeat, histogram) is the scalar
        # in an expression; in FROM the TABLE_FUNCTIONS allowlist decides
        functions = {r[0].lower() for r in con.execute(
            "SELECT function_name FROM duckdb_functions() WHERE function_type IN "
            "('table', 'table_macro', 'pragma') EXCEPT SELECT function_name FROM "
            "duckdb_functions() WHERE function_type IN ('scalar', 'aggregate', 'macro') "
            "UNION SELECT function_name FROM duckdb_functions() WHERE schema_name = "
            "'pg_catalog' OR (function_type = 'macro' AND macro_definition ILIKE '%from%')"
        ).fetchall()}
    finally:
        con.close()
    return frozenset(relations | CATALOG_NAMES), frozenset(functions - TABLE_FUNCTIONS)


def _denied(function: str) -> bool:
    name = function.lower()
    return (name in DENIED_FUNCTIONS or name.startswith(DENIED_PREFIXES)
            or name in _catalog()[1])


def _statement(sql: str) -> None:
    """Check ``sql`` is one SELECT statement (WITH, DESCRIBE and SUMMARIZE are SELECTs)."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise ReadOnlyQuery(f"cannot parse the query: {exc}") from None
    if len(statements) != 1:
        raise ReadOnlyQuery(f"give one statement, not {len(statements)}")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise ReadOnlyQuery("vru sql runs read-only queries (SELECT, WITH, DESCRIBE, "
                            "SUMMARIZE); the lake changes only through `vru ingest` and "
                            "`vru retention`")


def _parse_tree(sql: str) -> dict[str, Any]:
    """DuckDB's own parse tree of ``sql`` (``json_serialize_sql``); refused if it has none."""
    con = duckdb.connect()
    try:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    finally:
        con.close()
    if tree.get("error"):
        # only SELECT serialises: a statement that does not cannot be checked, so it is refused
        raise ReadOnlyQuery(f"cannot check the query: {tree.get('error_message')}")
    if len(tree.get("statements") or []) != 1:
        raise ReadOnlyQuery("give one statement")
    return tree


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every object node of a ``json_serialize_sql`` parse tree, depth first."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            yield item
            stack.extend(v for v in item.values() if isinstance(v, dict | list))


def _base_tables(tree: dict[str, Any], lake: Mapping[str, str]) -> set[str]:
    """The lake tables a parse tree reads, after checking every relation and function in it.

    Raises
    ------
    QueryRefused
        For a table function outside `TABLE_FUNCTIONS`, a denied function, a qualified
        name, a catalog object, a WITH name that shadows a lake table or system object, or a
        kind of table reference the sandbox does not know.
    LookupError
        For a name that is neither a lake table nor a WITH name (a file path, say).
    """
    system, _ = _catalog()
    nodes = list(_nodes(tree))
    ctes: set[str] = set()
    for node in nodes:
        for entry in (node.get("cte_map") or {}).get("map") or []:
            key = str(entry.get("key", "")).lower()
            # a WITH name that is also a lake table or a system object would make a reference
            # outside the WITH's scope resolve to that object unnoticed
            if key in lake or key in system or key.startswith(DENIED_PREFIXES):
                raise QueryRefused(f"the WITH name {key!r} is the name of a lake table or a "
                                   "system object; name it something else")
            ctes.add(key)
    tables: set[str] = set()
    for node in nodes:
        kind = node.get("type")
        if "class" in node:  # an expression
            if node["class"] in ("FUNCTION", "WINDOW"):
                _check_function(node)
            continue
        if not (isinstance(kind, str) and "sample" in node and "alias" in node):
            continue  # a query node, modifier or type: its children are walked anyway
        if kind not in TABLE_REFS:
            raise QueryRefused(f"{kind.lower().replace('_', ' ')} is not available in vru sql")
        if kind == "SHOW_REF" and node.get("query") is None:
            raise QueryRefused("SHOW lists the engine's catalog; DESCRIBE a lake table or a "
                               "query instead")
        if kind == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
            if name not in TABLE_FUNCTIONS:
                raise QueryRefused(f"the table function {name}() is not available in vru sql "
                                   f"(only {', '.join(sorted(TABLE_FUNCTIONS))}); query lake "
                                   f"tables by name: {', '.join(sorted(lake.values()))}")
        if kind == "BASE_TABLE":
            tables.add(_table_name(node, lake, system, ctes))
    return tables - {""}


def _check_function(node: dict[str, Any]) -> None:
    name = str(node.get("function_name", ""))
    if node.get("schema") or node.get("catalog"):
        raise QueryRefused(f"qualified function names ({node.get('schema')}.{name}) are not "
                           "available in vru sql")
    if _denied(name):
        raise QueryRefused(f"the function {name}() describes the engine or reaches outside the "
                           "lake's tables; it is not available in vru sql")


def _table_name(node: dict[str, Any], lake: Mapping[str, str], system: frozenset[str],
                ctes: set[str]) -> str:
    """The lake table a BASE_TABLE reference names ("" for a WITH name)."""
    name = str(node.get("table_name", "")).lower()
    path = (node.get("qualified_name") or {}).get("path") or [name]
    if node.get("schema_name") or node.get("catalog_name") or len(path) > 1:
        raise QueryRefused(f"qualified table names ({'.'.join(path)}) are not available in "
                           "vru sql; name lake tables alone")
    if node.get("at_clause"):
        raise QueryRefused("AT (VERSION => ...) is not available in vru sql; the query reads "
                           "each table's current version")
    if name in ctes:
        return ""
    if name in lake:
        return lake[name]
    if name in system or name.startswith(DENIED_PREFIXES):
        raise QueryRefused(f"{name} is part of the engine's catalog, not the lake; it is not "
                           "available in vru sql")
    raise LookupError(f"no table {name!r} in the lake; tables: "
                      f"{', '.join(sorted(lake.values())) or 'none yet'}")


def tables_read(sql: str, lake_tables: Iterable[str]) -> list[str]:
    """The lake tables ``sql`` reads, after checking it can reach nothing else.

    The whole of DuckDB's parse tree is walked: every relation must be a lake table or a
    WITH name, every table function one of `TABLE_FUNCTIONS`, and no function may introspect
    the engine or reach outside (`DENIED_FUNCTIONS`, `DENIED_PREFIXES`, the catalog's table
    functions and pg_catalog macros).

    Parameters
    ----------
    sql
        One SELECT statement.
    lake_tables
        The names of the lake's tables.

    Returns
    -------
    list of str
        The lake tables read, sorted (empty for ``SELECT 1``).

    Raises
    ------
    ReadOnlyQuery
        For anything but one SELECT statement, or SQL that does not parse.
    QueryRefused
        When the query reaches for files, the catalog, settings or SQL given as text.
    LookupError
        When the query names a table that is not in the lake (or a file path).
    """
    _statement(sql)
    lake = {t.lower(): t for t in lake_tables}
    return sorted(_base_tables(_parse_tree(sql), lake))


def _refuse(db: Database, actor: str | User, sql: str, purpose: str, reason: str, stage: str,
            **detail: Any) -> None:
    """Audit a refusal the policy point never saw (the query text in full)."""
    audit.record(db, actor=_name(actor), action="read", resource="sql", purpose=purpose,
                 decision="deny", reason=reason,
                 detail={"via": "governed_query", "stage": stage, "sql": sql, **detail})


def governed_query(store: Store, db: Database, actor: str | User, sql: str, purpose: str, *,
                   area: str | None = None, on: date | None = None,
                   config: PolicyConfig | None = None) -> pa.Table:
    """Run ad hoc read-only SQL over the lake as a record-level ``actor`` sees it.

    The query is checked on DuckDB's parse tree (`tables_read`); each lake table it reads is
    authorised (a query reading none is authorised as resource ``sql``), and it runs on a
    locked connection holding only views of those tables, limited to the decision's area and
    without the columns the agreements hide. Only record-level roles (admin, analyst) may run
    SQL; every refusal is audited as ``deny`` with the full query text.

    Parameters
    ----------
    store, db
        The lake and its metadata database.
    actor
        The user querying.
    sql
        One SELECT statement.
    purpose
        Why (one of `vru.governance.roles.PURPOSES`).
    area
        Limit every table's rows to this task-force area.
    on
        The day agreements are judged on (default today).
    config
        Disclosure profiles (for the policy's decisions).

    Returns
    -------
    pyarrow.Table
        The result; the schema metadata holds the table versions read and the audit entries.

    Raises
    ------
    ReadOnlyQuery
        For anything but one SELECT statement, or SQL that does not parse.
    QueryRefused
        When the query reaches for files, the catalog, settings or SQL given as text.
    LookupError
        For tables that are not in the lake.
    AccessDenied
        When the actor's role may not run SQL (restricted roles use `vru counts`), or a table
        may not be read.
    duckdb.Error
        For SQL errors in the query itself.
    """
    user = get_user(db, _name(actor))
    if user is not None and (ROLE_LEVEL[user.role] is not Level.RECORD
                             or user.role is Role.PARTNER_DATA_OWNER):
        reason = f"{user.role.value.replace('_', ' ')}s do not run SQL; {COUNTS_ADVICE}"
        _refuse(db, actor, sql, purpose, reason, "role")
        raise AccessDenied(reason)
    versions = store.versions()
    try:
        names = tables_read(sql, versions)
    except (ReadOnlyQuery, LookupError, AccessDenied) as exc:
        _refuse(db, actor, sql, purpose, str(exc), "parse")
        raise
    detail = {"via": "governed_query", "sql": sql}
    decisions: dict[str, Decision] = {}
    seqs: list[int] = []
    if not names:  # SELECT 1, range(3): still a use of vru sql, so still decided and audited
        seqs.append(_check(authorise(db, actor, "read", "sql", purpose, area=area, on=on,
                                     config=config, detail=detail)).audit_seq)
    for name in names:
        decision = _check(authorise(
            db, actor, "read", name, purpose, area=area, table_versions={name: versions[name]},
            on=on, config=config, detail=detail))
        if decision.level is not Level.RECORD:
            # an agreement can grade a record-level role down for one dataset
            reason = (f"{name} is available to {_name(actor)} at {decision.level} level only, "
                      f"so not through SQL; {COUNTS_ADVICE}")
            _refuse(db, actor, sql, purpose, reason, "level", table=name)
            raise AccessDenied(reason, decision)
        decisions[name] = decision
        seqs.append(decision.audit_seq)
    con = _open_views({name: _view(store, name, versions[name], decision)
                       for name, decision in decisions.items()})
    try:
        result = con.sql(sql).to_arrow_table()
    finally:
        con.close()
    return _with_meta(result, {n: versions[n] for n in names}, seqs)


# -- analysis outputs --------------------------------------------------------------------------

def governed_aggregate(db: Database, actor: str | User, counts: pa.Table, purpose: str, *,
                       output: str, inputs: Iterable[str], count_columns: Sequence[str],
                       group_columns: Sequence[str] = (), area: str | None = None,
                       table_versions: Mapping[str, int] | None = None,
                       total_column: str | None = None, total_row: str | None = None,
                       on: date | None = None, config: PolicyConfig | None = None) -> pa.Table:
    """Release a table of counts an analysis computed, as ``actor`` may see it.

    Parameters
    ----------
    counts
        Counts by area, cell, month...: group columns plus count columns.
    output
        The analysis output's name (resource ``analysis:<output>``).
    inputs
        The lake tables the counts were computed from (each is judged).
    count_columns, group_columns, total_column, total_row
        As for `vru.governance.disclosure.apply`.
    area
        Limit to this task-force area (a task-force member always gets their own); the
        counts must then carry ``lsoa11cd``.
    table_versions
        The versions of ``inputs`` the counts were computed from (audited, and kept in the
        returned table's metadata).

    Returns
    -------
    pyarrow.Table
        Rows of the area, count columns through the decision's disclosure profile (nullable:
        null where suppressed; `vru.governance.disclosure.format_counts` shows ``*``).

    Raises
    ------
    AccessDenied
        When the policy denies it, or the counts cannot be limited to the area.
    """
    resource = output if output.startswith("analysis:") else f"analysis:{output}"
    versions = dict(table_versions or {})
    decision = _check(authorise(db, actor, "read", resource, purpose, area=area,
                                inputs=inputs, table_versions=versions, on=on, config=config,
                                detail={"via": "governed_aggregate"}))
    table = counts
    rf = decision.row_filter
    if rf is not None:
        if rf.column not in table.column_names:
            raise AccessDenied(f"these counts have no {rf.column} column, so they cannot be "
                               f"limited to area {rf.area}; compute them from rows of that area",
                               decision)
        table = table.filter(rf.mask(table))
    hidden = [c for c in table.column_names if c in decision.column_masks]
    if hidden:
        table = table.drop_columns(hidden)
    table = disclosure.apply(table, decision.disclosure_profile or "nhs", count_columns,
                             group_columns, total_column=total_column, total_row=total_row)
    return _with_meta(table, versions, [decision.audit_seq])
