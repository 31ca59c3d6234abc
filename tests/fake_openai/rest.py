"""REST endpoints: `POST /v1/realtime/client_secrets` (GA §1.1)."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from aiohttp import web

from .protocol import DEFAULT_SECRET_TTL, rest_error
from .recording import redact_headers
from .session_config import effective_session
from .state import STATE, FakeState, IssuedSecret, apply_http_fault
from .validation import InvalidRequest, validate_expires_after, validate_session

BODY_KEYS = frozenset({"expires_after", "session"})


def auth_error(request: web.Request, api_key: str) -> web.Response | None:
    """401 in OpenAI's envelope unless the request carries `Authorization: Bearer <api_key>`."""
    header = request.headers.get("Authorization", "")
    if not header:
        return web.json_response(
            rest_error(
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            ),
            status=401,
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip(), api_key):
        return web.json_response(
            rest_error(
                "Incorrect API key provided. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            ),
            status=401,
        )
    return None


def beta_error(request: web.Request) -> web.Response | None:
    if "OpenAI-Beta" in request.headers:
        return web.json_response(
            rest_error(
                "The Realtime beta API shape has been disabled; remove the OpenAI-Beta header and "
                "use the GA interface.",
                param="OpenAI-Beta",
                code="beta_api_shape_disabled",
            ),
            status=400,
        )
    return None


def parse_client_secret_body(raw: bytes) -> tuple[int, dict[str, Any]]:
    """Validate a client_secrets body like the API; returns (ttl seconds, requested session)."""
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise InvalidRequest(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly.)",
            param=None,
            code="invalid_json",
        ) from None
    if not isinstance(body, dict):
        raise InvalidRequest(
            "Invalid type for body: expected an object.", param=None, code="invalid_type"
        )
    for key in body:
        if key not in BODY_KEYS:
            raise InvalidRequest(
                f"Unknown parameter: '{key}'.", param=key, code="unknown_parameter"
            )
    ttl = DEFAULT_SECRET_TTL
    if "expires_after" in body:
        ttl = validate_expires_after(body["expires_after"])
    session = body.get("session", {"type": "realtime"})
    validate_session(session, "session")
    return ttl, session


async def client_secrets(request: web.Request) -> web.StreamResponse:
    """Mint an `ek_` key for a validated GA session; the body is recorded exactly as sent."""
    state: FakeState = request.app[STATE]
    raw = await request.read()
    _record(state, request, raw)
    refusal = auth_error(request, state.api_key) or beta_error(request)
    if refusal is not None:
        return refusal
    try:
        ttl, requested = parse_client_secret_body(raw)
    except InvalidRequest as exc:
        return web.json_response(
            rest_error(exc.message, param=exc.param, code=exc.code), status=400
        )
    expires_at = int(time.time()) + ttl
    session = effective_session(requested)
    value = "ek_" + secrets.token_hex(16)
    answer = {"value": value, "expires_at": expires_at, "session": session}
    body = json.dumps(answer).encode()
    _, replacement = await apply_http_fault(state, request, "client_secrets", body)
    if replacement is not None:
        return replacement
    with state.secrets_lock:
        state.secrets[value] = IssuedSecret(value, expires_at, session)
    return web.Response(body=body, content_type="application/json")


def _record(state: FakeState, request: web.Request, raw: bytes) -> None:
    try:
        body: Any = json.loads(raw)
    except ValueError:
        body = raw.decode("utf-8", "replace")
    with state.recorder.lock:
        state.recorder.client_secret_requests.append(body)
        state.recorder.client_secret_headers.append(redact_headers(request.headers))
