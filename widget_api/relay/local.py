"""The relay endpoint's text mode: the page talks to the local engine instead of OpenAI.

Same socket, same events: the page sends `conversation.item.create` (user text) and
`response.create`, and receives `response.output_text.*` and `widget.tool_result` events.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from widget_api.local_engine import LocalEngine
from widget_api.relay import frames
from widget_api.relay.channel import ChannelClosed, ClientChannel
from widget_api.relay.client_events import user_text
from widget_api.relay.contracts import ConversationLog, RelayLimits

log = logging.getLogger(__name__)


class LocalSession:
    """Serves one text conversation from the local engine over the page's socket."""

    def __init__(
        self,
        channel: ClientChannel,
        engine: LocalEngine,
        *,
        conversation: ConversationLog,
        limits: RelayLimits,
        reason: str = "realtime_unavailable",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._channel = channel
        self._engine = engine
        self._conversation = conversation
        self._limits = limits
        self._reason = reason
        self._clock = clock
        self._pending: str | None = None

    def run(self) -> None:
        """Introduce the text assistant, then answer until the page leaves or a cap is reached."""
        try:
            self._send({"type": "session.created", "session": {
                "type": "realtime", "object": "realtime.session", "output_modalities": ["text"],
            }})  # fmt: skip
            self._send({"type": "widget.notice", "mode": "text", "code": self._reason,
                        "message": self._engine.introduction()})  # fmt: skip
            self._loop()
        except ChannelClosed:
            pass
        finally:
            self._channel.close()

    def _loop(self) -> None:
        started = last_activity = self._clock()
        limits = self._limits
        while True:
            now = self._clock()
            if now - started > limits.max_session_seconds:
                return self._finish("session_expired", "The conversation reached its time limit.")
            if now - last_activity > limits.idle_timeout_seconds:
                return self._finish("session_idle", "The conversation was idle too long.")
            frame = self._channel.receive(limits.poll_seconds)
            if frame is None:
                continue
            if isinstance(frame, bytes) or len(frame) > limits.max_client_frame:
                self._send(frames.error_event("event_not_allowed", "Unsupported frame."))
                continue
            kind = frames.peek_type(frame)
            if kind in (frames.CLIENT_AUDIO, "widget.playback", "input_audio_buffer.commit",
                        "input_audio_buffer.clear", "response.cancel"):  # fmt: skip
                continue  # audio has no meaning for a text engine; the page may still send some
            last_activity = now
            self._on_event(frames.parse(frame))

    def _on_event(self, event: dict[str, Any] | None) -> None:
        kind = event.get("type") if event else None
        if kind == "conversation.item.create" and event is not None:
            text = user_text(event)
            if text is None or len(text) > self._limits.max_text_chars:
                self._send(frames.error_event("event_not_allowed", "Unsupported message."))
                return
            self._pending = text
        elif kind == "response.create":
            if self._pending is None:
                return
            text, self._pending = self._pending, None
            self._conversation.turn()
            self._engine.respond(text, self._send)
        else:
            self._send(frames.error_event("event_not_allowed", "Unsupported event."))

    def _finish(self, code: str, message: str) -> None:
        log.info("local session ends: %s", code)
        self._send(frames.error_event(code, message))

    def _send(self, event: dict[str, Any]) -> None:
        self._channel.send(frames.dumps(event))
