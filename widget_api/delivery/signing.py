"""Standard Webhooks signatures, through the specification's own reference library.

`standardwebhooks` is the spec authors' package (no dependencies): `v1,<base64 HMAC-SHA256 of
"id.timestamp.body">` with a `whsec_<base64>` secret, the scheme OpenAI's webhooks use too.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"


class InvalidSecret(ValueError):
    """The configured secret is not `whsec_` followed by base64 (24 to 64 random bytes)."""


def check_secret(secret: str) -> None:
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret("webhook secrets start with whsec_")
    try:
        raw = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecret("the part after whsec_ is not base64") from None
    if not 24 <= len(raw) <= 64:
        raise InvalidSecret("webhook secrets hold 24 to 64 random bytes")


def new_secret() -> str:
    """A fresh secret for a company file's environment (32 random bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature_headers(
    secret: str, msg_id: str, body: str, at: datetime | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt (timestamp = the attempt's time)."""
    at = at or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at.astimezone(UTC), body),
    }
