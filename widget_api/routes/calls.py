"""The widget's WebRTC call, seen from the server: join it, end it, and take the widget's reports.

- `POST /api/realtime/calls/<companyId>`: the browser created its call (`call_id` from the
  `Location` header); the server opens the sideband and from then on answers the tool calls.
- `POST /api/realtime/calls/<companyId>/end`: the visitor ends the call; the server asks for
  the summary, hangs up, and answers once that is done (the browser then closes its side).
- `POST /api/realtime/reports/<companyId>`: what only the browser sees: a transport fallback
  (WebRTC → relay → text) and, on WebRTC, each turn's time to first audio.
All three take the conversation's tool token as bearer, scoped to company and session.
"""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from widget_api.errors import ApiError
from widget_api.routes.body import json_body
from widget_api.routes.cors import company_route_cors
from widget_api.routes.documented import BODY_ERRORS, TOOL_TOKEN, answer, documented
from widget_api.services import Services, get_services
from widget_api.tokens import verify_tool_token
from widget_api.tools.registry import ID_PATTERN

bp = Blueprint("calls", __name__)


class CallJoin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: StrictStr = Field(pattern=ID_PATTERN)
    call_id: StrictStr = Field(pattern=r"^rtc_[A-Za-z0-9_-]{1,120}$")


class CallEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: StrictStr = Field(pattern=ID_PATTERN)


class ClientReport(BaseModel):
    """A fallback the widget made, or one WebRTC turn's time to first audio and first text."""

    model_config = ConfigDict(extra="forbid")

    session_id: StrictStr = Field(pattern=ID_PATTERN)
    kind: Literal["fallback", "latency"]
    to: Literal["relay", "text"] | None = None
    reason: Literal["webrtc_timeout", "webrtc_failed", "relay_failed", "call_failed"] | None = None
    first_audio_ms: float | None = Field(None, ge=0, le=120_000)
    first_text_ms: float | None = Field(None, ge=0, le=120_000)


def _authorized(services: Services, company_id: str, session_id: str) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("token_missing")
    verify_tool_token(services.signing_key, token.strip(), company_id=company_id,
                      session_id=session_id)  # fmt: skip


class CallJoined(BaseModel):
    server_tools: Literal[True] = True


class CallEnded(BaseModel):
    ended: bool


class ReportRecorded(BaseModel):
    recorded: Literal[True] = True


_CALL_ERRORS = (*BODY_ERRORS, "unknown_company", *TOOL_TOKEN, "realtime_unavailable")


@bp.post("/api/realtime/calls/<company_id>")
@documented(
    "The browser's WebRTC call: the server joins it (sideband) and runs its tools.",
    ok=CallJoined,
    status=202,
    body=CallJoin,
    errors=_CALL_ERRORS,
    security="toolToken",
    tags=("widget",),
)
def join_call(company_id: str) -> Response:
    """Open the sideband for the browser's call; from now on the server runs its tools."""
    from widget_api.admission import mark_call_joined, max_conversation_seconds
    from widget_api.realtime.calls import CallSpec, registry_for

    services = get_services(current_app)
    company = services.companies.get(company_id)
    body = json_body(CallJoin)
    _authorized(services, company.id, body.session_id)
    # From now on the reservation is the call's: a relay fallback cannot take it over.
    mark_call_joined(services.rate_limiter.store, body.session_id)
    registry = registry_for(services)
    registry.start(
        CallSpec(
            call_id=body.call_id,
            company=company,
            session_id=body.session_id,
            channel="webrtc",
            max_seconds=max_conversation_seconds(company, services.settings),
        )
    )
    return _no_store(answer(join_call, CallJoined()))


@bp.post("/api/realtime/calls/<company_id>/end")
@documented(
    "The visitor ends the call: summary, then hang-up.",
    ok=CallEnded,
    body=CallEnd,
    errors=(*_CALL_ERRORS, "call_not_found"),
    security="toolToken",
    tags=("widget",),
)
def end_call(company_id: str) -> Response:
    """Summarize and hang up the visitor's call; answers once done (or after a few seconds)."""
    from widget_api.realtime.calls import registry_for

    services = get_services(current_app)
    company = services.companies.get(company_id)
    body = json_body(CallEnd)
    _authorized(services, company.id, body.session_id)
    agent = registry_for(services).for_session(body.session_id)
    if agent is None:
        raise ApiError("call_not_found")
    ended = agent.end("ended_by_visitor", wait=6.0)
    return _no_store(answer(end_call, CallEnded(ended=ended)))


@bp.post("/api/realtime/reports/<company_id>")
@documented(
    "A transport fallback, or a WebRTC turn's time to first audio.",
    ok=ReportRecorded,
    status=202,
    body=ClientReport,
    errors=(*_CALL_ERRORS, "database_unavailable"),
    security="toolToken",
    tags=("widget",),
)
def report(company_id: str) -> Response:
    """Record a transport fallback on the conversation, or a WebRTC turn's latency."""
    services = get_services(current_app)
    company = services.companies.get(company_id)
    body = json_body(ClientReport)
    _authorized(services, company.id, body.session_id)
    if body.kind == "fallback":
        from widget_api.crm import record

        record.start_or_resume(
            services.db, company_id=company.id, session_id=body.session_id,
            transport=f"{body.to or 'text'}:{body.reason or 'fallback'}"[:40],
        )  # fmt: skip
    elif body.first_audio_ms is not None or body.first_text_ms is not None:
        from widget_api.crm.latency import record_turn_latency

        record_turn_latency(
            services.db, company_id=company.id, session_id=body.session_id, channel="webrtc",
            first_audio_ms=body.first_audio_ms, first_text_ms=body.first_text_ms,
        )  # fmt: skip
    return _no_store(answer(report, ReportRecorded()))


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


bp.after_request(company_route_cors)
