"""The relay between the page's WebSocket and the OpenAI Realtime WebSocket, on the relay loop.

Every method runs on the process's relay loop (`hub.RelayHub`), so the session's state needs no
locks: frames from either side arrive as callbacks, and `caps.ConversationCaps` enforces the
duration and idle caps. Audio frames pass through as untouched text (recognised by
`frames.peek_type`); everything else is small and is parsed. The server, not the page, runs tool
calls, off the loop (`offload`): their outputs go back to OpenAI once no response is active, and
their results reach the page as `widget.tool_result` cards.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from widget_api import protocol
from widget_api.realtime.turn_timer import TurnTimer
from widget_api.relay import frames
from widget_api.relay.client_events import sanitize_client_event
from widget_api.relay.contracts import (
    NULL_RECORDER,
    ConversationLog,
    Recorder,
    RelayLimits,
    RunTool,
    ToolOutcomeLike,
)
from widget_api.relay.page_conversation import Offload, PageConversation, PageSide, ignore
from widget_api.relay.playback import PlaybackTracker

log = logging.getLogger(__name__)

# The end-of-conversation summary: an out-of-band response (not added to the conversation).
SUMMARY_PURPOSE = "widget.summary"
SUMMARY_TIMEOUT = 8.0


class UpstreamSide(Protocol):
    def send(self, text: str) -> None: ...
    def close(self) -> None: ...


class RelaySession(PageConversation):
    """One visitor's conversation relayed to one upstream Realtime session."""

    def __init__(
        self,
        page: PageSide,
        upstream: UpstreamSide,
        *,
        session: dict[str, Any],
        run_tool: RunTool,
        conversation: ConversationLog,
        limits: RelayLimits,
        offload: Offload,
        recorder: Recorder = NULL_RECORDER,
        summary_instructions: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(page, limits=limits, offload=offload, recorder=recorder, clock=clock)
        self._summary_instructions = summary_instructions
        self._summary_id: str | None = None  # the out-of-band summary response, once created
        self._summary_asked = False
        self._tool_args: dict[str, str] = {}
        self._speech_at: dict[str, datetime] = {}
        self._upstream = upstream
        self._session = session
        self._run_tool = run_tool
        self._conversation = conversation
        self._playback = PlaybackTracker(clock)
        self._turns = TurnTimer(self._store_turn_latency, clock)
        self._response_active = False
        self._pending_outputs: list[dict[str, Any]] = []
        self._upstream_handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "input_audio_buffer.speech_started": self._on_speech_started,
            "input_audio_buffer.speech_stopped": self._on_speech_stopped,
            "response.created": self._on_response_created,
            "response.output_item.done": self._on_output_item_done,
            "response.done": self._on_response_done,
            "conversation.item.input_audio_transcription.completed": self._on_user_turn,
            "response.output_audio_transcript.done": self._on_assistant_text,
            "response.output_text.done": self._on_assistant_text,
            "response.output_audio_transcript.delta": self._on_text_delta,
            "response.output_text.delta": self._on_text_delta,
        }

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Configure the upstream session and start the cap timer."""
        self._send_upstream({"type": "session.update", "session": self._session})
        event = self._recorder.session_event()
        if event is not None:
            self._send_page(event)
        self.caps.start()

    def _finish(self, code: str) -> None:
        """Tell the page why the conversation ends, then end it (both sides)."""
        if self.done.done():
            return
        if code == "session_expired":  # a spent budget, not a failure: the page goes on in text
            self._send_page(protocol.dump(protocol.WidgetNotice(code=code)))
        self._close_upstream(summarize=code != "upstream_error")
        super()._finish(code)

    def on_page_closed(self) -> None:
        if not self.done.done():
            self._close_upstream(summarize=True)
            self.done.set_result("page_left")

    def _close_upstream(self, *, summarize: bool) -> None:
        """Close OpenAI's side, first asking for the sales summary when there was a talk."""
        if not (summarize and self._summary_instructions and self._recorder.wants_summary):
            self._upstream.close()
            return
        self._summary_asked = True
        self._send_upstream({"type": "response.create", "response": {
            "conversation": "none", "output_modalities": ["text"],
            "instructions": self._summary_instructions,
            "metadata": {"purpose": SUMMARY_PURPOSE},
        }})  # fmt: skip
        self._loop.call_later(SUMMARY_TIMEOUT, self._upstream.close)

    def _on_summary_frame(self, frame: str) -> None:
        """After the end: only the summary's response.done matters; then the upstream closes."""
        if frames.peek_type(frame) != "response.done":
            return
        event = frames.parse(frame) or {}
        response = event.get("response") or {}
        if (response.get("metadata") or {}).get("purpose") != SUMMARY_PURPOSE:
            return
        text = " ".join(
            part.get("text") or part.get("transcript") or ""
            for item in response.get("output") or [] if isinstance(item, dict)
            for part in item.get("content") or [] if isinstance(part, dict)
        ).strip()  # fmt: skip
        if text:
            self._offload(lambda: self._recorder.summary(text), ignore)
        self._upstream.close()

    def on_upstream_closed(self) -> None:
        self._finish("upstream_error")

    # --- page → OpenAI ----------------------------------------------------------------------
    def on_page_frame(self, frame: str | bytes) -> None:
        if self.done.done():
            return
        if isinstance(frame, bytes) or len(frame) > self._limits.max_client_frame:
            self._refuse()
        elif frames.peek_type(frame) == frames.CLIENT_AUDIO:
            self._upstream.send(frame)
        else:
            self._on_client_event(frame)

    def _on_client_event(self, frame: str) -> None:
        event = frames.parse(frame)
        kind = event.get("type") if event else None
        if kind == "widget.playback" and event is not None:
            self._on_playback_report(event)
            return
        if kind == "widget.context" and event is not None:
            self._record_context(event)
            return
        clean = sanitize_client_event(event, self._limits.max_text_chars)
        if clean is None:
            self._refuse()
            return
        self.caps.touch()
        if clean["type"] == "conversation.item.create":
            self._turns.typed_line()
            self._recorder.said("user", clean["item"]["content"][0]["text"])
            self._record_turn()
        self._send_upstream(clean)

    def _on_playback_report(self, event: dict[str, Any]) -> None:
        item_id, played = event.get("item_id"), event.get("played_ms")
        if isinstance(item_id, str) and isinstance(played, int | float):
            self._playback.on_report(item_id, played, drained=bool(event.get("drained")))

    # --- OpenAI → page ----------------------------------------------------------------------
    def on_upstream_frame(self, frame: str) -> None:
        if self.done.done():
            if self._summary_asked:
                self._on_summary_frame(frame)
            return
        if frames.peek_type(frame) == frames.SERVER_AUDIO:
            item_id, millis = frames.audio_delta_info(frame)
            self._playback.on_audio_sent(item_id, millis)
            self._page.send(frame)
            self._turns.first_audio()
            return
        event = frames.parse(frame)
        if event is None:
            return
        self._page.send(frame)
        handler = self._upstream_handlers.get(str(event.get("type")))
        if handler is not None:
            handler(event)

    def _on_speech_started(self, event: dict[str, Any]) -> None:
        """Barge-in: cut the assistant item at what the visitor actually heard."""
        self.caps.touch()
        # The transcript arrives after the answer has begun; order the line by when it was said.
        if isinstance(event.get("item_id"), str) and len(self._speech_at) < 64:
            self._speech_at[event["item_id"]] = datetime.now(UTC)
        position = self._playback.heard_position()
        self._playback.reset()
        if position is not None:
            item_id, audio_end_ms = position
            self._send_upstream({"type": "conversation.item.truncate", "item_id": item_id,
                                 "content_index": 0, "audio_end_ms": audio_end_ms})  # fmt: skip

    def _on_speech_stopped(self, event: dict[str, Any]) -> None:
        self._turns.speech_stopped()

    def _on_text_delta(self, event: dict[str, Any]) -> None:
        """An answer text (or audio transcript) delta left for the page."""
        self._turns.first_text(event.get("response_id"))

    def _store_turn_latency(self, audio: float | None, text: float | None) -> None:
        """One row per answered turn, written once its response is done (off the loop)."""
        self._offload(lambda: self._conversation.turn_latency(audio, text), ignore)

    def _on_response_created(self, event: dict[str, Any]) -> None:
        self.caps.touch()
        self._response_active = True
        response = event.get("response") or {}
        if (response.get("metadata") or {}).get("purpose") == SUMMARY_PURPOSE:
            self._summary_id = response.get("id")

    def _on_user_turn(self, event: dict[str, Any]) -> None:
        self.caps.touch()
        transcript = event.get("transcript")
        if isinstance(transcript, str):
            self._recorder.said("user", transcript, self._speech_at.pop(str(event.get("item_id")),
                                                                       None))  # fmt: skip
        self._record_turn()

    def _on_assistant_text(self, event: dict[str, Any]) -> None:
        if self._summary_id is not None and event.get("response_id") == self._summary_id:
            return
        text = event.get("transcript") if "transcript" in event else event.get("text")
        if isinstance(text, str):
            self._recorder.said("assistant", text)

    def _record_turn(self) -> None:
        # Database writes: never on the loop, which carries every conversation's audio. The
        # visitor's line is stored now, so a log_lead in this turn finds it as evidence.
        self._offload(self._conversation.turn, ignore)
        self._offload(self._recorder.flush, ignore)

    # --- tool calls ------------------------------------------------------------------------
    def _on_output_item_done(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") != "function_call":
            return
        call_id, name = str(item.get("call_id") or ""), str(item.get("name") or "")
        arguments = item.get("arguments")
        arguments = arguments if isinstance(arguments, str) else "{}"
        self._send_page(protocol.dump(protocol.WidgetToolCall(call_id=call_id, name=name)))
        self._tool_args[call_id] = arguments
        self._offload(
            lambda: self._run_tool(call_id, name, arguments),
            lambda future: self._on_tool_done(call_id, name, future),
        )

    def _on_tool_done(
        self, call_id: str, name: str, future: concurrent.futures.Future[ToolOutcomeLike]
    ) -> None:
        if self.done.done():
            return
        try:
            outcome = future.result()
        except Exception:  # run_tool turns every failure into an outcome; this is a bug
            log.exception("tool %s raised", name)
            output = json.dumps({"error": {"code": "internal_error"}})
            card = protocol.tool_result(call_id, name, ok=False, error_code="internal_error",
                                        result={})  # fmt: skip
        else:
            output = outcome.output
            card = protocol.tool_result(
                call_id, outcome.name, ok=outcome.ok, error_code=outcome.error_code,
                result=outcome.result,
            )  # fmt: skip
        self._send_page(card)
        self._recorder.tool(call_id, name, self._tool_args.pop(call_id, "{}"), output,
                            bool(card["ok"]))  # fmt: skip
        self._pending_outputs.append(
            {"type": "function_call_output", "call_id": call_id, "output": output}
        )
        if not self._response_active:
            self._flush_tool_outputs()

    def _on_response_done(self, event: dict[str, Any]) -> None:
        self._response_active = False
        self._turns.response_done((event.get("response") or {}).get("id"))
        self._offload(self._recorder.flush, ignore)
        self._flush_tool_outputs()

    def _flush_tool_outputs(self) -> None:
        """Send queued tool outputs and ask for the follow-up answer (no response is active)."""
        outputs, self._pending_outputs = self._pending_outputs, []
        if not outputs:
            return
        self._response_active = True  # the response.create below starts one
        for item in outputs:
            self._send_upstream({"type": "conversation.item.create", "item": item})
        self._send_upstream({"type": "response.create"})

    # --- sending ----------------------------------------------------------------------------
    def _send_upstream(self, event: dict[str, Any]) -> None:
        self._upstream.send(frames.dumps(event))
