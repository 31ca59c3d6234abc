"""Playing one scripted reply as a GA response: the exact server event order of protocol §6.4/§7.

A response runs as its own task so the connection keeps reading client events meanwhile
(barge-in, `response.cancel`, a too-early `response.create`). Cancellation is cooperative: the
task notices the flag between deltas and closes the open item, part and response properly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from .audio import b64, sine_audio, split_chunks
from .protocol import bytes_per_ms, new_id
from .script import Fail, FunctionCall, Say

Emit = Callable[[dict[str, Any]], Awaitable[None]]


class AudioSink(Protocol):
    """Where WebRTC model audio goes (the outgoing media track)."""

    def push(self, pcm: bytes) -> None: ...

    def clear(self) -> None: ...

    @property
    def queued(self) -> int: ...


class TransportGone(Exception):
    """The client connection closed (or a fault closed it) while a response was playing."""


@dataclass
class ActiveResponse:
    """One response in flight; `cancel_reason` set means stop at the next delta."""

    id: str
    reply: Say | FunctionCall | Fail | None
    text: str
    modalities: list[str]
    audio_output: dict[str, Any]
    conversation_id: str | None
    metadata: Any = None
    cancel_reason: str | None = None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    output: list[dict[str, Any]] = field(default_factory=list)
    audio_bytes: int = 0
    text_sent: str = ""
    task: asyncio.Task[None] | None = None
    details: dict[str, Any] | None = None  # status_details of a failed/incomplete response

    @property
    def audio_ms(self) -> int:
        return self.audio_bytes // bytes_per_ms(self.audio_output.get("format"))

    def cancel(self, reason: str) -> None:
        if self.cancel_reason is None:
            self.cancel_reason = reason
            self.cancelled.set()

    def response_object(self, status: str, usage: dict[str, Any] | None = None) -> dict[str, Any]:
        details: dict[str, Any] | None = self.details
        if status == "cancelled":
            details = {"type": "cancelled", "reason": self.cancel_reason}
        return {
            "object": "realtime.response",
            "id": self.id,
            "status": status,
            "status_details": details,
            "output": list(self.output),
            "conversation_id": self.conversation_id,
            "output_modalities": list(self.modalities),
            "max_output_tokens": "inf",
            "audio": {"output": self.audio_output},
            "usage": usage,
            "metadata": self.metadata,
        }


class ResponsePlayer:
    """Emits the events for one reply; the owning session supplies emit/item hooks."""

    def __init__(
        self,
        emit: Emit,
        *,
        on_item_added: Callable[[dict[str, Any]], str | None],
        on_delta: Callable[[], Awaitable[None]],
        audio_sink: AudioSink | None,
        in_conversation: bool,
    ) -> None:
        self._emit = emit
        self._on_item_added = on_item_added  # returns previous_item_id, stores the item
        self._on_delta = on_delta  # fault hook: may close the transport mid-response
        self._audio_sink = audio_sink  # WebRTC: audio rides the media track, not events
        self._in_conversation = in_conversation

    async def play_say(self, resp: ActiveResponse, reply: Say) -> None:
        audio = "audio" in resp.modalities
        item_id = new_id("item")
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        await self._add_item(resp, item)
        ids = {"response_id": resp.id, "item_id": item_id, "output_index": 0, "content_index": 0}
        empty_part = {"type": "audio", "transcript": ""} if audio else {"type": "text", "text": ""}
        await self._emit({"type": "response.content_part.added", **ids, "part": empty_part})
        words = _split_text(resp.text, reply.chunks)
        fmt = resp.audio_output.get("format")
        tone = sine_audio(fmt, reply.chunks * reply.ms_per_chunk, reply.frequency_hz)
        chunks = split_chunks(tone, reply.chunks, sample_width=2 if bytes_per_ms(fmt) == 48 else 1)
        await _pause(resp, reply.delay_s)  # the model "thinks" before its first audio
        for i in range(reply.chunks):
            if resp.cancel_reason:
                break
            if audio:
                if self._audio_sink is not None:
                    if i == 0:
                        await self._emit(
                            {"type": "output_audio_buffer.started", "response_id": resp.id}
                        )
                    self._audio_sink.push(chunks[i])
                else:
                    await self._emit(
                        {"type": "response.output_audio.delta", **ids, "delta": b64(chunks[i])}
                    )
                resp.audio_bytes += len(chunks[i])
                await self._emit(
                    {"type": "response.output_audio_transcript.delta", **ids, "delta": words[i]}
                )
            else:
                await self._emit({"type": "response.output_text.delta", **ids, "delta": words[i]})
            resp.text_sent += words[i]
            await self._on_delta()
            await _pause(resp, reply.pace_s)
        if reply.hold and not resp.cancel_reason:
            await resp.cancelled.wait()
        await self._finish_message(resp, item, ids, audio)

    async def _finish_message(
        self, resp: ActiveResponse, item: dict[str, Any], ids: dict[str, Any], audio: bool
    ) -> None:
        text = resp.text_sent if resp.cancel_reason else resp.text
        if audio:
            await self._emit({"type": "response.output_audio.done", **ids})
            await self._emit(
                {"type": "response.output_audio_transcript.done", **ids, "transcript": text}
            )
            part = {"type": "audio", "transcript": text}
            content = {"type": "output_audio", "transcript": text}
        else:
            await self._emit({"type": "response.output_text.done", **ids, "text": text})
            part = {"type": "text", "text": text}
            content = {"type": "output_text", "text": text}
        await self._emit({"type": "response.content_part.done", **ids, "part": part})
        done = dict(
            item, status="incomplete" if resp.cancel_reason else "completed", content=[content]
        )
        await self._done_item(resp, done)

    async def play_function_call(self, resp: ActiveResponse, call: FunctionCall) -> str:
        """Stream one function_call item; returns its call_id."""
        item_id, call_id = new_id("item"), call.call_id or new_id("call")
        arguments = call.arguments_text
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": call.name,
            "call_id": call_id,
            "arguments": "",
        }
        await self._add_item(resp, item)
        ids = {"response_id": resp.id, "item_id": item_id, "output_index": 0, "call_id": call_id}
        for piece in _split_chars(arguments, call.chunks):
            await self._emit(
                {"type": "response.function_call_arguments.delta", **ids, "delta": piece}
            )
            await self._on_delta()
        await self._emit(
            {
                "type": "response.function_call_arguments.done",
                **ids,
                "name": call.name,
                "arguments": arguments,
            }
        )
        await self._done_item(resp, dict(item, status="completed", arguments=arguments))
        return call_id

    async def _add_item(self, resp: ActiveResponse, item: dict[str, Any]) -> None:
        await self._item_event(resp, item, "added")

    async def _done_item(self, resp: ActiveResponse, item: dict[str, Any]) -> None:
        resp.output.append(item)
        await self._item_event(resp, item, "done")

    async def _item_event(
        self, resp: ActiveResponse, item: dict[str, Any], phase: Literal["added", "done"]
    ) -> None:
        """`response.output_item.<phase>`, then the conversation event when it is in one."""
        await self._emit(
            {
                "type": f"response.output_item.{phase}",
                "response_id": resp.id,
                "output_index": 0,
                "item": item,
            }
        )
        if self._in_conversation:
            previous = self._on_item_added(item)
            await self._emit(
                {"type": f"conversation.item.{phase}", "previous_item_id": previous, "item": item}
            )


async def _pause(resp: ActiveResponse, seconds: float) -> None:
    if seconds <= 0:
        await asyncio.sleep(0)  # let the reader handle a barge-in between deltas
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(resp.cancelled.wait(), timeout=seconds)


def _split_text(text: str, count: int) -> list[str]:
    """Split into `count` pieces on word boundaries where possible; pieces join back to `text`."""
    words = text.split(" ")
    count = max(1, count)
    pieces = []
    for i in range(count):
        part = words[len(words) * i // count : len(words) * (i + 1) // count]
        pieces.append(" ".join(part) + (" " if i < count - 1 and part else ""))
    joined = "".join(pieces)
    if joined != text:  # fewer words than chunks: fall back to a character split
        return _split_chars(text, count)
    return pieces


def _split_chars(text: str, count: int) -> list[str]:
    count = max(1, count)
    return [text[len(text) * i // count : len(text) * (i + 1) // count] for i in range(count)]


def usage(input_audio_ms: int, input_text: str, resp: ActiveResponse) -> dict[str, Any]:
    """Token usage as billed: user audio 1 token/100 ms, assistant audio 1 token/50 ms."""
    in_audio = input_audio_ms // 100
    in_text = len(input_text.split())
    out_audio = resp.audio_ms // 50
    out_text = len(resp.text_sent.split()) + sum(
        len(str(i.get("arguments", "")).split()) for i in resp.output
    )
    return {
        "total_tokens": in_audio + in_text + out_audio + out_text,
        "input_tokens": in_audio + in_text,
        "output_tokens": out_audio + out_text,
        "input_token_details": {
            "text_tokens": in_text,
            "audio_tokens": in_audio,
            "image_tokens": 0,
            "cached_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": out_text, "audio_tokens": out_audio},
    }
