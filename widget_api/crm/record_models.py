"""Tables of the conversation record: lead claims with evidence, transcripts and the privacy audit.

Kept apart from `models.py` (leads, conversations, tool calls) so the record can grow without
touching the core CRM schema; `models.py` imports this module so Alembic sees every table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from widget_api.crm.models import Base, utcnow

# Who said a claimed value: the visitor in a message, or the model through `log_lead`.
CLAIM_SOURCES = ("message", "log_lead")
TRANSCRIPT_ROLES = ("user", "assistant", "tool")


class LeadClaim(Base):
    """One value one conversation gave for one lead field, with the message it came from.

    Claims are kept even when they do not change the lead, so sales can see when two
    conversations disagree (an anonymous chat cannot silently overwrite another's values).
    """

    __tablename__ = "lead_claims"
    __table_args__ = (
        Index("ix_lead_claims_lead", "lead_id", "created_at"),
        Index("ix_lead_claims_session", "session_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str] = mapped_column(String(64))
    # Null until the conversation is linked to a lead (a visitor may say "60 agents" first).
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(String(128))
    field: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TranscriptEntry(Base):
    """One line of a conversation: a visitor or assistant message, or a tool call and result."""

    __tablename__ = "transcript_entries"
    __table_args__ = (Index("ix_transcript_entries_session", "session_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    tool_name: Mapped[str | None] = mapped_column(String(64))
    tool_call_id: Mapped[str | None] = mapped_column(String(128))
    tool_ok: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PrivacyAudit(Base):
    """A forget or purge that happened: what kind, how many rows, when. Never personal data."""

    __tablename__ = "privacy_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    counts: Mapped[str] = mapped_column(Text)  # JSON: rows removed per table
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
