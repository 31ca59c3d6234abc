"""Twilio request signatures (`X-Twilio-Signature`) and the per-call stream token.

Twilio signs each webhook and the media-stream handshake with the account's auth token:
base64(HMAC-SHA1(token, full URL + each POST parameter's name and value, sorted by name)).
The media stream URL cannot carry a query string, so the TwiML also hands the stream a token
(an HMAC of the call SID) as a `<Parameter>`; the bridge checks it on Twilio's `start` message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The signature Twilio computes for a request to `url` with form `params`."""
    data = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def valid_twilio_signature(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """Constant-time check of `X-Twilio-Signature` against the expected value."""
    if not signature:
        return False
    expected = twilio_signature(auth_token, url, params)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def stream_token(auth_token: str, company_id: str, call_sid: str) -> str:
    """Binds a media stream to the call and company the signed TwiML webhook was for."""
    data = f"twilio-stream:{company_id}:{call_sid}".encode()
    return hmac.new(auth_token.encode(), data, hashlib.sha256).hexdigest()


def valid_stream_token(auth_token: str, company_id: str, call_sid: str, token: str | None) -> bool:
    if not token or not call_sid:
        return False
    return hmac.compare_digest(stream_token(auth_token, company_id, call_sid), token)
