"""The background work inside `widget-api serve`, one per worker process, started once: the
webhook sender and the report warmer (`reports.warmer`)."""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from widget_api.delivery.receivers import Receivers
from widget_api.delivery.sender import Sender, SenderConfig
from widget_api.reports.warmer import ReportWarmer, warm_reports

if TYPE_CHECKING:
    from widget_api.services import Services

log = logging.getLogger(__name__)

_started: dict[int, Sender] = {}
_warmers: dict[int, ReportWarmer] = {}
_lock = threading.Lock()


def start_report_warmer(services: Services) -> ReportWarmer | None:
    """Start this process's report warmer (idempotent); None when `report_warm_seconds` is 0."""
    interval = services.settings.report_warm_seconds
    if interval <= 0:
        return None
    with _lock:
        warmer = _warmers.get(os.getpid())
        if warmer is None:
            ids = [company.id for company in services.companies.all()]
            warmer = ReportWarmer(
                lambda: warm_reports(services.db, services.embedder, ids), interval
            ).start()
            _warmers[os.getpid()] = warmer
        return warmer


def start_sender(services: Services, env: Mapping[str, str] | None = None) -> Sender | None:
    """Start this process's sender (idempotent); None when `webhook_sender` is off.

    Every worker runs one: the outbox hands each row to one sender at a time, so more workers
    only mean more delivery capacity, never duplicates.
    """
    start_report_warmer(services)  # the same once-per-worker start (server.py calls this)
    settings = services.settings
    if not settings.webhook_sender:
        return None
    with _lock:
        sender = _started.get(os.getpid())
        if sender is None:
            receivers = Receivers.from_companies(
                services.companies.all(), os.environ if env is None else env
            )
            sender = Sender(services.db, receivers, SenderConfig.from_settings(settings)).start()
            _started[os.getpid()] = sender
            # A worker that exits normally writes its queued outcome marks first (after a
            # kill they are lost, and their rows are simply sent again once the lease ends).
            atexit.register(sender.stop, 2.0)
            log.info("webhook sender started (pid %s)", os.getpid())
        return sender
