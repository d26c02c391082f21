"""DuckDB over the lake: every Delta table is a view, scanned through Arrow (zero copy)."""

from __future__ import annotations

import re

import duckdb
import pyarrow as pa

from vru.lake.store import Store

_WRITE = re.compile(r"^\s*(insert|update|delete|create|drop|alter|copy|attach|install|load|"
                    r"export|import|pragma|set|call|checkpoint|vacuum)\b", re.I)


class ReadOnlyQuery(ValueError):
    """The lake is changed only by ingest and retention, never by ad hoc SQL."""


def register(con: duckdb.DuckDBPyConnection, store: Store, name: str,
             version: int | None = None, alias: str | None = None) -> bool:
    """Make lake table ``name`` (at ``version``) a view ``alias`` on ``con``.

    DuckDB reads the table's Parquet files natively (the files of that Delta version, with
    Hive partition columns), which is faster than an Arrow dataset scan and copes with the
    string-view columns delta-rs writes on merge. False if the table does not exist.
    """
    dt = store.table(name, version)
    if dt is None:
        return False
    alias = alias or name
    schema = dt.to_pyarrow_dataset().schema
    files = dt.file_uris()
    if not files:
        con.register(f"__empty_{alias}", schema.empty_table())
        con.execute(f'CREATE OR REPLACE TEMP VIEW "{alias}" AS SELECT * FROM "__empty_{alias}"')
        return True
    cols = ", ".join(f'"{c}"' for c in schema.names)
    listing = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    con.execute(f'CREATE OR REPLACE TEMP VIEW "{alias}" AS SELECT {cols} FROM read_parquet('
                f"{listing}, hive_partitioning = true, union_by_name = true)")
    return True


def connect(store: Store, versions: dict[str, int] | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per lake table (at ``versions`` where given)."""
    con = duckdb.connect()
    for name in store.versions():
        register(con, store, name, (versions or {}).get(name))
    return con


def query(store: Store, sql: str, versions: dict[str, int] | None = None) -> pa.Table:
    """Run a read-only SQL query over the lake and return an Arrow table.

    Raises
    ------
    ReadOnlyQuery
        For statements that would change data or settings.
    duckdb.Error
        For SQL errors (the message names the problem and the available tables).
    """
    if _WRITE.match(sql):
        raise ReadOnlyQuery("vru sql runs read-only queries (SELECT, WITH, DESCRIBE, SUMMARIZE); "
                            "the lake changes only through `vru ingest` and `vru retention`")
    con = connect(store, versions)
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()
