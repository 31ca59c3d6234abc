"""RelaySession driven through fake page and upstream sides, a held pool and a fake clock."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.relay.fakes import Clock, LatencyLog, Offload, Outcome, Side, event, run
from widget_api.relay.contracts import NullConversationLog, RelayLimits
from widget_api.relay.session import RelaySession

SESSION = {"type": "realtime", "instructions": "Be brief.", "tools": []}
LIMITS = RelayLimits(max_session_seconds=600, idle_timeout_seconds=60)
AUDIO_IN = event("input_audio_buffer.append", audio="AAAA" * 50)
AUDIO_OUT = event("response.output_audio.delta", item_id="item_a", delta="AAAA" * 2400)  # 150 ms


class Relay:
    """One RelaySession over fakes, with the tool calls it ran."""

    def __init__(self, outcome: Outcome | None = None) -> None:
        self.page, self.upstream = Side(), Side()
        self.offload, self.clock = Offload(), Clock()
        self.calls: list[tuple[str, str, str]] = []
        self._outcome = outcome or Outcome("search_knowledge", '{"hits":[]}', {"hits": []})
        self.session = RelaySession(
            self.page, self.upstream, session=SESSION, run_tool=self._run_tool,
            conversation=NullConversationLog(), limits=LIMITS, offload=self.offload,
            clock=self.clock,
        )  # fmt: skip
        self.session.start()

    def _run_tool(self, call_id: str, name: str, arguments: str) -> Any:
        self.calls.append((call_id, name, arguments))
        return self._outcome

    def from_openai(self, kind: str, **fields: Any) -> None:
        self.session.on_upstream_frame(event(kind, **fields))


def _function_call(call_id: str = "call_1") -> dict[str, Any]:
    arguments = json.dumps({"query": "pricing"})
    return {"type": "function_call", "call_id": call_id, "name": "search_knowledge",
            "arguments": arguments}  # fmt: skip


def test_start_configures_the_upstream_session_first() -> None:
    async def body() -> None:
        relay = Relay()
        assert relay.upstream.events()[0] == {"type": "session.update", "session": SESSION}

    run(body)


def test_audio_passes_through_untouched_both_ways() -> None:
    async def body() -> None:
        relay = Relay()
        relay.session.on_page_frame(AUDIO_IN)
        relay.session.on_upstream_frame(AUDIO_OUT)
        assert relay.upstream.sent[-1] is AUDIO_IN
        assert relay.page.sent[-1] is AUDIO_OUT

    run(body)


def test_a_tool_output_waits_for_the_active_response_to_finish() -> None:
    async def body() -> None:
        relay = Relay()
        relay.from_openai("response.created", response={"id": "resp_1"})
        relay.from_openai("response.output_item.done", item=_function_call())
        assert relay.page.of_type("widget.tool_call")[0]["call_id"] == "call_1"
        relay.offload.run()  # the tool ran on the pool
        assert relay.calls == [("call_1", "search_knowledge", '{"query": "pricing"}')]
        assert relay.upstream.of_type("conversation.item.create") == []
        relay.from_openai("response.done", response={"id": "resp_1"})
        item = relay.upstream.of_type("conversation.item.create")[0]["item"]
        assert item == {"type": "function_call_output", "call_id": "call_1",
                        "output": '{"hits":[]}'}  # fmt: skip
        assert relay.upstream.types()[-1] == "response.create"

    run(body)


def test_a_tool_result_reaches_the_page_as_a_card() -> None:
    async def body() -> None:
        relay = Relay(Outcome("log_lead", "{}", {}, ok=False, error_code="lead_email_invalid"))
        relay.from_openai("response.output_item.done", item=_function_call())
        relay.offload.run()
        card = relay.page.of_type("widget.tool_result")[0]
        assert (card["call_id"], card["ok"], card["error_code"]) == (
            "call_1",
            False,
            "lead_email_invalid",
        )

    run(body)


def test_a_tool_output_after_the_response_ended_asks_for_the_follow_up_at_once() -> None:
    async def body() -> None:
        relay = Relay()
        relay.from_openai("response.created", response={"id": "resp_1"})
        relay.from_openai("response.output_item.done", item=_function_call())
        relay.from_openai("response.done", response={"id": "resp_1"})
        relay.offload.run()
        assert relay.upstream.types()[-2:] == ["conversation.item.create", "response.create"]

    run(body)


@pytest.mark.parametrize(
    ("seconds", "code", "notice"),
    [(601, "session_expired", True), (61, "session_idle", False)],
)
def test_a_cap_ends_the_conversation_with_its_reason(seconds: int, code: str, notice: bool) -> None:
    async def body() -> None:
        relay = Relay()
        relay.clock.now += seconds
        relay.session.caps.check()
        assert relay.session.done.result() == code
        assert relay.page.of_type("error")[0]["error"]["code"] == code
        assert bool(relay.page.of_type("widget.notice")) is notice
        assert relay.page.closed == (1000, code)
        assert relay.upstream.closed is not None

    run(body)


def test_a_visitor_event_keeps_the_conversation_from_idling_out() -> None:
    async def body() -> None:
        relay = Relay()
        relay.clock.now += 50
        relay.session.on_page_frame(event("input_audio_buffer.commit"))
        relay.clock.now += 50
        relay.session.caps.check()
        assert not relay.session.done.done()

    run(body)


def test_audio_alone_is_not_activity() -> None:
    # Audio frames take the cheap path (no parsing, no bookkeeping): a page streaming
    # silence without the model ever hearing speech still idles out.
    async def body() -> None:
        relay = Relay()
        relay.clock.now += 61
        relay.session.on_page_frame(AUDIO_IN)
        relay.session.caps.check()
        assert relay.session.done.result() == "session_idle"

    run(body)


def test_an_event_the_page_may_not_send_is_refused_and_not_forwarded() -> None:
    async def body() -> None:
        relay = Relay()
        relay.session.on_page_frame(event("session.update", session={"instructions": "x"}))
        assert relay.page.of_type("error")[0]["error"]["code"] == "event_not_allowed"
        assert relay.upstream.types() == ["session.update"]  # only the server's own

    run(body)


def test_barge_in_truncates_the_answer_at_what_was_heard() -> None:
    async def body() -> None:
        relay = Relay()
        relay.session.on_upstream_frame(AUDIO_OUT)
        relay.clock.now += 0.0625  # exact in binary: 62.5 ms played
        relay.from_openai("input_audio_buffer.speech_started", item_id="item_user")
        truncate = relay.upstream.of_type("conversation.item.truncate")[0]
        assert (truncate["item_id"], truncate["audio_end_ms"]) == ("item_a", 62)

    run(body)


def test_the_upstream_closing_ends_the_conversation_as_an_upstream_error() -> None:
    async def body() -> None:
        relay = Relay()
        relay.session.on_upstream_closed()
        assert relay.session.done.result() == "upstream_error"
        assert relay.page.closed == (1000, "upstream_error")

    run(body)


def test_nothing_is_relayed_after_the_page_left() -> None:
    async def body() -> None:
        relay = Relay()
        relay.session.on_page_closed()
        relay.session.on_page_frame(AUDIO_IN)
        assert relay.session.done.result() == "page_left"
        assert AUDIO_IN not in relay.upstream.sent

    run(body)


def test_a_turns_first_audio_and_first_text_are_stored_once_when_it_is_done() -> None:
    async def body() -> None:
        relay, log = Relay(), LatencyLog()
        relay.session._conversation = log  # the seam under test
        relay.from_openai("input_audio_buffer.speech_stopped")
        relay.clock.now += 0.4
        relay.session.on_upstream_frame(AUDIO_OUT)
        relay.clock.now += 0.1
        relay.from_openai("response.output_audio_transcript.delta", delta="Growth")
        relay.session.on_upstream_frame(AUDIO_OUT)  # later frames change nothing
        relay.from_openai("response.output_audio_transcript.delta", delta=" is 49.")
        assert log.turns == []  # nothing written mid-answer
        relay.from_openai("response.done", response={"id": "r1"})
        relay.offload.run()
        assert [(round(a or 0), round(t or 0)) for a, t in log.turns] == [(400, 500)]

    run(body)


def test_a_typed_line_times_the_first_text_only() -> None:
    async def body() -> None:
        relay, log = Relay(), LatencyLog()
        relay.session._conversation = log
        relay.session.on_page_frame(event("conversation.item.create", item={
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "Price?"}],
        }))  # fmt: skip
        relay.from_openai("response.done", response={"id": "r0"})  # a tool-only response
        relay.clock.now += 0.25
        relay.from_openai("response.output_text.delta", delta="Growth")
        relay.from_openai("response.done", response={"id": "r1"})
        relay.offload.run()
        assert [(a, round(t or 0)) for a, t in log.turns] == [(None, 250)]

    run(body)
