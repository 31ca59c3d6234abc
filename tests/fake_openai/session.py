"""One Realtime session: the GA client-event state machine, independent of the transport.

The WebSocket handler and the WebRTC data channel both feed client events in through
`handle_text` and give a `send_text` coroutine for server events, so scripted behaviour is the
same on both transports.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from . import conversation
from .faults import Fault
from .input_audio import InputAudio
from .protocol import error_event, event_session, new_id
from .recording import ConnectionRecord, Recorder
from .responses import ActiveResponse, AudioSink, ResponsePlayer, TransportGone, usage
from .script import Fail, FunctionCall, OnResponseCreate, OnUserText, Reply, Say, Script, Turn
from .script import render as render_text
from .session_config import merge_session
from .validation import InvalidRequest, validate_response_options, validate_session

logger = logging.getLogger(__name__)

SendText = Callable[[str], Awaitable[None]]
Close = Callable[[int | None], Awaitable[None]]
SIDEBAND_SEND_TIMEOUT = 2.0


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
        audio_sink: AudioSink | None = None,
    ) -> None:
        self._senders: list[SendText] = [send_text]
        self._close = close
        self.record, self.recorder = record, recorder
        self.script, self.session = script, session
        self._fault = fault if fault and fault.kind == "close_mid_response" else None
        self._audio_sink = audio_sink  # WebRTC: audio goes to the media track, not to events
        self.conversation_id = new_id("conv")
        self._event_prefix = secrets.token_hex(4)
        self._event_counter = 0
        self.items = conversation.Items()
        self._turn_index = 0
        self.pending: deque[Reply] = deque()
        self.active: ActiveResponse | None = None
        self.input_audio = InputAudio(self)
        self.turn_audio_ms = 0  # user audio since the last response, for usage figures
        self.user_text = ""
        self._last_call_id: str | None = None
        self._current_item: str | None = None
        self._deltas_sent = 0
        self._voice_locked = False
        self.closed = False
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self.input_audio.append,
            "input_audio_buffer.commit": self.input_audio.commit,
            "input_audio_buffer.clear": self.input_audio.clear,
            "conversation.item.create": self._item_create,
            "conversation.item.truncate": self._item_truncate,
            "conversation.item.delete": self._item_delete,
            "conversation.item.retrieve": self._item_retrieve,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
            "output_audio_buffer.clear": self._output_clear,
        }

    # -- plumbing -------------------------------------------------------------------------

    def next_event_id(self) -> str:
        """`event_<connection prefix><counter>`: unique, and cheaper than random per event."""
        self._event_counter += 1
        return f"event_{self._event_prefix}{self._event_counter:06x}"

    async def emit(self, event: dict[str, Any]) -> None:
        """Send one server event with its own `event_id`, recording it."""
        body = {"type": event["type"], "event_id": self.next_event_id(), **event}
        if body["type"] == "error":
            self.recorder.note_sent(self.record, body)
            await self.send_raw(body["type"], json.dumps(body), noted=True)
        else:
            await self.send_raw(body["type"], json.dumps(body))

    async def send_raw(self, event_type: str, text: str, *, noted: bool = False) -> None:
        """Send an already serialized server event."""
        if self.closed:
            raise TransportGone()
        if not noted:
            self.recorder.note_sent_type(self.record, event_type)
        for index, sender in enumerate(list(self._senders)):
            try:
                if index == 0:
                    await sender(text)
                else:  # a sideband that stops reading must not stall the call itself
                    await asyncio.wait_for(sender(text), timeout=SIDEBAND_SEND_TIMEOUT)
            except (ConnectionError, RuntimeError, TimeoutError) as exc:
                if index == 0:
                    self.closed = True
                    raise TransportGone() from exc
                self.remove_sender(sender)

    def add_sender(self, send_text: SendText) -> None:
        """Also deliver server events to a second connection (a sideband WebSocket)."""
        self._senders.append(send_text)

    def remove_sender(self, send_text: SendText) -> None:
        if send_text in self._senders[1:]:
            self._senders.remove(send_text)

    async def open(self) -> None:
        await self.emit({"type": "session.created", "session": event_session(self.session)})
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
                await self.input_audio.echo(event)
                return
            self.recorder.note_received(self.record, event)
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
        self.recorder.update(self.record, session=self.session)
        await self.emit({"type": "session.updated", "session": event_session(self.session)})

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
            self.user_text = text
            turn = self.next_turn(OnUserText)
            contains = turn.trigger.contains if turn else None  # type: ignore[union-attr]
            if turn and (contains is None or contains.lower() in text.lower()):
                self.take_turn(turn)

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

    def next_turn(self, kind: type) -> Turn | None:
        if self._turn_index < len(self.script.turns):
            turn = self.script.turns[self._turn_index]
            if isinstance(turn.trigger, kind):
                return turn
        return None

    def take_turn(self, turn: Turn) -> None:
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
        validate_response_options(options)
        if not self.pending and (turn := self.next_turn(OnResponseCreate)):
            self.take_turn(turn)
        await self.start_next(options, event)

    async def _response_cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        if self.active is None or (wanted and wanted != self.active.id):
            raise ClientError(
                "response_cancel_not_active", "Cancellation failed: no active response found."
            )
        self.active.cancel("client_cancelled")

    async def start_next(self, options: dict[str, Any] | None, event: Any) -> None:
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
            text = render_text(reply.text, tool_output=tool_output, user_text=self.user_text)
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
            audio_sink=self._audio_sink,
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
            if isinstance(resp.reply, Fail) and not resp.cancel_reason:
                status, resp.details = resp.reply.status, fail_details(resp.reply)
            done = resp.response_object(status, usage(self.turn_audio_ms, self.user_text, resp))
            self.turn_audio_ms = 0
            self.active = None  # cleared before response.done so the client may create at once
            self._record_response(resp, status)
            await self.emit({"type": "response.done", "response": done})
            await self._end_output_buffer(resp)
        except TransportGone:
            pass
        except Exception:  # a fake bug must not hang the test waiting on response.done
            logger.exception("fake response task failed")
        finally:
            if self.active is resp:
                self.active = None

    def _record_response(self, resp: ActiveResponse, status: str) -> None:
        kind = "function_call" if isinstance(resp.reply, FunctionCall) else "message"
        summary = {
            "id": resp.id,
            "status": status,
            "reason": resp.cancel_reason,
            "kind": kind if resp.reply is not None else "empty",
            "text": resp.text_sent,
            "metadata": resp.metadata,
        }
        with self.recorder.lock:
            self.record.responses.append(summary)

    async def _end_output_buffer(self, resp: ActiveResponse) -> None:
        """WebRTC only: the output buffer stops (played out) or is cleared (cancelled)."""
        if self._audio_sink is None or not resp.audio_bytes:
            return
        if resp.cancel_reason:
            self._audio_sink.clear()
            await self.emit({"type": "output_audio_buffer.cleared", "response_id": resp.id})
        else:
            # As the API does: `stopped` once the audio has actually played out, not when the
            # response is done (it is generated faster than real time).
            while self._audio_sink.queued and not self.closed:
                await asyncio.sleep(0.02)
            await self.emit({"type": "output_audio_buffer.stopped", "response_id": resp.id})

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


def fail_details(reply: Fail) -> dict[str, Any]:
    """`status_details` of a failed or incomplete response (SDK: RealtimeResponseStatus)."""
    if reply.status == "incomplete":
        return {"type": "incomplete", "reason": reply.reason or "max_output_tokens"}
    return {"type": "failed", "error": {"type": "server_error", "code": reply.code}}


def _rate_limits() -> list[dict[str, Any]]:
    return [
        {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
        {"name": "tokens", "limit": 40000, "remaining": 35000, "reset_seconds": 7.5},
    ]
