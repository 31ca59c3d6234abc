"""Continuity: a conversation survives a reload, a page change and an idle gap.

The server hands the page a signed resume token (`widget.session` event, field `resume_token`);
the widget keeps it in sessionStorage on its own origin and sends it back as the `resume_token`
query parameter of the WebSocket URL, or in the body of the session route for WebRTC. A token
names one company and one conversation; it resumes only while the conversation's last activity
is within the company's resume window (default 30 min), so a leaked old token is worthless.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from widget_api.crm.db import Database
from widget_api.crm.models import Conversation, utcnow

# A hard ceiling on a token's life, whatever the window: a day.
TOKEN_MAX_SECONDS = 24 * 3600
_MAX_TOKEN_CHARS = 512
HISTORY_LINES = 40


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _sign(key: bytes, payload: str) -> str:
    # Its own purpose prefix: a tool token can never pass as a resume token, nor the reverse.
    return _b64(hmac.new(key, b"resume-token.v1." + payload.encode(), hashlib.sha256).digest())


def issue_resume_token(key: bytes, company_id: str, session_id: str) -> str:
    body = json.dumps({"c": company_id, "s": session_id, "e": int(time.time()) + TOKEN_MAX_SECONDS},
                      separators=(",", ":"))  # fmt: skip
    payload = _b64(body.encode())
    return f"{payload}.{_sign(key, payload)}"


def read_resume_token(key: bytes, token: str | None, company_id: str) -> str | None:
    """The session id a genuine, unexpired token for this company names; None otherwise."""
    if not token or len(token) > _MAX_TOKEN_CHARS or token.count(".") != 1:
        return None
    payload, signature = token.split(".")
    if not (payload.isascii() and signature.isascii()):
        return None
    if not hmac.compare_digest(_sign(key, payload).encode(), signature.encode()):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        company, session, expires = str(data["c"]), str(data["s"]), int(data["e"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    if expires <= time.time() or not hmac.compare_digest(company.encode(), company_id.encode()):
        return None
    return session


@dataclass(frozen=True)
class Resumed:
    session_id: str
    history: list[tuple[str, str]]  # (role, text), oldest first
    contact: tuple[str, str] | None  # (name, email) of the linked lead


def resume(
    db: Database, key: bytes, token: str | None, company_id: str, *, window_seconds: int
) -> Resumed | None:
    """The conversation to continue, if the token is good and the gap within the window."""
    from widget_api.crm.record import conversation_lead, visitor_lines

    session_id = read_resume_token(key, token, company_id)
    if session_id is None:
        return None
    stmt = select(Conversation.last_activity_at, Conversation.started_at).where(
        Conversation.session_id == session_id, Conversation.company_id == company_id
    )
    row = db.run(lambda session: session.execute(stmt).first(), readonly=True)
    if row is None:
        return None
    last = row[0] or row[1]
    if last < utcnow() - timedelta(seconds=window_seconds):
        return None
    return Resumed(
        session_id, visitor_lines(db, session_id, HISTORY_LINES), conversation_lead(db, session_id)
    )


def history_instructions(resumed: Resumed) -> str:
    """Instructions that carry an interrupted conversation into a new Realtime session."""
    lines = [f"{'Visitor' if role == 'user' else 'You'}: {' '.join(text.split())[:400]}"
             for role, text in resumed.history]  # fmt: skip
    parts = [
        "This conversation is continuing after the visitor reloaded or changed page. Do not greet"
        " or introduce yourself again; carry on from where it stopped."
    ]
    if resumed.contact:
        name, email = resumed.contact
        parts.append(f"The visitor already gave their details: {name}, {email}. Do not ask again;"
                     " their lead is saved, call log_lead only with new details.")  # fmt: skip
    if lines:
        parts.append("The conversation so far:\n" + "\n".join(lines))
    return "\n\n".join(parts)
