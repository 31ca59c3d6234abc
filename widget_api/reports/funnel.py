"""The funnel: widget opened -> conversation started -> question answered -> lead ->
meeting link clicked -> meeting booked, per UTC day or ISO week.

Each stage is counted where it happens, on the day it happens: opens from the daily counter
(the widget page loads when a visitor first opens the widget), conversations and leads from
their own tables, answered questions and clicks as distinct conversations, bookings from the
Calendly / Cal.com notifications. A week is the sum of its days.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Date, cast, func, select
from sqlalchemy.orm import Session

from widget_api.crm.db import Database
from widget_api.crm.models import Conversation, Lead
from widget_api.crm.report_models import Booking, DailyCounter, MeetingLink, Question
from widget_api.reports.daycache import per_day
from widget_api.reports.window import ReportQuery, week_of

STAGES = (
    "widget_opened", "conversation_started", "question_answered", "lead", "meeting_clicked",
    "meeting_booked",
)  # fmt: skip


class FunnelRow(BaseModel):
    period_start: date
    widget_opened: int = 0
    conversation_started: int = 0
    question_answered: int = 0
    lead: int = 0
    meeting_clicked: int = 0
    meeting_booked: int = 0


class FunnelReport(BaseModel):
    period: str
    since: date
    until: date
    rows: list[FunnelRow]
    totals: FunnelRow


def _day(column: Any, dialect: str) -> Any:
    # PostgreSQL: the UTC calendar day of a timestamptz; SQLite stores naive UTC text.
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _counts(session: Session, company_id: str, q: ReportQuery) -> dict[str, dict[date, int]]:
    dialect = session.get_bind().dialect.name
    out: dict[str, dict[date, int]] = {}

    def per_day(stage: str, column: Any, measure: Any, *where: Any) -> None:
        day = _day(column, dialect)
        stmt = select(day, measure).where(*where, column >= q.start, column < q.end).group_by(day)
        out[stage] = {_as_date(d): int(n) for d, n in session.execute(stmt).all()}

    opened = select(DailyCounter.day, DailyCounter.count).where(
        DailyCounter.company_id == company_id, DailyCounter.name == "widget_opened",
        DailyCounter.day >= q.first_day, DailyCounter.day <= q.last_day,
    )  # fmt: skip
    out["widget_opened"] = {_as_date(d): int(n) for d, n in session.execute(opened).all()}
    per_day(
        "conversation_started",
        Conversation.started_at,
        func.count(),
        Conversation.company_id == company_id,
    )
    per_day(
        "question_answered",
        Question.asked_at,
        func.count(Question.session_id.distinct()),
        Question.company_id == company_id,
        Question.answered.is_(True),
    )
    per_day("lead", Lead.created_at, func.count(), Lead.company_id == company_id)
    per_day(
        "meeting_clicked",
        MeetingLink.clicked_at,
        func.count(MeetingLink.session_id.distinct()),
        MeetingLink.company_id == company_id,
    )
    per_day("meeting_booked", Booking.booked_at, func.count(), Booking.company_id == company_id)
    return out  # fmt: skip


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _compute(session: Session, company_id: str, q: ReportQuery) -> dict[date, dict[str, int]]:
    counts = _counts(session, company_id, q)
    return {day: {stage: counts[stage].get(day, 0) for stage in STAGES} for day in q.days()}


def funnel(db: Database, company_id: str, q: ReportQuery) -> FunnelReport:
    """Counts per stage for every day (or week) of the window, zeros included."""
    days = per_day(db, company_id, "funnel", q, lambda s, span: _compute(s, company_id, span))
    buckets: dict[date, dict[str, int]] = {}
    for day in q.days():
        key = week_of(day) if q.period == "week" else day
        bucket = buckets.setdefault(key, dict.fromkeys(STAGES, 0))
        for stage in STAGES:
            bucket[stage] += days[day].get(stage, 0)
    rows = [FunnelRow(period_start=k, **v) for k, v in sorted(buckets.items())]
    totals = {stage: sum(getattr(r, stage) for r in rows) for stage in STAGES}
    return FunnelReport(period=q.period, since=q.first_day, until=q.last_day, rows=rows,
                        totals=FunnelRow(period_start=q.first_day, **totals))  # fmt: skip
