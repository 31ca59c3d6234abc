"""The blocking seam between the local text engine and the page's WebSocket.

The local engine only needs to send text, receive text with a timeout and close; the server
passes `SocketChannel` around flask-sock's socket. (Relayed conversations do not use it: their
socket moves to the relay loop, see `page_link`.)
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any, Protocol


class ChannelClosed(Exception):
    """The page's side of the conversation is gone."""


class ClientChannel(Protocol):
    def send(self, text: str) -> None: ...

    def receive(self, timeout: float | None) -> str | bytes | None:
        """The next frame, or None when `timeout` passes first. Raises ChannelClosed."""
        ...

    def close(self, code: int = 1000, reason: str = "") -> None: ...


class SocketChannel:
    """Adapts a simple-websocket connection (what flask-sock hands out) to ClientChannel.

    simple-websocket's `send` is not safe across threads (its frame encoder keeps state); the lock
    keeps the channel safe whichever thread sends.
    """

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._lock = threading.Lock()
        set_nodelay(getattr(ws, "sock", None))

    def send(self, text: str) -> None:
        try:
            with self._lock:
                self._ws.send(text)
        except Exception as exc:  # ConnectionClosed, OSError: the page went away
            raise ChannelClosed(str(exc)) from exc

    def receive(self, timeout: float | None) -> str | bytes | None:
        try:
            return self._ws.receive(timeout=timeout)  # type: ignore[no-any-return]
        except Exception as exc:
            raise ChannelClosed(str(exc)) from exc

    def close(self, code: int = 1000, reason: str = "") -> None:
        try:
            with self._lock:
                self._ws.close(reason=code, message=reason)
        except Exception:  # already closed by the page: nothing left to do
            pass


def set_nodelay(sock: Any) -> None:
    """Send each small audio frame at once: Nagle's algorithm would hold it for an ACK."""
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
