"""The outbox on SQLite and PostgreSQL: events commit with their change, fan out per
receiver, and each due delivery is leased to one sender only."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select

from widget_api.crm.conversations import end_conversation, start_conversation
from widget_api.crm.db import Database
from widget_api.crm.delivery_models import OutboxEvent, WebhookDelivery
from widget_api.crm.leads import LeadFields, record_meeting_link, upsert_lead
from widget_api.delivery import outbox
from widget_api.delivery.hooks import lead_deleted


def _lead(email: str = "ada@example.com", **extra: str) -> LeadFields:
    return LeadFields(name="Ada", email=email, **extra)


def _events(db: Database) -> list[tuple[str, dict]]:
    rows = db.run(lambda s: s.execute(select(OutboxEvent).order_by(OutboxEvent.id)).scalars().all())
    return [(r.type, json.loads(r.data)) for r in rows]


def test_lead_upserts_write_created_then_updated(db: Database) -> None:
    first = upsert_lead(db, "acme", _lead(), session_id="s1", channel="text")
    upsert_lead(db, "acme", _lead(company="Acme Ltd"), session_id="s1", channel="text")
    events = _events(db)
    assert [t for t, _ in events] == ["lead.created", "lead.updated"]
    assert events[0][1]["lead"]["id"] == first.id
    assert events[1][1]["lead"]["company"] == "Acme Ltd"
    assert events[0][1]["conversation"]["session_id"] == "s1"


def test_an_event_rolls_back_with_its_change(db: Database) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), db.session() as session:
        outbox.enqueue(session, company_id="acme", type="lead.created", data={"x": 1})
        raise Boom
    assert _events(db) == []


def test_meeting_and_conversation_end_are_events(db: Database) -> None:
    start_conversation(db, company_id="acme", session_id="s2", transport="text")
    upsert_lead(db, "acme", _lead(), session_id="s2", channel="text")
    assert record_meeting_link(db, "acme", "ada@example.com", "https://cal.example/x")
    end_conversation(db, "s2")
    end_conversation(db, "s2")  # a second end is no second event
    types = [t for t, _ in _events(db)]
    assert types == ["lead.created", "meeting.requested", "conversation.ended"]
    ended = _events(db)[-1][1]
    assert ended["lead"]["email"] == "ada@example.com"
    assert ended["conversation"]["session_id"] == "s2"
    assert "summary" in ended["conversation"]


def test_lead_deleted_carries_only_identity(db: Database) -> None:
    lead = upsert_lead(db, "acme", _lead(phone="+4930123456"), session_id=None, channel="text")
    db.run(lambda s: lead_deleted(s, lead))
    kind, data = _events(db)[-1]
    assert kind == "lead.deleted"
    assert set(data["lead"]) == {"id", "company_id", "name", "email", "deleted"}


def test_a_repeated_write_of_the_same_change_is_one_event(db: Database) -> None:
    for _ in range(2):
        db.run(lambda s: outbox.enqueue(s, company_id="acme", type="lead.updated",
                                        data={}, key="same-change"))  # fmt: skip
    assert len(_events(db)) == 1


def test_fan_out_makes_one_delivery_per_subscribed_receiver(db: Database) -> None:
    upsert_lead(db, "acme", _lead(), session_id=None, channel="text")
    upsert_lead(db, "globex", _lead(), session_id=None, channel="text")
    subs = {"acme": ["https://a.example/h", "https://b.example/h"], "globex": []}
    assert outbox.fan_out(db, lambda company, _type: subs[company]) == 2
    assert outbox.fan_out(db, lambda company, _type: subs[company]) == 0
    endpoints = db.run(lambda s: s.execute(select(WebhookDelivery.endpoint)).scalars().all())
    assert sorted(endpoints) == ["https://a.example/h", "https://b.example/h"]


def test_a_claimed_delivery_is_leased(db: Database) -> None:
    db.run(lambda s: outbox.enqueue(s, company_id="acme", type="lead.created", data={}))
    outbox.fan_out(db, lambda *_: ["https://a.example/h"])
    first = outbox.claim(db, limit=10, lease_seconds=60)
    assert [c.attempt for c in first] == [1]
    assert outbox.claim(db, limit=10, lease_seconds=60) == []


def test_concurrent_senders_take_disjoint_rows(db: Database) -> None:
    def add(session):  # type: ignore[no-untyped-def]
        for i in range(60):
            outbox.enqueue(session, company_id="acme", type="lead.created", data={"i": i})

    db.run(add)
    outbox.fan_out(db, lambda *_: ["https://a.example/h"])
    taken: list[int] = []
    lock = threading.Lock()

    def sender() -> None:
        while True:
            got = outbox.claim(db, limit=5, lease_seconds=60)
            if not got:
                return
            with lock:
                taken.extend(c.id for c in got)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 60 and len(set(taken)) == 60


def test_retry_of_a_dead_letter_resets_it(db: Database) -> None:
    db.run(lambda s: outbox.enqueue(s, company_id="acme", type="lead.created", data={}))
    outbox.fan_out(db, lambda *_: ["https://a.example/h"])
    (item,) = outbox.claim(db, limit=1, lease_seconds=60)
    outbox.mark_failed(db, item, status=500, error="http_500", retry_in=None)
    (dead,) = outbox.list_deliveries(db, "acme", state="dead")
    assert not outbox.retry_dead(db, "globex", dead.id)  # another company's id: nothing
    assert outbox.retry_dead(db, "acme", dead.id)
    (again,) = outbox.claim(db, limit=1, lease_seconds=60)
    assert again.attempt == 1 and again.event_id == item.event_id
    counts = db.run(lambda s: s.execute(select(func.count()).select_from(WebhookDelivery)).scalar())
    assert counts == 1


def test_log_lead_claims_and_meeting_links_are_events(db: Database) -> None:
    from widget_api.crm import claims

    claims.log_lead_claims(db, "acme", "s3", _lead(), channel="text")
    claims.log_lead_claims(db, "acme", "s3", _lead(), channel="text")  # nothing new: no event
    claims.log_lead_claims(db, "acme", "s3", _lead(company="Acme Ltd"), channel="text")
    assert claims.record_meeting_link(db, "acme", "s3", None, "https://cal.example/y")
    types = [t for t, _ in _events(db)]
    assert types == ["lead.created", "lead.updated", "meeting.requested"]
    meeting = _events(db)[-1][1]
    assert meeting["meeting"]["url"] == "https://cal.example/y"
    assert meeting["lead"]["email"] == "ada@example.com"


def test_forgetting_a_person_removes_their_events_and_announces_the_deletion(
    db: Database,
) -> None:
    from widget_api.crm import claims
    from widget_api.crm.privacy import forget_person

    claims.log_lead_claims(db, "acme", "s4", _lead(), channel="text")
    claims.record_meeting_link(db, "acme", "s4", None, "https://cal.example/z")
    end_conversation(db, "s4")
    upsert_lead(db, "acme", _lead("bob@example.com"), session_id="s5", channel="text")
    counts = forget_person(db, "acme", "ada@example.com")
    assert counts["leads"] == 1 and counts["outbox_events"] == 3
    kinds = [(t, d["lead"]["email"]) for t, d in _events(db)]
    assert kinds == [("lead.created", "bob@example.com"), ("lead.deleted", "ada@example.com")]


def test_retention_purges_old_events(db: Database) -> None:
    from widget_api.crm.privacy import purge_older_than

    upsert_lead(db, "acme", _lead(), session_id=None, channel="text")
    assert purge_older_than(db, 0)["outbox_events"] == 1
    assert _events(db) == []
