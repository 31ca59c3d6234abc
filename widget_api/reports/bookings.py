"""Meetings booked on Calendly or Cal.com, from their signed webhook notifications.

Calendly signs `<t>.<body>` (HMAC-SHA256, hex) in `Calendly-Webhook-Signature: t=..,v1=..`;
Cal.com signs the raw body (HMAC-SHA256, hex) in `X-Cal-Signature-256`. A booking is matched
to its conversation through the lead with the invitee's email (the booking link prefills it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select

from widget_api.crm.db import Database
from widget_api.crm.leads import InvalidEmail, normalize_email
from widget_api.crm.models import Lead
from widget_api.errors import ApiError
from widget_api.reports.recorder import record_booking

Provider = Literal["calendly", "cal.com"]
TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class BookingNotice:
    external_id: str
    email: str | None


def verify(provider: str, secret: str, body: bytes, headers: Mapping[str, str]) -> None:
    """Raise ApiError `signature_invalid` unless the provider signed `body` with `secret`."""
    if provider == "calendly":
        parts = dict(
            p.split("=", 1) for p in headers.get("calendly-webhook-signature", "").split(",")
            if "=" in p
        )  # fmt: skip
        stamp, given = parts.get("t", ""), parts.get("v1", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > TOLERANCE_SECONDS:
            raise ApiError("signature_invalid")
        signed = stamp.encode() + b"." + body
    else:
        given, signed = headers.get("x-cal-signature-256", ""), body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not given or not hmac.compare_digest(expected, given.lower()):
        raise ApiError("signature_invalid")


def parse(provider: str, body: bytes) -> BookingNotice | None:
    """The booking in a notification; None for other events (cancellations, pings)."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        raise ApiError("invalid_json") from None
    if not isinstance(data, dict) or not isinstance(data.get("payload"), dict):
        raise ApiError("validation_failed", details=[{"fields": ["payload"]}])
    payload = data["payload"]
    if provider == "calendly":
        if data.get("event") != "invitee.created":
            return None
        external, email = payload.get("uri"), payload.get("email")
    else:
        if data.get("triggerEvent") != "BOOKING_CREATED":
            return None
        attendees = payload.get("attendees") or [{}]
        external = payload.get("uid")
        email = attendees[0].get("email") if isinstance(attendees[0], dict) else None
    if not isinstance(external, str) or not external:
        raise ApiError("validation_failed", details=[{"fields": ["payload"]}])
    return BookingNotice(f"{provider}:{external}", email if isinstance(email, str) else None)


def record(db: Database, company_id: str, provider: str, notice: BookingNotice) -> bool:
    """Count the booking (once per provider event), linked to the invitee's lead if known."""
    lead_id = session_id = None
    if notice.email:
        try:
            email = normalize_email(notice.email)
        except InvalidEmail:
            email = None
        if email:
            stmt = select(Lead.id, Lead.session_id).where(
                Lead.company_id == company_id, Lead.email_normalized == email
            )
            row = db.run(lambda s: s.execute(stmt).first(), readonly=True)
            if row is not None:
                lead_id, session_id = row
    return record_booking(db, company_id=company_id, provider=provider,
                          external_id=notice.external_id, session_id=session_id,
                          lead_id=lead_id)  # fmt: skip
