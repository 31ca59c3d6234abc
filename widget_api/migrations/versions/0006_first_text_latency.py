"""Time to first text per turn (issue 10)

A turn's latency row carries the time to first text beside the time to first audio: a text
turn (the local engine, a text-only relay) has no audio, so both are optional, one required.
The local engine's turns are channel `text`. The reports need no new index: over 100,000
conversations every per-day query of a report's uncached days is an index-only scan on the
existing (company, time) indexes; a first fill of 90 days is a sequential scan either way, and
the report warmer (`reports.warmer`) does it off the request path.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)
OLD_CHANNELS = "channel IN ('relay', 'webrtc', 'twilio', 'sip')"
NEW_CHANNELS = "channel IN ('relay', 'webrtc', 'twilio', 'sip', 'text')"


def _turn_latencies(*, first_text: bool, channels: str) -> sa.Table:
    """The table as it stands (SQLite's batch mode rebuilds it from this, not by reflection)."""
    columns: list[SchemaItem] = [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("first_audio_ms", sa.Float(), nullable=not first_text),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint(channels, name="ck_turn_latencies_channel"),
        sa.CheckConstraint("first_audio_ms >= 0", name="ck_turn_latencies_first_audio_ms"),
        sa.PrimaryKeyConstraint("id", name="pk_turn_latencies"),
        sa.Index("ix_turn_latencies_company_created", "company_id", "created_at"),
        sa.Index("ix_turn_latencies_session", "session_id"),
    ]
    if first_text:
        columns += [
            sa.Column("first_text_ms", sa.Float(), nullable=True),
            sa.CheckConstraint("first_text_ms >= 0", name="ck_turn_latencies_first_text_ms"),
            sa.CheckConstraint(
                "first_audio_ms IS NOT NULL OR first_text_ms IS NOT NULL",
                name="ck_turn_latencies_measured",
            ),
        ]
    return sa.Table("turn_latencies", sa.MetaData(), *columns)


def upgrade() -> None:
    before = _turn_latencies(first_text=False, channels=OLD_CHANNELS)
    with op.batch_alter_table("turn_latencies", copy_from=before) as batch:
        batch.alter_column("first_audio_ms", existing_type=sa.Float(), nullable=True)
        batch.add_column(sa.Column("first_text_ms", sa.Float(), nullable=True))
        batch.drop_constraint(op.f("ck_turn_latencies_channel"), type_="check")
        batch.create_check_constraint(op.f("ck_turn_latencies_channel"), NEW_CHANNELS)
        batch.create_check_constraint(op.f("ck_turn_latencies_first_text_ms"), "first_text_ms >= 0")
        batch.create_check_constraint(
            op.f("ck_turn_latencies_measured"),
            "first_audio_ms IS NOT NULL OR first_text_ms IS NOT NULL",
        )


def downgrade() -> None:
    # Rows without a time to first audio (text turns) cannot exist in the older table.
    op.execute("DELETE FROM turn_latencies WHERE first_audio_ms IS NULL")
    after = _turn_latencies(first_text=True, channels=NEW_CHANNELS)
    with op.batch_alter_table("turn_latencies", copy_from=after) as batch:
        batch.drop_constraint(op.f("ck_turn_latencies_measured"), type_="check")
        batch.drop_constraint(op.f("ck_turn_latencies_first_text_ms"), type_="check")
        batch.drop_constraint(op.f("ck_turn_latencies_channel"), type_="check")
        batch.create_check_constraint(op.f("ck_turn_latencies_channel"), OLD_CHANNELS)
        batch.drop_column("first_text_ms")
        batch.alter_column("first_audio_ms", existing_type=sa.Float(), nullable=False)
