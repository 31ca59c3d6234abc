"""The server-side Realtime WebSocket (standard key, never sent to the page), on the relay loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.connection import broadcast
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from widget_api.relay.link import Link

log = logging.getLogger(__name__)
# websockets logs the handshake headers at DEBUG, Authorization (the OpenAI key) included: its
# connection logger stays at INFO whatever the server's log level.
wire_log = logging.getLogger(__name__ + ".wire")
wire_log.setLevel(logging.INFO)

# An upstream that stops reading must not make the server buffer without bound.
MAX_WRITE_BUFFER = 4 * 1024 * 1024


class UpstreamUnavailable(Exception):
    """The Realtime API refused or could not be reached."""


class DirectConnection(ClientConnection):
    """A client connection that hands whole text frames straight to a callback.

    By default websockets queues each received message for a reader task; for the relay that is
    a task switch per audio frame. With `on_text` set, complete text frames are delivered from
    `data_received`, in order; anything else (fragmented or binary messages) still goes through
    the queue, which `UpstreamLink` drains.
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


async def open_upstream(base_url: str, api_key: str, model: str, *, timeout: float) -> UpstreamLink:
    """Connect to the Realtime API; raises UpstreamUnavailable with no secret in the message."""
    url = realtime_url(base_url, model)
    try:
        connection = await connect(
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
    set_nodelay(connection.transport.get_extra_info("socket"))
    return UpstreamLink(connection)  # type: ignore[arg-type]


class UpstreamLink(Link[str]):
    """The upstream side of one conversation: non-blocking `send`/`close`, frames to a handler.

    Frames that arrive before `attach` (OpenAI's `session.created`) are kept and replayed.
    """

    def __init__(self, connection: DirectConnection) -> None:
        super().__init__()
        self._conn = connection
        self._backlog: list[str] = []
        self._closing: asyncio.Task[None] | None = None
        connection.on_text = self._deliver
        self._reader = asyncio.get_running_loop().create_task(self._read_queued())

    def _attached(self) -> None:
        assert self._on_frame is not None
        backlog, self._backlog = self._backlog, []
        for frame in backlog:
            self._on_frame(frame)

    def send(self, text: str) -> None:
        conn = self._conn
        if conn.protocol.state is not State.OPEN:
            return  # closing: the reader reports the close
        if conn.transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            log.warning("upstream stopped reading; dropping its connection")
            conn.transport.abort()
            return
        # broadcast() is websockets' synchronous send: no task switch per audio frame.
        broadcast((conn,), text)

    def close(self) -> None:
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._conn.close())

    async def wait_closed(self) -> None:
        await self._conn.wait_closed()

    def _deliver(self, frame: str) -> None:
        if self._on_frame is None:
            self._backlog.append(frame)
        else:
            self._on_frame(frame)

    async def _read_queued(self) -> None:
        """Drain what the direct path leaves queued; returns when the connection closes."""
        try:
            async for message in self._conn:
                if isinstance(message, str):
                    self._deliver(message)
        except Exception:  # ConnectionClosedError (any flavour), OSError
            pass
        self._ended()


def set_nodelay(sock: Any) -> None:
    """Send each small audio frame at once: Nagle's algorithm would hold it for an ACK."""
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
