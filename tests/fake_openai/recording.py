"""What the fake saw, recorded in the server thread and read as snapshots from test threads.

Audio is counted, not kept: only the first `AUDIO_SAMPLE_BYTES` of input audio are stored so a
test can check it was real sound. Keys never reach a record (headers are redacted).
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

AUDIO_SAMPLE_BYTES = 48_000  # one second of PCM16 at 24 kHz
MAX_TYPES = 20_000  # bound the per-connection type logs (echo benchmarks send many frames)
SECRET_HEADERS = frozenset({"authorization", "sec-websocket-protocol", "cookie"})


def redact_headers(headers: Any) -> dict[str, str]:
    """Header copy with credentials masked (the subprotocol list carries the ephemeral key)."""
    redacted: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "sec-websocket-protocol":
            redacted[lowered] = redact_subprotocols(value.split(","))
        elif lowered in SECRET_HEADERS:
            redacted[lowered] = value.split(" ", 1)[0] + " [redacted]"
        else:
            redacted[lowered] = value
    return redacted


def redact_subprotocols(protocols: list[str]) -> str:
    out = []
    for proto in (p.strip() for p in protocols):
        if proto.startswith("openai-insecure-api-key."):
            proto = "openai-insecure-api-key.[redacted]"
        out.append(proto)
    return ", ".join(out)


@dataclass
class ConnectionRecord:
    """One Realtime connection (WebSocket or WebRTC data channel)."""

    id: int
    transport: str
    model: str | None = None
    call_id: str | None = None
    auth: str | None = None  # "api_key" | "ephemeral"
    headers: dict[str, str] = field(default_factory=dict)
    subprotocol: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)  # non-audio client events, in full
    received_types: list[str] = field(default_factory=list)
    event_counts: Counter[str] = field(default_factory=Counter)
    audio_bytes: int = 0
    audio_frames: int = 0
    audio_sample: bytes = b""
    sent_types: list[str] = field(default_factory=list)
    sent_counts: Counter[str] = field(default_factory=Counter)
    errors_sent: list[dict[str, Any]] = field(default_factory=list)
    session: dict[str, Any] = field(default_factory=dict)
    closed: bool = False
    close_code: int | None = None
    closed_by: str | None = None  # "client" | "server"
    rtp_audio_packets: int = 0  # WebRTC only: media packets received on the remote track
    responses: list[dict[str, Any]] = field(default_factory=list)  # id, status, reason, kind, text

    def received(self, event_type: str) -> list[dict[str, Any]]:
        """The recorded client events of one type (appends are not kept)."""
        return [e for e in self.events if e.get("type") == event_type]


class Recorder:
    """All records, behind one lock; readers get deep copies."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connections: list[ConnectionRecord] = []
        self._next_id = 0
        self.client_secret_requests: list[Any] = []
        self.client_secret_headers: list[dict[str, str]] = []
        self.call_requests: list[dict[str, Any]] = []

    def clear(self) -> None:
        """Forget everything recorded so far (a session-scoped fake between tests)."""
        with self.lock:
            self.connections.clear()
            self.client_secret_requests.clear()
            self.client_secret_headers.clear()
            self.call_requests.clear()

    def new_connection(self, transport: str) -> ConnectionRecord:
        with self.lock:
            self._next_id += 1
            record = ConnectionRecord(id=self._next_id, transport=transport)
            self.connections.append(record)
            return record

    def note_received(self, record: ConnectionRecord, event: dict[str, Any]) -> None:
        event_type = str(event.get("type"))
        with self.lock:
            record.event_counts[event_type] += 1
            if len(record.received_types) < MAX_TYPES:
                record.received_types.append(event_type)
            if event_type != "input_audio_buffer.append":
                record.events.append(event)

    def note_audio(self, record: ConnectionRecord, audio: bytes) -> None:
        with self.lock:
            record.audio_bytes += len(audio)
            record.audio_frames += 1
            room = AUDIO_SAMPLE_BYTES - len(record.audio_sample)
            if room > 0:
                record.audio_sample += audio[:room]

    def note_audio_size(self, record: ConnectionRecord, size: int) -> None:
        with self.lock:
            record.audio_bytes += size
            record.audio_frames += 1

    def note_sent(self, record: ConnectionRecord, event: dict[str, Any]) -> None:
        self.note_sent_type(record, str(event.get("type")))
        if event.get("type") == "error":
            with self.lock:
                record.errors_sent.append(event)

    def note_sent_type(self, record: ConnectionRecord, event_type: str) -> None:
        with self.lock:
            record.sent_counts[event_type] += 1
            if len(record.sent_types) < MAX_TYPES:
                record.sent_types.append(event_type)

    def update(self, record: ConnectionRecord, **fields: Any) -> None:
        with self.lock:
            for name, value in fields.items():
                setattr(record, name, value)

    def snapshot_connections(self) -> list[ConnectionRecord]:
        with self.lock:
            return copy.deepcopy(self.connections)

    def snapshot(self, name: str) -> Any:
        with self.lock:
            return copy.deepcopy(getattr(self, name))
