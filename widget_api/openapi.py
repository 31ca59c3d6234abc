"""The OpenAPI 3.1 document of every HTTP route, served at `/api/openapi.json`.

Schemas are generated from the same pydantic models the routes validate with (request bodies,
query strings) and the models their answers are built from, so the document cannot drift from
the code. What a model cannot say (paths, methods, media types, which catalogue codes a route
answers with) is one table, `OPERATIONS`, keyed by the Flask rule; a test checks that every
registered rule is in it. Error answers use the one envelope of `widget_api.errors`; each
response lists its possible codes in `x-error-codes` (the fuzz suite holds the server to it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from widget_api.crm.leads import LeadView
from widget_api.errors import CATALOGUE
from widget_api.reports.funnel import FunnelReport
from widget_api.reports.questions import UnansweredReport
from widget_api.reports.window import ReportQuery
from widget_api.routes.admin import LeadQuery, StatusChange
from widget_api.routes.admin_record import PersonRequest
from widget_api.routes.calls import CallEnd, CallJoin, ClientReport
from widget_api.routes.public_config import PublicConfig, ResumeAnswer, ResumeRequest
from widget_api.routes.reports import (
    BookingAnswer,
    DeadLettersAnswer,
    LatencyAnswer,
    RetryAnswer,
    RetryForm,
    TopQuestionsAnswer,
)
from widget_api.routes.session import SessionRequest
from widget_api.routes.tool import ToolAnswer, ToolCallRequest
from widget_api.vocabulary import COMPANY_ID_PATTERN, LeadStatus

bp = Blueprint("openapi", __name__)

REF_TEMPLATE = "#/components/schemas/{model}"

# --- answers: the shapes the routes build (dicts in the views), named so they can be checked --


class ErrorBody(BaseModel):
    code: Literal[tuple(CATALOGUE)]  # type: ignore[valid-type]
    message: str
    details: list[Any] = Field(default_factory=list)


class ErrorEnvelope(BaseModel):
    """Every JSON error: a stable code from the catalogue, a message, optional details."""

    model_config = ConfigDict(extra="forbid")
    error: ErrorBody


class HealthAnswer(BaseModel):
    status: Literal["ok"]


class ReadyAnswer(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Literal["ok", "unavailable"]]


class SessionAnswer(BaseModel):
    client_secret: str
    expires_at: int
    model: str
    session_id: str
    tool_token: str
    tools: list[dict[str, Any]]
    transports: list[Literal["webrtc", "relay", "text"]]
    calls_url: str
    relay_path: str
    max_duration_seconds: int = Field(
        description="The conversation's time limit; the widget ends a WebRTC call after it."
    )
    resume_token: str = Field(
        description="Send it back (`resume_token`) after a reload to continue this conversation."
    )


class LeadPage(BaseModel):
    leads: list[LeadView]
    total: int
    limit: int
    offset: int


class LoginForm(BaseModel):
    token: str = Field(description="The company's admin token.")


class PersonForm(BaseModel):
    email: str = Field(description="The person to forget.")
    csrf_token: str


class ForgetAnswer(BaseModel):
    deleted: dict[str, int] = Field(description="Rows removed per table (no personal data).")


class LogoutForm(BaseModel):
    csrf_token: str


class StatusForm(BaseModel):
    status: LeadStatus
    csrf_token: str
    back: str | None = Field(None, description="Listing to return to (this company's only).")


# --- the table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One success answer: a media type with a model (JSON) or a plain description."""

    media: str | None
    model: type[BaseModel] | None = None
    description: str = "OK"
    headers: tuple[str, ...] = ()


JSON_OK = "application/json"
HTML = Answer("text/html", description="An HTML page.")
SEE_OTHER = Answer(None, description="Redirect after a form.", headers=("Location",))
NOT_MODIFIED = Answer(None, description="The cached copy is current (ETag).")


@dataclass(frozen=True)
class Operation:
    rule: str  # the Flask rule, as registered
    method: str
    summary: str
    answers: dict[int, Answer]
    errors: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    body_media: str = JSON_OK
    query: type[BaseModel] | None = None
    security: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    tags: tuple[str, ...] = field(default=())


_BODY_ERRORS = ("invalid_json", "payload_too_large", "unsupported_media_type", "validation_failed")
_ADMIN_API = ("admin_token_invalid", "rate_limited", "unknown_company", "not_found",
              "database_unavailable")  # fmt: skip
_ADMIN_PAGE = ("unknown_company", "not_found", "database_unavailable")
_LEAD_FILTERS = ("validation_failed", "lead_status_invalid")
_EXPORT = {200: Answer("text/csv", description="CSV export.")}
_EXPORT_JSON = {200: Answer(JSON_OK, description="JSON export.")}

_CALL_ERRORS = ("unknown_company", "token_missing", "token_invalid", "token_expired",
                "token_wrong_scope", "realtime_unavailable")  # fmt: skip

OPERATIONS: tuple[Operation, ...] = (
    Operation("/healthz", "get", "Liveness probe.", {200: Answer(JSON_OK, HealthAnswer)},
              tags=("health",)),
    Operation("/readyz", "get", "Readiness: database and knowledge base answer.",
              {200: Answer(JSON_OK, ReadyAnswer),
               503: Answer(JSON_OK, ReadyAnswer, "A part is unavailable.")}, tags=("health",)),
    Operation("/api/openapi.json", "get", "This document.", {200: Answer(JSON_OK)},
              tags=("meta",)),
    Operation("/api/realtime/session", "post", "Start a conversation: secret and tool token.",
              {200: Answer(JSON_OK, SessionAnswer)},
              (
               *_BODY_ERRORS, "unknown_company", "origin_not_allowed", "rate_limited",
               "daily_cap_reached", "voice_budget_spent", "limits_unavailable",
               "realtime_unavailable", "upstream_error", "upstream_timeout"),
              body=SessionRequest, headers=("Origin",), tags=("widget",)),
    Operation("/api/chat/<company_id>/tool", "post", "Run one tool call the model made.",
              {200: Answer(JSON_OK, ToolAnswer)},
              (
               *_BODY_ERRORS, "unknown_company", "not_found", "token_missing", "token_invalid",
               "token_expired", "token_wrong_scope", "tool_call_in_progress",
               "tool_call_conflict", "browser_tools_disabled", "database_unavailable"),
              body=ToolCallRequest, security=("toolToken",), tags=("widget",)),
    Operation("/api/realtime/calls/<company_id>", "post",
              "The browser's WebRTC call: the server joins it (sideband) and runs its tools.",
              {202: Answer(JSON_OK, description="`{server_tools: true}`")},
              _BODY_ERRORS + _CALL_ERRORS, body=CallJoin, security=("toolToken",),
              tags=("widget",)),
    Operation("/api/realtime/calls/<company_id>/end", "post",
              "The visitor ends the call: summary, then hang-up.",
              {200: Answer(JSON_OK, description="`{ended: bool}`")},
              _BODY_ERRORS + _CALL_ERRORS + ("call_not_found",), body=CallEnd,
              security=("toolToken",), tags=("widget",)),
    Operation("/api/realtime/reports/<company_id>", "post",
              "A transport fallback, or a WebRTC turn's time to first audio.",
              {202: Answer(JSON_OK, description="`{recorded: true}`")},
              _BODY_ERRORS + _CALL_ERRORS + ("database_unavailable",), body=ClientReport,
              security=("toolToken",), tags=("widget",)),
    Operation("/api/phone/openai/webhook", "post",
              "OpenAI's signed `realtime.call.incoming`: accept for the dialled company or reject.",
              {200: Answer(JSON_OK, description="`{action: accepted|rejected|ignored}`")},
              ("webhook_signature_invalid", "phone_not_configured", "realtime_unavailable",
               "payload_too_large", "database_unavailable"),
              headers=("webhook-id", "webhook-timestamp", "webhook-signature"), tags=("phone",)),
    Operation("/api/phone/twilio/<company_id>/voice", "post",
              "Twilio's signed voice webhook: TwiML connecting the call to /ws/twilio/<id>.",
              {200: Answer("text/xml", description="TwiML `<Connect><Stream>`.")},
              ("unknown_company", "twilio_signature_invalid", "phone_not_configured",
               "payload_too_large"),
              headers=("X-Twilio-Signature",), tags=("phone",)),
    Operation("/embed.js", "get", "The embed loader script.",
              {200: Answer("text/javascript", description="The loader."), 304: NOT_MODIFIED},
              tags=("widget",)),
    Operation("/widget-assets/<path:name>", "get", "A versioned widget asset.",
              {200: Answer("*/*", description="Script, style sheet or worklet."),
               304: NOT_MODIFIED}, ("not_found",), tags=("widget",)),
    Operation("/widget/<company_id>", "get", "The widget page (framed by allowed origins only).",
              {200: HTML, 403: Answer("text/html", description="Host not allowed (blocked page).")},
              ("unknown_company", "not_found"), tags=("widget",)),
    Operation("/", "get", "Demo host page embedding a company's widget.", {200: HTML},
              ("unknown_company",), tags=("widget",)),
    Operation("/ws/realtime/<company_id>", "get", "Realtime WebSocket (upgrade only).",
              {101: Answer(None, description="Switching to WebSocket.")},
              ("unknown_company", "not_found", "origin_not_allowed", "validation_failed"),
              tags=("widget",)),
    Operation("/api/admin/<company_id>/leads", "get", "A page of the company's leads.",
              {200: Answer(JSON_OK, LeadPage)}, _ADMIN_API + _LEAD_FILTERS, query=LeadQuery,
              security=("adminToken",), tags=("admin",)),
    Operation("/api/admin/<company_id>/leads/<int:lead_id>", "get", "One lead.",
              {200: Answer(JSON_OK, LeadView)}, (*_ADMIN_API, "lead_not_found"),
              security=("adminToken",), tags=("admin",)),
    Operation("/api/admin/<company_id>/leads/<int:lead_id>", "patch", "Change a lead's status.",
              {200: Answer(JSON_OK, LeadView)},
              (*_ADMIN_API, "lead_not_found", "invalid_json", "payload_too_large", *_LEAD_FILTERS),
              body=StatusChange, security=("adminToken",), tags=("admin",)),
    Operation("/api/admin/<company_id>/leads/<int:lead_id>/status", "post",
              "Change a lead's status (POST form of the PATCH).", {200: Answer(JSON_OK, LeadView)},
              (*_ADMIN_API, "lead_not_found", "invalid_json", "payload_too_large", *_LEAD_FILTERS),
              body=StatusChange, security=("adminToken",), tags=("admin",)),
    Operation("/api/admin/<company_id>/leads.csv", "get", "Leads as CSV.", _EXPORT,
              _ADMIN_API + _LEAD_FILTERS, query=LeadQuery, security=("adminToken",),
              tags=("admin",)),
    Operation("/api/admin/<company_id>/leads.json", "get", "Leads as JSON.", _EXPORT_JSON,
              _ADMIN_API + _LEAD_FILTERS, query=LeadQuery, security=("adminToken",),
              tags=("admin",)),
    Operation("/admin/<company_id>/leads", "get", "The leads page (login form when signed out).",
              {200: HTML, 401: Answer("text/html", description="Login form.")},
              _ADMIN_PAGE + _LEAD_FILTERS, query=LeadQuery, security=("adminCookie",),
              tags=("admin",)),
    Operation("/admin/<company_id>/login", "post", "Swap the admin token for a session cookie.",
              {303: SEE_OTHER, 401: Answer("text/html", description="Wrong token: login form.")},
              (*_ADMIN_PAGE, "csrf_failed", "payload_too_large"), body=LoginForm,
              body_media="application/x-www-form-urlencoded", tags=("admin",)),
    Operation("/admin/<company_id>/logout", "post", "Forget the session cookie.", {303: SEE_OTHER},
              (*_ADMIN_PAGE, "admin_token_invalid", "csrf_failed", "payload_too_large"),
              body=LogoutForm, body_media="application/x-www-form-urlencoded",
              security=("adminCookie",), tags=("admin",)),
    Operation("/admin/<company_id>/leads/<int:lead_id>/status", "post", "The page's status form.",
              {303: SEE_OTHER},
              (
               *_ADMIN_PAGE, "admin_token_invalid", "csrf_failed", "lead_not_found",
               "payload_too_large", *_LEAD_FILTERS),
              body=StatusForm, body_media="application/x-www-form-urlencoded",
              security=("adminCookie",), tags=("admin",)),
    Operation("/admin/<company_id>/leads.csv", "get", "The page's CSV export.", _EXPORT,
              (*_ADMIN_PAGE, "admin_token_invalid", *_LEAD_FILTERS), query=LeadQuery,
              security=("adminCookie",), tags=("admin",)),
    Operation("/admin/<company_id>/leads.json", "get", "The page's JSON export.", _EXPORT_JSON,
              (*_ADMIN_PAGE, "admin_token_invalid", *_LEAD_FILTERS), query=LeadQuery,
              security=("adminCookie",), tags=("admin",)),
    *(Operation(f"/api/admin/<company_id>/reports/{name}", "get", summary,
                {200: Answer(JSON_OK, model)}, (*_ADMIN_API, "validation_failed"),
                query=ReportQuery, security=("adminToken",), tags=("reports",))
      for name, summary, model in (
          ("funnel", "Funnel counts per day or week.", FunnelReport),
          ("top-questions", "The most asked questions.", TopQuestionsAnswer),
          ("unanswered", "Unanswered questions grouped by meaning.", UnansweredReport),
          ("latency", "Time to first audio per day (p50, p95).", LatencyAnswer))),
    *(Operation(f"{prefix}/reports/{name}", "get", f"{what} as {media}.",
                {200: Answer(media, description=f"{media} download.")},
                (*errors, "validation_failed"), query=ReportQuery, security=security,
                tags=("reports",))
      for prefix, errors, security in (
          ("/api/admin/<company_id>", _ADMIN_API, ("adminToken",)),
          ("/admin/<company_id>", (*_ADMIN_PAGE, "admin_token_invalid"), ("adminCookie",)))
      for name, what, media in (("funnel.csv", "The funnel", "text/csv"),
                                ("top-questions.csv", "Top questions", "text/csv"),
                                ("unanswered.csv", "Unanswered questions", "text/csv"),
                                ("latency.csv", "Latency", "text/csv"),
                                ("unanswered.md", "Unanswered questions, a FAQ draft,",
                                 "text/markdown"))),
    Operation("/api/admin/<company_id>/webhooks/dead-letters", "get",
              "Webhook deliveries that gave up, and counts per state.",
              {200: Answer(JSON_OK, DeadLettersAnswer)}, _ADMIN_API,
              security=("adminToken",), tags=("webhooks",)),
    Operation("/api/admin/<company_id>/webhooks/dead-letters/<int:delivery_id>/retry", "post",
              "Send a dead letter again.", {200: Answer(JSON_OK, RetryAnswer)},
              (*_ADMIN_API, "delivery_not_found"), security=("adminToken",), tags=("webhooks",)),
    Operation("/admin/<company_id>/reports", "get", "Reports page (login form when signed out).",
              {200: HTML, 401: Answer("text/html", description="Login form.")},
              (*_ADMIN_PAGE, "validation_failed"), query=ReportQuery, security=("adminCookie",),
              tags=("reports",)),
    Operation("/admin/<company_id>/webhooks/dead-letters/<int:delivery_id>/retry", "post",
              "The page's retry button.", {303: SEE_OTHER},
              (
               *_ADMIN_PAGE, "admin_token_invalid", "csrf_failed", "delivery_not_found",
               "payload_too_large"),
              body=RetryForm, body_media="application/x-www-form-urlencoded",
              security=("adminCookie",), tags=("webhooks",)),
    Operation("/go/<token>", "get", "A meeting-link click: counted, then redirected.",
              {302: Answer(None, description="To the booking page.", headers=("Location",))},
              ("link_not_found", "not_found", "database_unavailable"), tags=("widget",)),
    Operation("/api/hooks/<company_id>/bookings/<provider>", "post",
              "A signed Calendly (`calendly`) or Cal.com (`cal.com`) booking notification.",
              {200: Answer(JSON_OK, BookingAnswer)},
              ("unknown_company", "not_found", "bookings_not_configured", "signature_invalid",
               "invalid_json", "validation_failed", "payload_too_large", "database_unavailable"),
              headers=("Calendly-Webhook-Signature", "X-Cal-Signature-256"), tags=("reports",)),
    Operation("/api/widget/<company_id>/config", "get",
              "The loader's launcher config, and whether the page's origin may show the widget.",
              {200: Answer(JSON_OK, PublicConfig)}, ("unknown_company", "not_found"),
              headers=("Origin",), tags=("widget",)),
    Operation("/api/widget/<company_id>/resume", "post",
              "The conversation so far for a resume token (the widget after a reload).",
              {200: Answer(JSON_OK, ResumeAnswer)},
              (*_BODY_ERRORS, "unknown_company", "not_found", "database_unavailable"),
              body=ResumeRequest, tags=("widget",)),
    Operation("/api/admin/<company_id>/leads/<int:lead_id>/record", "get",
              "A lead with each value's evidence, claims (conflicts marked) and conversations.",
              {200: Answer(JSON_OK, description="Lead, evidence, claims, conversations.")},
              (*_ADMIN_API, "lead_not_found"), security=("adminToken",), tags=("admin",)),
    Operation("/api/admin/<company_id>/people/export", "get",
              "Everything held about one person, by email.",
              {200: Answer(JSON_OK, description="The person's data as JSON.")},
              (*_ADMIN_API, "validation_failed"), query=PersonRequest,
              security=("adminToken",), tags=("admin",)),
    Operation("/api/admin/<company_id>/people/forget", "post",
              "Delete one person's lead, conversations, transcripts and tool calls.",
              {200: Answer(JSON_OK, ForgetAnswer)},
              (*_ADMIN_API, "invalid_json", "validation_failed", "payload_too_large"),
              body=PersonRequest, security=("adminToken",), tags=("admin",)),
    Operation("/admin/<company_id>/leads/<int:lead_id>", "get",
              "One lead's page (login form when signed out).",
              {200: HTML, 401: Answer("text/html", description="Login form.")},
              (*_ADMIN_PAGE, "lead_not_found"), security=("adminCookie",), tags=("admin",)),
    Operation("/admin/<company_id>/people/export", "get", "The page's export of one person.",
              {200: Answer(JSON_OK, description="The person's data as JSON.")},
              (*_ADMIN_PAGE, "admin_token_invalid", "validation_failed"), query=PersonRequest,
              security=("adminCookie",), tags=("admin",)),
    Operation("/admin/<company_id>/people/forget", "post", "The page's forget form.",
              {303: SEE_OTHER},
              (
               *_ADMIN_PAGE, "admin_token_invalid", "csrf_failed", "validation_failed",
               "payload_too_large"),
              body=PersonForm, body_media="application/x-www-form-urlencoded",
              security=("adminCookie",), tags=("admin",)),
)  # fmt: skip

SECURITY_SCHEMES = {
    "toolToken": {"type": "http", "scheme": "bearer", "description": "From the session route."},
    "adminToken": {"type": "http", "scheme": "bearer", "description": "The company's admin token."},
    "adminCookie": {"type": "apiKey", "in": "cookie", "name": "widget_admin"},
}

_RULE_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def openapi_path(rule: str) -> str:
    """`/a/<int:x>/<y>` → `/a/{x}/{y}`."""
    return _RULE_PARAM.sub(lambda m: "{" + m.group(2) + "}", rule)


def _path_parameters(rule: str) -> list[dict[str, Any]]:
    out = []
    for converter, name in _RULE_PARAM.findall(rule):
        if converter == "int":
            schema: dict[str, Any] = {"type": "integer", "minimum": 0}
        elif name == "company_id":
            schema = {"type": "string", "pattern": COMPANY_ID_PATTERN}
        else:
            schema = {"type": "string", "minLength": 1}
        out.append({"name": name, "in": "path", "required": True, "schema": schema})
    return out


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    # Query strings cannot carry null: `X | None` fields are simply optional there.
    options = schema.get("anyOf")
    if options:
        rest = [s for s in options if s.get("type") != "null"]
        if len(rest) == 1:
            merged = {k: v for k, v in schema.items() if k != "anyOf"}
            return {**rest[0], **merged}
    return schema


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    # Listing forms submit every field, so an empty value means "not given" (the views drop them).
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required,
         "schema": {"anyOf": [_not_null(prop), {"const": ""}]}}
        for name, prop in schema.get("properties", {}).items()
    ]  # fmt: skip


def _error_responses(codes: tuple[str, ...]) -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys(codes):
        by_status.setdefault(CATALOGUE[code].status, []).append(code)
    out = {}
    for status, status_codes in sorted(by_status.items()):
        out[str(status)] = {
            "description": "Error: " + ", ".join(status_codes),
            "x-error-codes": status_codes,
            "content": {JSON_OK: {"schema": {"$ref": REF_TEMPLATE.format(model="ErrorEnvelope")}}},
        }
    return out


def _merge(responses: dict[str, Any], status: int, entry: dict[str, Any]) -> None:
    # An HTML page and a JSON error can share a status (a 401 login form vs admin_token_invalid).
    current = responses.get(str(status))
    if current is None:
        responses[str(status)] = entry
        return
    current.setdefault("content", {}).update(entry.get("content", {}))
    current["description"] = f"{entry['description']} / {current['description']}"


def _answer_entry(answer: Answer, refs: dict[type[BaseModel], dict[str, Any]]) -> dict[str, Any]:
    entry: dict[str, Any] = {"description": answer.description}
    if answer.media is not None:
        schema = refs[answer.model] if answer.model is not None else {}
        entry["content"] = {answer.media: {"schema": schema}}
    if answer.headers:
        entry["headers"] = {h: {"schema": {"type": "string"}} for h in answer.headers}
    return entry


# Any request's head (request line and headers) can be longer than the server accepts
# (WIDGET_SERVER_MAX_HEADER_BYTES): the serving layer answers 431 before the app sees it.
SERVING_ERRORS = ("headers_too_large",)


def _operation(op: Operation, refs: dict[type[BaseModel], dict[str, Any]]) -> dict[str, Any]:
    responses = _error_responses(op.errors)
    for status, answer in op.answers.items():
        _merge(responses, status, _answer_entry(answer, refs))
    for serving_status, entry in _error_responses(SERVING_ERRORS).items():
        responses.setdefault(serving_status, entry)
    params = _path_parameters(op.rule)
    if op.query is not None:
        params += _query_parameters(op.query)
    params += [{"name": h, "in": "header", "required": False, "schema": {"type": "string"}}
               for h in op.headers]  # fmt: skip
    out: dict[str, Any] = {
        "operationId": f"{op.method}_{re.sub(r'[^a-zA-Z0-9]+', '_', op.rule).strip('_') or 'root'}",
        "summary": op.summary,
        "tags": list(op.tags),
        "parameters": params,
        "responses": responses,
    }
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {op.body_media: {"schema": refs[op.body]}},
        }
    if op.security:
        out["security"] = [{name: []} for name in op.security]
    return out


def _schemas() -> tuple[dict[type[BaseModel], dict[str, Any]], dict[str, Any]]:
    """One JSON schema per model, requests in validation mode and answers in serialization mode."""
    inputs = {op.body for op in OPERATIONS if op.body is not None}
    outputs = {a.model for op in OPERATIONS for a in op.answers.values() if a.model is not None}
    outputs.add(ErrorEnvelope)
    keys: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        *((m, "validation") for m in sorted(inputs, key=lambda m: m.__name__)),
        *((m, "serialization") for m in sorted(outputs, key=lambda m: m.__name__)),
    ]
    mapping, top = models_json_schema(keys, ref_template=REF_TEMPLATE)
    refs: dict[type[BaseModel], dict[str, Any]] = {
        model: schema  # type: ignore[misc]
        for (model, _mode), schema in mapping.items()
    }
    return refs, dict(top.get("$defs", {}))


def build_openapi(server_url: str | None = None) -> dict[str, Any]:
    """The whole document (deterministic; no request state)."""
    refs, components = _schemas()
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(openapi_path(op.rule), {})[op.method] = _operation(op, refs)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Sales widget API",
            "version": "1.0.0",
            "description": "Generated from the request and answer models; errors use one "
            "envelope with catalogue codes (`x-error-codes` per response).",
        },
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": SECURITY_SCHEMES},
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc


_CACHE: dict[str, Any] = {}


@bp.get("/api/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI document of this server."""
    if "doc" not in _CACHE:
        _CACHE["doc"] = build_openapi()
    response = jsonify(_CACHE["doc"])
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
