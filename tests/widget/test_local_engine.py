"""The local text engine against the real knowledge base (demo docs ingested on tmp_path)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from widget_api.crm.leads import list_leads
from widget_api.local_engine import LocalEngine
from widget_api.tools.base import ToolContext


@pytest.fixture
def conversation(widget_services: Any):  # type: ignore[no-untyped-def]
    """Send messages to a fresh engine; returns (reply text, tool results) per message."""
    company = widget_services.companies.get("acme")
    ctx = ToolContext(company=company, session_id=f"t_{uuid.uuid4().hex}", channel="text")
    engine = LocalEngine(
        display_name=company.display_name,
        run_tool=lambda call_id, name, args: widget_services.tools.run(ctx, call_id, name, args),
        encoder=widget_services.embedder,
    )

    def say(text: str) -> tuple[str, dict[str, dict[str, Any]]]:
        events: list[dict[str, Any]] = []
        engine.respond(text, events.append)
        done = [e for e in events if e["type"] == "response.output_text.done"]
        assert len(done) == 1 and events[-1]["type"] == "response.done"
        tools = {e["name"]: e for e in events if e["type"] == "widget.tool_result"}
        return done[0]["text"], tools

    return say


def test_pricing_question_is_answered_with_sentences_and_its_source(conversation) -> None:  # type: ignore[no-untyped-def]
    text, tools = conversation("How much does the Growth plan cost per agent?")
    assert "$69" in text
    sources = tools["search_knowledge"]["sources"]
    assert any("pricing" in (s["title"] + s["source"]).lower() for s in sources)
    # Extracted sentences, not a dumped chunk.
    assert len(text) < 600


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Do you integrate with Salesforce?", "salesforce"),
        ("Is our data encrypted?", "encrypt"),
    ],
)
def test_questions_route_to_search_knowledge(conversation, question: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    text, tools = conversation(question)
    assert tools["search_knowledge"]["ok"] is True
    assert expected in text.lower()


def test_off_topic_question_is_not_guessed(conversation) -> None:  # type: ignore[no-untyped-def]
    text, tools = conversation("What is the boiling point of tungsten on Mars?")
    assert tools["search_knowledge"]["sources"] == []
    assert "couldn't find" in text


def test_clip_request_shows_the_matching_clip(conversation) -> None:  # type: ignore[no-untyped-def]
    _text, tools = conversation("Can you show me a video of the unified inbox?")
    result = tools["get_demo_clip"]
    assert result["ok"] is True and result["result"]["clip"]["id"] == "unified-inbox"


def test_meeting_request_returns_a_booking_link(conversation) -> None:  # type: ignore[no-untyped-def]
    _text, tools = conversation("I'd like to book a meeting with sales")
    assert tools["create_meeting_link"]["result"]["url"].startswith("https://calendly.com/")


def test_name_and_email_across_turns_create_a_lead(conversation, widget_services) -> None:  # type: ignore[no-untyped-def]
    email = f"jane.{uuid.uuid4().hex[:6]}@initech.example"
    text, tools = conversation("My name is Jane Doe")
    assert "log_lead" not in tools and "email" in text.lower()
    text, tools = conversation(f"You can reach me at {email}")
    assert tools["log_lead"]["ok"] is True
    leads = list_leads(widget_services.db, company_id="acme", search=email)
    assert [(lead.name, lead.email) for lead in leads] == [("Jane Doe", email)]


def test_it_says_it_is_a_text_assistant(conversation) -> None:  # type: ignore[no-untyped-def]
    text, tools = conversation("Are you a bot?")
    assert "text assistant" in text and not tools
