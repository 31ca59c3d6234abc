"""Conversation record: transcript, pages, summary, privacy (issue: what sales receives)

What sales receives per conversation: the transcript (both sides and tool calls), the page and
referrer it started on, language, transports, outcome, summary, the linked lead and meeting link,
privacy-notice acceptance; and an audit of forget/purge runs that holds no personal data.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


UTC_TIMESTAMP = sa.DateTime(timezone=True)
_CONVERSATION_COLUMNS = (
    ("lead_id", sa.Integer()),
    ("page_url", sa.Text()),
    ("referrer", sa.Text()),
    ("language", sa.String(length=16)),
    ("transports", sa.String(length=200)),
    ("meeting_link", sa.Text()),
    ("end_reason", sa.String(length=32)),
    ("outcome", sa.String(length=32)),
    ("summary", sa.Text()),
    ("privacy_accepted_at", UTC_TIMESTAMP),
    ("last_activity_at", UTC_TIMESTAMP),
)


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        for name, type_ in _CONVERSATION_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
        batch.create_index(op.f("ix_conversations_lead_id"), ["lead_id"], unique=False)
    op.create_table(
        "transcript_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tool_name", sa.String(length=64), nullable=True),
        sa.Column("tool_call_id", sa.String(length=128), nullable=True),
        sa.Column("tool_ok", sa.Boolean(), nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcript_entries")),
    )
    op.create_index("ix_transcript_entries_session", "transcript_entries", ["session_id", "id"])
    op.create_table(
        "privacy_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_audit")),
    )


def downgrade() -> None:
    op.drop_table("privacy_audit")
    op.drop_index("ix_transcript_entries_session", table_name="transcript_entries")
    op.drop_table("transcript_entries")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index(op.f("ix_conversations_lead_id"))
        for name, _type in reversed(_CONVERSATION_COLUMNS):
            batch.drop_column(name)
