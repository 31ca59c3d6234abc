"""Which company answers a dialled number, and the numbers in a SIP `From`/`To` header."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from widget_api.companies.models import CompanyConfig
    from widget_api.settings import Settings

_SIP_NUMBER = re.compile(r"(?:sips?:|tel:)?(\+?[0-9]{6,15})(?:@|>|;|$)")


def number_from_sip(value: str | None) -> str | None:
    """`+15551234567` from `"Ann" <sip:+15551234567@host>;tag=1` (None if there is none)."""
    if not value:
        return None
    found = _SIP_NUMBER.search(value.replace("-", ""))
    if found is None:
        return None
    digits = found.group(1)
    return digits if digits.startswith("+") else "+" + digits


def sip_header(headers: Iterable[object], name: str) -> str | None:
    """A header's value from the webhook's `sip_headers` (SDK models or plain dicts)."""
    for header in headers:
        fields = header if isinstance(header, dict) else vars(header)
        key = fields.get("name")
        if isinstance(key, str) and key.lower() == name.lower():
            value = fields.get("value")
            return str(value) if value is not None else None
    return None


def company_for_number(
    companies: Iterable[CompanyConfig], number: str | None
) -> CompanyConfig | None:
    """The company that lists `number` in its `phone_numbers`."""
    if not number:
        return None
    for company in companies:
        if number in company.phone_numbers:
            return company
    return None


def phone_warnings(companies: Iterable[CompanyConfig], settings: Settings) -> list[str]:
    """What `check-config` says about the phone setup: the mistakes that leave a number silent.

    A listed number with no channel configured gets 404 `phone_not_configured`; Twilio signs
    the exact https URL it calls and streams only to `wss://`; SIP calls are accepted with the
    server's OpenAI key; a number listed twice rings only the first company.
    """
    listed = [(company.id, number) for company in companies for number in company.phone_numbers]
    sip = settings.openai_webhook_secret is not None
    twilio = settings.twilio_auth_token is not None
    out = []
    if listed and not (sip or twilio):
        out.append(
            "companies list phone_numbers but neither OPENAI_WEBHOOK_SECRET (OpenAI SIP) nor "
            "TWILIO_AUTH_TOKEN (Twilio) is set: calls are refused 404 phone_not_configured"
        )
    if sip and not settings.realtime_enabled:
        out.append("OPENAI_WEBHOOK_SECRET is set without OPENAI_API_KEY: SIP calls are rejected")
    if twilio and not (settings.public_origin or "").startswith("https://"):
        out.append(
            "TWILIO_AUTH_TOKEN is set but WIDGET_PUBLIC_ORIGIN is not an https:// origin: "
            "Twilio signs the URL it calls and streams only to wss://"
        )
    owners: dict[str, str] = {}
    for company_id, number in listed:
        first = owners.setdefault(number, company_id)
        if first != company_id:
            out.append(f"{number} is listed by {first} and {company_id}: only {first} answers it")
    return out
