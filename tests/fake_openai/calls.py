"""`POST /v1/realtime/calls` (GA §2.1): SDP offer in, SDP answer out, `Location: .../rtc_...`.

With aiortc installed the answer is a real WebRTC answer (see `webrtc.py`); without it the
endpoint still validates and answers 201 with a placeholder SDP that no browser can connect to.
"""

from __future__ import annotations

import copy
import json
import logging
import secrets
from typing import Any

from aiohttp import BodyPartReader, web

from .protocol import new_id, rest_error
from .recording import redact_headers
from .session_config import effective_session
from .state import STATE, FakeState, apply_http_fault
from .validation import InvalidRequest, validate_session

logger = logging.getLogger(__name__)

PLACEHOLDER_NOTE = "a=x-fake-openai:no-webrtc-stack"


def register(app: web.Application, state: FakeState) -> None:
    app.router.add_post("/v1/realtime/calls", create_call)
    state.extras.setdefault("calls", {})
    try:
        from . import webrtc
    except ImportError:  # aiortc missing: /calls still validates and answers a placeholder
        logger.info("aiortc is not installed; /v1/realtime/calls answers a placeholder SDP")
        return
    webrtc.install(state)


def _authorize(state: FakeState, request: web.Request) -> tuple[str | None, dict[str, Any] | None]:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None, None
    if secrets.compare_digest(token, state.api_key):
        return "api_key", None
    issued = state.secret(token)
    return ("ephemeral", issued.session) if issued else (None, None)


async def _read_offer(request: web.Request, auth: str) -> tuple[str | None, Any]:
    """The SDP offer: raw `application/sdp`, or multipart `sdp` + `session` (standard key)."""
    ctype = request.content_type
    if ctype == "application/sdp":
        return (await request.text()), None
    if ctype == "multipart/form-data" and auth == "api_key":
        parts: dict[str, str] = {}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name in ("sdp", "session"):
                parts[part.name] = (await part.read(decode=True)).decode("utf-8", "replace")
        return parts.get("sdp"), parts.get("session")
    return None, None


async def create_call(request: web.Request) -> web.StreamResponse:
    """Accept an SDP offer and start a call whose data channel plays the current script."""
    state: FakeState = request.app[STATE]
    auth, secret_session = _authorize(state, request)
    entry: dict[str, Any] = {
        "headers": redact_headers(request.headers),
        "content_type": request.content_type,
        "auth": auth,
    }
    with state.recorder.lock:
        state.recorder.call_requests.append(entry)
    if auth is None:
        return web.json_response(
            rest_error("Incorrect API key provided.", code="invalid_api_key"), status=401
        )
    offer, session_part = await _read_offer(request, auth)
    entry["offer"] = offer
    if not offer or not offer.lstrip().startswith("v=0"):
        return web.json_response(
            rest_error(
                "Expected an SDP offer with Content-Type: application/sdp (ephemeral key) or "
                "multipart/form-data with 'sdp' and 'session' parts (standard key).",
                param="sdp",
                code="invalid_offer",
            ),
            status=400,
        )
    try:
        session = _call_session(secret_session, session_part)
    except InvalidRequest as exc:
        return web.json_response(
            rest_error(exc.message, param=exc.param, code=exc.code), status=400
        )
    call_id = new_id("rtc")
    fault, replacement = await apply_http_fault(state, request, "calls", b"v=0\r\n")
    if replacement is not None:
        return replacement
    accept = state.extras.get("accept_call")
    if accept is not None:
        try:
            answer = await accept(call_id, offer, auth, session)
        except Exception as exc:  # aiortc refuses SDP it cannot negotiate (no media, no ICE)
            logger.info("could not negotiate the SDP offer: %r", exc)
            return web.json_response(
                rest_error(
                    "The SDP offer could not be negotiated.", param="sdp", code="invalid_offer"
                ),
                status=400,
            )
        if fault is not None and fault.kind == "no_media":
            dropped = state.extras.get("call_objects", {}).pop(call_id, None)
            if dropped is not None:
                await dropped.close(closed_by="server")
    else:
        answer = _placeholder_answer(offer)
    state.extras["calls"][call_id] = {"auth": auth}
    return web.Response(
        status=201,
        text=answer,
        content_type="application/sdp",
        headers={"Location": f"/v1/realtime/calls/{call_id}"},
    )


def _call_session(secret_session: dict[str, Any] | None, session_part: Any) -> dict[str, Any]:
    """The call's session: the ephemeral key's, or the multipart `session` part's (§2.2)."""
    if secret_session is not None:
        session = copy.deepcopy(secret_session)
        session["id"] = new_id("sess")
        return session
    try:
        requested = json.loads(session_part) if session_part else {"type": "realtime"}
    except ValueError:
        raise InvalidRequest(
            "The 'session' part is not valid JSON.", param="session", code="invalid_json"
        ) from None
    validate_session(requested, "session")
    return effective_session(requested)


def _placeholder_answer(offer: str) -> str:
    lines = ["v=0", "o=- 0 0 IN IP4 127.0.0.1", "s=-", "t=0 0", PLACEHOLDER_NOTE]
    return "\r\n".join(lines) + "\r\n"
