"""Admin access to a company's leads: per-company tokens and the admin page's session cookie.

The JSON API takes the token on every request (`Authorization: Bearer`). The page takes it
once, through a login form, and swaps it for a signed, HttpOnly, SameSite=Strict cookie that
also carries a CSRF token for the page's forms. A form rather than `?token=` keeps the secret
out of browser history, server logs and Referer headers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import SecretStr

from widget_api.errors import DomainError

SESSION_MAX_AGE_SECONDS = 8 * 3600
_SALT = "widget-admin-session"


class _Company(Protocol):
    id: str
    admin_token: SecretStr | None


def resolve_admin_token(company: Any, settings: Any = None) -> str | None:
    """The company's admin token, or None when admin access is not configured.

    The company loader resolves `admin_token` from the env var the company file names, or from
    a token generated once into the data folder; that file is read here as a fallback for
    configs built in code. `settings` is the Settings (for its data_dir).
    """
    token = getattr(company, "admin_token", None)
    if isinstance(token, SecretStr) and token.get_secret_value():
        return token.get_secret_value()
    if settings is None:
        return None
    from widget_api.companies import admin_token_path

    path = admin_token_path(settings.data_dir, company.id)
    return (path.read_text().strip() or None) if path.is_file() else None


def token_matches(candidate: str, expected: str | None) -> bool:
    """Constant-time comparison; an unconfigured token never matches."""
    if not expected or not candidate:
        return False
    return hmac.compare_digest(candidate.encode(), expected.encode())


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def authorize(candidate: str | None, company: Any, settings: Any = None) -> None:
    """Raise `admin_token_invalid` (401) unless `candidate` is this company's admin token.

    Another company's token is just a wrong token here: telling it apart would confirm to a
    guesser that a string is some company's valid token.
    """
    if not token_matches(candidate or "", resolve_admin_token(company, settings)):
        raise DomainError("admin_token_invalid")


@dataclass(frozen=True)
class AdminSession:
    company_id: str
    csrf_token: str


def _fingerprint(key: bytes, token: str) -> str:
    # Binds the cookie to the current token: rotating the token logs every browser out.
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()[:32]


def issue_session_cookie(key: bytes, company_id: str, token: str) -> str:
    serializer = URLSafeTimedSerializer(key, salt=_SALT)
    payload = {"c": company_id, "f": _fingerprint(key, token), "x": secrets.token_urlsafe(24)}
    return serializer.dumps(payload)


def read_session_cookie(
    key: bytes,
    cookie: str | None,
    *,
    company_id: str,
    token: str | None,
    max_age: int = SESSION_MAX_AGE_SECONDS,
) -> AdminSession | None:
    """The admin session in `cookie`, or None when absent, forged, expired or stale."""
    if not cookie or not token:
        return None
    try:
        payload = URLSafeTimedSerializer(key, salt=_SALT).loads(cookie, max_age=max_age)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("c") != company_id:
        return None
    if not hmac.compare_digest(str(payload.get("f", "")), _fingerprint(key, token)):
        return None
    return AdminSession(company_id=company_id, csrf_token=str(payload.get("x", "")))


def csrf_matches(session: AdminSession, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(
        session.csrf_token.encode(), (submitted or "").encode()
    )
