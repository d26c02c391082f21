"""The lake's governed read path: every read authorised, filtered, masked and disclosure-controlled.

Three doors, each asking `vru.governance.policy.authorise` first (the decision, with the
table versions read, is the audit entry):

- `governed_table`: rows of one table, for record-level roles only; rows outside the
  decision's area are filtered out and columns the agreement hides are dropped.
- `governed_query`: ad hoc DuckDB SQL (``vru sql``). The query runs on a private DuckDB
  connection that holds nothing but governed views of the tables the query names (area
  filter applied, hidden columns absent), with file access and Python variable scans switched
  off and the configuration locked, so SQL cannot reach around the views.
- `governed_aggregate`: counts an analysis computed (by area, cell, month...), filtered to
  the decision's area and put through its disclosure profile.

The rule for ad hoc SQL below record level (task force, ethics board, public), checked on
DuckDB's own parse tree (``json_serialize_sql``):

1. Identifier columns (``source_ref``, ``source_file``, ``source_line``, ``row_hash``,
   ``batch_id``, the agreement's identifier fields and masks) are not in the views at all.
2. The outermost statement is one SELECT whose output columns are ``count(...)`` aggregates
   (the counts) and group labels; labels may not contain any other aggregate, window or
   subquery, nor ``*``; GROUPING SETS / ROLLUP / CUBE are refused (their totals defeat
   small-cell suppression by differencing). At least one count is required.
3. Every count column goes through the decision's disclosure profile (NHS default: 1-7
   suppressed, the rest rounded to 5), and a row whose counts are all suppressed is
   withheld, so a label seen belongs to a group of more than the suppression threshold.

Known limit: joins can inflate counts (a self-join or a cross join with ``range(100)``), so a
determined insider could make a small group's count pass the threshold. The query text is
in the audit entry of every table it read; the audit log, not this rule, is the control
against deliberate misuse.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from vru.governance import disclosure
from vru.governance.db import Database
from vru.governance.identity import User
from vru.governance.policy import Decision, PolicyConfig, authorise
from vru.governance.roles import LEVEL_ORDER, Level
from vru.lake.engine import ReadOnlyQuery
from vru.lake.store import Store

#: Columns that identify a record (or its provenance): never shown below record level.
RECORD_IDENTIFIERS = frozenset({"source_ref", "source_file", "source_line", "row_hash",
                                "batch_id"})
#: Aggregates whose result is a count of rows (the only ones released below record level).
COUNT_AGGREGATES = frozenset({"count", "count_star"})
#: Schema metadata keys of returned tables.
META_VERSIONS = b"vru:table_versions"
META_AUDIT = b"vru:audit_seq"
META_WITHHELD = b"vru:withheld_rows"


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


class NotAggregate(AccessDenied):
    """An ad hoc query below record level does not return counts the rule can release."""


def _name(actor: str | User) -> str:
    return actor.name if isinstance(actor, User) else str(actor)


def _check(decision: Decision) -> Decision:
    if not decision.allowed:
        raise AccessDenied(decision.reason, decision)
    return decision


def _hidden(schema: pa.Schema, name: str, decision: Decision, *, aggregate: bool) -> set[str]:
    """Columns of table ``name`` this decision does not let the reader see."""
    hidden = set(decision.column_masks)
    permitted = decision.permitted_fields.get(name)
    if permitted:
        hidden |= {f.name for f in schema if f.name not in permitted}
    if aggregate:
        hidden |= RECORD_IDENTIFIERS
    return hidden & set(schema.names)


@dataclass(frozen=True)
class _View:
    """A governed view: its SQL (already limited to the area, hidden columns left out) and the
    Parquet files of the Delta version it reads."""

    sql: str
    files: tuple[str, ...]
    columns: tuple[str, ...]
    empty: pa.Table | None  # the table has no data files yet


def _view(store: Store, name: str, version: int | None, decision: Decision, *,
          aggregate: bool) -> _View:
    """The view of ``name`` a decision allows: nothing outside it is reachable through it.

    It reads the Delta version's Parquet files natively in DuckDB (the engine's way,
    `vru.lake.engine.register`), which copes with the string-view columns delta-rs writes on
    merge where an Arrow dataset scan cannot.
    """
    dt = store.table(name, version)
    if dt is None:
        have = ", ".join(store.versions()) or "none yet"
        raise LookupError(f"no table {name!r} in the lake; tables: {have}")
    schema = dt.to_pyarrow_dataset().schema
    rf = decision.row_filter
    if rf is not None and rf.column not in schema.names:
        raise AccessDenied(f"{name} has no {rf.column} column, so it cannot be limited to "
                           f"area {rf.area}; it cannot be read at area level", decision)
    hidden = _hidden(schema, name, decision, aggregate=aggregate)
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
    con.execute("SET python_enable_replacements = false")
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
    decision = _check(authorise(db, actor, "read", name, purpose, area=area,
                                table_versions={name: v}, on=on, config=config,
                                detail={"via": "governed_table"}))
    if decision.level is not Level.RECORD:
        raise AggregateOnly(
            f"{_name(actor)} may see {name} at {decision.level} level only, never its rows: ask "
            f"for counts instead (`vru sql \"SELECT month, count(*) AS n FROM {name} GROUP BY "
            "ALL\"`, or an analysis), which are shown after disclosure control", decision)
    view = _view(store, name, v, decision, aggregate=False)
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

def _locked_connection() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that can read only what is registered on it."""
    con = duckdb.connect()
    con.execute("SET python_enable_replacements = false")  # no scans of Python variables
    con.execute("SET enable_external_access = false")  # no files, no ATTACH, no extensions
    con.execute("SET lock_configuration = true")  # and the query cannot turn them back on
    return con


def _statement(sql: str) -> None:
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


def tables_read(sql: str, lake_tables: Iterable[str]) -> list[str]:
    """The lake tables ``sql`` reads, found by DuckDB's parser (CTE names excluded).

    Raises
    ------
    LookupError
        When the query names a table that is not in the lake (or a file path).
    AccessDenied
        When the query calls a table function that reads files (read_parquet, ...).
    """
    lake = {t.lower(): t for t in lake_tables}
    con = _locked_connection()
    try:
        names = con.get_table_names(sql)
    except duckdb.PermissionException as exc:
        raise AccessDenied("the query reads files directly; query lake tables by name "
                           f"(tables: {', '.join(sorted(lake.values()))}) — {exc}") from None
    except duckdb.BinderException:
        # it binds some clauses (JOIN ... USING) against tables it has not got: walk the
        # parse tree instead
        names = _base_tables(sql)
    except duckdb.Error as exc:
        raise ReadOnlyQuery(f"cannot parse the query: {exc}") from None
    finally:
        con.close()
    unknown = sorted(n for n in names if n.lower() not in lake)
    if unknown:
        raise LookupError(f"no table {', '.join(map(repr, unknown))} in the lake; tables: "
                          f"{', '.join(sorted(lake.values())) or 'none yet'}")
    return sorted({lake[n.lower()] for n in names})


def _parse_tree(sql: str) -> dict[str, Any]:
    con = duckdb.connect()
    try:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    finally:
        con.close()
    if tree.get("error"):
        raise ReadOnlyQuery(f"cannot parse the query: {tree.get('error_message')}")
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


def _base_tables(sql: str) -> set[str]:
    """Table names in the parse tree, less the names of common table expressions."""
    tables: set[str] = set()
    ctes: set[str] = set()
    for item in _nodes(_parse_tree(sql)):
        if item.get("type") == "BASE_TABLE" and item.get("table_name"):
            tables.add(item["table_name"])
        for entry in (item.get("cte_map") or {}).get("map") or []:
            if isinstance(entry, dict) and entry.get("key"):
                ctes.add(str(entry["key"]).lower())
    return {t for t in tables if t.lower() not in ctes}


def governed_query(store: Store, db: Database, actor: str | User, sql: str, purpose: str, *,
                   area: str | None = None, on: date | None = None,
                   config: PolicyConfig | None = None) -> pa.Table:
    """Run ad hoc read-only SQL over the lake as ``actor`` sees it.

    Each table the query reads is authorised (and audited, with its version and the query
    text). Record-level readers query views already limited to their area and visible
    columns; readers below record level get counts only, under the rule in this module's
    docstring.

    Returns
    -------
    pyarrow.Table
        The result; the schema metadata holds the table versions read, the audit entries
        and, below record level, the number of withheld rows.

    Raises
    ------
    ReadOnlyQuery
        For anything but one SELECT statement, or SQL that does not parse.
    LookupError
        For tables that are not in the lake.
    AccessDenied
        When a table may not be read; `NotAggregate` when a query below record level does
        not return releasable counts.
    duckdb.Error
        For SQL errors in the query itself.
    """
    _statement(sql)
    versions = store.versions()
    names = tables_read(sql, versions)
    decisions: dict[str, Decision] = {}
    for name in names:
        decisions[name] = _check(authorise(
            db, actor, "read", name, purpose, area=area, table_versions={name: versions[name]},
            on=on, config=config, detail={"via": "governed_query", "sql": sql[:2000]}))
    level = max((d.level for d in decisions.values()), key=LEVEL_ORDER.index,
                default=Level.RECORD)
    aggregate = level is not Level.RECORD
    counts: list[int] = []
    if aggregate:
        counts = _aggregate_columns(sql)
    con = _open_views({name: _view(store, name, versions[name], decision, aggregate=aggregate)
                       for name, decision in decisions.items()})
    try:
        try:
            result = con.sql(sql).to_arrow_table()
        except duckdb.BinderException as exc:
            if aggregate:
                raise NotAggregate(f"{exc} (identifier columns such as source_ref are not "
                                   f"available at {level} level)") from None
            raise
    finally:
        con.close()
    seqs = [d.audit_seq for d in decisions.values()]
    used = {n: versions[n] for n in names}
    if not aggregate:
        return _with_meta(result, used, seqs)
    profile = next(d.disclosure_profile for d in decisions.values() if d.level is level)
    released, withheld = _release(result, counts, profile or "nhs")
    return _with_meta(released, used, seqs, withheld_rows=withheld, disclosure_profile=profile)


def _aggregate_columns(sql: str) -> list[int]:
    """Check the outermost SELECT returns counts and labels; return the counts' positions."""
    tree = _parse_tree(sql)
    con = duckdb.connect()
    try:
        aggregates = {r[0] for r in con.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() "
            "WHERE function_type = 'aggregate'").fetchall()}
    finally:
        con.close()
    node = tree["statements"][0]["node"]
    advice = ("below record level a query must return counts: e.g. SELECT month, count(*) AS "
              "n FROM incidents GROUP BY ALL")
    if node.get("type") != "SELECT_NODE":
        raise NotAggregate(f"the outermost statement must be one SELECT ({advice})")
    if len(node.get("group_sets") or []) > 1:
        raise NotAggregate("GROUPING SETS, ROLLUP and CUBE add totals that undo small-count "
                           "suppression by subtraction; ask for one grouping per query")
    count_positions = []
    for i, expr in enumerate(node.get("select_list") or []):
        if expr.get("class") == "FUNCTION" and expr.get("function_name") in COUNT_AGGREGATES:
            count_positions.append(i)
            continue
        problem = _label_problem(expr, aggregates)
        if problem:
            raise NotAggregate(f"output column {i + 1} {problem}; {advice}")
    if not count_positions:
        raise NotAggregate(f"the query returns no count(...) column; {advice}")
    # No * is allowed, so select-list positions are the result's column positions.
    return count_positions


def _label_problem(expr: Any, aggregates: set[str]) -> str | None:
    """Why a select-list expression cannot be a group label (None when it can)."""
    for item in _nodes(expr):
        cls = item.get("class")
        if cls == "STAR":
            return "is *: name the columns to group by"
        if cls in ("WINDOW", "SUBQUERY"):
            return f"uses a {cls.lower()}, which can show single records"
        if cls == "FUNCTION" and item.get("function_name") in aggregates:
            return (f"uses the aggregate {item['function_name']}(), which can show a single "
                    "record's value; only count(...) is released")
    return None


def _release(result: pa.Table, counts: list[int], profile: str) -> tuple[pa.Table, int]:
    """Disclosure control on the count columns; withhold rows with every count suppressed."""
    names = [result.column_names[i] for i in counts]
    if len(set(result.column_names)) != len(result.column_names):
        raise NotAggregate("output columns need distinct names (use AS)")
    for n in names:
        if not pa.types.is_integer(result.schema.field(n).type):
            raise NotAggregate(f"count column {n!r} is not a whole number")
    labels = [c for c in result.column_names if c not in names]
    cast = result
    for n in names:
        cast = cast.set_column(cast.column_names.index(n), n, pc.cast(cast[n], pa.int64()))
    controlled = disclosure.apply(cast, profile, names, labels)
    shown = None
    for n in names:
        valid = pc.is_valid(controlled[n])
        shown = valid if shown is None else pc.or_(shown, valid)
    kept = controlled.filter(shown)
    return kept, result.num_rows - kept.num_rows


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
