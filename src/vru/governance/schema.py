"""Tables of the metadata database (SQLAlchemy Core); migrations create them, code queries them."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(32), nullable=False),
    Column("area", String(100), ForeignKey("areas.name"), nullable=True),
    Column("organisation", String(200), nullable=True),
    Column("password_hash", String(200), nullable=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("local", Boolean, nullable=False, default=False),
    Column("created_at", String(32), nullable=False),
)

areas = Table(
    "areas", metadata,
    Column("name", String(100), primary_key=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", String(32), nullable=False),
)

area_lsoas = Table(
    "area_lsoas", metadata,
    Column("area", String(100), ForeignKey("areas.name", ondelete="CASCADE"), primary_key=True),
    Column("lsoa11cd", String(9), primary_key=True),
)

agreements = Table(
    "agreements", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("dataset", String(100), nullable=False, index=True),
    Column("owner", String(200), nullable=False),
    Column("parties", Text, nullable=False),  # JSON list
    Column("purposes", Text, nullable=False),  # JSON list
    Column("legal_basis", Text, nullable=False),  # JSON list
    Column("permitted_fields", Text, nullable=False),  # JSON list, empty = every field
    Column("identifier_fields", Text, nullable=False),  # JSON list
    Column("levels", Text, nullable=False),  # JSON object role -> level
    Column("retention_days", Integer, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("created_at", String(32), nullable=False),
)

# Append-only: triggers (see the migration) refuse UPDATE and DELETE; the HMAC chain catches
# anyone who bypasses them. JSON is kept as text so the bytes the MAC covers round-trip exactly.
audit_log = Table(
    "audit_log", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("time", String(32), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("purpose", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("resource", String(200), nullable=False),
    Column("table_versions", Text, nullable=False),
    Column("decision", String(8), nullable=False),
    Column("reason", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("mac", String(64), nullable=False),
)

# One row (id = 1): the last sequence number and MAC, itself MACed so that deleting entries
# from the end of the log is detected. Appenders lock this row, which serialises the chain.
audit_head = Table(
    "audit_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("mac", String(64), nullable=False),
    Column("head_mac", String(64), nullable=False),
    # True once vru has written the anchor file beside the audit key (see audit.py); False
    # only on a log written before the anchor existed, which the next append adopts.
    Column("anchored", Boolean, nullable=False, default=False),
)

# Consecutive failed sign-ins per name (also names that are not users, so throttling does
# not reveal which accounts exist); a success deletes the row. Times are UTC ISO text.
login_failures = Table(
    "login_failures", metadata,
    Column("name", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("first_failure", String(32), nullable=False),
    Column("last_failure", String(32), nullable=False),
    Column("locked_until", String(32), nullable=True),
)

# Dashboard sign-ins, so every worker process of `vru serve` knows them and a restart keeps
# them: only a hash of the browser's token; times are seconds since the epoch.
web_sessions = Table(
    "web_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_name", String(64), nullable=False),
    Column("purpose", String(64), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created", Float, nullable=False),
    Column("seen", Float, nullable=False),
)

# Moved by triggers (migration 0004) on every change to users, areas, area_lsoas and
# agreements: what a decision read at one count holds until the count moves.
governance_version = Table(
    "governance_version", metadata,
    Column("id", Integer, primary_key=True),
    Column("n", Integer, nullable=False),
)
