"""Which company answers a dialled number, and the numbers in a SIP `From`/`To` header."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from widget_api.companies.models import CompanyConfig

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
