"""Starting a widget conversation: the plain function behind `POST /api/realtime/session`.

Order matters: cheap refusals first (unknown company, foreign origin, no voice configured),
then the rate limits, and only then the paid call to OpenAI.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from widget_api.admission import admit, hand_over_to_call
from widget_api.continuity import issue_resume_token, resume
from widget_api.conversation import ConversationParts, wire_conversation
from widget_api.errors import DomainError
from widget_api.origins import is_origin_allowed
from widget_api.realtime.client_secrets import webrtc_calls_url
from widget_api.tokens import issue_tool_token
from widget_api.vocabulary import VOICE_TRANSPORTS, Transport, VoiceTransport

if TYPE_CHECKING:
    from widget_api.services import Services

log = logging.getLogger(__name__)

# The voice transports each company setting allows, in the order the widget tries them.
_TRANSPORTS: dict[Transport, list[VoiceTransport]] = {
    "auto": list(VOICE_TRANSPORTS), "webrtc": ["webrtc"], "relay": ["relay"], "text": []
}  # fmt: skip


def relay_path(company_id: str) -> str:
    return f"/ws/realtime/{company_id}"


def start_realtime_session(
    services: Services, company_id: str, *, origin: str | None, client: str,
    resume_token: str | None = None, context: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Mint a client secret for the company's session and a tool token for this conversation.

    No key configured (or a text-only company) → `realtime_unavailable` whose details tell the
    widget to use the relay WebSocket in text mode, which needs no secret and runs tools itself.
    """
    settings = services.settings
    company = services.companies.get(company_id)
    if not is_origin_allowed(origin, company, settings.server_origin):
        raise DomainError("origin_not_allowed")
    voice = _TRANSPORTS[company.transport]
    if services.minter is None or not voice:
        raise DomainError(
            "realtime_unavailable",
            details=[{"transports": ["text"], "relay_path": relay_path(company.id)}],
        )
    # The same budget a relayed conversation spends; WebRTC runs between the browser and
    # OpenAI, so the time limit travels in the secret's lifetime and the widget's own timer.
    admission = admit(services, company, client, voice=True)
    # A reload or page change continues the conversation: same session, the model told so.
    resumed = resume(services.db, services.signing_key, resume_token, company.id,
                     window_seconds=settings.resume_window_seconds)  # fmt: skip
    parts = wire_conversation(services, company, channel="voice", resumed=resumed)
    try:
        secret = services.minter.mint(parts.session, ttl_seconds=admission.max_seconds)
    except DomainError:
        admission.settle(0)  # nothing was minted: the voice minutes go back
        raise
    session_id = parts.session_id
    hand_over_to_call(services.rate_limiter.store, session_id, admission)
    _record_start(parts, voice[0], context)
    return {
        "client_secret": secret.value,
        "expires_at": secret.expires_at,
        "model": secret.session.get("model") or company.model,
        "session_id": session_id,
        "tool_token": issue_tool_token(
            services.signing_key, company.id, session_id, settings.tool_token_ttl_seconds
        ),
        "tools": parts.tools,
        "transports": [*voice, "text"],
        "calls_url": webrtc_calls_url(settings.openai_base_url),
        "relay_path": relay_path(company.id),
        "max_duration_seconds": admission.max_seconds,
        "resume_token": issue_resume_token(services.signing_key, company.id, session_id),
    }


def _record_start(parts: ConversationParts, transport: str, context: dict[str, Any] | None) -> None:
    # The conversation row is a report, not a gate: a database hiccup must not cost the visitor
    # a session OpenAI already paid for. The relay records its own start when it is used.
    try:
        parts.log.started(transport)
        if context:
            parts.recorder.context(context)  # page URL, referrer, privacy notice accepted
    except Exception:
        log.exception("could not record the conversation start")
