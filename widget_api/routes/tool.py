"""`POST /api/chat/<companyId>/tool`: run a tool call the model made in the browser's session."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from widget_api.errors import ApiError
from widget_api.routes.body import json_body
from widget_api.routes.cors import company_route_cors
from widget_api.routes.documented import BODY_ERRORS, TOOL_TOKEN, answer, documented
from widget_api.services import get_services
from widget_api.tokens import verify_tool_token
from widget_api.tools.registry import ID_PATTERN, MAX_ARGUMENT_CHARS, ToolContext

bp = Blueprint("tool", __name__)


class ToolCallRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StrictStr = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    arguments: StrictStr = Field(max_length=MAX_ARGUMENT_CHARS)
    call_id: StrictStr = Field(pattern=ID_PATTERN)
    session_id: StrictStr = Field(pattern=ID_PATTERN)


class ToolAnswer(BaseModel):
    """What the tool endpoint answers."""

    output: str = Field(description="JSON string for a function_call_output item.")
    replayed: bool = Field(description="True when a retried call_id returned the stored output.")


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("token_missing")
    return token.strip()


@bp.post("/api/chat/<company_id>/tool")
@documented(
    "Run one tool call the model made.",
    ok=ToolAnswer,
    body=ToolCallRequest,
    errors=(
        *BODY_ERRORS,
        "unknown_company",
        "not_found",
        *TOOL_TOKEN,
        "tool_call_in_progress",
        "tool_call_conflict",
        "browser_tools_disabled",
        "database_unavailable",
    ),
    security="toolToken",
    tags=("widget",),
)
def run_tool(company_id: str) -> Response:
    """Run one tool call (idempotent per session and call id); answers `{output}`."""
    services = get_services(current_app)
    company = services.companies.get(company_id)
    if not company.browser_tool_calls:  # the server answers this company's calls (sideband)
        raise ApiError("browser_tools_disabled")
    token = _bearer()
    body = json_body(ToolCallRequest)
    verify_tool_token(
        services.signing_key, token, company_id=company.id, session_id=body.session_id
    )
    # `call` (not `run`): a reused call id or a still-running duplicate is answered 409.
    outcome = services.tools.call(
        ToolContext(company=company, session_id=body.session_id, channel="voice"),
        body.call_id,
        body.name,
        body.arguments,
    )
    response = answer(run_tool, ToolAnswer(output=outcome.output, replayed=outcome.replayed))
    # The tool's own work, so load tests can separate it from the endpoint's overhead.
    response.headers["Server-Timing"] = f"tool;dur={outcome.tool_ms:.3f}"
    response.headers["Cache-Control"] = "no-store"
    return response


bp.after_request(company_route_cors)
