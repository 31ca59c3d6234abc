"""State shared by the fake's handlers (lives in the server thread's event loop)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .faults import Endpoint, Fault, FaultBoard
from .protocol import rest_error
from .recording import Recorder
from .script import Script


@dataclass
class IssuedSecret:
    value: str
    expires_at: int
    session: dict[str, Any]


@dataclass
class FakeState:
    api_key: str
    recorder: Recorder = field(default_factory=Recorder)
    faults: FaultBoard = field(default_factory=FaultBoard)
    script: Script = field(default_factory=Script)
    secrets: dict[str, IssuedSecret] = field(default_factory=dict)
    secrets_lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    websockets: set[web.WebSocketResponse] = field(default_factory=set)
    extras: dict[str, Any] = field(default_factory=dict)  # transport add-ons (WebRTC calls)

    def secret(self, value: str) -> IssuedSecret | None:
        """An issued, unexpired ephemeral key."""
        with self.secrets_lock:
            issued = self.secrets.get(value)
        if issued is None or issued.expires_at <= time.time():
            return None
        return issued

    async def wait_or_stop(self, seconds: float | None) -> None:
        """Sleep, but wake at once when the fake stops (so stop() never hangs)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)


STATE: web.AppKey[FakeState] = web.AppKey("fake_state", FakeState)

SERVER_ERROR = rest_error(
    "The server had an error while processing your request. Sorry about that!",
    type_="server_error",
)


async def apply_http_fault(
    state: FakeState, request: web.Request, endpoint: Endpoint, body: bytes
) -> tuple[Fault | None, web.StreamResponse | None]:
    """Run the endpoint's fault; returns (fault, response to send instead, if any).

    `body` is what the endpoint would have answered, for faults that mangle it.
    """
    fault = state.faults.take(endpoint)
    if fault is None:
        return None, None
    if fault.kind == "slow":
        await state.wait_or_stop(fault.seconds)
        return fault, None
    if fault.kind == "http_500":
        return fault, web.json_response(SERVER_ERROR, status=500)
    if fault.kind in ("refuse", "never_answer"):
        if fault.kind == "never_answer":
            await state.wait_or_stop(None)
        _abort(request)
        return fault, web.Response(status=204)
    if fault.kind == "malformed_json" and endpoint != "realtime":
        return fault, web.Response(
            status=200, body=body[: max(1, len(body) // 2)], content_type="application/json"
        )
    if fault.kind == "close_mid_response" and endpoint != "realtime":
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        _abort(request)
        return fault, response
    return fault, None  # WebSocket-only behaviour, handled by the realtime handler


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()
