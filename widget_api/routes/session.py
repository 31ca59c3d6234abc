"""`POST /api/realtime/session`: a Realtime client secret for one company's widget."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from widget_api.routes.body import json_body
from widget_api.routes.cors import add_cors_headers
from widget_api.services import get_services
from widget_api.sessions import start_realtime_session

bp = Blueprint("session", __name__)


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    company_id: StrictStr = Field(alias="companyId", min_length=1, max_length=64)
    resume_token: StrictStr | None = Field(None, max_length=512)
    # The host page the conversation runs on, and whether the privacy notice was accepted.
    page_url: StrictStr | None = Field(None, max_length=2000)
    referrer: StrictStr | None = Field(None, max_length=2000)
    privacy_accepted: bool = False


@bp.post("/api/realtime/session")
def create_session():  # type: ignore[no-untyped-def]
    """Start a conversation: client secret, session id, tool token and allowed transports."""
    body = json_body(SessionRequest)
    answer = start_realtime_session(
        get_services(current_app),
        body.company_id,
        origin=request.headers.get("Origin"),
        client=request.remote_addr or "unknown",
        resume_token=body.resume_token,
        context=body.model_dump(include={"page_url", "referrer", "privacy_accepted"}),
    )
    response = jsonify(answer)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.after_request
def _cors(response: Response) -> Response:
    # The company is in the body, which a preflight does not carry: any company's origin may
    # ask; the route itself then refuses origins the named company does not allow.
    services = get_services(current_app)
    return add_cors_headers(response, services, services.companies.all(), "Content-Type")
