"""The relay endpoint's text mode: the page talks to the local engine instead of OpenAI.

Same socket, same events: the page sends `conversation.item.create` (user text) and
`response.create`, and receives `response.output_text.*` and `widget.tool_result` events.
Like `session.RelaySession`, every method runs on the loop: frames arrive as callbacks,
`caps.ConversationCaps` enforces the time caps (an answer in progress counts as activity), and
an answer (embedding, search, tools) runs on the hub's pool, one at a time per conversation,
its events posted back to the loop in order.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Callable
from typing import Any

from widget_api import protocol
from widget_api.local_engine import LocalEngine
from widget_api.relay import frames
from widget_api.relay.client_events import user_text
from widget_api.relay.contracts import NULL_RECORDER, ConversationLog, Recorder, RelayLimits
from widget_api.relay.page_conversation import Offload, PageConversation, PageSide

log = logging.getLogger(__name__)

# Events a voice page may still send after falling back to text; meaningless here, not errors.
_IGNORED = frozenset({
    frames.CLIENT_AUDIO, "widget.playback", "input_audio_buffer.commit",
    "input_audio_buffer.clear", "response.cancel",
})  # fmt: skip


class LocalSession(PageConversation):
    """Serves one text conversation from the local engine over the page's socket."""

    def __init__(
        self,
        page: PageSide,
        engine: LocalEngine,
        *,
        conversation: ConversationLog,
        limits: RelayLimits,
        offload: Offload,
        reason: str = "realtime_unavailable",
        recorder: Recorder = NULL_RECORDER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            page, limits=limits, offload=offload, recorder=recorder, clock=clock,
            busy=lambda: self._answering,  # an answer in progress is activity
        )  # fmt: skip
        self._engine = engine
        self._conversation = conversation
        self._reason = reason
        self._pending: str | None = None  # user text waiting for response.create
        self._asked_at = 0.0  # when the pending question arrived (time to first text)
        self._first_text_ms: float | None = None  # the answer in progress, once it sent text
        self._answering = False
        self._answer_requested = False  # response.create arrived while answering

    def start(self) -> None:
        """Introduce the text assistant (unless continuing) and start the cap timer."""
        self._send_page({"type": "session.created", "session": {
            "type": "realtime", "object": "realtime.session", "output_modalities": ["text"],
        }})  # fmt: skip
        event = self._recorder.session_event()
        if event is not None:
            self._send_page(event)
        self._engine.observe_tools(self._recorder.tool)
        # The page already greets as the text assistant when voice is off; a continued
        # conversation needs no introduction at all. Only a fallback from voice explains itself.
        message = None
        if self._recorder.resumed:
            self._engine.restore(self._recorder.history, self._recorder.contact)
        elif self._reason != "realtime_unavailable":
            message = self._engine.introduction()
        self._send_page(protocol.dump(protocol.WidgetNotice(code=self._reason, message=message)))
        self.caps.start()

    def on_page_closed(self) -> None:
        if not self.done.done():
            self.done.set_result("page_left")

    # --- page → engine -----------------------------------------------------------------------
    def on_page_frame(self, frame: str | bytes) -> None:
        """Only a valid conversation event counts as activity: junk is answered, never a
        keep-alive."""
        if self.done.done():
            return
        if isinstance(frame, bytes) or len(frame) > self._limits.max_client_frame:
            self._refuse()
            return
        if frames.peek_type(frame) in _IGNORED:
            return
        event = frames.parse(frame)
        kind = event.get("type") if event else None
        if kind == "widget.context" and event is not None:
            self._record_context(event)
            return
        if kind == "conversation.item.create" and event is not None:
            text = user_text(event)
            if text is None or len(text) > self._limits.max_text_chars:
                self._refuse()
                return
            self._pending, self._asked_at = text, self._clock()
        elif kind == "response.create":
            self._answer_requested = True
            self._answer_next()
        else:
            self._refuse()
            return
        self.caps.touch()

    def _answer_next(self) -> None:
        if self._answering or not self._answer_requested:
            return
        self._answer_requested = False
        if self._pending is None:
            return
        text, self._pending = self._pending, None
        self._answering = True
        asked_at, self._first_text_ms = self._asked_at, None
        self._offload(lambda: self._answer(text, asked_at), self._answered)

    def _answer(self, text: str, asked_at: float) -> None:
        """On the pool: record the turn and let the engine emit its events onto the loop.

        The visitor's line is stored first, so qualification facts in it reach the lead even
        when this very answer logs the lead; the answer's lines follow as one more batch.
        """
        self._conversation.turn()
        self._recorder.said("user", text)
        self._recorder.flush()
        self._engine.respond(text, lambda event: self._emit_threadsafe(event, asked_at))
        self._recorder.flush()
        if self._first_text_ms is not None:
            self._conversation.turn_latency(None, self._first_text_ms)

    def _emit_threadsafe(self, event: dict[str, Any], asked_at: float) -> None:
        if event.get("type") == "response.output_text.delta" and self._first_text_ms is None:
            self._first_text_ms = (self._clock() - asked_at) * 1000  # question → first text
        if event.get("type") == "response.output_text.done":
            self._recorder.said("assistant", str(event.get("text") or ""))
        self._loop.call_soon_threadsafe(self._send_page, event)

    def _answered(self, future: concurrent.futures.Future[Any]) -> None:
        # Posted after every event the answer emitted (call_soon_threadsafe keeps order).
        self._answering = False
        self.caps.touch()
        if future.cancelled():  # the pool shut down with the server
            return
        if future.exception() is not None:
            log.error("local engine failed", exc_info=future.exception())
            self._send_page(frames.error_event("internal_error"))
        if not self.done.done():
            self._answer_next()
