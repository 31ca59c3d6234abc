"""OpenAI SIP: an incoming call announced by webhook is accepted for the dialled company's rep.

`realtime.call.incoming` (Standard Webhooks signature, verified with the project's webhook
secret through the SDK's `webhooks.unwrap`) names the call and its SIP headers. The dialled
number (`To`) picks the company; unknown numbers are rejected (SIP 404). Accepting sends the
company's session; then the sideband agent runs tools, records, summarizes and hangs up at the
maximum duration, exactly as for a WebRTC call.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from widget_api.errors import ApiError, DomainError
from widget_api.phone.directory import company_for_number, number_from_sip, sip_header

if TYPE_CHECKING:
    from widget_api.services import Services

log = logging.getLogger(__name__)

SIP_NOT_FOUND = 404
SIP_BUSY = 486  # the company's voice budget is spent (or its limits are unavailable)
PHONE_NOTE = (
    " You are on a phone call: keep answers short and spoken, never read out links; offer to "
    "send details by email instead."
)


@dataclass(frozen=True)
class SipOutcome:
    action: str  # "accepted" | "rejected" | "ignored"
    session_id: str | None = None


def verify_webhook(services: Services, body: bytes, headers: dict[str, str]) -> Any:
    """The parsed event, or ApiError `webhook_signature_invalid` / `phone_not_configured`."""
    import openai

    settings = services.settings
    secret = settings.openai_webhook_secret
    if secret is None or not settings.realtime_enabled or settings.openai_api_key is None:
        raise ApiError("phone_not_configured")
    client = openai.OpenAI(
        api_key=settings.openai_api_key.get_secret_value(), base_url=settings.openai_base_url
    )
    try:
        return client.webhooks.unwrap(body, headers, secret=secret.get_secret_value())
    except (openai.InvalidWebhookSignatureError, ValueError):
        raise ApiError("webhook_signature_invalid") from None


def session_for_sip(services: Services, company: Any) -> dict[str, Any]:
    """The company's session without audio formats: SIP negotiates its codec over RTP."""
    from widget_api.instructions import build_instructions
    from widget_api.realtime.session_config import build_session

    session = build_session(
        company, services.tools.declarations(company),
        instructions=build_instructions(company) + PHONE_NOTE,
    )  # fmt: skip
    for side in ("input", "output"):
        session["audio"][side].pop("format", None)
    return session


def handle_incoming(services: Services, event: Any) -> SipOutcome:
    """Accept the call for the dialled company (and start its agent), or reject it."""
    from widget_api.admission import admit, hand_over_to_call
    from widget_api.crm import record
    from widget_api.realtime.calls import CallSpec, registry_for

    if getattr(event, "type", None) != "realtime.call.incoming":
        return SipOutcome("ignored")
    call_id = str(event.data.call_id)
    headers = list(event.data.sip_headers or [])
    dialled = number_from_sip(sip_header(headers, "To"))
    company = company_for_number(services.companies.all(), dialled)
    registry = registry_for(services)
    if company is None:
        log.info("SIP call to a number no company lists: rejected")
        registry.control.reject(call_id, status_code=SIP_NOT_FOUND)
        return SipOutcome("rejected")
    try:  # a call spends the company's voice minutes like any voice conversation
        admission = admit(services, company, f"phone:{call_id}", voice=True)
    except DomainError as refused:
        log.info("SIP call for %s refused: %s", company.id, refused.code)
        registry.control.reject(call_id, status_code=SIP_BUSY)
        return SipOutcome("rejected")
    registry.control.accept(call_id, session_for_sip(services, company))
    session_id = "sip_" + secrets.token_urlsafe(18)
    hand_over_to_call(services.rate_limiter.store, session_id, admission)  # settled at the end
    record.start_or_resume(
        services.db, company_id=company.id, session_id=session_id, transport="sip",
        language=company.language,
    )  # fmt: skip
    spec = CallSpec(
        call_id=call_id, company=company, session_id=session_id, channel="sip",
        max_seconds=admission.max_seconds, greet=True,
        caller_number=number_from_sip(sip_header(headers, "From")),
    )  # fmt: skip
    registry.start(spec)
    return SipOutcome("accepted", session_id)
