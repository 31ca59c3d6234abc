"""Rows for the report tests, written the way the product writes them."""

from __future__ import annotations

from datetime import UTC, datetime

from widget_api.crm.db import Database
from widget_api.crm.models import Conversation, Lead
from widget_api.crm.report_models import Booking, MeetingLink, Question
from widget_api.reports.recorder import normalize_question, widget_opened


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def conversation(db: Database, sid: str, when: datetime, company: str = "acme") -> None:
    db.run(lambda s: s.add(Conversation(session_id=sid, company_id=company, transport="text",
                                        started_at=when, turns=1)))  # fmt: skip


def question(
    db: Database, sid: str, text: str, when: datetime, *, answered: bool,
    title: str | None = None, score: float | None = None, company: str = "acme",
) -> None:  # fmt: skip
    db.run(lambda s: s.add(Question(
        company_id=company, session_id=sid, text=text, normalized=normalize_question(text),
        answered=answered, best_score=score, closest_title=title,
        closest_source=f"{title}.md" if title else None, asked_at=when,
    )))  # fmt: skip


def lead(db: Database, sid: str, email: str, when: datetime, company: str = "acme") -> None:
    db.run(lambda s: s.add(Lead(company_id=company, name="V", email=email, email_normalized=email,
                                channel="text", session_id=sid, status="new", created_at=when,
                                updated_at=when)))  # fmt: skip


def click(db: Database, sid: str, when: datetime | None, token: str) -> None:
    db.run(lambda s: s.add(MeetingLink(token=token, company_id="acme", session_id=sid,
                                       url="https://calendly.com/acme/demo", created_at=at(1),
                                       clicked_at=when)))  # fmt: skip


def booking(db: Database, sid: str, when: datetime, ext: str) -> None:
    db.run(lambda s: s.add(Booking(company_id="acme", provider="calendly", external_id=ext,
                                   session_id=sid, booked_at=when)))  # fmt: skip


def opens(db: Database, when: datetime, n: int, company: str = "acme") -> None:
    for _ in range(n):
        widget_opened(db, company, when)
