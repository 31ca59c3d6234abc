"""One Realtime session: the GA client-event state machine, independent of the transport.

The WebSocket handler and the WebRTC data channel both feed client events in through
`handle_text` and give a `send_text` coroutine for server events, so scripted behaviour is the
same on both transports.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import json
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from . import conversation
from .audio import decode_b64
from .faults import Fault
from .protocol import bytes_per_ms, error_event, new_id
from .recording import ConnectionRecord, Recorder
from .responses import ActiveResponse, ResponsePlayer, TransportGone, usage
from .script import FunctionCall, OnResponseCreate, OnSpeech, OnUserText, Reply, Say, Script, Turn
from .script import render as render_text
from .validation import InvalidRequest, merge_session, validate_session

logger = logging.getLogger(__name__)

SendText = Callable[[str], Awaitable[None]]
Close = Callable[[int | None], Awaitable[None]]


class ClientError(Exception):
    """A client event the API answers with an `error` event (the session stays open)."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


class RealtimeSession:
    """State for one connection: session config, conversation, input buffer, script cursor."""

    def __init__(
        self,
        *,
        send_text: SendText,
        close: Close,
        record: ConnectionRecord,
        recorder: Recorder,
        script: Script,
        session: dict[str, Any],
        fault: Fault | None = None,
        audio_events: bool = True,
    ) -> None:
        self._send_text, self._close = send_text, close
        self.record, self._recorder = record, recorder
        self.script, self.session = script, session
        self._fault = fault if fault and fault.kind == "close_mid_response" else None
        self._audio_events = audio_events
        self.conversation_id = new_id("conv")
        self.items = conversation.Items()
        self._turn_index = 0
        self.pending: deque[Reply] = deque()
        self.active: ActiveResponse | None = None
        self._buffer_bytes = 0
        self._total_audio_ms = 0
        self._speech_item: str | None = None
        self._speech_start_ms = 0
        self._turn_audio_ms = 0  # user audio since the last response, for usage figures
        self._user_text = ""
        self._last_call_id: str | None = None
        self._current_item: str | None = None
        self._deltas_sent = 0
        self._voice_locked = False
        self.closed = False
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit,
            "input_audio_buffer.clear": self._clear,
            "conversation.item.create": self._item_create,
            "conversation.item.truncate": self._item_truncate,
            "conversation.item.delete": self._item_delete,
            "conversation.item.retrieve": self._item_retrieve,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
            "output_audio_buffer.clear": self._output_clear,
        }

    # -- plumbing -------------------------------------------------------------------------

    async def emit(self, event: dict[str, Any]) -> None:
        """Send one server event with its own `event_id`, recording its type."""
        if self.closed:
            raise TransportGone()
        body = {"type": event["type"], "event_id": new_id("event"), **event}
        self._recorder.note_sent(self.record, body)
        try:
            await self._send_text(json.dumps(body))
        except (ConnectionError, RuntimeError) as exc:
            self.closed = True
            raise TransportGone() from exc

    async def open(self) -> None:
        await self.emit({"type": "session.created", "session": self.session})
        await self.emit(
            {
                "type": "conversation.created",
                "conversation": {"id": self.conversation_id, "object": "realtime.conversation"},
            }
        )

    async def shutdown(self) -> None:
        self.closed = True
        if self.active and self.active.task:
            self.active.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.active.task

    async def handle_text(self, text: str) -> None:
        """Parse and dispatch one client frame; protocol errors become `error` events."""
        client_event_id: str | None = None
        try:
            try:
                event = json.loads(text)
            except ValueError:
                raise ClientError("invalid_json", "The client event is not valid JSON.") from None
            if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                raise ClientError(
                    "invalid_event", "Client events must be objects with a 'type'.", "type"
                )
            if isinstance(event.get("event_id"), str):
                client_event_id = event["event_id"]
                if len(client_event_id) > 512:
                    raise ClientError("invalid_value", "event_id is longer than 512.", "event_id")
            if self.script.echo and event["type"] == "input_audio_buffer.append":
                await self._echo(event)
                return
            self._recorder.note_received(self.record, event)
            handler = self._handlers.get(event["type"])
            if handler is None:
                raise ClientError(
                    "invalid_value",
                    f"Invalid value: '{event['type'][:80]}'. Supported values are: "
                    + ", ".join(f"'{t}'" for t in self._handlers)
                    + ".",
                    "type",
                )
            await handler(event)
        except InvalidRequest as exc:
            await self._error(exc.code, exc.message, exc.param, client_event_id)
        except ClientError as exc:
            await self._error(exc.code, exc.message, exc.param, client_event_id)

    async def _error(self, code: str, message: str, param: str | None, cid: str | None) -> None:
        await self.emit(error_event(code, message, param=param, client_event_id=cid))

    # -- session and audio ----------------------------------------------------------------

    async def _session_update(self, event: dict[str, Any]) -> None:
        if "session" not in event:
            raise ClientError(
                "missing_required_parameter", "Missing required parameter: 'session'.", "session"
            )
        update = event["session"]
        validate_session(update, "session")
        voice = (update.get("audio") or {}).get("output", {}).get("voice")
        current = self.session["audio"]["output"].get("voice")
        if voice is not None and voice != current and self._voice_locked:
            raise ClientError(
                "cannot_update_voice",
                "Cannot update a conversation's voice if assistant audio is present.",
                "session.audio.output.voice",
            )
        self.session = merge_session(self.session, update)
        self._recorder.update(self.record, session=self.session)
        await self.emit({"type": "session.updated", "session": self.session})

    def _turn_detection(self) -> dict[str, Any] | None:
        td: dict[str, Any] | None = self.session["audio"]["input"].get("turn_detection")
        return td

    def _input_bytes_per_ms(self) -> int:
        return bytes_per_ms(self.session["audio"]["input"].get("format"))

    async def _echo(self, event: dict[str, Any]) -> None:
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise ClientError(
                "missing_required_parameter", "Missing required parameter: 'audio'.", "audio"
            )
        self._recorder.note_received(self.record, event)
        self._recorder.note_audio(self.record, decode_b64(audio))
        await self.emit(
            {
                "type": "response.output_audio.delta",
                "response_id": "resp_echo",
                "item_id": "item_echo",
                "output_index": 0,
                "content_index": 0,
                "delta": audio,
            }
        )

    async def _append(self, event: dict[str, Any]) -> None:
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise ClientError(
                "missing_required_parameter", "Missing required parameter: 'audio'.", "audio"
            )
        try:
            data = decode_b64(audio)
        except (ValueError, UnicodeEncodeError):
            raise ClientError(
                "invalid_value", "Invalid 'audio': not valid base64.", "audio"
            ) from None
        self._recorder.note_audio(self.record, data)
        per_ms = self._input_bytes_per_ms()
        self._total_audio_ms += len(data) // per_ms
        td = self._turn_detection()
        if td is None:
            self._buffer_bytes += len(data)
            return
        await self._vad(data, per_ms, td)

    async def _vad(self, data: bytes, per_ms: int, td: dict[str, Any]) -> None:
        """Simulated server VAD: the script says when the user speaks (see `OnSpeech`)."""
        turn = self._next_turn(OnSpeech)
        trigger = turn.trigger if turn else None
        idle = self.active is None and not self.pending
        if (
            not isinstance(trigger, OnSpeech)
            or not (idle or trigger.barge_in)
            or (trigger.min_rms and per_ms == 48 and _rms(data) < trigger.min_rms)
        ):
            if self._speech_item is None:
                self._buffer_bytes = 0  # silence is dropped, as real VAD does
            return
        self._buffer_bytes += len(data)
        buffered_ms = self._buffer_bytes // per_ms
        if self._speech_item is None and buffered_ms >= trigger.start_ms:
            self._speech_item = new_id("item")
            self._speech_start_ms = max(0, self._total_audio_ms - buffered_ms)
            await self.emit(
                {
                    "type": "input_audio_buffer.speech_started",
                    "audio_start_ms": self._speech_start_ms,
                    "item_id": self._speech_item,
                }
            )
            if self.active and td.get("interrupt_response", True):
                self.active.cancel("turn_detected")
        if self._speech_item is not None and buffered_ms >= trigger.min_audio_ms:
            await self.emit(
                {
                    "type": "input_audio_buffer.speech_stopped",
                    "audio_end_ms": self._total_audio_ms,
                    "item_id": self._speech_item,
                }
            )
            await self._commit_buffer(self._speech_item)
            if td.get("create_response", True):
                await self._start_next(None, None)

    async def _commit(self, event: dict[str, Any]) -> None:
        buffered_ms = self._buffer_bytes // self._input_bytes_per_ms()
        if buffered_ms < 100:
            raise ClientError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"100ms of audio, but buffer only has {buffered_ms:.2f}ms of audio.",
            )
        await self._commit_buffer(self._speech_item or new_id("item"))

    async def _commit_buffer(self, item_id: str) -> None:
        """Commit the buffer as a user audio item; an `OnSpeech` turn supplies its words."""
        self._turn_audio_ms += self._buffer_bytes // self._input_bytes_per_ms()
        self._buffer_bytes, self._speech_item = 0, None
        previous = self.items.last_id
        await self.emit(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": previous,
                "item_id": item_id,
            }
        )
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        self.items.add(item)
        await self.emit(
            {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
        )
        await self.emit(
            {"type": "conversation.item.done", "previous_item_id": previous, "item": item}
        )
        turn = self._next_turn(OnSpeech)
        if turn is None:
            return
        self._take_turn(turn)
        self._user_text = turn.trigger.transcript  # type: ignore[union-attr]
        if self.session["audio"]["input"].get("transcription") is not None:
            ids = {"item_id": item_id, "content_index": 0}
            await self.emit(
                {
                    "type": "conversation.item.input_audio_transcription.delta",
                    **ids,
                    "delta": self._user_text,
                    "logprobs": None,
                }
            )
            await self.emit(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    **ids,
                    "transcript": self._user_text,
                    "logprobs": None,
                    "usage": {"type": "duration", "seconds": 1},
                }
            )

    async def _clear(self, event: dict[str, Any]) -> None:
        self._buffer_bytes, self._speech_item = 0, None
        await self.emit({"type": "input_audio_buffer.cleared"})

    # -- conversation items ---------------------------------------------------------------

    async def _item_create(self, event: dict[str, Any]) -> None:
        item = conversation.validate_new_item(event.get("item"), self.items)
        previous = event.get("previous_item_id") or self.items.last_id
        self.items.add(item)
        await self.emit(
            {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
        )
        await self.emit(
            {"type": "conversation.item.done", "previous_item_id": previous, "item": item}
        )
        text = conversation.user_text(item)
        if text is not None:
            self._user_text = text
            turn = self._next_turn(OnUserText)
            contains = turn.trigger.contains if turn else None  # type: ignore[union-attr]
            if turn and (contains is None or contains.lower() in text.lower()):
                self._take_turn(turn)

    async def _item_truncate(self, event: dict[str, Any]) -> None:
        item_id, end_ms = conversation.check_truncate(event, self.items)
        await self.emit(
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": end_ms,
            }
        )

    async def _item_delete(self, event: dict[str, Any]) -> None:
        item_id = conversation.require_item(event, self.items)
        self.items.delete(item_id)
        await self.emit({"type": "conversation.item.deleted", "item_id": item_id})

    async def _item_retrieve(self, event: dict[str, Any]) -> None:
        item_id = conversation.require_item(event, self.items)
        await self.emit({"type": "conversation.item.retrieved", "item": self.items.get(item_id)})

    async def _output_clear(self, event: dict[str, Any]) -> None:
        if self.record.transport != "webrtc":
            raise ClientError(
                "invalid_value",
                "output_audio_buffer.clear is only supported for WebRTC sessions.",
                "type",
            )
        await self.emit(
            {
                "type": "output_audio_buffer.cleared",
                "response_id": self.active.id if self.active else None,
            }
        )

    # -- responses ------------------------------------------------------------------------

    def _next_turn(self, kind: type) -> Turn | None:
        if self._turn_index < len(self.script.turns):
            turn = self.script.turns[self._turn_index]
            if isinstance(turn.trigger, kind):
                return turn
        return None

    def _take_turn(self, turn: Turn) -> None:
        self._turn_index += 1
        self.pending = deque(turn.replies)  # type: ignore[arg-type]

    async def _response_create(self, event: dict[str, Any]) -> None:
        if self.active is not None:
            raise ClientError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.active.id}. "
                "Wait until the response is finished before creating a new one.",
            )
        options = event.get("response") or {}
        if not isinstance(options, dict):
            raise ClientError("invalid_type", "Invalid type for 'response'.", "response")
        if not self.pending and (turn := self._next_turn(OnResponseCreate)):
            self._take_turn(turn)
        await self._start_next(options, event)

    async def _response_cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        if self.active is None or (wanted and wanted != self.active.id):
            raise ClientError(
                "response_cancel_not_active", "Cancellation failed: no active response found."
            )
        self.active.cancel("client_cancelled")

    async def _start_next(self, options: dict[str, Any] | None, event: Any) -> None:
        """Start a response for the next pending reply (or the fallback)."""
        if self.active and self.active.task:  # a barge-in cancel is still closing its events
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.active.task
        reply = self.pending.popleft() if self.pending else self.script.fallback
        options = options or {}
        modalities = options.get("output_modalities") or self.session["output_modalities"]
        out = self.session["audio"]["output"]
        audio_output = {"format": out.get("format"), "voice": out.get("voice")}
        in_conversation = options.get("conversation", "auto") != "none"
        text = ""
        if isinstance(reply, Say):
            tool_output = self.items.output_for(self._last_call_id) or ""
            text = render_text(reply.text, tool_output=tool_output, user_text=self._user_text)
        resp = ActiveResponse(
            id=new_id("resp"),
            reply=reply,
            text=text,
            modalities=list(modalities),
            audio_output=audio_output,
            conversation_id=self.conversation_id if in_conversation else None,
            metadata=options.get("metadata"),
        )
        self.active = resp
        resp.task = asyncio.create_task(self._play(resp, in_conversation))

    async def _play(self, resp: ActiveResponse, in_conversation: bool) -> None:
        player = ResponsePlayer(
            self.emit,
            on_item_added=self._store_model_item,
            on_delta=self._after_delta,
            audio_events=self._audio_events,
            in_conversation=in_conversation,
        )
        try:
            await self.emit(
                {"type": "response.created", "response": resp.response_object("in_progress")}
            )
            await self.emit({"type": "rate_limits.updated", "rate_limits": _rate_limits()})
            if isinstance(resp.reply, Say):
                if "audio" in resp.modalities:
                    self._voice_locked = True
                await player.play_say(resp, resp.reply)
            elif isinstance(resp.reply, FunctionCall):
                self._last_call_id = await player.play_function_call(resp, resp.reply)
            status = "cancelled" if resp.cancel_reason else "completed"
            done = resp.response_object(status, usage(self._turn_audio_ms, self._user_text, resp))
            self._turn_audio_ms = 0
            self.active = None  # cleared before response.done so the client may create at once
            await self.emit({"type": "response.done", "response": done})
        except TransportGone:
            pass
        except Exception:  # a fake bug must not hang the test waiting on response.done
            logger.exception("fake response task failed")
        finally:
            if self.active is resp:
                self.active = None

    def _store_model_item(self, item: dict[str, Any]) -> str | None:
        self._current_item = item["id"]
        return self.items.upsert(item, audio_ms=self.active.audio_ms if self.active else 0)

    async def _after_delta(self) -> None:
        self._deltas_sent += 1
        if self.active is not None and self._current_item:
            self.items.set_audio_ms(self._current_item, self.active.audio_ms)
        fault = self._fault
        if fault and self._deltas_sent >= fault.after_deltas:
            self._fault = None
            self.closed = True
            await self._close(fault.close_code)
            raise TransportGone()


def _rate_limits() -> list[dict[str, Any]]:
    return [
        {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
        {"name": "tokens", "limit": 40000, "remaining": 35000, "reset_seconds": 7.5},
    ]


def _rms(pcm16: bytes) -> float:
    samples = array.array("h", pcm16[: len(pcm16) // 2 * 2])
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))
