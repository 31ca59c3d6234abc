"""Signed tool tokens: proof that a tool call belongs to a session this server started.

The session route hands the browser a token scoped to one company and one session; the tool
endpoint (and the relay) accept tool calls only with it. Format: `<payload>.<signature>`, both
base64url without padding; the payload is compact JSON `{"c": company, "s": session, "e": expiry}`
and the signature is HMAC-SHA256 over the encoded payload, compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from widget_api.errors import DomainError

_MAX_TOKEN_CHARS = 1024


@dataclass(frozen=True)
class TokenClaims:
    company_id: str
    session_id: str
    expires_at: int


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, payload: str) -> str:
    # A purpose prefix keeps these signatures from ever validating another use of the same key.
    mac = hmac.new(key, b"tool-token.v1." + payload.encode("ascii"), hashlib.sha256)
    return _b64encode(mac.digest())


def issue_tool_token(
    key: bytes, company_id: str, session_id: str, ttl_seconds: int, *, now: float | None = None
) -> str:
    """A token for (company, session) valid for `ttl_seconds`."""
    expires = int((time.time() if now is None else now) + ttl_seconds)
    body = json.dumps({"c": company_id, "s": session_id, "e": expires}, separators=(",", ":"))
    payload = _b64encode(body.encode())
    return f"{payload}.{_sign(key, payload)}"


def _decode(key: bytes, token: str) -> TokenClaims:
    if not token or len(token) > _MAX_TOKEN_CHARS or token.count(".") != 1:
        raise DomainError("token_invalid")
    payload, signature = token.split(".")
    if not (payload.isascii() and signature.isascii()):
        raise DomainError("token_invalid")
    if not hmac.compare_digest(_sign(key, payload).encode(), signature.encode()):
        raise DomainError("token_invalid")
    try:
        data = json.loads(_b64decode(payload))
        claims = TokenClaims(str(data["c"]), str(data["s"]), int(data["e"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise DomainError("token_invalid") from None
    return claims


def verify_tool_token(
    key: bytes,
    token: str,
    *,
    company_id: str,
    session_id: str | None = None,
    now: float | None = None,
) -> TokenClaims:
    """The token's claims if it is genuine, unexpired and scoped to this company (and session).

    Raises DomainError `token_invalid` (forged or malformed), `token_expired` or
    `token_wrong_scope`.
    """
    claims = _decode(key, token)
    if claims.expires_at <= (time.time() if now is None else now):
        raise DomainError("token_expired")
    same_company = hmac.compare_digest(claims.company_id.encode(), company_id.encode())
    if not same_company or (session_id is not None and claims.session_id != session_id):
        raise DomainError("token_wrong_scope")
    return claims
