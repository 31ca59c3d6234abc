"""The server on a call through the sideband (§3.4): tools, transcript, max duration, summary."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.fake_openai import FakeOpenAI, FunctionCall, OnResponseCreate, OnSpeech, Say, Turn
from widget_api.crm import record
from widget_api.crm.latency import session_turn_latencies
from widget_api.crm.models import Conversation
from widget_api.crm.record_models import TranscriptEntry
from widget_api.realtime.calls import CallControl, CallRegistry, CallSpec
from widget_api.services import Services

SESSION = {
    "type": "realtime",
    "audio": {"input": {"transcription": {"model": "gpt-live-transcribe"}}},
}


@pytest.fixture
def registry(base_services: Services, fake_openai: FakeOpenAI) -> Iterator[CallRegistry]:
    control = CallControl(fake_openai.api_key, fake_openai.base_url, timeout=5.0)
    calls = CallRegistry(base_services, control)
    yield calls
    calls.end_all(wait=3)


def _spec(services: Services, call_id: str, session_id: str, **kw: Any) -> CallSpec:
    company = services.companies.get("acme")
    record.start_or_resume(
        services.db, company_id="acme", session_id=session_id, transport="webrtc"
    )
    return CallSpec(call_id, company, session_id, "webrtc", kw.pop("max_seconds", 30), **kw)


def _lines(services: Services, session_id: str) -> list[tuple[str, str]]:
    with services.db.session() as session:
        rows = session.execute(
            select(TranscriptEntry.role, TranscriptEntry.text)
            .where(TranscriptEntry.session_id == session_id)
            .order_by(TranscriptEntry.id)
        ).all()
    return [(r, t) for r, t in rows]


def _call_record(fake: FakeOpenAI, call_id: str) -> Any:
    return next(r for r in fake.ws_sessions if r.call_id == call_id and r.transport == "sip")


def _conversation(services: Services, session_id: str) -> Conversation:
    with services.db.session() as session:
        return session.scalars(
            select(Conversation).where(Conversation.session_id == session_id)
        ).one()


def test_sideband_runs_tools_records_and_summarizes_on_end(
    fake_openai: FakeOpenAI, base_services: Services, registry: CallRegistry
) -> None:
    fake_openai.reset()
    fake_openai.script(
        [
            Turn(OnResponseCreate(), Say("Hi, this is Maya.", chunks=1)),
            Turn(
                OnSpeech("Is my data encrypted?", min_audio_ms=100),
                [
                    FunctionCall("search_knowledge", {"query": "encryption"}),
                    Say("Yes: {tool_output}", chunks=1),
                ],
            ),
        ],
        fallback=Say("The caller wants to know about encryption.", chunks=1),
    )
    call_id = fake_openai.answered_call(SESSION)
    agent = registry.start(_spec(base_services, call_id, "ws_sideband_1", greet=True))
    fake_openai.wait_for(lambda f: len(_call_record(f, call_id).responses) >= 1, timeout=10)
    fake_openai.sip_speak(call_id, 200)  # the caller asks once the greeting is over
    fake_openai.wait_for(lambda f: len(_call_record(f, call_id).responses) >= 3, timeout=15)
    assert agent.end("ended_by_visitor", wait=10)
    events = _call_record(fake_openai, call_id).events
    outputs = [e["item"] for e in events if e.get("type") == "conversation.item.create"]
    assert json.loads(outputs[0]["output"])["found"] is True
    lines = _lines(base_services, "ws_sideband_1")
    roles = [r for r, _ in lines]
    assert roles[:1] == ["assistant"] and "user" in roles and "tool" in roles
    assert ("user", "Is my data encrypted?") in lines
    summary_requests = [
        e for e in events
        if e.get("type") == "response.create" and (e.get("response") or {}).get("conversation")
    ]  # fmt: skip
    assert summary_requests[0]["response"]["conversation"] == "none"
    row = _conversation(base_services, "ws_sideband_1")
    assert row.end_reason == "ended_by_visitor"
    assert row.summary == "The caller wants to know about encryption."
    assert {"call_id": call_id, "action": "hangup", "body": {}} in fake_openai.call_actions
    # one sideband connection for the call, and the tool answer added little to the tool's time
    sidebands = [r for r in fake_openai.ws_sessions if r.transport == "sideband"]
    assert len(sidebands) == 1 and sidebands[0].auth == "api_key"
    assert agent.stats.tool_calls == 1 and statistics.median(agent.stats.tool_overhead_ms) < 50


def test_max_duration_hangs_up_with_a_summary(
    fake_openai: FakeOpenAI, base_services: Services, registry: CallRegistry
) -> None:
    fake_openai.reset()
    fake_openai.script([], fallback=Say("Short call.", chunks=1))
    call_id = fake_openai.answered_call(SESSION)
    agent = registry.start(_spec(base_services, call_id, "ws_sideband_2", max_seconds=0.5))
    assert agent.wait(10)
    assert agent.stats.end_reason == "max_duration"
    assert fake_openai.sip_call_status(call_id) == "ended"
    assert [a["action"] for a in fake_openai.call_actions if a["call_id"] == call_id] == ["hangup"]
    row = _conversation(base_services, "ws_sideband_2")
    assert (row.end_reason, row.summary) == ("max_duration", "Short call.")


def test_a_call_ended_elsewhere_ends_the_agent_without_hangup(
    fake_openai: FakeOpenAI, base_services: Services, registry: CallRegistry
) -> None:
    fake_openai.reset()
    call_id = fake_openai.answered_call(SESSION)
    agent = registry.start(_spec(base_services, call_id, "ws_sideband_3"))
    fake_openai.wait_for(lambda f: any(r.transport == "sideband" for r in f.ws_sessions))
    assert registry.start(_spec(base_services, call_id, "ws_sideband_3")) is agent  # one per call
    fake_openai.end_call(call_id)
    assert agent.wait(5) and agent.stats.end_reason == "call_ended"
    assert not [a for a in fake_openai.call_actions if a["call_id"] == call_id]


def test_a_sip_turn_through_a_tool_call_stores_one_row_with_both_first_figures(
    fake_openai: FakeOpenAI, base_services: Services, registry: CallRegistry
) -> None:
    fake_openai.reset()
    fake_openai.script(
        [
            Turn(OnResponseCreate(), Say("Hi, this is Maya.", chunks=1)),
            Turn(OnSpeech("Is my data encrypted?", min_audio_ms=100), [
                FunctionCall("search_knowledge", {"query": "encryption"}),
                Say("Yes: {tool_output}", chunks=2, delay_s=0.2),
            ]),
        ],
        fallback=Say("The caller asked about encryption.", chunks=1),
    )  # fmt: skip
    call_id = fake_openai.answered_call(SESSION)
    company = base_services.companies.get("acme")
    record.start_or_resume(base_services.db, company_id="acme", session_id="ws_sideband_sip",
                           transport="sip")  # fmt: skip
    agent = registry.start(CallSpec(call_id, company, "ws_sideband_sip", "sip", 30, greet=True))
    fake_openai.wait_for(lambda f: len(_call_record(f, call_id).responses) >= 1, timeout=10)
    fake_openai.sip_speak(call_id, 200)
    fake_openai.wait_for(lambda f: len(_call_record(f, call_id).responses) >= 3, timeout=15)
    assert agent.end("ended_by_visitor", wait=10)
    # The greeting answers no one and the summary is out of band; the tool call's response has
    # no audio or text, so the turn is measured at its answer, from the same end of speech.
    [(channel, turn, audio, text)] = session_turn_latencies(base_services.db, "ws_sideband_sip")
    assert (channel, turn) == ("sip", 1)
    assert audio is not None and text is not None and 200 <= audio <= text


class _Sent:
    """A sideband socket that only records what the agent sends."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def send(self, text: str) -> None:
        self.events.append(json.loads(text))


def test_a_tool_output_after_its_response_ended_still_asks_for_the_answer() -> None:
    from widget_api.realtime.call_agent import CallAgent, CallHooks

    hooks = CallHooks(
        connect=lambda _call: _Sent(),  # type: ignore[arg-type,return-value]
        run_tool=lambda _c, _n, _a: ('{"ok":true}', True),
        record=lambda _lines: None,
        finish=lambda _reason, _summary: None,
        hangup=lambda _call: None,
    )
    agent = CallAgent("call_1", hooks, max_seconds=30)
    socket = _Sent()
    item = {"type": "function_call", "call_id": "c1", "name": "get_demo_clip", "arguments": "{}"}
    # No response is active (its response.done came first): the agent must ask for the answer
    # itself, or the caller hears silence after the tool ran.
    agent._handle(socket, {"type": "response.output_item.done", "item": item})  # type: ignore[arg-type]
    assert [e["type"] for e in socket.events] == ["conversation.item.create", "response.create"]
