"""Per-conversation lead claims (issue: open internet, lead integrity)

Each conversation's claims on a lead (field, value, the quoted message it came from), so an
anonymous conversation adds to a lead without silently overwriting another's values; the
`current_tool` qualification field; a per-conversation count of `log_lead` calls (capped).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lead_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_lead_claims_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_claims")),
    )
    op.create_index("ix_lead_claims_lead", "lead_claims", ["lead_id", "created_at"])
    op.create_index("ix_lead_claims_session", "lead_claims", ["session_id"])
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("current_tool", sa.String(length=200), nullable=True))
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(
            sa.Column("lead_updates", sa.Integer(), nullable=False, server_default="0")
        )
    # The default only filled existing rows; the models set the value on insert.
    with op.batch_alter_table("conversations") as batch:
        batch.alter_column("lead_updates", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("lead_updates")
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("current_tool")
    op.drop_index("ix_lead_claims_session", table_name="lead_claims")
    op.drop_index("ix_lead_claims_lead", table_name="lead_claims")
    op.drop_table("lead_claims")
