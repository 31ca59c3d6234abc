"""Phone webhooks: OpenAI's `realtime.call.incoming` (SIP) and Twilio's voice webhook (TwiML)."""

from __future__ import annotations

from typing import Literal
from xml.sax.saxutils import quoteattr

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel

from widget_api.errors import ApiError
from widget_api.routes.documented import Answer, documented
from widget_api.services import get_services

bp = Blueprint("phone", __name__)


class CallAction(BaseModel):
    action: Literal["accepted", "rejected", "ignored"]


@bp.post("/api/phone/openai/webhook")
@documented(
    "OpenAI's signed `realtime.call.incoming`: accept for the dialled company or reject.",
    ok=CallAction,
    errors=(
        "webhook_signature_invalid",
        "phone_not_configured",
        "realtime_unavailable",
        "payload_too_large",
        "database_unavailable",
    ),
    headers=("webhook-id", "webhook-timestamp", "webhook-signature"),
)
def openai_call_webhook() -> CallAction:
    """Verify the signed webhook; accept the call for the dialled company or reject it."""
    from widget_api.phone.sip import handle_incoming, verify_webhook

    services = get_services(current_app)
    event = verify_webhook(services, request.get_data(), dict(request.headers))
    outcome = handle_incoming(services, event)
    return CallAction.model_validate({"action": outcome.action})


@bp.post("/api/phone/twilio/<company_id>/voice")
@documented(
    "Twilio's signed voice webhook: TwiML connecting the call to /ws/twilio/<id>.",
    ok=Answer("text/xml", description="TwiML `<Connect><Stream>`."),
    errors=(
        "unknown_company",
        "twilio_signature_invalid",
        "phone_not_configured",
        "payload_too_large",
    ),
    headers=("X-Twilio-Signature",),
)
def twilio_voice(company_id: str) -> Response:
    """TwiML connecting the call to `/ws/twilio/<companyId>` (signed request only)."""
    from widget_api.phone.twilio_signature import stream_token, valid_twilio_signature
    from widget_api.phone.twilio_ws import stream_url

    services = get_services(current_app)
    settings = services.settings
    company = services.companies.get(company_id)
    token = settings.twilio_auth_token
    if token is None or not settings.realtime_enabled:
        raise ApiError("phone_not_configured")
    # Twilio signs the URL it called (our public origin, never the Host header) and the form.
    url = settings.server_origin + request.full_path.rstrip("?")
    form = {key: request.form[key] for key in request.form}
    signature = request.headers.get("X-Twilio-Signature")
    if not valid_twilio_signature(token.get_secret_value(), url, form, signature):
        raise ApiError("twilio_signature_invalid")
    call_sid = form.get("CallSid", "")
    params = {
        "token": stream_token(token.get_secret_value(), company.id, call_sid),
        "caller": form.get("From", ""),
    }
    parameters = "".join(
        f"<Parameter name={quoteattr(k)} value={quoteattr(v)}/>" for k, v in params.items()
    )
    twiml = (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
        f"<Stream url={quoteattr(stream_url(settings, company.id))}>{parameters}</Stream>"
        "</Connect></Response>"
    )
    response = Response(twiml, mimetype="text/xml")
    response.headers["Cache-Control"] = "no-store"
    return response
