"""`POST /api/realtime/session`: a Realtime client secret for one company's widget."""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from widget_api.routes.body import json_body
from widget_api.routes.cors import add_cors_headers
from widget_api.routes.documented import BODY_ERRORS, answer, documented
from widget_api.services import get_services
from widget_api.sessions import start_realtime_session
from widget_api.vocabulary import VoiceTransport

bp = Blueprint("session", __name__)


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    company_id: StrictStr = Field(alias="companyId", min_length=1, max_length=64)
    resume_token: StrictStr | None = Field(None, max_length=512)
    # The host page the conversation runs on, and whether the privacy notice was accepted.
    page_url: StrictStr | None = Field(None, max_length=2000)
    referrer: StrictStr | None = Field(None, max_length=2000)
    privacy_accepted: bool = False
    # The visitor's browser language (navigator.language, BCP 47); malformed values are ignored.
    language: StrictStr | None = Field(None, max_length=35)


class SessionAnswer(BaseModel):
    client_secret: str
    expires_at: int
    model: str
    session_id: str
    tool_token: str
    tools: list[dict[str, Any]]
    transports: list[VoiceTransport | Literal["text"]]
    calls_url: str
    relay_path: str
    max_duration_seconds: int = Field(
        description="The conversation's time limit; the widget ends a WebRTC call after it."
    )
    resume_token: str = Field(
        description="Send it back (`resume_token`) after a reload to continue this conversation."
    )


@bp.post("/api/realtime/session")
@documented(
    "Start a conversation: secret and tool token.",
    ok=SessionAnswer,
    body=SessionRequest,
    errors=(
        *BODY_ERRORS,
        "unknown_company",
        "origin_not_allowed",
        "rate_limited",
        "daily_cap_reached",
        "voice_budget_spent",
        "limits_unavailable",
        "realtime_unavailable",
        "upstream_error",
        "upstream_timeout",
    ),
    headers=("Origin",),
    tags=("widget",),
)
def create_session() -> Response:
    """Start a conversation: client secret, session id, tool token and allowed transports."""
    body = json_body(SessionRequest)
    started = start_realtime_session(
        get_services(current_app),
        body.company_id,
        origin=request.headers.get("Origin"),
        client=request.remote_addr or "unknown",
        resume_token=body.resume_token,
        context=body.model_dump(include={"page_url", "referrer", "privacy_accepted", "language"}),
    )
    response = answer(create_session, SessionAnswer.model_validate(started))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.after_request
def _cors(response: Response) -> Response:
    # The company is in the body, which a preflight does not carry: any company's origin may
    # ask; the route itself then refuses origins the named company does not allow.
    services = get_services(current_app)
    return add_cors_headers(response, services, services.companies.all(), "Content-Type")
