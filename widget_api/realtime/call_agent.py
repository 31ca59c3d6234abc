"""The server's side of a WebRTC or SIP call, over the sideband WebSocket (protocol §3.4).

The browser (WebRTC) or the phone network (SIP) carries the audio straight to OpenAI; this
agent joins the same session with `?call_id=` and the standard key, and does what must not run
in a browser: it answers tool calls, records the transcript, ends the call at the maximum
duration and asks for the end-of-call summary. Exactly one side answers tool calls: the server.

One thread per call and one upstream connection (the sideband itself); tools run in that thread,
so a tool answer leaves as soon as the tool returns (the overhead is measured per call).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from widget_api.realtime.turn_timer import OnTurn, TurnTimer

log = logging.getLogger(__name__)

SUMMARY_INSTRUCTIONS = (
    "Summarize this sales conversation for the sales team in at most three short sentences: "
    "what the caller needs, the facts they gave (company, team size, timeline), and the agreed "
    "next step. Plain text, no greeting."
)
SUMMARY_METADATA = {"purpose": "call_summary"}
SUMMARY_WAIT_SECONDS = 5.0
POLL_SECONDS = 0.25


class Socket(Protocol):
    """The part of a sync WebSocket connection the agent uses (websockets.sync)."""

    def send(self, message: str) -> None: ...

    def recv(self, timeout: float | None = None) -> str | bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class TranscriptLine:
    """One line for the conversation record; `role` is "user", "assistant" or "tool"."""

    role: str
    text: str
    tool_name: str | None = None
    tool_call_id: str | None = None
    tool_ok: bool | None = None
    arguments: str | None = None


@dataclass(frozen=True)
class CallHooks:
    """What the agent needs from the rest of the product, passed in (tests fake these)."""

    connect: Callable[[str], Socket]  # call_id -> open sideband socket
    run_tool: Callable[[str, str, str], tuple[str, bool]]  # call_id, name, args -> output, ok
    record: Callable[[Sequence[TranscriptLine]], None]
    finish: Callable[[str, str | None], None]  # end reason, summary
    hangup: Callable[[str], None]  # call_id
    # SIP: time to first audio and to first text per answered turn, as the sideband sees them
    # (VAD end of speech to the output audio buffer starting, and to the first transcript delta).
    # WebRTC calls leave it None (the widget measures there), Twilio calls too (the bridge does).
    turn_latency: OnTurn | None = None


@dataclass
class CallStats:
    """Figures of one call, for tests and benchmarks."""

    tool_calls: int = 0
    tool_overhead_ms: list[float] = field(default_factory=list)
    end_reason: str | None = None
    summary: str | None = None


class CallAgent:
    """Runs one call's server side until the call ends, the visitor ends it or time runs out."""

    def __init__(
        self,
        call_id: str,
        hooks: CallHooks,
        *,
        max_seconds: float,
        greet: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.call_id = call_id
        self.stats = CallStats()
        self._hooks, self._max_seconds, self._greet, self._clock = hooks, max_seconds, greet, clock
        self._end_requested = threading.Event()
        self._end_reason = "ended_by_visitor"
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._active = False
        self._outputs_waiting = False
        self._lines: list[TranscriptLine] = []
        self._summary_response: str | None = None
        self._summary_text: str | None = None
        self._turns = TurnTimer(hooks.turn_latency, time.perf_counter)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> CallAgent:
        self._thread = threading.Thread(
            target=self.run, name=f"call-{self.call_id[-8:]}", daemon=True
        )
        self._thread.start()
        return self

    def end(self, reason: str = "ended_by_visitor", wait: float = 6.0) -> bool:
        """Ask the agent to summarize and hang up; True once it finished within `wait`."""
        self._end_reason = reason
        self._end_requested.set()
        return self._done.wait(wait)

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def run(self) -> None:
        """Connect, serve events until the end, then summarize, hang up and record the end."""
        try:
            socket = self._hooks.connect(self.call_id)
        except Exception as exc:
            log.warning("sideband for a call could not connect (%s)", type(exc).__name__)
            self._finish("sideband_failed", None)
            return
        reason = "call_ended"
        try:
            if self._greet:
                self._send(socket, {"type": "response.create"})
            reason = self._serve(socket)
            if reason != "call_ended":
                self._summarize(socket)
        except Exception:
            log.exception("sideband agent failed")
            reason = "sideband_failed"
        finally:
            self._flush_lines()
            self._turns.flush()  # a turn whose answer the end of the call cut off
            with contextlib.suppress(Exception):  # already closed by the peer
                socket.close()
        if reason in ("max_duration", "ended_by_visitor", "ended_by_server", "ended_by_caller"):
            try:
                self._hooks.hangup(self.call_id)
            except Exception as exc:
                log.warning("hang-up failed (%s)", type(exc).__name__)
        self._finish(reason, self._summary_text)

    def _finish(self, reason: str, summary: str | None) -> None:
        self.stats.end_reason, self.stats.summary = reason, summary
        try:
            self._hooks.finish(reason, summary)
        finally:
            self._done.set()

    # -- event loop -----------------------------------------------------------------------

    def _serve(self, socket: Socket) -> str:
        deadline = self._clock() + self._max_seconds
        while True:
            if self._end_requested.is_set():
                return self._end_reason
            remaining = deadline - self._clock()
            if remaining <= 0:
                return "max_duration"
            event = self._recv(socket, min(remaining, POLL_SECONDS))
            if event is _CLOSED:
                return "call_ended"
            if event is not None:
                self._handle(socket, event)

    def _recv(self, socket: Socket, timeout: float) -> Any:
        from websockets.exceptions import ConnectionClosed

        try:
            text = socket.recv(timeout=timeout)
        except TimeoutError:
            return None
        except (ConnectionClosed, EOFError, OSError):
            return _CLOSED
        try:
            event = json.loads(text)
        except ValueError:
            return None
        return event if isinstance(event, dict) else None

    def _handle(self, socket: Socket, event: dict[str, Any]) -> None:
        handler = _HANDLERS.get(str(event.get("type")))
        if handler is not None:
            handler(self, socket, event)

    def _on_response_created(self, socket: Socket, event: dict[str, Any]) -> None:
        self._active = True
        response = event.get("response")
        if isinstance(response, dict):
            self._turns.response_created(response)

    def _on_response_done(self, socket: Socket, event: dict[str, Any]) -> None:
        self._active = False
        response = event.get("response") or {}
        self._turns.response_done(response.get("id"))
        # Compared only once a summary was asked for: before that both may be None (a tool's
        # output arriving after its response ended goes through here with no id).
        if self._summary_response is not None and response.get("id") == self._summary_response:
            self._summary_text = self._summary_text or _response_text(response)
            return
        self._flush_lines()
        if self._outputs_waiting:
            # A response.create while one is active is refused: ask once the turn is done.
            self._outputs_waiting = False
            self._active = True
            self._send(socket, {"type": "response.create"})

    def _on_item_done(self, socket: Socket, event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") != "function_call":
            return
        received = time.perf_counter()
        call_id, name = str(item.get("call_id") or ""), str(item.get("name") or "")
        arguments = str(item.get("arguments") or "{}")
        started = time.perf_counter()
        output, ok = self._hooks.run_tool(call_id, name, arguments)
        tool_ms = (time.perf_counter() - started) * 1000
        self._send(
            socket,
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": call_id, "output": output},
            },
        )
        total_ms = (time.perf_counter() - received) * 1000
        self.stats.tool_calls += 1
        self.stats.tool_overhead_ms.append(max(0.0, total_ms - tool_ms))
        self._lines.append(TranscriptLine("tool", output, name, call_id, ok, arguments))
        self._outputs_waiting = True
        if not self._active:
            self._on_response_done(socket, {"response": {}})

    def _on_user_transcript(self, socket: Socket, event: dict[str, Any]) -> None:
        text = str(event.get("transcript") or "").strip()
        if text:
            self._lines.append(TranscriptLine("user", text))

    def _on_assistant_text(self, socket: Socket, event: dict[str, Any]) -> None:
        text = str(event.get("transcript") or event.get("text") or "").strip()
        if event.get("response_id") == self._summary_response:
            self._summary_text = text or self._summary_text
        elif text:
            self._lines.append(TranscriptLine("assistant", text))

    def _on_speech_stopped(self, socket: Socket, event: dict[str, Any]) -> None:
        self._turns.speech_stopped()

    def _on_audio_started(self, socket: Socket, event: dict[str, Any]) -> None:
        self._turns.first_audio()

    def _on_text_delta(self, socket: Socket, event: dict[str, Any]) -> None:
        self._turns.first_text(event.get("response_id"))

    def _on_speech_started(self, socket: Socket, event: dict[str, Any]) -> None:
        self._turns.interrupted()

    def _on_error(self, socket: Socket, event: dict[str, Any]) -> None:
        error = event.get("error") or {}
        log.info("call error event: %s", error.get("code"))

    # -- end of call ----------------------------------------------------------------------

    def _summarize(self, socket: Socket) -> None:
        """An out-of-band text response (not added to the conversation) with the summary."""
        deadline = self._clock() + SUMMARY_WAIT_SECONDS
        if self._active:
            self._send(socket, {"type": "response.cancel"})
            while self._active and self._clock() < deadline:
                event = self._recv(socket, POLL_SECONDS)
                if event is _CLOSED:
                    return
                if event is not None:
                    self._handle(socket, event)
        self._summary_response = "pending"
        self._send(
            socket,
            {
                "type": "response.create",
                "response": {
                    "conversation": "none",
                    "output_modalities": ["text"],
                    "instructions": SUMMARY_INSTRUCTIONS,
                    "metadata": SUMMARY_METADATA,
                },
            },
        )
        while self._summary_text is None and self._clock() < deadline:
            event = self._recv(socket, POLL_SECONDS)
            if event is _CLOSED:
                return
            if event is None:
                continue
            response = event.get("response") or {}
            if event.get("type") == "response.created" and (
                response.get("metadata") == SUMMARY_METADATA
            ):
                self._summary_response = response.get("id")
            self._handle(socket, event)

    def _flush_lines(self) -> None:
        lines, self._lines = self._lines, []
        if not lines:
            return
        try:
            self._hooks.record(lines)
        except Exception:
            log.exception("could not record a call's transcript lines")

    def _send(self, socket: Socket, event: dict[str, Any]) -> None:
        socket.send(json.dumps(event, separators=(",", ":")))


_CLOSED = object()
_HANDLERS: dict[str, Callable[[CallAgent, Socket, dict[str, Any]], None]] = {
    "response.created": CallAgent._on_response_created,
    "response.done": CallAgent._on_response_done,
    "response.output_item.done": CallAgent._on_item_done,
    "conversation.item.input_audio_transcription.completed": CallAgent._on_user_transcript,
    "response.output_audio_transcript.done": CallAgent._on_assistant_text,
    "response.output_text.done": CallAgent._on_assistant_text,
    "error": CallAgent._on_error,
    "input_audio_buffer.speech_stopped": CallAgent._on_speech_stopped,
    "output_audio_buffer.started": CallAgent._on_audio_started,
    "response.output_audio_transcript.delta": CallAgent._on_text_delta,
    "response.output_text.delta": CallAgent._on_text_delta,
    "input_audio_buffer.speech_started": CallAgent._on_speech_started,
}


def _response_text(response: dict[str, Any]) -> str | None:
    """The text of a finished response (`response.done`), if it produced any."""
    parts = [
        str(part.get("text") or part.get("transcript") or "")
        for item in response.get("output") or []
        for part in (item.get("content") or [])
    ]
    text = " ".join(p for p in parts if p).strip()
    return text or None
