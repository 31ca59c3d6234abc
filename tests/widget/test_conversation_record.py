"""The conversation record over the real socket: transcript, page, resume token, summary.

Text conversations run on the local engine (no key); a voice/text relay conversation runs
against the loopback Realtime fake, whose out-of-band response carries the sales summary.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from websockets.sync.client import connect

from tests.fake_openai import FakeOpenAI, OnResponseCreate, OnUserText, Say, Turn
from tests.widget.conftest import recv_until, serve, user_text_events
from widget_api.crm.claims import lead_claims
from widget_api.crm.leads import list_leads
from widget_api.crm.record import conversation_record, conversations_for_lead


def _answered(event: dict[str, Any]) -> bool:
    return event["type"] == "response.done"


@pytest.fixture(scope="module")
def text_base(make_app: Any) -> Iterator[str]:
    with serve(make_app(resume_window_seconds=1800)) as base:
        yield base


def _open(base: str, query: str = "mode=text") -> Any:
    ws_url = base.replace("http://", "ws://") + "/ws/realtime/acme?" + query
    return connect(ws_url, origin=base, open_timeout=5)


def _say(ws: Any, text: str) -> list[dict[str, Any]]:
    for frame in user_text_events(text):
        ws.send(frame)
    return recv_until(ws, _answered, timeout=30)


def _session_event(ws: Any) -> dict[str, Any]:
    return recv_until(ws, lambda e: e["type"] == "widget.session")[-1]


def _wait(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_booking_first_then_details_after_a_reload_makes_one_complete_lead(
    text_base: str, widget_services: Any
) -> None:
    email = f"jane-{time.time_ns()}@example.com"
    with _open(text_base) as ws:
        first = _session_event(ws)
        assert first["resumed"] is False and first["resume_token"]
        ws.send(json.dumps({"type": "widget.context", "page_url": "https://shop.example/pricing",
                            "referrer": "https://search.example/", "privacy_accepted": True}))
        events = _say(ws, "Can I book a demo with your team?")
        assert any(e["type"] == "widget.tool_result" and e["name"] == "create_meeting_link"
                   and e["ok"] for e in events)  # fmt: skip
    # A reload: the page comes back with its token and carries on.
    with _open(text_base, f"mode=text&resume_token={first['resume_token']}") as ws:
        again = _session_event(ws)
        assert again["resumed"] is True
        assert any("book a demo" in line["text"] for line in again["history"])
        notice = recv_until(ws, lambda e: e["type"] == "widget.notice")[-1]
        assert not notice.get("message")  # no second introduction
        events = _say(ws, f"I'm Jane Doe, {email}. We have about 60 agents.")
        saved = [e for e in events if e["type"] == "widget.tool_result" and e["name"] == "log_lead"]
        assert saved and saved[0]["ok"] and saved[0]["result"]["email"] == email
    [lead] = list_leads(widget_services.db, company_id="acme", search=email)
    assert lead.meeting_link and "calendly" in lead.meeting_link
    assert lead.team_size == "about 60 agents"
    [claim] = [c for c in lead_claims(widget_services.db, lead.id) if c.field == "team_size"]
    assert claim.evidence == f"I'm Jane Doe, {email}. We have about 60 agents."
    [record] = conversations_for_lead(widget_services.db, lead.id)
    # The answer's lines are written just after its last event: wait for the end's final flush.
    ended = _wait(lambda: (r := conversation_record(widget_services.db, record.session_id))
                  and r.ended_at and r)  # fmt: skip
    assert ended.outcome == "meeting_link" and ended.summary
    record = ended
    assert record.session_id and record.page_url == "https://shop.example/pricing"
    assert record.referrer == "https://search.example/" and record.privacy_accepted_at
    texts = [line.text for line in record.transcript if line.role == "user"]
    assert texts[0] == "Can I book a demo with your team?" and len(texts) == 2
    assert {line.tool_name for line in record.transcript if line.role == "tool"} >= {
        "create_meeting_link", "log_lead",
    }  # fmt: skip


def test_a_forged_or_foreign_token_starts_a_new_conversation(text_base: str) -> None:
    with _open(text_base, "mode=text&resume_token=abc.def") as ws:
        assert _session_event(ws)["resumed"] is False


def test_an_idle_close_can_be_resumed(make_app: Any) -> None:
    with serve(make_app(relay_idle_timeout_seconds=1)) as base:
        with _open(base) as ws:
            token = _session_event(ws)["resume_token"]
            _say(ws, "My name is Ada Lovelace, ada@example.com")
            idle = recv_until(ws, lambda e: e["type"] == "error", timeout=10)[-1]
            assert idle["error"]["code"] == "session_idle"
        with _open(base, f"mode=text&resume_token={token}") as ws:
            assert _session_event(ws)["resumed"] is True
            reply = _say(ws, "Can I book a meeting?")
            done = next(e for e in reply if e["type"] == "response.output_text.done")
            assert "what's your name" not in done["text"].lower()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def test_relayed_conversation_records_both_sides_and_the_models_summary(
    make_app: Any, fake: FakeOpenAI, widget_services: Any
) -> None:
    fake.script([
        Turn(OnUserText(), Say("Growth costs 69 dollars per agent.")),
        Turn(OnResponseCreate(), Say("Visitor asked about Growth pricing; no lead yet.")),
    ])  # fmt: skip
    app = make_app(openai_api_key=SecretStr(fake.api_key), openai_base_url=fake.base_url)
    with serve(app) as base, _open(base) as ws:
        session = _session_event(ws)
        _say(ws, "What does the Growth plan cost?")
        assert session["resume_token"]
    summary_requests = _wait(lambda: [
        r for s in fake.ws_sessions for r in s.responses
        if (r.get("metadata") or {}).get("purpose") == "widget.summary"
    ])  # fmt: skip
    assert summary_requests

    def stored() -> Any:
        from sqlalchemy import select

        from widget_api.crm.models import Conversation

        with widget_services.db.session(readonly=True) as s:
            row = s.scalars(select(Conversation).order_by(Conversation.id.desc())).first()
        return row if row and row.summary and "Growth pricing" in row.summary else None

    row = _wait(stored)
    assert row is not None and row.transports == "relay-text"
    record = conversation_record(widget_services.db, row.session_id)
    assert record is not None
    assert [(line.role, line.text) for line in record.transcript] == [
        ("user", "What does the Growth plan cost?"),
        ("assistant", "Growth costs 69 dollars per agent."),
    ]


def test_a_long_question_is_answered_not_refused(text_base: str) -> None:
    question = (
        "We are a support team of about forty people spread over three time zones and we"
        " currently answer email, chat and phone in separate tools, which means tickets get"
        " lost and customers repeat themselves; I would like to understand whether your"
        " platform can put all of those channels into one shared inbox, how the pricing of"
        " the Growth plan works per agent, and whether there is a free trial we could use?"
    )
    assert len(question) > 361
    with _open(text_base) as ws:
        events = _say(ws, question)
    done = next(e for e in events if e["type"] == "response.output_text.done")
    assert "can't reach our documentation" not in done["text"]
    result = next(e for e in events if e["type"] == "widget.tool_result")
    assert result["name"] == "search_knowledge" and result["ok"] is True


def test_the_realtime_models_log_lead_updates_the_lead_with_the_visitors_words(
    make_app: Any, fake: FakeOpenAI, widget_services: Any
) -> None:
    from tests.fake_openai import FunctionCall

    email = f"rt-{time.time_ns()}@example.com"
    said = f"I'm Ravi Tan, {email}. We run about 45 agents and use Freshdesk."
    fake.script([Turn(OnUserText(), [
        FunctionCall("log_lead", {"name": "Ravi Tan", "email": email, "interest": "Growth",
                                  "team_size": "45 agents", "current_tool": "Freshdesk"}),
        Say("Thanks Ravi, saved."),
    ])])  # fmt: skip
    app = make_app(openai_api_key=SecretStr(fake.api_key), openai_base_url=fake.base_url)
    with serve(app) as base, _open(base) as ws:
        _session_event(ws)
        for frame in user_text_events(said):
            ws.send(frame)
        recv_until(ws, lambda e: e["type"] == "widget.tool_result" and e["name"] == "log_lead")
    [lead] = _wait(lambda: list_leads(widget_services.db, company_id="acme", search=email))
    assert (lead.team_size, lead.current_tool) == ("45 agents", "Freshdesk")
    evidence = {c.field: c.evidence for c in lead_claims(widget_services.db, lead.id)}
    assert evidence["current_tool"] == said and evidence["name"] == said
