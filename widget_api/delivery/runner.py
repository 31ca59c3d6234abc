"""The webhook sender inside `widget-api serve`: one per worker process, started once."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from widget_api.delivery.receivers import Receivers
from widget_api.delivery.sender import Sender, SenderConfig

if TYPE_CHECKING:
    from widget_api.services import Services

log = logging.getLogger(__name__)

_started: dict[int, Sender] = {}
_lock = threading.Lock()


def start_sender(services: Services, env: Mapping[str, str] | None = None) -> Sender | None:
    """Start this process's sender (idempotent); None when `webhook_sender` is off.

    Every worker runs one: the outbox hands each row to one sender at a time, so more workers
    only mean more delivery capacity, never duplicates.
    """
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
            log.info("webhook sender started (pid %s)", os.getpid())
        return sender
