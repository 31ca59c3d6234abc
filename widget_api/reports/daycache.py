"""Per-day report figures, cached once a UTC day is settled.

A past day's counts do not change (rows land on the day they happen), so each report keeps its
figures per (company, day) after the day has been over for `SETTLE`; a report over months then
reads one row per past day and computes only the days it has not seen and today. Forgetting
and retention delete rows of past days, so they clear the cache (in
`recorder.forget_sessions`), and the next report recomputes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from widget_api.crm.db import Database
from widget_api.crm.models import utcnow
from widget_api.crm.report_models import DayCache
from widget_api.reports.window import ReportQuery

SETTLE = timedelta(minutes=15)  # late commits (retried transactions) land well within this

Figures = dict[str, Any]
Compute = Callable[[Session, ReportQuery], dict[date, Figures]]


def last_settled_day() -> date:
    return (utcnow() - SETTLE).date() - timedelta(days=1)


def per_day(
    db: Database, company_id: str, report: str, q: ReportQuery, compute: Compute
) -> dict[date, Figures]:
    """Figures for every day of the window (`{}` for a day without any)."""
    where = (DayCache.company_id == company_id, DayCache.report == report,
             DayCache.day >= q.first_day, DayCache.day <= q.last_day)  # fmt: skip
    stmt = select(DayCache.day, DayCache.figures).where(*where)
    cached = {
        _as_date(day): json.loads(figures)
        for day, figures in db.run(lambda s: s.execute(stmt).all(), readonly=True)
    }
    missing = [day for day in q.days() if day not in cached]
    if not missing:
        return cached
    span = ReportQuery(since=missing[0], until=q.last_day)
    fresh = db.run(lambda s: compute(s, span), readonly=True)
    settled = last_settled_day()
    rows = [
        {"company_id": company_id, "report": report, "day": day,
         "figures": json.dumps(fresh.get(day, {}), sort_keys=True), "computed_at": utcnow()}
        for day in missing if day <= settled
    ]  # fmt: skip
    if rows:
        insert = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
        db.run(lambda s: s.execute(insert(DayCache).values(rows).on_conflict_do_nothing()),
               durable=False)  # fmt: skip
    return {**cached, **{day: fresh.get(day, {}) for day in missing}}


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
