"""A loopback stand-in for Twilio's side of a Media Stream (bidirectional `<Connect><Stream>`).

It speaks Twilio's documented messages to our `/ws/twilio/<companyId>`: `connected`, `start`
(with `customParameters`), `media` (160-byte 8 kHz mu-law frames every 20 ms, base64), `mark`
echoes once the audio before a mark has "played" (at real-time pace, as a phone would), and
`stop`; it records the `media`, `mark` and `clear` messages it receives. The handshake carries
`X-Twilio-Signature` computed with the auth token, as Twilio does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from widget_api.phone.twilio_signature import stream_token, twilio_signature

FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
FRAME_SECONDS = 0.020
SILENCE = b"\xff" * FRAME_BYTES  # mu-law silence


@dataclass
class Received:
    media: list[tuple[float, str]] = field(default_factory=list)  # (arrival, base64 payload)
    marks: list[str] = field(default_factory=list)
    clears: int = 0
    other: list[dict[str, Any]] = field(default_factory=list)


class TwilioStream:
    """One phone call's media stream as Twilio runs it."""

    def __init__(
        self, url: str, *, auth_token: str, company_id: str, caller: str = "+15550100100",
        play_marks: bool = True,
    ) -> None:  # fmt: skip
        self.url, self.auth_token, self.company_id = url, auth_token, company_id
        self.caller, self.play_marks = caller, play_marks
        self.call_sid = "CA" + secrets.token_hex(16)
        self.stream_sid = "MZ" + secrets.token_hex(16)
        self.received = Received()
        self.ws: ClientConnection | None = None
        self._seq = 0
        self._started: float | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending_marks: list[tuple[float, str]] = []
        self._play_until = 0.0

    async def open(self, *, token: str | None = None, signature: str | None = None) -> None:
        """Handshake (signed), then `connected` and `start` with the stream token."""
        sig = signature or twilio_signature(self.auth_token, self.url, {})
        self.ws = await connect(
            self.url, additional_headers={"X-Twilio-Signature": sig}, max_size=None,
            compression=None,
        )  # fmt: skip
        self._reader = asyncio.get_running_loop().create_task(self._read())
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        params = {
            "token": token or stream_token(self.auth_token, self.company_id, self.call_sid),
            "caller": self.caller,
        }
        await self._send({
            "event": "start", "sequenceNumber": str(self._next_seq()), "streamSid": self.stream_sid,
            "start": {
                "streamSid": self.stream_sid, "accountSid": "AC" + "0" * 32,
                "callSid": self.call_sid, "tracks": ["inbound"], "customParameters": params,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        })  # fmt: skip
        self._started = time.monotonic()

    async def send_media(self, payload: bytes, timestamp_ms: int | None = None) -> None:
        started = self._started or time.monotonic()
        stamp = (
            timestamp_ms if timestamp_ms is not None else int((time.monotonic() - started) * 1000)
        )
        await self._send({
            "event": "media", "sequenceNumber": str(self._next_seq()), "streamSid": self.stream_sid,
            "media": {"track": "inbound", "chunk": str(self._seq), "timestamp": str(stamp),
                      "payload": base64.b64encode(payload).decode()},
        })  # fmt: skip

    async def speak(self, seconds: float) -> None:
        """Stream `seconds` of caller audio at real-time pace (20 ms frames)."""
        frames = int(seconds / FRAME_SECONDS)
        start = time.monotonic()
        for i in range(frames):
            await self.send_media(b"\x10" * FRAME_BYTES)
            await asyncio.sleep(max(0.0, start + (i + 1) * FRAME_SECONDS - time.monotonic()))

    async def stop(self) -> None:
        await self._send({
            "event": "stop", "sequenceNumber": str(self._next_seq()), "streamSid": self.stream_sid,
            "stop": {"accountSid": "AC" + "0" * 32, "callSid": self.call_sid},
        })  # fmt: skip

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()

    async def wait_closed(self, timeout: float = 10) -> None:
        if self.ws is not None:
            await asyncio.wait_for(self.ws.wait_closed(), timeout)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def _send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(message))

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for text in self.ws:
                self._on_message(json.loads(text))
        except Exception:  # closed under us
            return

    def _on_message(self, message: dict[str, Any]) -> None:
        now = time.monotonic()
        kind = message.get("event")
        if kind == "media":
            payload = message["media"]["payload"]
            self.received.media.append((now, payload))
            # The phone plays it at real time: 8 bytes per millisecond.
            size = len(base64.b64decode(payload))
            self._play_until = max(self._play_until, now) + size / 8000
        elif kind == "mark":
            name = message["mark"]["name"]
            self.received.marks.append(name)
            if self.play_marks:
                asyncio.get_running_loop().call_later(
                    max(0.0, self._play_until - now), self._echo_mark, name
                )
        elif kind == "clear":
            self.received.clears += 1
            self._play_until = now  # buffered audio dropped; pending marks come back now
        else:
            self.received.other.append(message)

    def _echo_mark(self, name: str) -> None:
        if self.ws is None:
            return
        asyncio.get_running_loop().create_task(
            self._send(
                {
                    "event": "mark",
                    "sequenceNumber": str(self._next_seq()),
                    "streamSid": self.stream_sid,
                    "mark": {"name": name},
                }
            )
        )
