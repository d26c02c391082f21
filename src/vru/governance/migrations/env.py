"""Alembic environment: migrations run programmatically on a connection vru hands over."""

from __future__ import annotations

from alembic import context

from vru.governance.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("vru's migrations run through vru.governance.db.upgrade(), "
                       "which passes a connection; there is no offline mode.")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
