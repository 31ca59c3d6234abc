"""The outbox: write an event with the change it reports, fan it out, lease due deliveries.

Writers call `enqueue(session, ...)` inside the unit of work that makes the change, so the
event commits or rolls back with it. Senders (one per server worker, any number of hosts)
`fan_out` new events into deliveries and `claim` due deliveries; a claim pushes the row's
`next_attempt_at` past the request timeout (a lease), so no other sender takes it meanwhile and
a sender killed mid-request leaves a row that simply becomes due again. On PostgreSQL the claim
reads with `FOR UPDATE SKIP LOCKED`, so concurrent senders take disjoint rows without waiting;
SQLite serializes writers (the claim runs in a `BEGIN IMMEDIATE` transaction), which gives
the same one-taker guarantee between processes on one host.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from widget_api.crm.db import Database
from widget_api.crm.delivery_models import OutboxEvent, WebhookDelivery
from widget_api.crm.models import utcnow
from widget_api.delivery.events import EVENT_TYPES

# Events turned into deliveries per transaction; a full batch means more are waiting.
FAN_OUT_BATCH = 500

# Subscribers of one company and event type: the receivers' URLs.
Subscriptions = Callable[[str, str], Sequence[str]]


def _insert_for(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def event_id_for(key: str | None) -> str:
    """A `msg_` id: derived from `key` when given (a retried write then makes no duplicate)."""
    if key is None:
        return "msg_" + secrets.token_urlsafe(18)
    return "msg_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def enqueue(
    session: Session,
    *,
    company_id: str,
    type: str,
    data: dict[str, Any],
    key: str | None = None,
    lead_id: int | None = None,
    session_id: str | None = None,
) -> str:
    """Add one event to the outbox in the caller's transaction; returns its webhook-id.

    `lead_id` and `session_id` name whose data the payload carries (forget and retention).
    """
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {type!r}")
    event_id = event_id_for(key)
    stmt = (
        _insert_for(session)(OutboxEvent)
        .values(
            event_id=event_id,
            company_id=company_id,
            type=type,
            data=json.dumps(data, separators=(",", ":"), sort_keys=True, default=str),
            created_at=utcnow(),
            fanned_out=False,
            lead_id=lead_id,
            session_id=session_id,
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    session.execute(stmt)
    return event_id


def _locking(stmt: Any, session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


def _any(db: Database, stmt: Any) -> bool:
    # A read-only look first: an idle sender then never opens a write transaction (on SQLite
    # that would take the database's one write lock twice a second per worker).
    return db.run(lambda s: s.execute(stmt.limit(1)).first() is not None, readonly=True)


def fan_out(db: Database, subscriptions: Subscriptions, *, batch: int = FAN_OUT_BATCH) -> int:
    """Turn new events into one pending delivery per subscribed receiver; returns events done."""
    if not _any(db, select(OutboxEvent.id).where(OutboxEvent.fanned_out.is_(False))):
        return 0

    def work(session: Session) -> int:
        rows = session.execute(
            _locking(
                select(
                    OutboxEvent.id, OutboxEvent.company_id, OutboxEvent.type, OutboxEvent.created_at
                )
                .where(OutboxEvent.fanned_out.is_(False))
                .order_by(OutboxEvent.id)
                .limit(batch),
                session,
            )
        ).all()
        if not rows:
            return 0
        values = [
            {"event_pk": row.id, "company_id": row.company_id, "endpoint": url, "state": "pending",
             "attempts": 0, "next_attempt_at": row.created_at, "created_at": row.created_at}
            for row in rows
            for url in dict.fromkeys(subscriptions(row.company_id, row.type))
        ]  # fmt: skip
        if values:
            stmt = _insert_for(session)(WebhookDelivery).values(values)
            session.execute(stmt.on_conflict_do_nothing(index_elements=["event_pk", "endpoint"]))
        ids = [row.id for row in rows]
        session.execute(update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(fanned_out=True))
        return len(rows)

    return db.run(work)


@dataclass(frozen=True)
class Claimed:
    """A delivery leased to this sender: what to send, and the attempt number it is."""

    id: int
    attempt: int
    company_id: str
    endpoint: str
    event_id: str
    type: str
    data: str
    created_at: datetime


def claim(db: Database, *, limit: int, lease_seconds: float) -> list[Claimed]:
    """Lease up to `limit` due deliveries (oldest due first) and count the attempt."""
    if limit <= 0:
        return []
    due_now = (WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= utcnow())
    if not _any(db, select(WebhookDelivery.id).where(*due_now)):
        return []

    def work(session: Session) -> list[Claimed]:
        now = utcnow()
        due = session.execute(
            _locking(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit),
                session,
            )
        ).scalars().all()  # fmt: skip
        if not due:
            return []
        # The attempt counts when taken: a request that kills its sender still uses one up,
        # so a poison event ends as a dead letter instead of crashing servers forever.
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(due))
            .values(
                attempts=WebhookDelivery.attempts + 1,
                next_attempt_at=now + timedelta(seconds=lease_seconds),
            )
        )
        rows = session.execute(
            select(WebhookDelivery, OutboxEvent)
            .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_pk)
            .where(WebhookDelivery.id.in_(due))
        ).all()
        return [
            Claimed(d.id, d.attempts, d.company_id, d.endpoint, e.event_id, e.type, e.data,
                    e.created_at)
            for d, e in rows
        ]  # fmt: skip

    return db.run(work)


@dataclass(frozen=True)
class Mark:
    """The outcome of one attempt, recorded against that attempt only.

    `state` is what the row becomes: "delivered", "dead", or "pending" again with the next try
    at `next_attempt_at`. `at` is when the outcome happened (a batch lands a little later).
    """

    id: int
    attempt: int
    state: str
    status: int | None
    error: str | None
    at: datetime
    next_attempt_at: datetime | None = None


def delivered(item: Claimed, status: int, at: datetime | None = None) -> Mark:
    return Mark(item.id, item.attempt, "delivered", status, None, at or utcnow())


def failed(
    item: Claimed, *, status: int | None, error: str, retry_in: float | None,
    at: datetime | None = None,
) -> Mark:  # fmt: skip
    """Retry in `retry_in` seconds from `at`, or a dead letter (None)."""
    at = at or utcnow()
    if retry_in is None:
        return Mark(item.id, item.attempt, "dead", status, error[:200], at)
    later = at + timedelta(seconds=retry_in)
    return Mark(item.id, item.attempt, "pending", status, error[:200], at, later)


_table: Table = WebhookDelivery.__table__  # type: ignore[assignment]
_t = _table.c
# One statement for every kind of outcome, so a batch is one executemany. Only the holder of
# the current attempt may record its outcome: a sender whose lease ran out (and whose row
# another sender took) must not overwrite the newer attempt's result, hence the guard on
# attempts and state. `next_attempt_at` is only moved by a retry (NULL keeps it).
_RECORD = (
    update(_table)
    .where(
        _t.id == bindparam("m_id"),
        _t.attempts == bindparam("m_attempt"),
        _t.state == "pending",
    )
    .values(
        state=bindparam("m_state", type_=_t.state.type),
        last_status=bindparam("m_status", type_=_t.last_status.type),
        last_error=bindparam("m_error", type_=_t.last_error.type),
        delivered_at=bindparam("m_delivered_at", type_=_t.delivered_at.type),
        next_attempt_at=func.coalesce(
            bindparam("m_next", type_=_t.next_attempt_at.type), _t.next_attempt_at
        ),
    )
)


def _hurry(session: Session, endpoint: str, errors: Sequence[str]) -> int:
    now = utcnow()
    # Rows another transaction holds are skipped, not waited for: they are being claimed or
    # marked this moment, and waiting while holding this batch's rows could deadlock with
    # the other sender doing the same.
    rows = _locking(
        select(WebhookDelivery.id).where(
            WebhookDelivery.endpoint == endpoint,
            WebhookDelivery.state == "pending",
            WebhookDelivery.next_attempt_at > now,
            WebhookDelivery.last_error.in_(list(errors)),
        ),
        session,
    )
    stmt = (
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(rows.scalar_subquery()))
        .values(next_attempt_at=now)
    )
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def record(
    db: Database,
    marks: Sequence[Mark],
    *,
    hurry: Sequence[str] = (),
    errors: Sequence[str] = (),
) -> int:
    """Write a batch of outcomes in one transaction; returns how many still held their row.

    Then, in the same transaction, `hurry` endpoints get their deliveries that failed with one
    of `errors` made due now (see `hurry_endpoint`): after the batch's own failures, so a
    failure recorded with it cannot land later and keep its backoff.
    """
    params = [
        {"m_id": m.id, "m_attempt": m.attempt, "m_state": m.state, "m_status": m.status,
         "m_error": m.error, "m_delivered_at": m.at if m.state == "delivered" else None,
         "m_next": m.next_attempt_at}
        # In id order: two senders' batches then lock rows in one order and cannot deadlock.
        for m in sorted(marks, key=lambda m: m.id)
    ]  # fmt: skip

    def work(session: Session) -> int:
        held = 0
        if params:
            result = session.connection().execute(_RECORD, params)
            held = int(result.rowcount)
        for endpoint in hurry:
            _hurry(session, endpoint, errors)
        return held

    if not params and not hurry:
        return 0
    return db.run(work)


def mark_delivered(db: Database, item: Claimed, status: int) -> bool:
    return record(db, [delivered(item, status)]) == 1


def mark_failed(
    db: Database,
    item: Claimed,
    *,
    status: int | None,
    error: str,
    retry_in: float | None,
) -> bool:
    """Schedule the next attempt in `retry_in` seconds, or make it a dead letter (None)."""
    return record(db, [failed(item, status=status, error=error, retry_in=retry_in)]) == 1


def hurry_endpoint(db: Database, endpoint: str, *, errors: Sequence[str]) -> int:
    """Make the endpoint's deliveries that failed with one of `errors` due now.

    Called when a receiver that was unreachable accepts a request again: its backlog goes out
    at once instead of waiting out backoff delays that grew while it was down.
    """
    return db.run(lambda s: _hurry(s, endpoint, errors))


class DeliveryView:
    """A delivery as the admin page lists it (no payload: it holds personal data)."""

    def __init__(self, delivery: WebhookDelivery, event: OutboxEvent) -> None:
        self.id = delivery.id
        self.event_id = event.event_id
        self.type = event.type
        self.endpoint = delivery.endpoint
        self.state = delivery.state
        self.attempts = delivery.attempts
        self.last_status = delivery.last_status
        self.last_error = delivery.last_error
        self.created_at = event.created_at
        self.next_attempt_at = delivery.next_attempt_at

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "event_id": self.event_id, "type": self.type,
            "endpoint": self.endpoint, "state": self.state, "attempts": self.attempts,
            "last_status": self.last_status, "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
        }  # fmt: skip


def list_deliveries(
    db: Database, company_id: str, *, state: str = "dead", limit: int = 100
) -> list[DeliveryView]:
    """The company's deliveries in `state`, newest first."""
    stmt = (
        select(WebhookDelivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_pk)
        .where(WebhookDelivery.company_id == company_id, WebhookDelivery.state == state)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    return db.run(lambda s: [DeliveryView(d, e) for d, e in s.execute(stmt).all()], readonly=True)


def count_by_state(db: Database, company_id: str) -> dict[str, int]:
    stmt = (
        select(WebhookDelivery.state, func.count())
        .where(WebhookDelivery.company_id == company_id)
        .group_by(WebhookDelivery.state)
    )
    return db.run(lambda s: {st: int(n) for st, n in s.execute(stmt).all()}, readonly=True)


def retry_dead(db: Database, company_id: str, delivery_id: int) -> bool:
    """Send a dead letter again from scratch (attempts reset); False when there is none."""
    stmt = (
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.company_id == company_id,
            WebhookDelivery.state == "dead",
        )
        .values(state="pending", attempts=0, next_attempt_at=utcnow(), last_error=None)
    )
    return bool(db.run(lambda s: s.execute(stmt).rowcount))  # type: ignore[attr-defined]


def forget(
    session: Session, *, lead_ids: Sequence[int] = (), session_ids: Sequence[str] = ()
) -> int:
    """Delete the events (and their deliveries) that carry these leads' or conversations' data.

    Called by forget and retention in their transaction; `lead.deleted` events stay, since
    they exist to tell receivers to delete their copies.
    """
    if not lead_ids and not session_ids:
        return 0
    ids = select(OutboxEvent.id).where(
        OutboxEvent.type != "lead.deleted",
        or_(OutboxEvent.lead_id.in_(list(lead_ids)), OutboxEvent.session_id.in_(list(session_ids))),
    )
    found = list(session.scalars(ids))
    if not found:
        return 0
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_pk.in_(found)))
    session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(found)))
    return len(found)


def purge_before(session: Session, cutoff: datetime, company_id: str | None = None) -> int:
    """Retention: events (delivered or not) written before `cutoff`, with their deliveries."""
    ids = select(OutboxEvent.id).where(OutboxEvent.created_at < cutoff)
    if company_id is not None:
        ids = ids.where(OutboxEvent.company_id == company_id)
    found = list(session.scalars(ids))
    if found:
        session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_pk.in_(found)))
        session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(found)))
    return len(found)
