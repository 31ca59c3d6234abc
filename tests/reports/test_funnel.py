"""Funnel counts per day and week, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from tests.reports import seed
from tests.reports.seed import at
from widget_api.crm.db import Database
from widget_api.reports.funnel import funnel
from widget_api.reports.window import ReportQuery


def _seed(db: Database) -> None:
    # Monday 2026-11-23 and Tuesday 2026-11-24; Monday 2026-11-30 starts the next week.
    seed.opens(db, at(23), 5)
    seed.opens(db, at(24), 3)
    seed.opens(db, at(30), 1)
    seed.opens(db, at(24), 7, company="globex")  # another company's counts stay apart
    for sid, day in (("a", 23), ("b", 23), ("c", 23), ("d", 24), ("e", 30)):
        seed.conversation(db, sid, at(day))
    seed.conversation(db, "g1", at(23), company="globex")
    # Two answered questions in one conversation count it once; unanswered ones not at all.
    seed.question(db, "a", "price of growth", at(23, 10), answered=True)
    seed.question(db, "a", "sso?", at(23, 11), answered=True)
    seed.question(db, "b", "do you do payroll", at(23), answered=False)
    seed.question(db, "d", "hipaa?", at(24), answered=True)
    seed.lead(db, "a", "a@example.com", at(23))
    seed.lead(db, "d", "d@example.com", at(24))
    seed.click(db, "a", at(23, 13), "t1")
    seed.click(db, "a", at(23, 14), "t2")  # a second link of the same conversation
    seed.click(db, "d", None, "t3")  # shown, never clicked
    seed.booking(db, "a", at(24, 9), "calendly:1")  # booked the day after the click


def test_daily_funnel_counts_each_stage_on_its_day(db: Database) -> None:
    _seed(db)
    report = funnel(db, "acme", ReportQuery(since=date(2026, 11, 23), until=date(2026, 11, 25)))
    rows = {r.period_start.isoformat(): r.model_dump(exclude={"period_start"}) for r in report.rows}
    assert rows == {
        "2026-11-23": {"widget_opened": 5, "conversation_started": 3, "question_answered": 1,
                       "lead": 1, "meeting_clicked": 1, "meeting_booked": 0},
        "2026-11-24": {"widget_opened": 3, "conversation_started": 1, "question_answered": 1,
                       "lead": 1, "meeting_clicked": 0, "meeting_booked": 1},
        "2026-11-25": dict.fromkeys(rows["2026-11-25"], 0),
    }  # fmt: skip
    assert report.totals.widget_opened == 8 and report.totals.lead == 2


def test_weekly_funnel_sums_days_into_iso_weeks(db: Database) -> None:
    _seed(db)
    q = ReportQuery(since=date(2026, 11, 23), until=date(2026, 11, 30), period="week")
    report = funnel(db, "acme", q)
    weeks = {r.period_start.isoformat(): (r.widget_opened, r.conversation_started, r.lead)
             for r in report.rows}  # fmt: skip
    assert weeks == {"2026-11-23": (8, 4, 2), "2026-11-30": (1, 1, 0)}


def test_window_bounds_are_whole_days(db: Database) -> None:
    _seed(db)
    report = funnel(db, "acme", ReportQuery(since=date(2026, 11, 24), until=date(2026, 11, 24)))
    assert [r.conversation_started for r in report.rows] == [1]


def test_settled_days_are_cached_until_data_is_forgotten(db: Database) -> None:
    from widget_api.reports.recorder import forget_sessions

    q = ReportQuery(since=date(2026, 11, 23), until=date(2026, 11, 23))
    seed.conversation(db, "a", at(23))
    assert funnel(db, "acme", q).totals.conversation_started == 1
    seed.conversation(db, "late", at(23))  # a row no live path writes for a settled day
    assert funnel(db, "acme", q).totals.conversation_started == 1  # read from the cache
    db.run(lambda s: forget_sessions(s, ["nobody"]))
    assert funnel(db, "acme", q).totals.conversation_started == 2
