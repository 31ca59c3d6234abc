"""Delivering: signed requests, retries with a stable id, dead letters, the SSRF refusal."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from knowledge.loaders.web import pinned_request
from scripts.webhook_receiver import WebhookReceiver
from tests.delivery.conftest import SECRET, make_sender
from widget_api.crm.db import Database
from widget_api.crm.delivery_models import WebhookDelivery
from widget_api.crm.leads import LeadFields, upsert_lead
from widget_api.delivery import outbox
from widget_api.delivery import sender as sender_module
from widget_api.delivery.sender import Refused, Sender, guarded_target


def _states(db: Database) -> list[tuple[str, int, str | None]]:
    stmt = select(WebhookDelivery.state, WebhookDelivery.attempts, WebhookDelivery.last_error)
    return [tuple(r) for r in db.run(lambda s: s.execute(stmt).all())]


def _drain(sender: Sender, *, until: float = 10.0) -> None:
    """Run the sender until nothing is pending (retries are scheduled a few ms ahead)."""
    deadline = time.monotonic() + until
    while time.monotonic() < deadline:
        sender.run_once()
        if all(state != "pending" for state, _, _ in _states(sender.db)):
            return
        time.sleep(0.02)
    raise AssertionError(f"still pending: {_states(sender.db)}")


def _lead(db: Database) -> int:
    lead = upsert_lead(db, "acme", LeadFields(name="Ada", email="ada@example.com"),
                       session_id="s1", channel="text")  # fmt: skip
    return lead.id


def test_delivery_is_signed_and_carries_lead_and_admin_link(
    db: Database, receiver: WebhookReceiver
) -> None:
    lead_id = _lead(db)
    sender = make_sender(db, [receiver.url])
    _drain(sender)
    assert _states(db) == [("delivered", 1, None)]
    (msg_id,) = receiver.accepted
    payload = receiver.payloads[msg_id]
    assert payload["type"] == "lead.created"
    assert payload["data"]["lead"]["email"] == "ada@example.com"
    assert (
        payload["data"]["lead"]["admin_url"] == f"https://widget.example/admin/acme/leads/{lead_id}"
    )
    assert receiver.bad_signatures == 0
    assert receiver.headers[msg_id]["webhook-signature"].startswith("v1,")


def test_failures_are_retried_with_the_same_webhook_id(db: Database) -> None:
    script = {1: "fail", 2: "fail", 3: "ok"}
    with WebhookReceiver(SECRET, script=lambda _id, nth: script[nth]) as receiver:
        _lead(db)
        _drain(make_sender(db, [receiver.url]))
    assert _states(db) == [("delivered", 3, None)]
    assert list(receiver.attempts.values()) == [3]  # three tries, one id


def test_a_timeout_is_retried_and_the_duplicate_is_dropped_by_id(db: Database) -> None:
    first_hangs = lambda _id, nth: "hang" if nth == 1 else "ok"  # noqa: E731
    with WebhookReceiver(SECRET, hang_seconds=1.5, script=first_hangs) as receiver:
        _lead(db)
        _drain(make_sender(db, [receiver.url], timeout_seconds=0.5))
        time.sleep(1.2)  # let the hung request finish its (late) work
    assert _states(db)[0][:2] == ("delivered", 2)
    assert len(receiver.accepted) == 1 and receiver.duplicates == 1


def test_after_max_attempts_a_delivery_is_a_dead_letter(db: Database) -> None:
    with WebhookReceiver(SECRET, script=lambda *_: "fail") as receiver:
        _lead(db)
        _drain(make_sender(db, [receiver.url], max_attempts=3))
    assert _states(db) == [("dead", 3, "http_500")]
    (dead,) = outbox.list_deliveries(db, "acme", state="dead")
    assert dead.type == "lead.created"


def test_a_retried_dead_letter_is_delivered(db: Database, receiver: WebhookReceiver) -> None:
    receiver.script = lambda *_: "fail"
    _lead(db)
    sender = make_sender(db, [receiver.url], max_attempts=2)
    _drain(sender)
    (dead,) = outbox.list_deliveries(db, "acme", state="dead")
    receiver.script = None
    assert outbox.retry_dead(db, "acme", dead.id)
    _drain(sender)
    assert _states(db) == [("delivered", 1, None)]


def test_unreachable_receiver_backlog_is_hurried_when_it_answers_again(db: Database) -> None:
    receiver = WebhookReceiver(SECRET).start()
    port, url = receiver.port, receiver.url
    receiver.stop()
    _lead(db)
    sender = make_sender(db, [url], backoff_seconds=60, backoff_max_seconds=60)
    sender.run_once()  # connection refused: next try in ~a minute
    assert _states(db) == [("pending", 1, "connect_error")]
    with WebhookReceiver(SECRET, port=port) as back:
        db.run(lambda s: outbox.enqueue(s, company_id="acme", type="lead.updated", data={}))
        sender.run_once()  # the new event succeeds, which makes the backlog due now
        sender.run_once()
        assert len(back.accepted) == 2


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/hook", "https://127.0.0.1/hook", "https://localhost/hook",
     "https://10.1.2.3/hook", "https://[::1]/hook", "https://169.254.169.254/latest"],
)  # fmt: skip
def test_private_and_loopback_targets_are_refused(url: str) -> None:
    with pytest.raises(Refused):
        guarded_target(url, allow_private=False)


def test_refused_target_becomes_a_dead_letter_without_a_request(
    db: Database, receiver: WebhookReceiver
) -> None:
    _lead(db)
    _drain(make_sender(db, [receiver.url], allow_private=False))
    assert _states(db) == [("dead", 1, "target_refused")]
    assert not receiver.arrived.is_set()


def test_public_host_is_pinned_to_its_vetted_address(monkeypatch: pytest.MonkeyPatch) -> None:
    # A rebinding DNS server answers a public address to the check and a private one later:
    # the request must go to the address that was checked, naming the host in Host and SNI.
    import socket

    answers = iter(["93.184.216.34", "127.0.0.1"])

    def fake_getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    target, options = guarded_target("https://hooks.example.com/in", allow_private=False)
    assert target == "https://93.184.216.34/in"
    assert options["headers"]["Host"] == "hooks.example.com"
    assert options["extensions"]["sni_hostname"] == "hooks.example.com"


def _wait(condition, what: str, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _sender_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("webhook"))


def test_hung_requests_hold_slots_not_threads_and_the_rest_goes_through(db: Database) -> None:
    hung = {outbox.event_id_for(f"hang:{i}") for i in range(24)}
    plan = lambda msg_id, _nth: "stall" if msg_id in hung else "ok"  # noqa: E731

    def add(session):  # type: ignore[no-untyped-def]
        for i in range(24):  # first in line, so they take their slots first
            outbox.enqueue(session, company_id="acme", type="lead.created", data={},
                           key=f"hang:{i}")  # fmt: skip
        return [outbox.enqueue(session, company_id="acme", type="lead.updated", data={"i": i})
                for i in range(10)]  # fmt: skip

    with WebhookReceiver(SECRET, script=plan, hang_seconds=30) as receiver:
        normal = set(db.run(add))
        before = _sender_threads()
        running = make_sender(db, [receiver.url], concurrency=32, timeout_seconds=30).start()
        _wait(lambda: set(receiver.accepted) == normal, "the deliveries that answer")
        _wait(lambda: sum(receiver.attempts[i] for i in hung) == 24, "every hung request")
        # All 24 still hang (none answered) while the other ten were accepted, and the
        # sender's threads are its loop and small I/O pool, not one per request.
        assert not hung & set(receiver.accepted)
        assert _sender_threads() - before <= 9
        running.stop(timeout=1.0)


def test_a_pinned_request_reaches_the_vetted_address_naming_the_host(
    db: Database, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The host does not resolve to this machine: only the pinned address can reach it.
    url = f"http://hooks.example.com:{receiver.port}/hooks"
    monkeypatch.setattr(
        sender_module, "guarded_target", lambda u, _allow: pinned_request(u, "127.0.0.1")
    )
    _lead(db)
    _drain(make_sender(db, [url]))
    assert _states(db) == [("delivered", 1, None)]
    (msg_id,) = receiver.accepted
    assert receiver.headers[msg_id]["host"] == f"hooks.example.com:{receiver.port}"
