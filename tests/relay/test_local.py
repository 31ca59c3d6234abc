"""LocalSession (text answered by the local engine) driven through a fake page and engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from tests.relay.fakes import Clock, LatencyLog, Offload, Side, event, run
from widget_api.relay.contracts import NullConversationLog, RelayLimits
from widget_api.relay.local import LocalSession

LIMITS = RelayLimits(max_session_seconds=600, idle_timeout_seconds=60)
USER_TEXT = event("conversation.item.create", item={
    "type": "message", "role": "user", "content": [{"type": "input_text", "text": "Price?"}],
})  # fmt: skip


class Engine:
    """Answers every question with one text event (the local engine's seam)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def observe_tools(self, observer: Any) -> None:
        return None

    def restore(self, history: Any, contact: Any) -> None:
        return None

    def introduction(self) -> str:
        return "I am the text assistant."

    def respond(self, text: str, emit: Callable[[dict[str, Any]], None]) -> None:
        self.asked.append(text)
        emit({"type": "response.output_text.done", "text": "Growth is 49 dollars."})


class Local:
    def __init__(self, reason: str = "realtime_unavailable") -> None:
        self.page, self.offload, self.clock, self.engine = Side(), Offload(), Clock(), Engine()
        self.session = LocalSession(
            self.page, cast(Any, self.engine), conversation=NullConversationLog(),
            limits=LIMITS, offload=self.offload, reason=reason, clock=self.clock,
        )  # fmt: skip
        self.session.start()


def test_start_tells_the_page_why_it_is_in_text() -> None:
    async def body() -> None:
        local = Local()
        notice = local.page.of_type("widget.notice")[0]
        assert (notice["code"], notice.get("message")) == ("realtime_unavailable", None)

    run(body)


def test_a_fallback_from_voice_introduces_the_text_assistant() -> None:
    async def body() -> None:
        local = Local(reason="upstream_error")
        assert local.page.of_type("widget.notice")[0]["message"] == "I am the text assistant."

    run(body)


def test_a_question_is_answered_after_response_create() -> None:
    async def body() -> None:
        local = Local()
        local.session.on_page_frame(USER_TEXT)
        assert local.offload.pending == []
        local.session.on_page_frame(event("response.create"))
        local.offload.run()
        await _drain()
        assert local.engine.asked == ["Price?"]
        assert local.page.of_type("response.output_text.done")[0]["text"].startswith("Growth")

    run(body)


def test_an_answer_in_progress_is_not_idle() -> None:
    async def body() -> None:
        local = Local()
        local.session.on_page_frame(USER_TEXT)
        local.session.on_page_frame(event("response.create"))  # answering, held on the pool
        local.clock.now += 120
        local.session.caps.check()
        assert not local.session.done.done()

    run(body)


def test_a_quiet_page_idles_out_with_its_reason() -> None:
    async def body() -> None:
        local = Local()
        local.clock.now += 61
        local.session.caps.check()
        assert local.session.done.result() == "session_idle"
        assert local.page.of_type("error")[0]["error"]["code"] == "session_idle"
        assert local.page.closed == (1000, "session_idle")

    run(body)


def test_junk_is_refused_and_is_no_keep_alive() -> None:
    async def body() -> None:
        local = Local()
        local.clock.now += 50
        local.session.on_page_frame(event("session.update"))
        local.clock.now += 20
        local.session.caps.check()
        assert local.page.of_type("error")[0]["error"]["code"] == "event_not_allowed"
        assert local.session.done.result() == "session_idle"

    run(body)


async def _drain() -> None:
    # The engine's events come back through call_soon_threadsafe: let the loop run them.
    for _ in range(3):
        await asyncio.sleep(0)


def test_the_question_to_the_first_answer_text_is_stored_per_turn() -> None:
    async def body() -> None:
        local, log = Local(), LatencyLog()
        local.session._conversation = log

        def respond(text: str, emit: Callable[[dict[str, Any]], None]) -> None:
            local.clock.now += 0.12
            emit({"type": "response.output_text.delta", "delta": "Growth"})
            local.clock.now += 0.5
            emit({"type": "response.output_text.done", "text": "Growth is 49 dollars."})

        local.engine.respond = respond  # type: ignore[method-assign]
        local.session.on_page_frame(USER_TEXT)
        local.session.on_page_frame(event("response.create"))
        local.offload.run()
        await _drain()
        assert [(a, round(t or 0)) for a, t in log.turns] == [(None, 120)]

    run(body)
