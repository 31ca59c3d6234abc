"""Keeps the reports' caches filled in the background, so no admin request pays for them.

A report over months reads per-day figures cached once a day has settled
(`reports.daycache`), and the unanswered report reads each question's embedding from
`report_question_vectors`. Whatever is not cached yet (the first report after a deploy, a day
that just settled, questions never embedded) is computed by the request that first needs it:
over 100,000 conversations that first request took seconds. A thread in each `serve` worker
runs every report over the last `WINDOW_DAYS` days once a minute instead: the first time it
fills the caches, later runs only compute today (milliseconds) and embed new questions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from widget_api.crm.db import Database
from widget_api.reports.funnel import funnel
from widget_api.reports.latency import latency
from widget_api.reports.questions import top_questions, unanswered
from widget_api.reports.window import ReportQuery

log = logging.getLogger(__name__)

WINDOW_DAYS = 90


def warm_reports(db: Database, embedder: Any, company_ids: Iterable[str]) -> None:
    """Run every report over the last WINDOW_DAYS days for each company (fills the caches)."""
    today = datetime.now(UTC).date()
    q = ReportQuery(since=today - timedelta(days=WINDOW_DAYS - 1), until=today)
    for company_id in company_ids:
        funnel(db, company_id, q)
        top_questions(db, company_id, q)
        unanswered(db, embedder, company_id, q)
        latency(db, company_id, q)


class ReportWarmer:
    """A daemon thread calling `warm` every `interval` seconds until stopped."""

    def __init__(self, warm: Callable[[], None], interval: float) -> None:
        self._warm = warm
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="report-warmer", daemon=True)

    def start(self) -> ReportWarmer:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._warm()
            except Exception:  # a report bug or a database outage: try again next interval
                log.exception("report warm-up failed")
            self._stop.wait(self._interval)
