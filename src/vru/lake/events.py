"""A governed event source: one lake table at one version, as one reader may see it.

Analyses never open the lake themselves: the service hands them an `Events` built from a
policy decision (the table version read, the task-force area's LSOAs, the columns hidden),
and every scan goes through `Events.register`, so no analysis can forget the area.

Each row also carries a **record key** (``record_key``, 0..255) for cell-key perturbation:
a keyed hash of the row's content hash (``row_hash``) with the home's secret seed.
It is derived rather than stored, so it is the same for a record across re-ingests and
versions (a replaced police.uk month keeps its crimes' keys), costs no ingest time, and is
unknowable without the seed, which never leaves the home's keys. See docs/release.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import pyarrow as pa

from vru.lake.store import Store, arrow_schema
from vru.lake.tables import SPECS

#: Record keys are uniform on 0..KEY_MODULUS-1 (as in the ONS and ABS cell-key method).
KEY_MODULUS = 256
RECORD_KEY = "record_key"
#: Columns that identify a record or its provenance: never in a view below record level.
RECORD_IDENTIFIERS = frozenset({"source_ref", "source_file", "source_line", "row_hash",
                                "batch_id"})


def identity_columns(table: str, schema_names: Iterable[str]) -> list[str]:
    """The columns a record key is derived from: ``row_hash`` (the 63-bit hash of the
    record's content every lake table carries: stable while the record is unchanged, and an
    integer, so keys cost a third of hashing the text keys), else the table's key."""
    names = list(schema_names)
    if "row_hash" in names:
        return ["row_hash"]
    spec = SPECS.get(table)
    cols = list(spec.key) if spec is not None else ["row_hash"]
    missing = [c for c in cols if c not in names]
    if missing:
        # a table without its key columns (an older or foreign layout): the whole row is
        # its identity
        return [c for c in names if c not in ("source_file", "source_line", "batch_id")]
    return cols


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Events:
    """A lake table at a version, limited to what a decision allows.

    Attributes
    ----------
    store
        The lake.
    table
        The lake table (``incidents``, ``ed_assaults``, ``partner_*``...).
    version
        The Delta version read (recorded in every output).
    lsoa
        Rows are limited to these LSOA codes (a task-force area), or None for all rows.
    area
        The name of that area (for messages and outputs).
    hidden
        Columns the reader may not see: absent from the view.
    key_seed
        The home's secret seed of record keys; None leaves ``record_key`` out.
    """

    store: Store
    table: str
    version: int
    lsoa: frozenset[str] | None = None
    area: str | None = None
    hidden: frozenset[str] = frozenset()
    key_seed: int | None = field(default=None, repr=False)

    @classmethod
    def whole(cls, source: Store | str | Path, table: str = "incidents",
              version: int | None = None) -> Events:
        """Every row of ``table``: the home owner's own, unaudited access from Python.

        Reading the lake's files needs the OS permissions of the home (owner-only), so this
        gives nothing the owner could not read anyway; the governed door is the service.
        """
        store = source if isinstance(source, Store) else Store(Path(source).expanduser()
                                                               .resolve())
        if version is None:
            version = store.version(table)
            if version is None:
                have = ", ".join(store.versions()) or "none — run `vru ingest` first"
                raise LookupError(f"no table {table!r} in {store.home} (tables: {have})")
        return cls(store, table, version)

    @property
    def home(self) -> Path:
        return self.store.home

    def at(self, table: str) -> Events:
        """The same reader's view of another table (same area, current version)."""
        version = self.store.version(table)
        if version is None:
            have = ", ".join(self.store.versions()) or "none"
            raise LookupError(f"no table {table!r} in {self.store.home} (tables: {have})")
        return replace(self, table=table, version=version)

    def register(self, con: duckdb.DuckDBPyConnection, alias: str) -> list[str]:
        """Make the governed view ``alias`` on ``con``; return its columns.

        The view reads the version's Parquet files natively (Hive partitions included), keeps
        only the area's rows (rows without an LSOA are outside every area) and leaves hidden
        columns out.
        """
        dt = self.store.table(self.table, self.version)
        if dt is None:
            raise LookupError(f"no table {self.table!r} at version {self.version}")
        schema = arrow_schema(dt)
        if self.lsoa is not None and "lsoa11cd" not in schema.names:
            raise PermissionError(f"{self.table} has no lsoa11cd column, so it cannot be "
                                  f"limited to area {self.area!r}")
        cols = [c for c in schema.names if c not in self.hidden]
        select = ", ".join(f'"{c}"' for c in cols)
        if self.key_seed is not None:
            ident = ", ".join(f'"{c}"' for c in identity_columns(self.table, schema.names))
            select += (f", CAST(hash({int(self.key_seed)}::UBIGINT, {ident}) % {KEY_MODULUS} "
                       f"AS BIGINT) AS {RECORD_KEY}")
        files = dt.file_uris()
        if files:
            listing = "[" + ", ".join(_quote(f) for f in files) + "]"
            base = (f"read_parquet({listing}, hive_partitioning = true, "
                    "union_by_name = true)")
        else:
            con.register(f"__empty_{alias}", schema.empty_table())
            base = f'"__empty_{alias}"'
        where = ""
        if self.lsoa is not None:
            # a semi join on the area's codes: a hash probe per row, not a list of compares
            con.register(f"__area_{alias}", pa.table({"code": pa.array(sorted(self.lsoa),
                                                                       pa.string())}))
            where = f' SEMI JOIN "__area_{alias}" __a ON __e.lsoa11cd = __a.code'
        con.execute(f'CREATE OR REPLACE TEMP VIEW "{alias}" AS SELECT {select} FROM {base} '
                    f"__e{where}")
        return cols + ([RECORD_KEY] if self.key_seed is not None else [])
