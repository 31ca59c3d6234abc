"""A Twilio Media Stream bridged to one Realtime session, G.711 mu-law passed through unchanged.

Pure protocol logic with two narrow sends (`to_twilio`, `to_openai`), so the ASGI handler, the
tests and the benchmark drive the same code. Twilio's caller audio is already 8 kHz mu-law and
the session says `audio/pcmu` both ways, so payloads are copied as base64 strings without being
decoded: the per-frame work is one JSON parse and one string concatenation each way.

Barge-in: every outbound chunk is followed by a Twilio `mark`; Twilio echoes a mark when the
audio before it has played, so the echoed marks say how much of the answer the caller heard.
When the caller starts talking over the answer, the bridge sends Twilio `clear` (drop what is
buffered) and `conversation.item.truncate` at the heard position, so the model forgets the
unheard rest.

Time to first audio and to first text per turn: from the arrival of the caller's last inbound
media frame before `speech_stopped` (its media timestamp is the VAD's `audio_end_ms`) to the
first outbound media frame of the answer, and to its first transcript (or text) delta. Both are
reported together once per answered turn (`TurnTimer`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from widget_api.realtime.turn_timer import OnTurn, TurnTimer

log = logging.getLogger(__name__)

MULAW_BYTES_PER_MS = 8  # 8 kHz, one byte per sample
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_STREAM_SID = re.compile(r"[A-Za-z0-9]{1,64}")
ARRIVALS_KEPT = 512
# A mark per 100 ms of answer audio (and one at its end): the heard position is that precise,
# and the phone leg carries a third of the messages a mark per 20 ms delta would cost.
MARK_EVERY_MS = 100.0  # ~10 s of 20 ms frames: enough to find the frame VAD stopped at


@dataclass
class _Answer:
    """The assistant item being played: audio sent and audio heard, in milliseconds."""

    item_id: str
    sent_ms: float = 0.0
    heard_ms: float = 0.0
    marked_ms: float = 0.0
    marks: deque[tuple[str, float]] = field(default_factory=deque)  # (name, sent_ms at mark)


@dataclass
class BridgeStats:
    media_in: int = 0
    media_out: int = 0
    barge_ins: int = 0
    first_audio_ms: list[float] = field(default_factory=list)
    first_text_ms: list[float] = field(default_factory=list)


class TwilioBridge:
    """One phone call: Twilio frames in/out on one side, Realtime events on the other."""

    def __init__(
        self,
        to_twilio: Callable[[str], None],
        to_openai: Callable[[str], None],
        *,
        on_start: Callable[[dict[str, Any]], None] | None = None,
        on_turn_latency: OnTurn | None = None,
        on_event: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._to_twilio, self._to_openai = to_twilio, to_openai
        self._on_start, self._on_event = on_start, on_event
        self._clock = clock
        self.stream_sid: str | None = None
        self.stopped = False
        self.stats = BridgeStats()
        self._answer: _Answer | None = None
        self._mark_seq = 0
        self._arrivals: deque[tuple[int, float]] = deque(maxlen=ARRIVALS_KEPT)
        self._turns = TurnTimer(on_turn_latency, clock)

    # -- Twilio -> OpenAI -----------------------------------------------------------------

    def from_twilio(self, text: str) -> None:
        """One Twilio message (`connected`, `start`, `media`, `mark`, `dtmf`, `stop`)."""
        if self._fast_media(text):
            return
        try:
            message = json.loads(text)
        except ValueError:
            return
        kind = message.get("event") if isinstance(message, dict) else None
        if kind == "media":
            self._media(message)
        elif kind == "mark":
            self._mark_played(str((message.get("mark") or {}).get("name") or ""))
        elif kind == "start":
            start = message.get("start") or {}
            sid = str(start.get("streamSid") or message.get("streamSid") or "")
            self.stream_sid = sid if _STREAM_SID.fullmatch(sid) else None
            if self._on_start is not None:
                self._on_start(start)
        elif kind == "stop":
            self.stopped = True

    def _fast_media(self, text: str) -> bool:
        """Twilio's media frames (50 a second per call), read without a JSON parse.

        Twilio writes them in one fixed shape; anything else (or anything odd in the fields
        read here) returns False and takes the general path.
        """
        if not text.startswith('{"event":"media"'):
            return False
        track = text.find('"track":"')
        if track >= 0 and not text.startswith("inbound", track + 9):
            return False
        stamp = text.find('"timestamp":"')
        start = text.find('"payload":"')
        if stamp < 0 or start < 0:
            return False
        end = text.find('"', start + 11)
        stamp_end = text.find('"', stamp + 13)
        payload, timestamp = text[start + 11 : end], text[stamp + 13 : stamp_end]
        if end < 0 or not timestamp.isdigit() or not _BASE64.fullmatch(payload):
            return False
        self.stats.media_in += 1
        self._arrivals.append((int(timestamp), self._clock()))
        self._to_openai('{"type":"input_audio_buffer.append","audio":"' + payload + '"}')
        return True

    def _media(self, message: dict[str, Any]) -> None:
        media = message.get("media") or {}
        payload = media.get("payload")
        if not isinstance(payload, str) or media.get("track", "inbound") != "inbound":
            return
        self.stats.media_in += 1
        with contextlib.suppress(TypeError, ValueError):
            self._arrivals.append((int(media.get("timestamp") or 0), self._clock()))
        if not _BASE64.fullmatch(payload):
            return  # never splice anything but base64 into the JSON below
        # base64 needs no JSON escaping: the payload goes through as it came.
        self._to_openai('{"type":"input_audio_buffer.append","audio":"' + payload + '"}')

    def _mark_played(self, name: str) -> None:
        answer = self._answer
        if answer is None:
            return
        while answer.marks:
            mark, at_ms = answer.marks.popleft()
            answer.heard_ms = at_ms
            if mark == name:
                break

    # -- OpenAI -> Twilio -----------------------------------------------------------------

    def from_openai(self, text: str) -> None:
        """One Realtime server event."""
        if self._fast_delta(text):
            return
        try:
            event = json.loads(text)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        kind = str(event.get("type"))
        handler = _ON_OPENAI.get(kind)
        if handler is not None:
            handler(self, event)
        # The agent reads everything but the audio and the VAD events, which are the bridge's.
        if kind not in _BRIDGE_ONLY and self._on_event is not None:
            self._on_event(text)

    def finish(self) -> None:
        """The call is over: store a turn measured but not yet done (its answer cut off)."""
        self._turns.flush()

    def _audio_done(self, event: dict[str, Any]) -> None:
        if self._answer is not None:
            self._mark(self._answer)  # the tail of the answer

    def _text_out(self, event: dict[str, Any]) -> None:
        elapsed = self._turns.first_text(event.get("response_id"))
        if elapsed is not None:
            self.stats.first_text_ms.append(elapsed)

    def _response_created(self, event: dict[str, Any]) -> None:
        response = event.get("response")
        if isinstance(response, dict):
            self._turns.response_created(response)

    def _response_done(self, event: dict[str, Any]) -> None:
        self._turns.response_done((event.get("response") or {}).get("id"))

    def _fast_delta(self, text: str) -> bool:
        """Audio deltas (most of the traffic), read without a JSON parse when plainly shaped."""
        if '"response.output_audio.delta"' not in text[:64]:
            return False
        start = text.find('"delta":"')
        item = text.find('"item_id":"')
        if start < 0 or item < 0:
            return False
        end = text.find('"', start + 9)
        item_end = text.find('"', item + 11)
        if end < 0 or item_end < 0:
            return False
        self._audio_out({"delta": text[start + 9 : end], "item_id": text[item + 11 : item_end]})
        return True

    def _audio_out(self, event: dict[str, Any]) -> None:
        delta, item_id = event.get("delta"), str(event.get("item_id") or "")
        if not isinstance(delta, str) or not self.stream_sid or not _BASE64.fullmatch(delta):
            return
        elapsed = self._turns.first_audio()
        if elapsed is not None:
            self.stats.first_audio_ms.append(elapsed)
        if self._answer is None or self._answer.item_id != item_id:
            self._answer = _Answer(item_id)
        answer = self._answer
        answer.sent_ms += _b64_len(delta) / MULAW_BYTES_PER_MS
        sid = self.stream_sid
        self._to_twilio(
            '{"event":"media","streamSid":"' + sid + '","media":{"payload":"' + delta + '"}}'
        )
        self.stats.media_out += 1
        if answer.sent_ms - answer.marked_ms >= MARK_EVERY_MS:
            self._mark(answer)

    def _mark(self, answer: _Answer) -> None:
        """Ask Twilio to tell us when the audio sent so far has played."""
        if self.stream_sid is None or answer.sent_ms <= answer.marked_ms:
            return
        self._mark_seq += 1
        mark = f"m{self._mark_seq}"
        answer.marks.append((mark, answer.sent_ms))
        answer.marked_ms = answer.sent_ms
        self._to_twilio(
            '{"event":"mark","streamSid":"' + self.stream_sid + '","mark":{"name":"' + mark + '"}}'
        )

    def _barge_in(self) -> None:
        """The caller talks over the answer: drop Twilio's buffer, truncate at what was heard."""
        answer, self._answer = self._answer, None
        self._turns.interrupted()
        if answer is None or not self.stream_sid:
            return
        if not answer.marks and answer.sent_ms <= answer.marked_ms:
            return  # everything sent has played: the answer had finished
        self.stats.barge_ins += 1
        self._to_twilio(json.dumps({"event": "clear", "streamSid": self.stream_sid}))
        self._to_openai(
            json.dumps(
                {
                    "type": "conversation.item.truncate",
                    "item_id": answer.item_id,
                    "content_index": 0,
                    "audio_end_ms": int(answer.heard_ms),
                }
            )
        )

    def _speech_stopped(self, event: dict[str, Any]) -> None:
        """A turn starts: its clock runs from when the caller's last spoken frame arrived."""
        end_ms = event.get("audio_end_ms")
        arrived = None
        if isinstance(end_ms, int | float):
            # The last frame at or before the point VAD called the end of speech.
            for timestamp, at in reversed(self._arrivals):
                if timestamp <= end_ms:
                    arrived = at
                    break
        if arrived is None and self._arrivals:
            arrived = self._arrivals[-1][1]
        self._turns.speech_stopped(arrived)


_ON_OPENAI: dict[str, Callable[[TwilioBridge, dict[str, Any]], None]] = {
    "response.output_audio.delta": TwilioBridge._audio_out,
    "input_audio_buffer.speech_started": lambda bridge, _event: bridge._barge_in(),
    "input_audio_buffer.speech_stopped": TwilioBridge._speech_stopped,
    "response.output_audio.done": TwilioBridge._audio_done,
    "response.output_audio_transcript.delta": TwilioBridge._text_out,
    "response.output_text.delta": TwilioBridge._text_out,
    "response.created": TwilioBridge._response_created,
    "response.done": TwilioBridge._response_done,
}
_BRIDGE_ONLY = frozenset(
    {
        "response.output_audio.delta",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
    }
)


def _b64_len(text: str) -> int:
    """Decoded size of a base64 string, without decoding it."""
    return len(text) * 3 // 4 - text.count("=", max(0, len(text) - 2))
