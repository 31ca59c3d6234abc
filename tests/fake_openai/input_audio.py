"""The input audio buffer and simulated server VAD of one Realtime session.

Audio is counted, never understood: the script (`OnSpeech`) says what the user said and how much
audio it takes, so tests are deterministic whatever the client streams.
"""

from __future__ import annotations

import array
import math
from typing import TYPE_CHECKING, Any

from .audio import b64_size, decode_b64
from .protocol import bytes_per_ms, new_id
from .recording import AUDIO_SAMPLE_BYTES
from .script import OnSpeech

MAX_APPEND_BASE64 = 15 * 1024 * 1024 * 4 // 3 + 4  # 15 MiB of audio per append (§12)

if TYPE_CHECKING:
    from .session import RealtimeSession


def _client_error(code: str, message: str, param: str | None = None) -> Exception:
    from .session import ClientError  # session imports this module

    return ClientError(code, message, param)


_ECHO_HEAD = '{"type":"response.output_audio.delta","event_id":"'
_ECHO_MID = (
    '","response_id":"resp_echo","item_id":"item_echo","output_index":0,"content_index":0,"delta":"'
)


class InputAudio:
    """Buffered input audio since the last commit, and the VAD speech state."""

    def __init__(self, session: RealtimeSession) -> None:
        self._s = session
        self._buffer_bytes = 0
        self._total_audio_ms = 0
        self._speech_item: str | None = None
        self._speech_start_ms = 0

    def _turn_detection(self) -> dict[str, Any] | None:
        td: dict[str, Any] | None = self._s.session["audio"]["input"].get("turn_detection")
        return td

    def _input_bytes_per_ms(self) -> int:
        return bytes_per_ms(self._s.session["audio"]["input"].get("format"))

    async def echo(self, event: dict[str, Any]) -> None:
        """Echo mode: answer the frame at once with the same base64 audio.

        This path carries the relay benchmark's whole load, so it builds the JSON by hand
        (base64 needs no escaping) and counts bytes without decoding once the sample is full.
        """
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise _client_error(
                "missing_required_parameter", "Missing required parameter: 'audio'.", "audio"
            )
        record, recorder = self._s.record, self._s.recorder
        recorder.note_received(record, event)
        if len(record.audio_sample) < AUDIO_SAMPLE_BYTES:
            recorder.note_audio(record, decode_b64(audio))
        else:
            recorder.note_audio_size(record, b64_size(audio))
        await self._s.send_raw(
            "response.output_audio.delta",
            _ECHO_HEAD + self._s.next_event_id() + _ECHO_MID + audio + '"}',
        )

    async def append(self, event: dict[str, Any]) -> None:
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise _client_error(
                "missing_required_parameter", "Missing required parameter: 'audio'.", "audio"
            )
        if len(audio) > MAX_APPEND_BASE64:
            raise _client_error(
                "invalid_value", "Invalid 'audio': at most 15 MiB of audio per append.", "audio"
            )
        try:
            data = decode_b64(audio)
        except (ValueError, UnicodeEncodeError):
            raise _client_error(
                "invalid_value", "Invalid 'audio': not valid base64.", "audio"
            ) from None
        await self.feed(data)

    async def feed(self, data: bytes) -> None:
        """Input audio from an append, or decoded from the WebRTC microphone track."""
        self._s.recorder.note_audio(self._s.record, data)
        per_ms = self._input_bytes_per_ms()
        self._total_audio_ms += len(data) // per_ms
        td = self._turn_detection()
        if td is None:
            self._buffer_bytes += len(data)
            return
        await self._vad(data, per_ms, td)

    async def _vad(self, data: bytes, per_ms: int, td: dict[str, Any]) -> None:
        """Simulated server VAD: the script says when the user speaks (see `OnSpeech`)."""
        turn = self._s.next_turn(OnSpeech)
        trigger = turn.trigger if turn else None
        idle = self._s.active is None and not self._s.pending
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
            await self._s.emit(
                {
                    "type": "input_audio_buffer.speech_started",
                    "audio_start_ms": self._speech_start_ms,
                    "item_id": self._speech_item,
                }
            )
            if self._s.active and td.get("interrupt_response", True):
                self._s.active.cancel("turn_detected")
        if self._speech_item is not None and buffered_ms >= trigger.min_audio_ms:
            await self._s.emit(
                {
                    "type": "input_audio_buffer.speech_stopped",
                    "audio_end_ms": self._total_audio_ms,
                    "item_id": self._speech_item,
                }
            )
            await self._commit_buffer(self._speech_item)
            if td.get("create_response", True):
                await self._s.start_next(None, None)

    async def commit(self, event: dict[str, Any]) -> None:
        buffered_ms = self._buffer_bytes // self._input_bytes_per_ms()
        if buffered_ms < 100:
            raise _client_error(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"100ms of audio, but buffer only has {buffered_ms:.2f}ms of audio.",
            )
        await self._commit_buffer(self._speech_item or new_id("item"))

    async def _commit_buffer(self, item_id: str) -> None:
        """Commit the buffer as a user audio item; an `OnSpeech` turn supplies its words."""
        self._s.turn_audio_ms += self._buffer_bytes // self._input_bytes_per_ms()
        self._buffer_bytes, self._speech_item = 0, None
        previous = self._s.items.last_id
        await self._s.emit(
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
        self._s.items.add(item)
        await self._s.emit(
            {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
        )
        await self._s.emit(
            {"type": "conversation.item.done", "previous_item_id": previous, "item": item}
        )
        turn = self._s.next_turn(OnSpeech)
        if turn is None:
            return
        self._s.take_turn(turn)
        self._s.user_text = turn.trigger.transcript  # type: ignore[union-attr]
        if self._s.session["audio"]["input"].get("transcription") is not None:
            ids = {"item_id": item_id, "content_index": 0}
            if turn.trigger.transcription_fails:  # type: ignore[union-attr]
                error = {
                    "type": "transcription_error",
                    "code": "audio_unintelligible",
                    "message": "The audio could not be transcribed.",
                    "param": None,
                }
                failed = {"type": "conversation.item.input_audio_transcription.failed", **ids}
                await self._s.emit({**failed, "error": error})
                return
            await self._s.emit(
                {
                    "type": "conversation.item.input_audio_transcription.delta",
                    **ids,
                    "delta": self._s.user_text,
                    "logprobs": None,
                }
            )
            await self._s.emit(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    **ids,
                    "transcript": self._s.user_text,
                    "logprobs": None,
                    "usage": {"type": "duration", "seconds": 1},
                }
            )

    async def clear(self, event: dict[str, Any]) -> None:
        self._buffer_bytes, self._speech_item = 0, None
        await self._s.emit({"type": "input_audio_buffer.cleared"})


def _rms(pcm16: bytes) -> float:
    samples = array.array("h", pcm16[: len(pcm16) // 2 * 2])
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))
