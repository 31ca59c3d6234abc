"""`GET /api/widget/<companyId>/config`: what the loader needs before it shows anything.

The loader (`embed.js`) on a customer's page fetches this first: the launcher's label, colour,
position and greeting from the company config, and whether the page's origin may show the
widget at all (no bubble on a disallowed origin). Public and credential-free, so any origin may
read the answer; it only says "not here" to origins the company does not allow.
"""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from widget_api.continuity import resume
from widget_api.origins import is_origin_allowed
from widget_api.protocol import HistoryLine
from widget_api.routes.body import json_body
from widget_api.routes.documented import BODY_ERRORS, answer, documented
from widget_api.services import get_services

bp = Blueprint("public_config", __name__)


class LauncherConfig(BaseModel):
    """The launcher as the company configured it; absent when the origin is not allowed."""

    label: str
    color: str
    text_color: str
    position: Literal["bottom-right", "bottom-left"]
    greeting: str


class PublicConfig(BaseModel):
    allowed: bool
    launcher: LauncherConfig | None = None


def public_config(company_id: str, origin: str | None) -> PublicConfig:
    """The loader's config for a page on `origin` (unknown company → ApiError 404)."""
    services = get_services(current_app)
    company = services.companies.get(company_id)
    if not is_origin_allowed(origin, company, services.settings.server_origin):
        return PublicConfig(allowed=False)
    theme = company.theme
    return PublicConfig(allowed=True, launcher=LauncherConfig(
        label=theme.launcher_label, color=theme.primary_color, text_color=theme.background_color,
        position=theme.position, greeting=company.greeting,
    ))  # fmt: skip


@bp.get("/api/widget/<company_id>/config")
@documented(
    "The loader's launcher config, and whether the page's origin may show the widget.",
    ok=PublicConfig,
    errors=("unknown_company", "not_found"),
    headers=("Origin",),
    tags=("widget",),
)
def widget_public_config(company_id: str) -> Response:
    """The launcher config and whether this page's origin may show the widget."""
    origin = request.headers.get("Origin")
    if origin is None and request.headers.get("Sec-Fetch-Site") == "same-origin":
        # Browsers send no Origin on a same-origin GET: the page is on this server (the demo
        # host page). Only the launcher's visibility depends on it; the session route and the
        # WebSocket check the origin themselves.
        origin = get_services(current_app).settings.server_origin
    config = public_config(company_id, origin)
    # Unset launcher fields are left out (the loader keeps its defaults).
    response = jsonify(config.model_dump(mode="json", exclude_none=True))
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Vary"] = "Origin"
    response.headers["Cache-Control"] = "no-cache"
    return response


class ResumeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resume_token: StrictStr = Field(max_length=512)


class ResumeAnswer(BaseModel):
    resumed: bool
    history: list[HistoryLine] = []


@bp.post("/api/widget/<company_id>/resume")
@documented(
    "The conversation so far for a resume token (the widget after a reload).",
    ok=ResumeAnswer,
    body=ResumeRequest,
    errors=(*BODY_ERRORS, "unknown_company", "not_found", "database_unavailable"),
    tags=("widget",),
)
def widget_resume(company_id: str) -> Response:
    """The conversation so far for the widget page's resume token (after a reload)."""
    services = get_services(current_app)
    company = services.companies.get(company_id)
    body = json_body(ResumeRequest)
    resumed = resume(services.db, services.signing_key, body.resume_token, company.id,
                     window_seconds=services.settings.resume_window_seconds)  # fmt: skip
    found = ResumeAnswer(resumed=False)
    if resumed is not None:
        lines = [HistoryLine(role=r, text=t) for r, t in resumed.history]  # type: ignore[arg-type]
        found = ResumeAnswer(resumed=True, history=lines)
    response = answer(widget_resume, found)
    response.headers["Cache-Control"] = "no-store"
    return response
