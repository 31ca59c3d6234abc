"""Batched outcome marks: one transaction per batch, only the current attempt's mark lands,
a hurry commits after the failures batched with it, and a stopping sender writes them all."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event, select

from scripts.webhook_receiver import WebhookReceiver
from tests.delivery.conftest import make_sender
from widget_api.crm.db import Database
from widget_api.crm.delivery_models import WebhookDelivery
from widget_api.delivery import outbox, sender
from widget_api.delivery.marks import PendingMarks

HOOK = "https://a.example/h"


def _claimed(db: Database, n: int, *, lease_seconds: float = 60) -> list[outbox.Claimed]:
    def add(session):  # type: ignore[no-untyped-def]
        for i in range(n):
            outbox.enqueue(session, company_id="acme", type="lead.created", data={"i": i})

    db.run(add)
    outbox.fan_out(db, lambda *_: [HOOK])
    return outbox.claim(db, limit=n, lease_seconds=lease_seconds)


def _rows(db: Database) -> dict[int, tuple[str, int, str | None]]:
    stmt = select(
        WebhookDelivery.id, WebhookDelivery.state, WebhookDelivery.attempts,
        WebhookDelivery.last_error,
    )  # fmt: skip
    return {r.id: (r.state, r.attempts, r.last_error) for r in db.run(lambda s: s.execute(stmt))}


def test_a_stale_attempts_mark_is_ignored(db: Database) -> None:
    (first,) = _claimed(db, 1, lease_seconds=0)  # the lease runs out at once...
    (second,) = outbox.claim(db, limit=1, lease_seconds=60)  # ...and the row is taken again
    assert second.attempt == 2
    late = outbox.delivered(first, 200)
    assert outbox.record(db, [late]) == 0
    assert _rows(db)[first.id] == ("pending", 2, None)
    assert outbox.record(db, [outbox.failed(second, status=500, error="http_500",
                                            retry_in=None)]) == 1  # fmt: skip
    assert _rows(db)[first.id] == ("dead", 2, "http_500")


def test_a_batch_of_marks_is_one_transaction(db: Database) -> None:
    items = _claimed(db, 5)
    commits: list[int] = []
    event.listen(db.engine, "commit", lambda _conn: commits.append(1))
    marks = [outbox.delivered(i, 200) for i in items[:3]] + [
        outbox.failed(i, status=None, error="timeout", retry_in=30) for i in items[3:]
    ]
    assert outbox.record(db, marks) == 5
    assert len(commits) == 1
    states = sorted(state for state, _, _ in _rows(db).values())
    assert states == ["delivered"] * 3 + ["pending"] * 2


def test_a_hurry_commits_after_the_failures_batched_with_it(db: Database) -> None:
    (down, up) = _claimed(db, 2)
    queue = PendingMarks(db, sender.UNREACHABLE)
    queue.put(outbox.failed(down, status=None, error="connect_error", retry_in=3600))
    queue.put(outbox.delivered(up, 200), hurry=HOOK)
    assert queue.flush() == 2
    (due,) = outbox.claim(db, limit=5, lease_seconds=60)  # due now, not in an hour
    assert due.id == down.id and due.attempt == 2


def test_marks_a_failed_flush_took_are_kept_for_the_next(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    (item,) = _claimed(db, 1)
    queue = PendingMarks(db, sender.UNREACHABLE)
    queue.put(outbox.delivered(item, 200))
    real = outbox.record

    def down(*_a: object, **_k: object) -> int:
        raise ConnectionError("database restarting")

    monkeypatch.setattr(outbox, "record", down)
    with pytest.raises(ConnectionError):
        queue.flush()
    monkeypatch.setattr(outbox, "record", real)
    assert queue.flush() == 1
    assert _rows(db)[item.id][0] == "delivered"


def test_stop_writes_the_marks_still_queued(
    db: Database, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sender, "MARK_LINGER_SECONDS", 3600.0)  # no flush while it runs
    db.run(lambda s: outbox.enqueue(s, company_id="acme", type="lead.created", data={}))
    running = make_sender(db, [receiver.url]).start()
    deadline = time.monotonic() + 20
    while len(running.marks) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(receiver.accepted) == 1 and len(running.marks) == 1
    assert [state for state, _, _ in _rows(db).values()] == ["pending"]
    running.stop()
    assert [state for state, _, _ in _rows(db).values()] == ["delivered"]
