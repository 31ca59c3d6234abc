"""Outbox and sender fixtures: the CRM databases (SQLite and PostgreSQL), a loopback receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts.webhook_receiver import WebhookReceiver
from tests.crm.db_fixtures import _postgres_db, _sqlite_db, db  # noqa: F401
from widget_api.crm.db import Database
from widget_api.delivery.receivers import Receiver, Receivers
from widget_api.delivery.sender import Sender, SenderConfig

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ALL_EVENTS = frozenset(
    {"lead.created", "lead.updated", "meeting.requested", "conversation.ended", "lead.deleted"}
)


_made: list[Sender] = []


@pytest.fixture(autouse=True)
def _stop_senders() -> Iterator[None]:
    """Each sender owns an event-loop thread and connections: stop them after the test."""
    yield
    while _made:
        _made.pop().stop(timeout=2.0)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as r:
        yield r


def make_sender(
    database: Database, urls: list[str], *, allow_private: bool = True, **config: object
) -> Sender:
    """A sender for company `acme` with one receiver per URL and retries a few ms apart."""
    receivers = Receivers(Receiver("acme", url, ALL_EVENTS, SECRET) for url in urls)
    settings = {
        "origin": "https://widget.example", "backoff_seconds": 0.01, "backoff_max_seconds": 0.05,
        "timeout_seconds": 1.0, "max_attempts": 4, "concurrency": 4, "poll_seconds": 0.05,
        "allow_private": allow_private, **config,
    }  # fmt: skip
    made = Sender(database, receivers, SenderConfig(**settings))  # type: ignore[arg-type]
    _made.append(made)
    return made
