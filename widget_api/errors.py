"""One catalogue of stable error codes, shared by JSON responses, WebSocket error frames and
tool outputs: `{"error": {"code": ..., "message": ..., "details": [...]}}`.

Domain code raises `DomainError(code)`, HTTP adapters `ApiError(code, ...)`; the handler
registered once in `create_app` serializes both.
Routes never catch exceptions themselves. Add a code here before using it anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorSpec:
    status: int
    message: str


CATALOGUE: dict[str, ErrorSpec] = {
    # request shape
    "invalid_json": ErrorSpec(400, "The request body is not valid JSON."),
    "validation_failed": ErrorSpec(422, "The request does not match the expected shape."),
    "payload_too_large": ErrorSpec(413, "The request body is too large."),
    "request_timeout": ErrorSpec(408, "The request did not arrive in time."),
    "headers_too_large": ErrorSpec(431, "The request headers are too large."),
    "unsupported_media_type": ErrorSpec(415, "Send the body as application/json."),
    "method_not_allowed": ErrorSpec(405, "This route does not accept that method."),
    "not_found": ErrorSpec(404, "No such route."),
    # companies and access
    "unknown_company": ErrorSpec(404, "No company with that id."),
    "origin_not_allowed": ErrorSpec(403, "This site is not allowed to use the widget."),
    "token_missing": ErrorSpec(401, "A bearer token is required."),
    "token_invalid": ErrorSpec(401, "The token is not valid."),
    "token_expired": ErrorSpec(401, "The token has expired."),
    "token_wrong_scope": ErrorSpec(403, "The token is for another company or session."),
    "admin_token_invalid": ErrorSpec(401, "The admin token is missing or wrong."),
    "admin_forbidden": ErrorSpec(403, "This admin token is for another company."),
    "csrf_failed": ErrorSpec(403, "The form is stale or came from another site; reload the page."),
    "rate_limited": ErrorSpec(429, "Too many requests; slow down."),
    "daily_cap_reached": ErrorSpec(429, "The company's daily session cap is reached."),
    "voice_budget_spent": ErrorSpec(429, "Today's voice minutes are used up; text still works."),
    "limits_unavailable": ErrorSpec(503, "Voice is paused for a moment; text still works."),
    # realtime upstream
    "realtime_unavailable": ErrorSpec(503, "Voice is not configured; use text mode."),
    "upstream_error": ErrorSpec(502, "The voice provider failed."),
    "upstream_timeout": ErrorSpec(504, "The voice provider did not answer in time."),
    "session_expired": ErrorSpec(408, "The conversation reached its time limit."),
    "session_idle": ErrorSpec(408, "The conversation was idle too long."),
    "event_not_allowed": ErrorSpec(400, "The widget may not send that event."),
    # tools
    "unknown_tool": ErrorSpec(404, "No tool with that name."),
    "tool_arguments_invalid": ErrorSpec(422, "The tool arguments are not valid."),
    "knowledge_unavailable": ErrorSpec(503, "The knowledge base is unavailable."),
    "lead_email_invalid": ErrorSpec(422, "The email address is not valid."),
    "lead_phone_invalid": ErrorSpec(422, "The phone number is not valid."),
    "lead_not_found": ErrorSpec(404, "No lead with that id."),
    "lead_fields_missing": ErrorSpec(422, "Required lead details are missing."),
    "lead_update_limit": ErrorSpec(429, "This conversation has updated its lead too often."),
    "lead_status_invalid": ErrorSpec(
        422, "Status must be new, contacted, qualified or disqualified."
    ),
    "tool_call_in_progress": ErrorSpec(409, "This tool call is still running; retry shortly."),
    "tool_call_conflict": ErrorSpec(
        409, "This call id was already used for another tool or other arguments."
    ),
    "no_clip_found": ErrorSpec(404, "No demo clip fits that topic."),
    # calls and phone
    "browser_tools_disabled": ErrorSpec(403, "Tools run on the server for this company."),
    "call_not_found": ErrorSpec(404, "No live call for this conversation."),
    "webhook_signature_invalid": ErrorSpec(400, "The webhook signature does not verify."),
    "twilio_signature_invalid": ErrorSpec(403, "The Twilio signature does not verify."),
    # Not configured is permanent for this deployment, not an outage: as good as no route.
    "phone_not_configured": ErrorSpec(404, "The phone channel is not configured."),
    # webhooks and reports
    "signature_invalid": ErrorSpec(401, "The webhook signature does not verify."),
    "bookings_not_configured": ErrorSpec(404, "This company receives no booking notifications."),
    "delivery_not_found": ErrorSpec(404, "No dead letter with that id."),
    "link_not_found": ErrorSpec(404, "This link is unknown or has expired."),
    # server
    "database_unavailable": ErrorSpec(503, "The database is unavailable."),
    "internal_error": ErrorSpec(500, "Something went wrong on our side."),
}


class DomainError(Exception):
    """A failure with a stable code from CATALOGUE, raised below the HTTP layer.

    The CRM, the tools and the relay raise this; they never choose an HTTP status or wording.
    The handler registered in `create_app` answers it like an ApiError (the catalogue's
    status and message), and WebSocket error frames are built from the same catalogue.
    """

    def __init__(self, code: str, *, details: list[Any] | None = None) -> None:
        if code not in CATALOGUE:
            raise KeyError(f"error code {code!r} is not in the catalogue")
        spec = CATALOGUE[code]
        self.code = code
        self.message = spec.message
        self.details = details or []
        self.status = spec.status
        super().__init__(f"{code}: {self.message}")

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class ApiError(DomainError):
    """A DomainError raised by the HTTP layer, which may override the message or status."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        details: list[Any] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(code, details=details)
        self.message = message or self.message
        self.status = status or self.status
        self.args = (f"{code}: {self.message}",)
