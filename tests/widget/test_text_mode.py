"""Text mode with no OpenAI key: the local engine answers on the relay endpoint."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from websockets.sync.client import connect

from tests.widget.conftest import recv_until, serve, user_text_events
from widget_api.crm.leads import list_leads
from widget_api.crm.models import Conversation


def _conversations(services: Any) -> dict[str, tuple[str, int, bool]]:
    with services.db.session() as session:
        rows = session.scalars(select(Conversation)).all()
        return {r.session_id: (r.transport, r.turns, r.ended_at is not None) for r in rows}


@pytest.fixture(scope="module")
def base_url(make_app: Any) -> Iterator[str]:
    with serve(make_app()) as base:
        yield base


def test_local_engine_answers_and_captures_the_lead(base_url: str, widget_services: Any) -> None:
    url = base_url.replace("http://", "ws://") + "/ws/realtime/acme?mode=text"
    email = f"sam.{uuid.uuid4().hex[:6]}@globex.example"
    before = _conversations(widget_services)
    with connect(url, origin=base_url, open_timeout=5) as ws:
        notice = recv_until(ws, lambda e: e["type"] == "widget.notice")[-1]
        # The page already greets as the text assistant (textGreeting): no second introduction.
        assert notice["code"] == "realtime_unavailable" and not notice.get("message")
        for frame in user_text_events("Do you offer a free trial?"):
            ws.send(frame)
        events = recv_until(ws, lambda e: e["type"] == "response.done")
        done = next(e for e in events if e["type"] == "response.output_text.done")
        assert "14" in done["text"]
        card = next(e for e in events if e["type"] == "widget.tool_result")
        assert card["name"] == "search_knowledge" and card["sources"]
        for frame in user_text_events(f"I'm Sam Carter, {email}"):
            ws.send(frame)
        events = recv_until(ws, lambda e: e["type"] == "response.done")
        assert any(
            e["type"] == "widget.tool_result" and e["name"] == "log_lead" and e["ok"]
            for e in events
        )
    leads = list_leads(widget_services.db, company_id="acme", search=email)
    assert [lead.name for lead in leads] == ["Sam Carter"]
    # The conversation is on record: transport, two turns, ended once the page left.
    deadline = time.monotonic() + 10
    while True:
        new = [v for k, v in _conversations(widget_services).items() if k not in before]
        if new and new[0][2] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert new == [("local-text", 2, True)]
