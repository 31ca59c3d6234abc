"""`GET /v1/realtime` WebSocket (GA §3): handshake auth, beta rejection, then a RealtimeSession."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import secrets
from typing import Any

from aiohttp import WSMsgType, web

from .protocol import (
    BETA_SUBPROTOCOL_PREFIX,
    DEFAULT_MODEL,
    EPHEMERAL_SUBPROTOCOL_PREFIX,
    default_session,
    error_event,
    event_session,
    new_id,
    rest_error,
)
from .recording import ConnectionRecord, redact_headers
from .session import RealtimeSession
from .state import STATE, FakeState, apply_http_fault

logger = logging.getLogger(__name__)

MAX_FRAME = 32 * 1024 * 1024  # a 15 MiB append is ~20 MiB of base64
BETA_CLOSE_CODE = 4000
GOING_AWAY = 1001


def _offered_protocols(request: web.Request) -> list[str]:
    raw = request.headers.get("Sec-WebSocket-Protocol", "")
    return [p.strip() for p in raw.split(",") if p.strip()]


def authenticate(
    state: FakeState, request: web.Request
) -> tuple[str | None, dict[str, Any] | None]:
    """("api_key" | "ephemeral" | None, session from the secret): header or subprotocol key."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token:
        if secrets.compare_digest(token, state.api_key):
            return "api_key", None
        issued = state.secret(token)
        return ("ephemeral", issued.session) if issued else (None, None)
    offered = _offered_protocols(request)
    keys = [
        p[len(EPHEMERAL_SUBPROTOCOL_PREFIX) :]
        for p in offered
        if p.startswith(EPHEMERAL_SUBPROTOCOL_PREFIX)
    ]
    if keys and "realtime" in offered:
        issued = state.secret(keys[0])
        if issued is not None:
            return "ephemeral", issued.session
    return None, None


def _initial_session(request: web.Request, secret_session: dict[str, Any] | None) -> dict[str, Any]:
    if secret_session is not None:
        session = copy.deepcopy(secret_session)
        session["id"] = new_id("sess")
        return session
    return default_session(request.query.get("model") or DEFAULT_MODEL)


async def realtime(request: web.Request) -> web.StreamResponse:
    """Accept a Realtime WebSocket and run the scripted session until either side closes."""
    state: FakeState = request.app[STATE]
    record = state.recorder.new_connection("websocket")
    state.recorder.update(
        record,
        headers=redact_headers(request.headers),
        model=request.query.get("model"),
        call_id=request.query.get("call_id"),
    )
    fault, replacement = await apply_http_fault(state, request, "realtime", b"")
    if replacement is not None:
        state.recorder.update(record, closed=True, closed_by="server")
        return replacement
    auth, secret_session = authenticate(state, request)
    if auth is None:
        state.recorder.update(record, closed=True, closed_by="server")
        return web.json_response(
            rest_error("Incorrect API key provided.", code="invalid_api_key"), status=401
        )
    call_id = request.query.get("call_id")
    call = state.extras.get("call_objects", {}).get(call_id) if call_id else None
    if call_id and (call is None or auth != "api_key"):
        # Sideband with an ephemeral key is reported to 404 (§3.4); the standard key works.
        state.recorder.update(record, closed=True, closed_by="server", auth=auth)
        return web.json_response(
            rest_error("No session found for the provided call_id", code="call_id_not_found"),
            status=404,
        )
    ws = web.WebSocketResponse(
        protocols=("realtime",), compress=False, max_msg_size=MAX_FRAME, timeout=1.0
    )
    await ws.prepare(request)
    state.recorder.update(record, auth=auth, subprotocol=ws.ws_protocol)
    state.websockets.add(ws)
    try:
        if _is_beta(request):
            await _reject_beta(ws, record, state)
            return ws
        if call is not None:
            await _run_sideband(state, ws, record, call)
            return ws
        await _run_session(state, request, ws, record, auth, secret_session, fault)
    finally:
        state.websockets.discard(ws)
    return ws


def _is_beta(request: web.Request) -> bool:
    return "OpenAI-Beta" in request.headers or any(
        p.startswith(BETA_SUBPROTOCOL_PREFIX) for p in _offered_protocols(request)
    )


async def _reject_beta(
    ws: web.WebSocketResponse, record: ConnectionRecord, state: FakeState
) -> None:
    event = error_event(
        "beta_api_shape_disabled",
        "The Realtime beta API shape has been disabled. Use the GA interface "
        "(no OpenAI-Beta header or openai-beta subprotocol).",
    )
    body = {"type": "error", "event_id": new_id("event"), **{"error": event["error"]}}
    state.recorder.note_sent(record, body)
    await ws.send_str(json.dumps(body))
    await ws.close(code=BETA_CLOSE_CODE, message=b"beta_api_shape_disabled")
    state.recorder.update(record, closed=True, closed_by="server", close_code=BETA_CLOSE_CODE)


async def _run_session(
    state: FakeState,
    request: web.Request,
    ws: web.WebSocketResponse,
    record: ConnectionRecord,
    auth: str,
    secret_session: dict[str, Any] | None,
    fault: Any,
) -> None:
    closed_by: dict[str, Any] = {"side": "client", "code": None}

    async def close(code: int | None) -> None:
        closed_by["side"], closed_by["code"] = "server", code
        if code is None and request.transport is not None:
            request.transport.abort()  # drop TCP without a close frame
        else:
            await ws.close(code=code or 1011)

    session = RealtimeSession(
        send_text=ws.send_str,
        close=close,
        record=record,
        recorder=state.recorder,
        script=state.script,
        session=_initial_session(request, secret_session),
        fault=fault,
    )
    state.recorder.update(record, session=session.session)
    expiry: asyncio.Task[None] | None = None
    try:
        if fault is not None and fault.kind == "malformed_json":
            await ws.send_str('{"type": "session.created", "event_id": "event_')
        await session.open()
        if fault is not None and fault.kind == "session_expired":
            expiry = asyncio.create_task(_expire(state, session, close, fault.seconds))
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await session.handle_text(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await session.emit(
                    error_event("invalid_event", "Binary frames are not supported; send JSON text.")
                )
    except Exception as exc:  # the socket broke under us; record and finish
        logger.debug("realtime socket ended: %s", type(exc).__name__)
    finally:
        if expiry is not None:
            expiry.cancel()
        await session.shutdown()
        if state.stopping.is_set() and closed_by["side"] == "client" and not ws.closed:
            closed_by["side"], closed_by["code"] = "server", GOING_AWAY
            await ws.close(code=GOING_AWAY)
        code = closed_by["code"] if closed_by["side"] == "server" else ws.close_code
        state.recorder.update(record, closed=True, closed_by=closed_by["side"], close_code=code)


async def _run_sideband(
    state: FakeState, ws: web.WebSocketResponse, record: ConnectionRecord, call: Any
) -> None:
    """A server connection to a WebRTC call (§3.4): it shares the call's session and events."""
    session: RealtimeSession = call.session
    state.recorder.update(record, transport="sideband", session=session.session)
    for event in (
        {"type": "session.created", "session": event_session(session.session)},
        {
            "type": "conversation.created",
            "conversation": {"id": session.conversation_id, "object": "realtime.conversation"},
        },
    ):
        state.recorder.note_sent(record, event)
        await ws.send_str(json.dumps({"type": event["type"], "event_id": new_id("event"), **event}))
    session.add_sender(ws.send_str)
    # A hang-up (or the call's end) closes the sidebands too (call_control.close_call).
    sidebands = state.extras.setdefault("sidebands", {}).setdefault(call.call_id, set())
    sidebands.add(ws)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await session.handle_text(msg.data)
    finally:
        sidebands.discard(ws)
        session.remove_sender(ws.send_str)
        state.recorder.update(record, closed=True, closed_by="client", close_code=ws.close_code)


async def _expire(state: FakeState, session: RealtimeSession, close: Any, seconds: float) -> None:
    """The maximum session duration (§12): an `error` with `session_expired`, then close."""
    await state.wait_or_stop(seconds)
    if state.stopping.is_set() or session.closed:
        return
    await session.emit(
        error_event(
            "session_expired",
            "Your session hit the maximum duration of 60 minutes.",
        )
    )
    await session.shutdown()
    await close(1000)
