"""Create leads, conversations and tool_calls

The CRM's first schema: leads unique per (company, normalized email), one conversation row per
widget session, and tool calls unique per (session, call id) so retried calls replay.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 03:09:22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Timestamps are aware UTC (timestamptz on PostgreSQL; naive UTC text on SQLite, see UTCDateTime).
UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("transport", sa.String(length=16), nullable=False),
        sa.Column("started_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("ended_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint("session_id", name=op.f("uq_conversations_session_id")),
    )
    op.create_index(
        op.f("ix_conversations_company_id"), "conversations", ["company_id"], unique=False
    )

    op.create_table(
        "leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_normalized", sa.String(length=320), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("role", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("interest", sa.Text(), nullable=True),
        sa.Column("team_size", sa.String(length=100), nullable=True),
        sa.Column("timeline", sa.String(length=200), nullable=True),
        sa.Column("budget", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("meeting_link", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint("channel IN ('voice', 'text')", name=op.f("ck_leads_channel")),
        sa.CheckConstraint(
            "status IN ('new', 'contacted', 'qualified', 'disqualified')",
            name=op.f("ck_leads_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
        sa.UniqueConstraint(
            "company_id", "email_normalized", name=op.f("uq_leads_company_id_email_normalized")
        ),
    )
    op.create_index("ix_leads_company_created", "leads", ["company_id", "created_at"])
    op.create_index("ix_leads_company_status", "leads", ["company_id", "status"])
    op.create_index("ix_leads_company_updated", "leads", ["company_id", "updated_at"])

    op.create_table(
        "tool_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("arguments", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("claimed_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("completed_at", UTC_TIMESTAMP, nullable=True),
        sa.CheckConstraint("state IN ('pending', 'done')", name=op.f("ck_tool_calls_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tool_calls")),
        sa.UniqueConstraint("session_id", "call_id", name=op.f("uq_tool_calls_session_id_call_id")),
    )
    op.create_index("ix_tool_calls_company_created", "tool_calls", ["company_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_tool_calls_company_created", table_name="tool_calls")
    op.drop_table("tool_calls")
    op.drop_index("ix_leads_company_updated", table_name="leads")
    op.drop_index("ix_leads_company_status", table_name="leads")
    op.drop_index("ix_leads_company_created", table_name="leads")
    op.drop_table("leads")
    op.drop_index(op.f("ix_conversations_company_id"), table_name="conversations")
    op.drop_table("conversations")
