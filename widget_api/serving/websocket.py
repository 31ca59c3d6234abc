"""A WebSocket handshake as an endpoint sees it, before and after it accepts.

Endpoints are plain async functions registered in `asgi.WEBSOCKET_ROUTES`; they read what they
need from `WebSocketRequest`, refuse with a JSON error (`deny`) or `accept` and get the loop-side
`PageLink`. They are the only code that touches the ASGI scope.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from widget_api.relay.page_link import PageLink, Receive, Send, SocketLimits
from widget_api.serving.direct_ws import DIRECT_EXTENSION
from widget_api.serving.guard import ABORT_EXTENSION


class WebSocketRequest:
    """One WebSocket handshake: headers, query, peer, and the two ways to answer it."""

    def __init__(
        self, scope: dict[str, Any], receive: Receive, send: Send, limits: SocketLimits
    ) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send
        self._limits = limits
        self.headers: dict[str, str] = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        self.query: dict[str, str] = dict(parse_qsl(scope.get("query_string", b"").decode()))
        client = scope.get("client")
        self.client_host: str = str(client[0]) if client else "unknown"

    @property
    def origin(self) -> str | None:
        return self.headers.get("origin")

    async def _connected(self) -> bool:
        message = await self._receive()
        return bool(message["type"] == "websocket.connect")

    async def deny(self, status: int, body: dict[str, Any]) -> None:
        """Refuse the handshake with an HTTP answer (e.g. 403 with the catalogue error)."""
        if not await self._connected():
            return
        payload = json.dumps(body).encode()
        await self._send({
            "type": "websocket.http.response.start", "status": status,
            "headers": [(b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode())],
        })  # fmt: skip
        await self._send({"type": "websocket.http.response.body", "body": payload})

    async def accept(self) -> PageLink | None:
        """Answer 101 and hand back the page's socket; None if the page already left."""
        if not await self._connected():
            return None
        await self._send({"type": "websocket.accept"})
        extensions = self._scope.get("extensions", {})
        abort = extensions.get(ABORT_EXTENSION, {}).get("abort")
        direct = extensions.get(DIRECT_EXTENSION)
        return PageLink(self._receive, self._send, self._limits, abort, direct)
