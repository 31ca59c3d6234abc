"""A small sync Realtime client for tests (`websockets.sync`), speaking to the fake or a relay."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from websockets.sync.client import ClientConnection, connect


class RealtimeTestClient:
    """JSON-event helpers over a sync WebSocket; use as a context manager."""

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        subprotocols: Sequence[str] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
    ) -> None:
        extra = dict(headers or {})
        if api_key:
            extra["Authorization"] = f"Bearer {api_key}"
        self.timeout = timeout
        self.ws: ClientConnection = connect(
            url,
            additional_headers=extra or None,
            subprotocols=list(subprotocols) if subprotocols else None,  # type: ignore[arg-type]
            open_timeout=timeout,
            max_size=None,
        )

    def __enter__(self) -> RealtimeTestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.ws.close()

    def send(self, event_type: str, **fields: Any) -> None:
        self.ws.send(json.dumps({"type": event_type, **fields}))

    def send_event(self, event: dict[str, Any]) -> None:
        self.ws.send(json.dumps(event))

    def append_audio(self, pcm: bytes) -> None:
        self.send("input_audio_buffer.append", audio=base64.b64encode(pcm).decode())

    def recv(self, timeout: float | None = None) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.ws.recv(timeout=timeout or self.timeout))
        return event

    def recv_until(self, event_type: str, timeout: float | None = None) -> list[dict[str, Any]]:
        """Events up to and including the first of `event_type`."""
        events = []
        while True:
            event = self.recv(timeout)
            events.append(event)
            if event["type"] == event_type:
                return events
