"""Connection-level defences uvicorn does not have: a header deadline, a header size cap and a
cap on concurrent connections per client address.

uvicorn's keep-alive timer is cancelled by every byte received, so a slow-header client
(slowloris) that trickles a byte now and then is never timed out, and httptools buffers header
lines without bound. Both protocol classes below are uvicorn's own, extended by subclassing at the
few documented hooks (`Config(http=..., ws=...)` accepts protocol classes); they share one
`ConnectionGuard` per worker. The per-address count follows the transport, which a WebSocket
upgrade hands from the HTTP protocol to the WebSocket protocol; whichever protocol owns it when
it closes releases it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.wsproto_impl import WSProtocol

from widget_api.errors import ApiError

log = logging.getLogger(__name__)

# uvicorn logs every WebSocket handshake at INFO with the client's address and the path with its
# query string (personal data), and writes an access line per request whenever the root logger
# has a handler; neither is needed to operate. Errors still reach the log.
_HANDSHAKE_LOG = logging.getLogger(__name__ + ".websocket")
_HANDSHAKE_LOG.setLevel(logging.WARNING)

# What an ASGI handler finds in `scope["extensions"]` to drop a WebSocket's TCP connection at
# once (no close handshake): for a page that stopped reading, a close frame would only queue
# behind the data it is not reading.
ABORT_EXTENSION = "widget.abort"


@dataclass
class ConnectionGuard:
    """Per-worker limits on open connections; all methods run on the worker's loop."""

    max_per_client: int
    header_timeout: float
    max_header_bytes: int
    _open: dict[str, set[asyncio.BaseTransport]] = field(default_factory=dict)
    refused: int = 0

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        host = _peer_host(transport)
        live = self._open.setdefault(host, set())
        if self.max_per_client and len(live) >= self.max_per_client:
            self.refused += 1
            return False
        live.add(transport)
        return True

    def release(self, transport: asyncio.BaseTransport) -> None:
        host = _peer_host(transport)
        live = self._open.get(host)
        if live is None:
            return
        live.discard(transport)
        if not live:
            del self._open[host]

    def open_count(self, host: str) -> int:
        return len(self._open.get(host, ()))


def per_worker_cap(cap: int, workers: int) -> int:
    """Each worker's share of the per-address connection cap (0: no cap).

    Workers do not share their counts: a count in Redis would put a network round trip (and
    Redis's availability) on every accepted connection, on the loop every socket of the worker
    shares. Each of N workers admits cap // N instead, so an address holds at most `cap`
    across them, and at least cap // N when the kernel hands all its connections to one worker.
    """
    if cap <= 0:
        return 0
    return max(1, cap // max(1, workers))


def _peer_host(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"


def _plain_response(
    status: int, reason: str, code: str, *, retry_after: int | None = None
) -> bytes:
    body = json.dumps(ApiError(code).to_dict()).encode()
    head = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
    ]
    if retry_after is not None:
        head.append(f"retry-after: {retry_after}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


# How long a refused client may keep its connection open to read the answer.
LINGER_SECONDS = 1.0

TOO_MANY_CONNECTIONS = _plain_response(429, "Too Many Requests", "rate_limited", retry_after=1)
HEADERS_TOO_SLOW = _plain_response(408, "Request Timeout", "request_timeout")
HEADERS_TOO_LARGE = _plain_response(431, "Request Header Fields Too Large", "headers_too_large")


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the guard's admission, header deadline and size cap."""

    guard: ConnectionGuard  # set on the subclass `protocol_classes` makes

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access_log = False
        self._refused = False
        self._headers_done = False
        self._header_bytes = 0
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.guard.admit(transport):
            self._refused = True
            self._reject(TOO_MANY_CONNECTIONS)
            return
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        self.guard.release(self.transport)  # no-op for a connection that was never admitted
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if not self._headers_done:
            self._header_bytes += len(data)
        super().data_received(data)
        # Checked after parsing, so a first read that carries small headers and a body passes.
        if not self._headers_done and self._header_bytes > self.guard.max_header_bytes:
            self._reject(HEADERS_TOO_LARGE)

    def on_headers_complete(self) -> None:
        self._headers_done = True
        self._cancel_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_headers()  # the next request on a kept-alive connection

    def _await_headers(self) -> None:
        self._headers_done = False
        self._header_bytes = 0
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.guard.header_timeout, self._headers_late)

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self._headers_done:
            self._reject(HEADERS_TOO_SLOW)

    def _reject(self, response: bytes) -> None:
        """Answer, then ignore the client until it hangs up (or LINGER_SECONDS pass).

        Closing at once with unread request bytes makes the kernel send a reset, which can
        destroy the answer before the client reads it.
        """
        self._refused = True
        if not self.transport.is_closing():
            self.transport.write(response)
            self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None


class GuardedWSProtocol(WSProtocol):
    """uvicorn's wsproto protocol; releases the guard's count and offers an abort to the app."""

    guard: ConnectionGuard

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger = _HANDSHAKE_LOG

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        self.scope["extensions"][ABORT_EXTENSION] = {"abort": self.transport.abort}

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.release(self.transport)
        super().connection_lost(exc)


def protocol_classes(
    guard: ConnectionGuard,
) -> tuple[type[GuardedHttpProtocol], type[GuardedWSProtocol]]:
    """(http, ws) protocol classes bound to one worker's guard, for uvicorn's Config."""
    http = type("WidgetHttpProtocol", (GuardedHttpProtocol,), {"guard": guard})
    ws = type("WidgetWSProtocol", (GuardedWSProtocol,), {"guard": guard})
    return http, ws
