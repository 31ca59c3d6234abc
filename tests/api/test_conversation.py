"""wire_conversation and relay_setup: one conversation's parts from the app's services."""

from __future__ import annotations

from typing import Any

from widget_api.admission import Admission, MeteredConversationLog
from widget_api.continuity import Resumed
from widget_api.conversation import relay_setup, wire_conversation
from widget_api.services import Services


def test_a_new_conversation_gets_a_fresh_id_and_the_tools_in_its_session(
    base_services: Services,
) -> None:
    acme = base_services.companies.get("acme")
    first = wire_conversation(base_services, acme, channel="voice")
    second = wire_conversation(base_services, acme, channel="voice")
    assert first.session_id.startswith("ws_") and first.session_id != second.session_id
    assert first.session["tools"] == first.tools
    assert {tool["name"] for tool in first.tools} >= {"search_knowledge", "log_lead"}


def test_a_resumed_conversation_keeps_its_id_and_tells_the_model_what_was_said(
    base_services: Services,
) -> None:
    acme = base_services.companies.get("acme")
    resumed = Resumed("ws_earlier", [("user", "We are 40 people on Zendesk.")], None)
    parts = wire_conversation(base_services, acme, channel="text", resumed=resumed)
    assert parts.session_id == "ws_earlier"
    assert "40 people on Zendesk" in parts.session["instructions"]
    assert parts.recorder.resumed


def test_the_tool_runner_answers_for_this_conversation(base_services: Services) -> None:
    parts = wire_conversation(base_services, base_services.companies.get("acme"), channel="text")
    found = parts.run_tool("call_w1", "search_knowledge", '{"query": "pricing"}')
    refused = parts.run_tool("call_w2", "search_knowledge", '{"query": 3}')
    assert (found.ok, refused.ok, refused.error_code) == (True, False, "tool_arguments_invalid")


def test_a_refused_budget_leaves_the_relay_without_an_upstream(base_services: Services) -> None:
    acme = base_services.companies.get("acme")
    parts = wire_conversation(base_services, acme, channel="voice")
    setup = relay_setup(base_services, acme, parts, refusal="voice_budget_spent")
    assert (setup.api_key, setup.fallback_reason) == (None, "voice_budget_spent")
    assert setup.session is parts.session and setup.recorder is parts.recorder


def test_an_admitted_conversation_runs_to_its_reservation_and_settles_it(
    base_services: Services,
) -> None:
    acme = base_services.companies.get("acme")
    parts = wire_conversation(base_services, acme, channel="voice")
    settled: list[Any] = []
    admission = Admission(max_seconds=90, reserved_seconds=90, _refund=settled.append)
    setup = relay_setup(base_services, acme, parts, admission=admission)
    assert setup.api_key is not None
    assert setup.limits.max_session_seconds == 90
    assert isinstance(setup.conversation, MeteredConversationLog)
    setup.conversation.started("relay-voice")
    setup.conversation.ended()  # what it did not use goes back to the day's voice minutes
    assert len(settled) == 1 and 0 < settled[0] <= 90
