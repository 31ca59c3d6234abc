"""The page's WebSocket, taken over from simple-websocket by the relay loop.

flask-sock still does the handshake (origin check, auth, the 101 answer through simple-websocket's
wsproto connection), but simple-websocket's per-connection reader thread is never started: the
route installs `DeferredReader` as its `thread_class`. A relayed conversation then hands a
duplicate of the socket and the already-open wsproto connection (with any permessage-deflate the
browser negotiated) to the loop, where `PageLink` reads and writes frames in callbacks. The local
text engine, low-rate and blocking, starts the reader thread and keeps simple-websocket's API.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from wsproto import WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, TextMessage
from wsproto.frame_protocol import CloseReason
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from widget_api.relay.channel import SocketChannel, set_nodelay

log = logging.getLogger(__name__)

# A page that stops reading must not make the server buffer without bound (~1 minute of audio).
MAX_WRITE_BUFFER = 4 * 1024 * 1024
# How long a close handshake may take before the socket is dropped.
CLOSE_TIMEOUT = 2.0


class DeferredReader(threading.Thread):
    """simple-websocket's reader thread, started only if the local engine needs it."""

    def start(self) -> None:
        return None  # simple-websocket calls this right after the handshake

    def launch(self) -> None:
        super().start()


class PageSocket:
    """The page's connection as flask-sock handed it out, before either path claims it."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws

    def channel(self) -> SocketChannel:
        """simple-websocket's blocking API, for the local text engine."""
        thread = self._ws.thread
        if isinstance(thread, DeferredReader):
            thread.launch()
        return SocketChannel(self._ws)

    def take_over(self) -> tuple[socket.socket, WSConnection, int]:
        """(socket duplicate, open wsproto connection, max message size) for the relay loop.

        simple-websocket is told the connection is no longer its own, so flask-sock's closing
        `ws.close()` writes nothing. The duplicate keeps the connection open until both the loop
        and the WSGI server have closed their descriptors.
        """
        ws = self._ws
        ws.connected = False
        sock: socket.socket = ws.sock
        set_nodelay(sock)
        return sock.dup(), ws.ws, int(ws.max_message_size or 0)


Handler = Callable[[str | bytes], None]


class PageLink(asyncio.Protocol):
    """The page's side of one relayed conversation, driven by the loop.

    `send` and `close` never block and never raise; frames that arrive before `attach` are kept.
    """

    def __init__(self, conn: WSConnection, max_message: int) -> None:
        self._conn = conn
        self._max_message = max_message
        self._transport: asyncio.Transport | None = None
        self._on_frame: Handler | None = None
        self._on_closed: Callable[[], None] | None = None
        self._backlog: list[str | bytes] = []
        self._parts: list[Any] | None = None  # a fragmented message being assembled
        self._size = 0
        self._closed = False
        self.lost = asyncio.get_running_loop().create_future()

    def attach(self, on_frame: Handler, on_closed: Callable[[], None]) -> None:
        self._on_frame, self._on_closed = on_frame, on_closed
        backlog, self._backlog = self._backlog, []
        for frame in backlog:
            on_frame(frame)
        if self._closed:
            on_closed()

    # --- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self._conn.receive_data(data)
            for event in self._conn.events():
                if isinstance(event, Message):
                    self._on_message(event)
                elif isinstance(event, Ping):
                    self._write(self._conn.send(event.response()))
                elif isinstance(event, CloseConnection):
                    self._on_close_frame(event)
        except (LocalProtocolError, RemoteProtocolError):
            self.abort()

    def eof_received(self) -> bool:
        return False  # let the transport close; connection_lost reports it

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        self._gone()

    # --- sending ----------------------------------------------------------------------------
    def send(self, text: str) -> None:
        transport = self._transport
        if transport is None or self._conn.state is not ConnectionState.OPEN:
            return
        if transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            log.warning("page stopped reading; dropping its connection")
            self.abort()
            return
        self._write(self._conn.send(TextMessage(data=text)))

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self._conn.state is ConnectionState.OPEN:
            self._write(self._conn.send(CloseConnection(code=code, reason=reason)))
            loop = asyncio.get_running_loop()
            loop.call_later(CLOSE_TIMEOUT, self.abort)  # the page never answered the close
        elif self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # --- internals --------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _on_message(self, event: Message) -> None:  # type: ignore[type-arg]
        if self._parts is None and event.message_finished:
            frame = event.data  # the common case: one frame, one read
        else:
            self._parts = (self._parts or []) + [event.data]
            self._size += len(event.data)
            if self._max_message and self._size > self._max_message:
                self.close(CloseReason.MESSAGE_TOO_BIG, "Message is too big")
                return
            if not event.message_finished:
                return
            parts, self._parts, self._size = self._parts, None, 0
            frame = "".join(parts) if isinstance(event, TextMessage) else b"".join(parts)
        if self._max_message and len(frame) > self._max_message:
            self.close(CloseReason.MESSAGE_TOO_BIG, "Message is too big")
            return
        if isinstance(event, BytesMessage):
            frame = bytes(frame)
        if self._on_frame is None:
            self._backlog.append(frame)
        else:
            self._on_frame(frame)

    def _on_close_frame(self, event: CloseConnection) -> None:
        if self._conn.state is ConnectionState.REMOTE_CLOSING:
            self._write(self._conn.send(event.response()))
        if self._transport is not None:
            self._transport.close()
        self._gone()

    def _gone(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._on_closed is not None:
            self._on_closed()


async def open_page_link(sock: socket.socket, conn: WSConnection, max_message: int) -> PageLink:
    """Adopt a taken-over socket on the running loop."""
    loop = asyncio.get_running_loop()
    _, link = await loop.connect_accepted_socket(lambda: PageLink(conn, max_message), sock=sock)
    return link
