"""Opening the server-side Realtime WebSocket (standard key, never sent to the page)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from websockets.frames import Frame, Opcode
from websockets.sync.client import ClientConnection, connect

from widget_api.relay.channel import set_nodelay

log = logging.getLogger(__name__)
# websockets logs the handshake headers at DEBUG, Authorization (the OpenAI key) included: its
# connection logger stays at INFO whatever the server's log level.
wire_log = logging.getLogger(__name__ + ".wire")
wire_log.setLevel(logging.INFO)


class UpstreamUnavailable(Exception):
    """The Realtime API refused or could not be reached."""


class Upstream(Protocol):
    def send(self, message: str) -> None: ...
    def recv(self, timeout: float | None = None) -> str | bytes: ...
    def close(self) -> None: ...


class DirectConnection(ClientConnection):
    """A client connection that can hand whole text frames straight to a callback.

    By default websockets queues each received message for a reader thread; for the relay that
    is one thread hand-off per audio frame. With `on_text` set, complete text frames are
    delivered from the connection's own I/O thread instead, in order, and `recv()` is left
    to block until the connection closes (which is how the relay learns about it).
    """

    on_text: Callable[[str], None] | None = None

    def process_event(self, event: Any) -> None:
        handler = self.on_text
        if (
            handler is not None
            and self.response is not None
            and isinstance(event, Frame)
            and event.opcode is Opcode.TEXT
            and event.fin
        ):
            handler(bytes(event.data).decode())
            return
        super().process_event(event)


def realtime_url(base_url: str, model: str) -> str:
    """`wss://host/v1/realtime?model=...` from the REST base URL (http→ws, https→wss)."""
    parts = urlsplit(base_url.rstrip("/"))
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path + "/realtime", f"model={quote(model)}", ""))


def open_upstream(base_url: str, api_key: str, model: str, *, timeout: float) -> ClientConnection:
    """Connect to the Realtime API; raises UpstreamUnavailable with no secret in the message."""
    url = realtime_url(base_url, model)
    try:
        connection = connect(
            url,
            additional_headers={"Authorization": f"Bearer {api_key}"},
            open_timeout=timeout,
            # Audio frames are base64 and barely compress; deflate would only cost CPU.
            compression=None,
            max_size=16 * 1024 * 1024,
            max_queue=256,
            proxy=None,
            close_timeout=2,
            create_connection=DirectConnection,
            logger=wire_log,
        )
    except Exception as exc:  # OSError, InvalidStatus, InvalidHandshake, TimeoutError
        log.warning("realtime upstream unavailable: %s", type(exc).__name__)
        raise UpstreamUnavailable(type(exc).__name__) from exc
    set_nodelay(connection.socket)
    return connection
