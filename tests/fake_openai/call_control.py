"""Call control (GA §2.5) and incoming SIP calls (the `realtime.call.incoming` webhook).

- `POST /v1/realtime/calls/{call_id}/hangup` ends a WebRTC or SIP call: the peer connection
  closes (the browser sees its data channel close) and every sideband WebSocket gets close 1000.
- `POST /v1/realtime/calls/{call_id}/accept` (session body, validated like client secrets) and
  `/reject` (`{"status_code": 486}`, default 603) answer a ringing SIP call.
- `FakeOpenAI.incoming_sip_call(...)` rings: it creates a SIP call whose events go only to
  sidebands and POSTs OpenAI's webhook payload, signed per Standard Webhooks, to the app.
Every action is recorded in `fake.call_actions` as `{call_id, action, body}`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from aiohttp import ClientSession, web

from .protocol import new_id, rest_error
from .recording import ConnectionRecord
from .session import RealtimeSession
from .session_config import effective_session
from .state import STATE, FakeState
from .validation import InvalidRequest, validate_session


class _PhoneLine:
    """SIP audio leaves over RTP: nothing to keep, but the output buffer events still fire."""

    queued = 0

    def push(self, pcm: bytes) -> None:
        return None

    def clear(self) -> None:
        return None


class SipCall:
    """A phone call routed to the project: ringing until accepted or rejected."""

    def __init__(self, state: FakeState, call_id: str, sip_headers: list[dict[str, str]]) -> None:
        self.state, self.call_id, self.sip_headers = state, call_id, sip_headers
        self.status = "ringing"
        self.record: ConnectionRecord = state.recorder.new_connection("sip")
        state.recorder.update(self.record, call_id=call_id, auth="api_key")
        self.session = RealtimeSession(
            send_text=self._nowhere,
            close=self._close_from_fault,
            record=self.record,
            recorder=state.recorder,
            script=state.script,
            session=effective_session({"type": "realtime"}),
            audio_sink=_PhoneLine(),
        )

    async def _nowhere(self, text: str) -> None:
        """SIP audio is RTP to the phone network; events reach only the sidebands."""

    async def _close_from_fault(self, code: int | None) -> None:
        await self.close()

    def accept(self, session: dict[str, Any]) -> None:
        self.status = "accepted"
        self.session.session = effective_session(session)
        self.state.recorder.update(
            self.record, session=self.session.session, model=session.get("model")
        )

    async def close(self, *, closed_by: str = "server") -> None:
        if self.record.closed:
            return
        if self.status != "rejected":
            self.status = "ended"
        self.state.recorder.update(self.record, closed=True, closed_by=closed_by)
        await self.session.shutdown()


def register(app: web.Application, state: FakeState) -> None:
    state.extras.setdefault("call_objects", {})
    state.extras.setdefault("call_actions", [])
    state.extras.setdefault("sidebands", {})
    for action in ("hangup", "accept", "reject", "refer"):
        app.router.add_post(f"/v1/realtime/calls/{{call_id}}/{action}", _handler(action))


def _handler(action: str) -> Any:
    async def handle(request: web.Request) -> web.StreamResponse:
        state: FakeState = request.app[STATE]
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip(), state.api_key):
            return web.json_response(
                rest_error("Incorrect API key provided.", code="invalid_api_key"), status=401
            )
        call_id = request.match_info["call_id"]
        body: Any = {}
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                return web.json_response(rest_error("Invalid JSON body."), status=400)
        with state.recorder.lock:
            entry = {"call_id": call_id, "action": action, "body": body}
            state.extras["call_actions"].append(entry)
        call = state.extras["call_objects"].get(call_id)
        if call is None:
            return web.json_response(
                rest_error("No call found with that id.", code="call_not_found"), status=404
            )
        return await _ACTIONS[action](state, call, body)

    return handle


async def _hangup(state: FakeState, call: Any, body: Any) -> web.StreamResponse:
    await close_call(state, call)
    return web.Response(status=200)


async def _accept(state: FakeState, call: Any, body: Any) -> web.StreamResponse:
    if not isinstance(call, SipCall) or call.status != "ringing":
        return web.json_response(
            rest_error("The call is not ringing.", code="call_not_ringing"), status=400
        )
    try:
        validate_session(body, "session")
    except InvalidRequest as exc:
        return web.json_response(rest_error(exc.message, param=exc.param, code=exc.code), 400)
    call.accept(body)
    return web.Response(status=200)


async def _reject(state: FakeState, call: Any, body: Any) -> web.StreamResponse:
    if not isinstance(call, SipCall) or call.status != "ringing":
        return web.json_response(
            rest_error("The call is not ringing.", code="call_not_ringing"), status=400
        )
    call.status = "rejected"
    await call.close()
    return web.Response(status=200)


async def _refer(state: FakeState, call: Any, body: Any) -> web.StreamResponse:
    return web.Response(status=200)


_ACTIONS = {"hangup": _hangup, "accept": _accept, "reject": _reject, "refer": _refer}


async def close_call(state: FakeState, call: Any) -> None:
    """End a call from the server side: the call closes, then each sideband (close 1000)."""
    await call.close(closed_by="server")
    for ws in list(state.extras["sidebands"].get(call.call_id, ())):
        with contextlib.suppress(Exception):
            await ws.close(code=1000)


# -- incoming SIP calls -------------------------------------------------------------------


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """Standard Webhooks: HMAC-SHA256 over `id.timestamp.body` with the base64 `whsec_` key."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def incoming_payload(call_id: str, to_number: str, from_number: str) -> dict[str, Any]:
    """The `realtime.call.incoming` event (SDK type RealtimeCallIncomingWebhookEvent)."""
    return {
        "id": new_id("evt"),
        "object": "event",
        "created_at": int(time.time()),
        "type": "realtime.call.incoming",
        "data": {
            "call_id": call_id,
            "sip_headers": [
                {"name": "From", "value": f"<sip:{from_number}@pstn.example>;tag=1"},
                {"name": "To", "value": f"<sip:{to_number}@sip.fake-openai.test>"},
                {"name": "Call-ID", "value": secrets.token_hex(8)},
            ],
        },
    }


async def ring(
    state: FakeState, url: str, secret: str, to_number: str, from_number: str, *,
    bad_signature: bool = False,
) -> tuple[str, int]:  # fmt: skip
    """Create a ringing SIP call and deliver its webhook; returns (call_id, HTTP status)."""
    call_id = new_id("rtc")
    payload = incoming_payload(call_id, to_number, from_number)
    call = SipCall(state, call_id, payload["data"]["sip_headers"])
    state.extras["call_objects"][call_id] = call
    body = json.dumps(payload)
    msg_id, stamp = payload["id"], int(time.time())
    signature = sign(secret, msg_id, stamp, body)
    if bad_signature:
        signature = "v1," + base64.b64encode(b"\x00" * 32).decode()
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature,
    }
    async with ClientSession() as http, http.post(url, data=body, headers=headers) as response:
        status = response.status
    return call_id, status


async def feed_audio(state: FakeState, call_id: str, ms: int) -> None:
    """The caller speaks for `ms` (silence-shaped audio; the fake's VAD counts length only)."""
    call = state.extras["call_objects"][call_id]
    session: RealtimeSession = call.session
    fmt = ((session.session.get("audio") or {}).get("input") or {}).get("format") or {}
    per_ms = 8 if fmt.get("type") in ("audio/pcmu", "audio/pcma") else 48
    for _ in range(max(1, ms // 20)):
        await session.input_audio.feed(b"\x7f" * (per_ms * 20))
        await asyncio.sleep(0)
