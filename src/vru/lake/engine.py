"""DuckDB over the lake: a Delta table version as a view over its Parquet files."""

from __future__ import annotations

import duckdb

from vru.lake.store import Store, arrow_schema


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
    schema = arrow_schema(dt)
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
