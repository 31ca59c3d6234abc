"""The relay between the page's WebSocket and the OpenAI Realtime WebSocket.

Two pumps per conversation: the page→OpenAI pump runs in the handler's thread and also enforces
the duration and idle caps; the OpenAI→page pump runs in its own thread. Audio frames pass
through both as untouched text (recognised by `frames.peek_type`); everything else is small and
is parsed. The server, not the page, runs tool calls: their outputs go back to OpenAI once no
response is active, and their results reach the page as `widget.tool_result` cards.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from widget_api.relay import frames
from widget_api.relay.channel import ChannelClosed, ClientChannel
from widget_api.relay.client_events import sanitize_client_event
from widget_api.relay.contracts import ConversationLog, RelayLimits, RunTool
from widget_api.relay.playback import PlaybackTracker
from widget_api.relay.upstream import Upstream

log = logging.getLogger(__name__)


class RelaySession:
    """One visitor's conversation relayed to one upstream Realtime session."""

    def __init__(
        self,
        channel: ClientChannel,
        upstream: Upstream,
        *,
        session: dict[str, Any],
        run_tool: RunTool,
        conversation: ConversationLog,
        limits: RelayLimits,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._channel = channel
        self._upstream = upstream
        self._session = session
        self._run_tool = run_tool
        self._conversation = conversation
        self._limits = limits
        self._clock = clock
        self._playback = PlaybackTracker(clock)
        self._done = threading.Event()
        self._response_active = False
        self._pending_outputs: list[dict[str, Any]] = []
        self._state_lock = threading.Lock()
        self._started_at = clock()
        self._last_activity = self._started_at
        self._upstream_handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "input_audio_buffer.speech_started": self._on_speech_started,
            "response.created": self._on_response_created,
            "response.output_item.done": self._on_output_item_done,
            "response.done": self._on_response_done,
            "conversation.item.input_audio_transcription.completed": self._on_user_turn,
        }

    # --- lifecycle -------------------------------------------------------------------------
    def run(self) -> None:
        """Relay until either side ends or a cap is reached; always closes both sides."""
        self._send_upstream({"type": "session.update", "session": self._session})
        pump = threading.Thread(target=self._pump_upstream, name="relay-upstream", daemon=True)
        pump.start()
        try:
            self._pump_client()
        finally:
            self._done.set()
            self._close_upstream()
            pump.join(timeout=5)
            self._channel.close()

    def _finish(self, code: str, message: str) -> None:
        """Tell the page why the conversation ends, then end it."""
        if self._done.is_set():
            return
        self._done.set()
        log.info("relay ends: %s", code)
        try:
            self._send_client(frames.error_event(code, message))
        except ChannelClosed:
            return
        self._channel.close(1000, code)

    def _close_upstream(self) -> None:
        with contextlib.suppress(Exception):  # already gone
            self._upstream.close()

    # --- page → OpenAI ----------------------------------------------------------------------
    def _pump_client(self) -> None:
        limits = self._limits
        while not self._done.is_set():
            now = self._clock()
            if now - self._started_at > limits.max_session_seconds:
                self._finish("session_expired", "The conversation reached its time limit.")
                return
            if now - self._last_activity > limits.idle_timeout_seconds:
                self._finish("session_idle", "The conversation was idle too long.")
                return
            try:
                frame = self._channel.receive(limits.poll_seconds)
            except ChannelClosed:
                return
            if frame is None:
                continue
            if isinstance(frame, bytes) or len(frame) > limits.max_client_frame:
                self._send_client(frames.error_event("event_not_allowed", "Unsupported frame."))
                continue
            if frames.peek_type(frame) == frames.CLIENT_AUDIO:
                self._forward_upstream(frame)
            else:
                self._on_client_event(frame)

    def _on_client_event(self, frame: str) -> None:
        event = frames.parse(frame)
        kind = event.get("type") if event else None
        if kind == "widget.playback" and event is not None:
            self._on_playback_report(event)
            return
        clean = sanitize_client_event(event, self._limits.max_text_chars)
        if clean is None:
            self._send_client(frames.error_event("event_not_allowed", "Unsupported event."))
            return
        self._last_activity = self._clock()
        if clean["type"] == "conversation.item.create":
            self._conversation.turn()
        self._send_upstream(clean)

    def _on_playback_report(self, event: dict[str, Any]) -> None:
        item_id, played = event.get("item_id"), event.get("played_ms")
        if isinstance(item_id, str) and isinstance(played, int | float):
            self._playback.on_report(item_id, played, drained=bool(event.get("drained")))

    # --- OpenAI → page ----------------------------------------------------------------------
    def _pump_upstream(self) -> None:
        """Deliver upstream frames; with a DirectConnection they arrive on its I/O thread and
        this thread only waits for the close."""
        direct = hasattr(self._upstream, "on_text")
        if direct:
            self._upstream.on_text = self._on_upstream_frame  # type: ignore[attr-defined]
        try:
            while not self._done.is_set():
                try:
                    frame = self._upstream.recv()
                except Exception:  # ConnectionClosed (any flavour), OSError
                    self._finish("upstream_error", "The voice service ended the conversation.")
                    return
                if isinstance(frame, str):
                    self._on_upstream_frame(frame)
        except ChannelClosed:
            self._done.set()
            self._close_upstream()

    def _on_upstream_frame(self, frame: str) -> None:
        if self._done.is_set():
            return
        try:
            if frames.peek_type(frame) == frames.SERVER_AUDIO:
                item_id, millis = frames.audio_delta_info(frame)
                self._playback.on_audio_sent(item_id, millis)
                self._send_client_text(frame)
                return
            event = frames.parse(frame)
            if event is None:
                return
            handler = self._upstream_handlers.get(str(event.get("type")))
            self._send_client_text(frame)
            if handler is not None:
                handler(event)
        except ChannelClosed:
            # The page left. This may run on the upstream's own I/O thread, which must not wait
            # for its own close handshake: the page pump sees the closed socket and closes it.
            self._done.set()

    def _on_speech_started(self, _event: dict[str, Any]) -> None:
        """Barge-in: cut the assistant item at what the visitor actually heard."""
        self._last_activity = self._clock()
        position = self._playback.heard_position()
        self._playback.reset()
        if position is not None:
            item_id, audio_end_ms = position
            self._send_upstream(
                {
                    "type": "conversation.item.truncate",
                    "item_id": item_id,
                    "content_index": 0,
                    "audio_end_ms": audio_end_ms,
                }
            )

    def _on_response_created(self, _event: dict[str, Any]) -> None:
        self._last_activity = self._clock()
        with self._state_lock:
            self._response_active = True

    def _on_user_turn(self, _event: dict[str, Any]) -> None:
        self._last_activity = self._clock()
        self._conversation.turn()

    def _on_output_item_done(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") != "function_call":
            return
        call_id, name = str(item.get("call_id") or ""), str(item.get("name") or "")
        arguments = item.get("arguments")
        self._send_client({"type": "widget.tool_call", "name": name, "call_id": call_id})
        outcome = self._run_tool(call_id, name, arguments if isinstance(arguments, str) else "{}")
        self._send_client(
            {
                "type": "widget.tool_result",
                "name": outcome.name,
                "call_id": call_id,
                "ok": outcome.ok,
                "error_code": outcome.error_code,
                "result": outcome.result,
            }
        )
        output = {"type": "function_call_output", "call_id": call_id, "output": outcome.output}
        with self._state_lock:
            self._pending_outputs.append(output)
            flush_now = not self._response_active
        if flush_now:
            self._flush_tool_outputs()

    def _on_response_done(self, _event: dict[str, Any]) -> None:
        with self._state_lock:
            self._response_active = False
        self._flush_tool_outputs()

    def _flush_tool_outputs(self) -> None:
        """Send queued tool outputs and ask for the follow-up answer (no response is active)."""
        with self._state_lock:
            outputs, self._pending_outputs = self._pending_outputs, []
            if not outputs:
                return
            self._response_active = True  # the response.create below starts one
        for item in outputs:
            self._send_upstream({"type": "conversation.item.create", "item": item})
        self._send_upstream({"type": "response.create"})

    # --- sending ----------------------------------------------------------------------------
    def _send_upstream(self, event: dict[str, Any]) -> None:
        self._forward_upstream(frames.dumps(event))

    def _forward_upstream(self, frame: str) -> None:
        # A plain try is cheaper than contextlib.suppress on this per-frame path.
        try:  # noqa: SIM105
            self._upstream.send(frame)
        except Exception:  # the upstream pump sees the close and reports it
            pass

    def _send_client(self, event: dict[str, Any]) -> None:
        self._send_client_text(frames.dumps(event))

    def _send_client_text(self, frame: str) -> None:
        self._channel.send(frame)
