"""Delta tables on disk: where each table lives, its version, reading and committing."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
from deltalake import (
    ColumnProperties,
    CommitProperties,
    DeltaTable,
    WriterProperties,
    write_deltalake,
)
from deltalake import Schema as DeltaSchema
from deltalake.transaction import create_table_with_add_actions

from vru.governance.db import secure_home
from vru.lake.files import write_files
from vru.lake.tables import IDENTIFIER_PROPERTY, SPECS, TableSpec

if TYPE_CHECKING:  # pyarrow.dataset imports pandas (0.35 s): only reading a table needs it
    import pyarrow.dataset as ds

# String columns whose Parquet statistics let queries skip files; other strings (references,
# free text, tokens) get none: min/max of a 64-character hash prunes nothing, costs a third of
# the write time, and would copy identifiers into file footers and the Delta log.
STATS_KEPT = frozenset({"source", "force", "month", "category", "offence_code", "offence_group",
                        "lsoa11cd", "geo_status", "time_precision", "site_code", "kind",
                        "status", "weapon", "location_type", "type"})


# Columns whose values rarely repeat: no dictionary encoding (it is tried, then dropped).
UNIQUE = frozenset({"source_ref", "row_hash", "source_line"})

def arrow_schema(dt: DeltaTable) -> pa.Schema:
    """A table version's columns as Arrow, from its Delta log alone (``to_pyarrow_dataset``
    would import the dataset module and open a fragment per file: 30 ms and more)."""
    return pa.schema(dt.schema().to_arrow())


ROW_GROUP = 1 << 17  # rows per Parquet row group when appending an Arrow table

TARGET_FILE_SIZE = 32 << 20  # bytes per data file: bounds what the writer buffers


def writer_properties(schema: pa.Schema) -> WriterProperties:
    """Parquet settings for a lake table: statistics only where they help."""
    off = ColumnProperties(statistics_enabled="NONE")
    return WriterProperties(column_properties={
        f.name: off for f in schema
        if pa.types.is_string(f.type) and f.name not in STATS_KEPT})


# Delta log folder -> (its modification time, newest commit then): a governed request asks
# for a table's version every time, and a stat is cheaper than listing the log
_LOG_SEEN: dict[str, tuple[int, int]] = {}


class Store:
    """The Delta tables under ``<home>/lake/``.

    Opening a store tightens an existing home to owner-only (`vru.governance.db.secure_home`);
    the first write creates the home and ``lake`` 0700. Data files inside get the process
    umask: the 0700 folder above them is what keeps other users out.
    """

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.root = self.home / "lake"
        secure_home(self.home)

    def _make_root(self) -> None:
        """Create the home and the lake folder, owner-only."""
        if not self.root.is_dir():
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        secure_home(self.home)  # parents=True made the home with the umask: tighten it

    def path(self, name: str) -> Path:
        return self.root / name

    def exists(self, name: str) -> bool:
        return DeltaTable.is_deltatable(str(self.path(name)))

    def table(self, name: str, version: int | None = None) -> DeltaTable | None:
        if not self.exists(name):
            return None
        return DeltaTable(str(self.path(name)), version=version)

    def version(self, name: str) -> int | None:
        """The current version: the newest commit file in the Delta log.

        A commit exists once its ``NNN.json`` does (Delta writes it with put-if-absent), so
        listing the log answers without opening the table, which costs milliseconds on every
        governed request.
        """
        log = self.path(name) / "_delta_log"
        try:
            changed = os.stat(log).st_mtime_ns
            seen = _LOG_SEEN.get(str(log))
            # a commit adds a file, which moves the folder's time: unchanged means the same
            # newest commit (trusted only once the time is a second old, against coarse clocks)
            if seen is not None and seen[0] == changed and time.time_ns() - changed > 10**9:
                return seen[1]
            newest = max((int(e.name[:-5]) for e in os.scandir(log)
                          if e.name.endswith(".json") and e.name[:-5].isdigit()), default=None)
        except FileNotFoundError:
            return None
        if newest is not None:
            _LOG_SEEN[str(log)] = (changed, newest)
            return newest
        dt = self.table(name)
        return None if dt is None else dt.version()

    def versions(self) -> dict[str, int]:
        """Current version of every table in the lake."""
        if not self.root.exists():
            return {}
        out = {}
        for p in sorted(self.root.iterdir()):
            if p.is_dir() and DeltaTable.is_deltatable(str(p)):
                out[p.name] = DeltaTable(str(p)).version()
        return out

    def dataset(self, name: str, version: int | None = None) -> ds.Dataset | None:
        dt = self.table(name, version)
        return None if dt is None else dt.to_pyarrow_dataset()

    def read(self, name: str, columns: list[str] | None = None, filter=None,
             version: int | None = None) -> pa.Table:
        """Rows of a table (empty table of its schema when it does not exist yet)."""
        d = self.dataset(name, version)
        if d is None:
            schema = SPECS[name].schema if name in SPECS else pa.schema([])
            t = schema.empty_table()
            return t.select(columns) if columns else t
        return d.to_table(columns=columns, filter=filter)

    def write(self, spec: TableSpec, data, mode: str = "append", predicate: str | None = None,
              metadata: dict | None = None) -> int:
        """Commit ``data`` (Arrow table or record batch reader) and return the new version.

        Appends write their Parquet files in parallel and commit them in one transaction
        (`files.write_files`); overwrites, with or without a predicate, go through delta-rs.
        """
        props = CommitProperties(custom_metadata={k: json.dumps(v) if not isinstance(v, str)
                                                  else v for k, v in (metadata or {}).items()})
        if mode == "append" or (mode == "overwrite" and predicate and not self.exists(spec.name)):
            return self._append(spec, data, props)
        kwargs = {}
        if not self.exists(spec.name):
            kwargs["partition_by"] = list(spec.partition_by) or None
            if spec.properties:
                kwargs["description"] = json.dumps({"vru": dict(spec.properties)})
            mode = "append" if mode == "overwrite" and predicate else mode
            predicate = None
        self._make_root()
        write_deltalake(str(self.path(spec.name)), data, mode=mode, predicate=predicate,
                        commit_properties=props, writer_properties=writer_properties(spec.schema),
                        target_file_size=TARGET_FILE_SIZE,
                        **kwargs)
        return DeltaTable(str(self.path(spec.name))).version()

    def upgrade(self, spec: TableSpec) -> bool:
        """Give a table written before ``spec`` gained columns those columns (null), once.

        A new canonical column (``lsoa21cd``) must reach every file: a replace or merge needs
        one schema, and a view over files none of which has the column cannot name it. The
        table is rewritten at its current content, as a new version (time travel keeps the
        old one until retention or vacuum). Returns whether it was needed.
        """
        from vru.sources.canonical import conform

        dt = self.table(spec.name)
        if dt is None:
            return False
        have = set(dt.schema().to_arrow().names)
        if set(spec.schema.names) <= have:
            return False
        rows = conform(dt.to_pyarrow_table(), spec.schema)
        write_deltalake(str(self.path(spec.name)), rows, mode="overwrite",
                        schema_mode="overwrite",
                        partition_by=list(spec.partition_by) or None,
                        writer_properties=writer_properties(spec.schema),
                        commit_properties=CommitProperties(custom_metadata={
                            "vru_upgrade": json.dumps(sorted(set(spec.schema.names) - have))}),
                        target_file_size=TARGET_FILE_SIZE)
        return True

    def _append(self, spec: TableSpec, data, props: CommitProperties) -> int:
        path = self.path(spec.name)
        self._make_root()
        path.mkdir(exist_ok=True)
        # batches of a size that keeps every writer thread busy (each is a row group)
        batches = data.to_batches(ROW_GROUP) if isinstance(data, pa.Table) else data
        stats = [f.name for f in spec.schema
                 if not pa.types.is_string(f.type) or f.name in STATS_KEPT]
        actions = write_files(path, spec.schema, spec.partition_by, batches, stats,
                              unique=UNIQUE)
        if self.exists(spec.name):
            dt = DeltaTable(str(path))
            if actions:
                dt.create_write_transaction(actions, mode="append", schema=dt.schema(),
                                            partition_by=list(spec.partition_by) or None,
                                            commit_properties=props)
                dt.update_incremental()
            return dt.version()
        description = (json.dumps({"vru": dict(spec.properties)}) if spec.properties
                       else None)
        create_table_with_add_actions(str(path), DeltaSchema.from_arrow(spec.schema), actions,
                                      mode="error", partition_by=list(spec.partition_by) or None,
                                      description=description, commit_properties=props)
        return DeltaTable(str(path)).version()

    def properties(self, name: str) -> dict[str, str]:
        """The vru facts stored with a table on creation (`TableSpec.properties`)."""
        dt = self.table(name)
        try:
            return dict(json.loads(dt.metadata().description or "{}").get("vru", {}))
        except (AttributeError, ValueError):
            return {}

    def ensure(self, spec: TableSpec) -> int:
        """Create an empty table if missing (so readers find every table); return version."""
        if not self.exists(spec.name):
            return self.write(spec, spec.schema.empty_table())
        return self.version(spec.name)


def identifier_columns(store: Store, name: str) -> dict[str, str]:
    """The identifier columns of table ``name`` and their kinds, from its Delta description.

    Partner tables keep their contract's identifier columns as a table property
    (`vru.lake.tables.partner_spec`), so governance can hide them below record level even
    when an agreement lists no ``identifier_fields``.

    Parameters
    ----------
    store
        The lake.
    name
        A table name, e.g. ``partner_school_exclusions``.

    Returns
    -------
    dict[str, str]
        Column -> kind ("identifier", "name", "first_name", "surname", "date", "postcode"),
        in the contract's order; empty for a table without identifiers, a table written
        before the property existed, or a missing table.
    """
    raw = store.properties(name).get(IDENTIFIER_PROPERTY)
    if not raw:
        return {}
    try:
        found = json.loads(raw)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}
