"""Audit anchor flag on the head row, and consecutive failed sign-ins per name.

Revision ID: 0002
Revises: 0001
Create Date: 2025-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # False on a log written before vru kept the anchor file: the first append adopts the
    # head as the anchor; from then on a missing anchor file is an error.
    op.add_column("audit_head", sa.Column("anchored", sa.Boolean, nullable=False,
                                          server_default=sa.false()))
    op.create_table(
        "login_failures",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("first_failure", sa.String(32), nullable=False),
        sa.Column("last_failure", sa.String(32), nullable=False),
        sa.Column("locked_until", sa.String(32), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("login_failures")
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("anchored")
