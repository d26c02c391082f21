"""The lake's table contracts: schema, partitioning, identity and how new rows land."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa

from vru.sources import canonical
from vru.sources.base import QUARANTINE_SCHEMA


@dataclass(frozen=True)
class TableSpec:
    """How a lake table is stored and how an ingest changes it.

    ``mode`` is ``"replace"`` when a release replaces whole units (a data.police.uk
    force-month: rows missing from the new release are removed), ``"upsert"`` when rows are
    added or updated by key and never removed by an ingest, ``"append"`` for logs.
    """

    name: str
    schema: pa.Schema
    key: tuple[str, ...]
    partition_by: tuple[str, ...] = ()
    mode: str = "upsert"
    unit: tuple[str, ...] = ()  # for "replace": the columns naming a release unit
    content: tuple[str, ...] = ()  # columns whose change makes an "update" (default: all but
                                   # provenance)
    properties: tuple[tuple[str, str], ...] = ()  # vru facts kept with the table (Delta
                                                  # description, as JSON: delta-kernel
                                                  # refuses custom configuration keys)


PROVENANCE = {"source_file", "source_line", "row_hash", "batch_id"}

INGEST_LOG = pa.schema([
    ("batch_id", pa.string()),
    ("actor", pa.string()),
    ("started", pa.timestamp("us", tz="UTC")),
    ("finished", pa.timestamp("us", tz="UTC")),
    ("command", pa.string()),
    ("source_file", pa.string()),
    ("file_sha256", pa.string()),
    ("kind", pa.string()),
    ("status", pa.string()),       # ok | rejected
    ("message", pa.string()),
    ("rows_in", pa.int64()),
    ("accepted", pa.int64()),
    ("quarantined", pa.int64()),
    ("duplicates", pa.int64()),
    ("added", pa.int64()),
    ("updated", pa.int64()),
    ("removed", pa.int64()),
    ("table_versions", pa.string()),  # JSON: table → version after this batch
])

SPECS: dict[str, TableSpec] = {
    "incidents": TableSpec("incidents", canonical.INCIDENTS, key=("source", "source_ref"),
                           partition_by=("source",), mode="upsert"),
    "outcomes": TableSpec("outcomes", canonical.OUTCOMES,
                          key=("source", "source_ref", "month", "outcome"), mode="upsert"),
    "stop_search": TableSpec("stop_search", canonical.STOP_SEARCH, key=("source_ref",),
                             mode="replace", unit=("force", "month")),
    "ed_assaults": TableSpec("ed_assaults", canonical.ED_ASSAULTS, key=("source_ref",)),
    "quarantine": TableSpec("quarantine", QUARANTINE_SCHEMA,
                            key=("file_sha256", "line", "field", "reason"), mode="append"),
    "ingest_log": TableSpec("ingest_log", INGEST_LOG, key=("batch_id", "source_file"),
                            mode="append"),
}


def content_columns(spec: TableSpec) -> list[str]:
    """Columns whose values decide whether a keyed row changed."""
    if spec.content:
        return list(spec.content)
    return [f.name for f in spec.schema if f.name not in PROVENANCE]


#: Table property of a partner table: its identifier columns and their kinds (JSON object).
IDENTIFIER_PROPERTY = "identifier_columns"
#: Table property of a partner table: how its identifiers were pseudonymised. Tokens made under
#: another scheme (one key for every column, before this property) never equal these.
PSEUDONYM_PROPERTY = "pseudonyms"
PSEUDONYM_SCHEME = "hmac-sha256, a sub-key per kind"


def partner_spec(name: str, schema: pa.Schema, date_column: str | None,
                 identifiers: Mapping[str, str] | None = None) -> TableSpec:
    """Spec of a partner table ``partner_<name>`` described by its contract.

    Partner records carry no key of their own that vru can trust, so a row's identity is its
    (pseudonymised) content: an identical row sent again is a duplicate, a corrected row is
    a new row. The contract's date column (for retention) and its identifier columns with
    their kinds (so governance hides them below record level whatever the agreement lists)
    are kept as table properties; read them back with `vru.lake.store.identifier_columns`.

    Parameters
    ----------
    name
        The contract's dataset name.
    schema
        The table's Arrow schema (identifier columns as string tokens).
    date_column
        The contract's date column, or None.
    identifiers
        Identifier column -> kind (`vru.sources.contract.Contract.identifier_kinds`).
    """
    props: list[tuple[str, str]] = [("date_column", date_column)] if date_column else []
    if identifiers:
        props += [(IDENTIFIER_PROPERTY, json.dumps(dict(identifiers))),
                  (PSEUDONYM_PROPERTY, PSEUDONYM_SCHEME)]
    return TableSpec(f"partner_{name}", schema, key=("row_hash",), mode="upsert",
                     properties=tuple(props))
