"""Per-turn latency (issue: Realtime and phone)

Time to first audio for every answered turn, on the relay, WebRTC (reported by the widget) and
the phone channels (Twilio bridge, OpenAI SIP). Phone calls themselves need no table: they are
conversations with transport `twilio` or `sip`, and the caller's number lives on the lead.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "turn_latencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("first_audio_ms", sa.Float(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "channel IN ('relay', 'webrtc', 'twilio', 'sip')",
            name=op.f("ck_turn_latencies_channel"),
        ),
        sa.CheckConstraint("first_audio_ms >= 0", name=op.f("ck_turn_latencies_first_audio_ms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turn_latencies")),
    )
    op.create_index(
        "ix_turn_latencies_company_created", "turn_latencies", ["company_id", "created_at"]
    )
    op.create_index("ix_turn_latencies_session", "turn_latencies", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_turn_latencies_session", table_name="turn_latencies")
    op.drop_index("ix_turn_latencies_company_created", table_name="turn_latencies")
    op.drop_table("turn_latencies")
