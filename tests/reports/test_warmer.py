"""The background report warmer: after it ran, a report computes nothing it could have cached."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from tests.reports import seed
from widget_api.crm.db import Database
from widget_api.crm.report_models import DayCache
from widget_api.reports.questions import unanswered
from widget_api.reports.warmer import ReportWarmer, warm_reports
from widget_api.reports.window import ReportQuery


class NoModel:
    def encode(self, texts: list[str]) -> Any:
        raise AssertionError(f"embedded on the request: {texts}")


def test_after_a_warm_up_settled_days_and_question_vectors_are_cached(
    db: Database, embedder: Any
) -> None:
    asked = datetime.now(UTC) - timedelta(days=3)
    seed.conversation(db, "w1", asked)
    seed.question(db, "w1", "Do you have a HIPAA BAA?", asked, answered=False, score=0.1)
    warm_reports(db, embedder, ["acme"])
    with db.session(readonly=True) as session:
        cached = set(session.execute(
            select(DayCache.report, func.count()).where(DayCache.day == asked.date())
            .group_by(DayCache.report)
        ).all())  # fmt: skip
    assert {report for report, _ in cached} == {"funnel", "top_questions", "unanswered",
                                                "latency.v2"}  # fmt: skip
    today = datetime.now(UTC).date()
    report = unanswered(db, NoModel(), "acme", ReportQuery(since=today - timedelta(days=6)))
    assert [g.count for g in report.groups] == [1]


def test_the_warmer_keeps_running_after_a_failure() -> None:
    calls, ran_twice = [], threading.Event()

    def warm() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database down")
        ran_twice.set()

    warmer = ReportWarmer(warm, interval=0.01).start()
    try:
        assert ran_twice.wait(5)
    finally:
        warmer.stop()
