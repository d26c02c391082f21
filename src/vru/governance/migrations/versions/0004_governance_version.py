"""A counter every change to users, areas or agreements moves, by trigger.

A decision reads the counter (one statement) and reuses what it read of the user, the area
and the agreements at the same count; any change, through vru or by hand in SQL, moves the
counter in the same transaction, so nothing stale is ever reused.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

WATCHED = ("users", "areas", "area_lsoas", "agreements")
_BUMP = "UPDATE governance_version SET n = n + 1 WHERE id = 1"


def upgrade() -> None:
    table = op.create_table(
        "governance_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    op.bulk_insert(table, [{"id": 1, "n": 0}])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION vru_governance_bump() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN {_BUMP}; RETURN NULL; END $$")
        for t in WATCHED:
            op.execute(f"CREATE TRIGGER {t}_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                       f"ON {t} FOR EACH STATEMENT EXECUTE FUNCTION vru_governance_bump()")
    else:
        for t in WATCHED:
            for event in ("INSERT", "UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {t}_{event.lower()}_bump AFTER {event} ON {t} "
                           f"BEGIN {_BUMP}; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for t in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {t}_bump ON {t}")
        op.execute("DROP FUNCTION IF EXISTS vru_governance_bump()")
    else:
        for t in WATCHED:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {t}_{event}_bump")
    op.drop_table("governance_version")
