"""Tables behind the reports: questions asked, meeting-link clicks, bookings, daily counters.

Personal data (question texts, session ids) lives only in rows that forget and retention reach
through `widget_api.reports.recorder.forget_sessions`. The indexes serve the reports' one
access path: one company, a time window.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from widget_api.crm.models import Base, Conversation, utcnow


class Question(Base):
    """One `search_knowledge` call: what was asked, how well the documents matched."""

    __tablename__ = "report_questions"
    __table_args__ = (
        # Covering on PostgreSQL: the top list and the funnel read the index only.
        Index("ix_report_questions_company_asked", "company_id", "asked_at",
              postgresql_include=["normalized", "answered", "session_id"]),
        # Unanswered questions are a small share: a partial index holding what the report reads.
        Index("ix_report_questions_unanswered", "company_id", "asked_at",
              postgresql_include=["normalized", "text", "best_score", "closest_title",
                                  "closest_source"],
              postgresql_where=text("NOT answered"), sqlite_where=text("NOT answered")),
        Index("ix_report_questions_session", "session_id"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(String(400))
    normalized: Mapped[str] = mapped_column(String(400))  # grouping key of the top list
    answered: Mapped[bool] = mapped_column(Boolean)
    best_score: Mapped[float | None] = mapped_column(Float)
    closest_title: Mapped[str | None] = mapped_column(String(300))
    closest_source: Mapped[str | None] = mapped_column(String(500))
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuestionVector(Base):
    """The embedding of one normalized question text, cached for grouping by meaning."""

    __tablename__ = "report_question_vectors"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the text
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, unit length


class MeetingLink(Base):
    """A booking link shown to a visitor, behind our redirect so the click is counted."""

    __tablename__ = "report_meeting_links"
    __table_args__ = (
        Index("ix_report_meeting_links_company_clicked", "company_id", "clicked_at"),
        Index("ix_report_meeting_links_session", "session_id"),
    )

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    company_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(128))
    url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    clicked_at: Mapped[datetime | None]


class Booking(Base):
    """A meeting booked on Calendly or Cal.com, reported by the provider's webhook."""

    __tablename__ = "report_bookings"
    __table_args__ = (Index("ix_report_bookings_company_booked", "company_id", "booked_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(200), unique=True)  # provider's event id
    session_id: Mapped[str | None] = mapped_column(String(128))
    lead_id: Mapped[int | None] = mapped_column(Integer)
    booked_at: Mapped[datetime] = mapped_column(default=utcnow)


class DayCache(Base):
    """One report's figures for one settled UTC day (past days do not change), so a report
    over months reads a row per day instead of rescanning every conversation."""

    __tablename__ = "report_day_cache"

    company_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    report: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    figures: Mapped[str] = mapped_column(Text)  # JSON
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class DailyCounter(Base):
    """Counts with no row of their own (widget opened), one row per company, day and name."""

    __tablename__ = "report_daily_counters"

    company_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


# The funnel counts conversations per day from their own table (leads: ix_leads_company_created).
Index("ix_conversations_company_started", Conversation.company_id, Conversation.started_at)
