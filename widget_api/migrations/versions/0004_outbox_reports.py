"""Webhook outbox, dead letters and report indexes (issue: delivery and reports)

The outbox (`outbox_events`, written in the transaction of the change it reports) and its
per-receiver deliveries (attempts, schedule, dead letters); the report tables (questions asked,
meeting-link clicks, bookings, daily counters) and the index the funnel reads conversations by.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("fanned_out", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_events_event_id")),
    )
    op.create_index("ix_outbox_events_pending", "outbox_events", ["fanned_out", "id"], unique=False)
    op.create_index("ix_outbox_events_lead", "outbox_events", ["lead_id"], unique=False)
    op.create_index("ix_outbox_events_session", "outbox_events", ["session_id"], unique=False)
    op.create_table(
        "report_bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("booked_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_bookings")),
        sa.UniqueConstraint("external_id", name=op.f("uq_report_bookings_external_id")),
    )
    op.create_index(
        "ix_report_bookings_company_booked",
        "report_bookings",
        ["company_id", "booked_at"],
        unique=False,
    )
    op.create_table(
        "report_day_cache",
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("report", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.Column("computed_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("company_id", "report", "day", name=op.f("pk_report_day_cache")),
    )
    op.create_table(
        "report_daily_counters",
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("company_id", "day", "name", name=op.f("pk_report_daily_counters")),
    )
    op.create_table(
        "report_meeting_links",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("clicked_at", UTC_TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_report_meeting_links")),
    )
    op.create_index(
        "ix_report_meeting_links_company_clicked",
        "report_meeting_links",
        ["company_id", "clicked_at"],
        unique=False,
    )
    op.create_index(
        "ix_report_meeting_links_session", "report_meeting_links", ["session_id"], unique=False
    )
    op.create_table(
        "report_question_vectors",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_report_question_vectors")),
    )
    op.create_table(
        "report_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("text", sa.String(length=400), nullable=False),
        sa.Column("normalized", sa.String(length=400), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("best_score", sa.Float(), nullable=True),
        sa.Column("closest_title", sa.String(length=300), nullable=True),
        sa.Column("closest_source", sa.String(length=500), nullable=True),
        sa.Column("asked_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_questions")),
    )
    op.create_index(
        "ix_report_questions_company_asked",
        "report_questions",
        ["company_id", "asked_at"],
        unique=False,
        postgresql_include=["normalized", "answered", "session_id"],
    )
    op.create_index("ix_report_questions_session", "report_questions", ["session_id"], unique=False)
    op.create_index(
        "ix_report_questions_unanswered",
        "report_questions",
        ["company_id", "asked_at"],
        unique=False,
        postgresql_include=["normalized", "text", "best_score", "closest_title", "closest_source"],
        postgresql_where=sa.text("NOT answered"),
        sqlite_where=sa.text("NOT answered"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_pk", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("endpoint", sa.String(length=2048), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("delivered_at", UTC_TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'dead')", name=op.f("ck_webhook_deliveries_state")
        ),
        sa.ForeignKeyConstraint(
            ["event_pk"],
            ["outbox_events.id"],
            name=op.f("fk_webhook_deliveries_event_pk_outbox_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "ix_webhook_deliveries_company",
        "webhook_deliveries",
        ["company_id", "state", "id"],
        unique=False,
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["state", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        "uq_webhook_deliveries_event_endpoint",
        "webhook_deliveries",
        ["event_pk", "endpoint"],
        unique=True,
    )
    op.create_index(
        "ix_conversations_company_started",
        "conversations",
        ["company_id", "started_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_company_started", table_name="conversations")
    op.drop_index("uq_webhook_deliveries_event_endpoint", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_company", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_report_questions_unanswered", table_name="report_questions")
    op.drop_index("ix_report_questions_session", table_name="report_questions")
    op.drop_index("ix_report_questions_company_asked", table_name="report_questions")
    op.drop_table("report_questions")
    op.drop_table("report_question_vectors")
    op.drop_index("ix_report_meeting_links_session", table_name="report_meeting_links")
    op.drop_index("ix_report_meeting_links_company_clicked", table_name="report_meeting_links")
    op.drop_table("report_meeting_links")
    op.drop_table("report_daily_counters")
    op.drop_table("report_day_cache")
    op.drop_index("ix_report_bookings_company_booked", table_name="report_bookings")
    op.drop_table("report_bookings")
    op.drop_index("ix_outbox_events_session", table_name="outbox_events")
    op.drop_index("ix_outbox_events_lead", table_name="outbox_events")
    op.drop_index("ix_outbox_events_pending", table_name="outbox_events")
    op.drop_table("outbox_events")
