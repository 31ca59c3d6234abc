"""One ASGI callable per worker: WebSocket endpoints on the loop, HTTP to Flask on a pool.

HTTP requests reach the unchanged Flask app through a2wsgi, but only once the whole body is in
memory: it is read here, on the loop, bounded in size (WIDGET_MAX_BODY_BYTES, else 413) and in
time (WIDGET_SERVER_BODY_TIMEOUT_SECONDS, else 408), so a slow-body client holds no pool thread.
WebSocket endpoints are async functions on the loop (`WEBSOCKET_ROUTES`); a path that matches
none is refused with 404.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from a2wsgi import WSGIMiddleware

from widget_api.errors import ApiError
from widget_api.relay.hub import RelayHub
from widget_api.relay.page_link import Receive, Send, SocketLimits
from widget_api.services import Services, get_services
from widget_api.serving.websocket import WebSocketRequest
from widget_api.settings import Settings

log = logging.getLogger(__name__)

# (request, services, hub, **path parameters) -> None; runs on the loop until the socket ends.
WebSocketHandler = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class WebSocketRoute:
    """A WebSocket path with `<name>` parameters (one path segment each), and its handler."""

    pattern: str
    handler: WebSocketHandler
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"<([a-z_]+)>", r"(?P<\1>[^/]+)", self.pattern)
        object.__setattr__(self, "_regex", re.compile(f"^{regex}$"))

    def match(self, path: str) -> dict[str, str] | None:
        found = self._regex.match(path)
        return found.groupdict() if found else None


def websocket_routes() -> list[WebSocketRoute]:
    """Every WebSocket endpoint of the app (imported here so nothing loads at import time)."""
    from widget_api.phone import twilio_ws
    from widget_api.routes import realtime_ws

    return [
        WebSocketRoute("/ws/realtime/<company_id>", realtime_ws.handle),
        # Other parts add their WebSocket endpoints below (one line each).
        WebSocketRoute("/ws/twilio/<company_id>", twilio_ws.handle),
    ]


def socket_limits(settings: Settings) -> SocketLimits:
    return SocketLimits(
        max_message_bytes=settings.ws_max_message_bytes,
        max_send_queue_bytes=settings.ws_send_queue_bytes,
        frames_per_second=settings.ws_max_frames_per_second,
        frame_burst=2 * settings.ws_max_frames_per_second,
        bytes_per_second=settings.ws_max_bytes_per_second,
        byte_burst=max(4 * settings.ws_max_message_bytes, settings.ws_max_bytes_per_second),
    )


class WidgetASGI:
    """The worker's ASGI app around one Flask app and its Services."""

    def __init__(self, flask_app: Any) -> None:
        services: Services = get_services(flask_app)
        settings = services.settings
        self.services = services
        self.hub = RelayHub()
        self.routes = websocket_routes()
        self._limits = socket_limits(settings)
        self._max_body = settings.max_body_bytes
        self._body_timeout = settings.server_body_timeout_seconds
        # A response of more chunks than this makes its pool thread wait for the client.
        # Typed loosely: a2wsgi declares the ASGI TypedDicts, the rest of this module plain dicts.
        self._wsgi: Any = WSGIMiddleware(
            flask_app, workers=settings.server_threads, send_queue_size=64
        )

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    # --- HTTP ------------------------------------------------------------------------------
    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        declared = _content_length(scope)
        if declared is not None and declared > self._max_body:
            await _json_response(send, ApiError("payload_too_large"))
            return
        try:
            async with asyncio.timeout(self._body_timeout):
                body = await _read_body(receive, self._max_body)
        except TimeoutError:
            await _json_response(send, ApiError("request_timeout"))
            return
        except _BodyTooLarge:
            await _json_response(send, ApiError("payload_too_large"))
            return
        if body is None:
            return  # the client left while sending
        await self._wsgi(scope, _replay(body, receive), send)

    # --- WebSocket -------------------------------------------------------------------------
    async def _websocket(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        request = WebSocketRequest(scope, receive, send, self._limits)
        for route in self.routes:
            params = route.match(scope["path"])
            if params is not None:
                await route.handler(request, self.services, self.hub, **params)
                return
        err = ApiError("not_found")
        await request.deny(err.status, err.to_dict())

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.hub.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


class _BodyTooLarge(Exception):
    pass


def _content_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body (None if the client disconnected first)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands out the buffered body once, then waits for the disconnect."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _json_response(send: Send, err: ApiError) -> None:
    payload = json.dumps(err.to_dict()).encode()
    await send({
        "type": "http.response.start", "status": err.status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close")],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": payload})


def build_asgi(flask_app: Any) -> WidgetASGI:
    """The ASGI app a worker serves."""
    return WidgetASGI(flask_app)
