"""Tables of the webhook outbox: events written with the change they report, and deliveries.

An event is one fact ("lead 7 was created"), written in the same transaction as the change, so
it exists exactly when the change does. The sender fans each event out into one delivery per
subscribed receiver; a delivery carries its own attempts, schedule and outcome, so one failing
receiver never holds back or repeats another's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from widget_api.crm.models import Base, _in, utcnow

DELIVERY_STATES = ("pending", "delivered", "dead")


class OutboxEvent(Base):
    """One event for one company; `event_id` is the stable `webhook-id` receivers dedupe on."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_pending", "fanned_out", "id"),
        Index("ix_outbox_events_lead", "lead_id"),
        Index("ix_outbox_events_session", "session_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    company_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[str] = mapped_column(Text)  # JSON; admin links are made absolute when sent
    # Whose data the payload holds, so forgetting a person or a conversation reaches it.
    lead_id: Mapped[int | None] = mapped_column(Integer)
    session_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    fanned_out: Mapped[bool] = mapped_column(Boolean, default=False)


class WebhookDelivery(Base):
    """One event to one receiver: pending until accepted (2xx) or dead after N attempts.

    `next_attempt_at` doubles as the lease: a sender that takes the row pushes it past the
    request timeout, so a sender killed mid-request leaves a row that becomes due again.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(_in("state", DELIVERY_STATES), name="state"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_company", "company_id", "state", "id"),
        Index("uq_webhook_deliveries_event_endpoint", "event_pk", "endpoint", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_pk: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    company_id: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(2048))  # the receiver's URL, as configured
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
