"""`create_meeting_link`: a booking link with the visitor's details filled in."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from widget_api.companies.models import CompanyConfig, MeetingConfig
from widget_api.tools.base import RunContext, ToolError
from widget_api.vocabulary import ToolName

log = logging.getLogger(__name__)

NAME: ToolName = "create_meeting_link"
DESCRIPTION = (
    "Create a link where the visitor books a call with the sales team, with their name and"
    " email filled in. Call it after log_lead when the visitor is qualified or asks for a"
    " demo, a quote or a person. The link appears on the visitor's screen; do not read it out."
)
UTM_SOURCE = "sales-widget"


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, max_length=200, description="The visitor's full name.")
    email: str | None = Field(
        None, max_length=320, description="The visitor's email address, as confirmed."
    )
    duration_minutes: int | None = Field(
        None, description="Meeting length in minutes; one of the offered lengths."
    )
    timezone: str | None = Field(
        None, max_length=64, description="The visitor's IANA time zone, e.g. 'Europe/Berlin'."
    )
    notes: str | None = Field(
        None, max_length=500, description="One line for the sales team: what to prepare."
    )

    @field_validator("duration_minutes")
    @classmethod
    def _offered(cls, value: int | None, info: ValidationInfo) -> int | None:
        company = (info.context or {}).get("company")
        if value is not None and company is not None and value not in company.meetings.durations:
            raise ValueError("must be one of the offered meeting lengths")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Europe/Berlin") from None
        return value


class Result(BaseModel):
    url: str
    # Our redirect to `url` (same origin as the widget): the click counts in the funnel report.
    click_url: str | None = None
    provider: str
    duration_minutes: int
    recorded_on_lead: bool


def customize(schema: dict[str, Any], company: CompanyConfig) -> dict[str, Any]:
    """Offer exactly the company's meeting lengths."""
    schema["properties"]["duration_minutes"]["enum"] = list(company.meetings.durations)
    return schema


def booking_url(meetings: MeetingConfig, args: Args, duration: int) -> str:
    """The provider's booking URL with name, email and notes prefilled, plus the UTM source."""
    parts = urlsplit(str(meetings.base_url))
    path = parts.path.rstrip("/")
    params: list[tuple[str, str]] = parse_qsl(parts.query)
    if meetings.provider == "cal.com":
        path = f"{path}/{duration}min"
    if meetings.provider in ("calendly", "cal.com"):
        notes_key = "a1" if meetings.provider == "calendly" else "notes"
        for key, value in (("name", args.name), ("email", args.email), (notes_key, args.notes)):
            if value:
                params.append((key, value))
    params.append(("utm_source", UTM_SOURCE))
    query = urlencode(params, quote_via=quote)
    return urlunsplit((parts.scheme, parts.netloc, path or "/", query, ""))


def run(args: Args, ctx: RunContext) -> Result:
    """Build the link and keep it on the conversation and its lead (booked before or after the
    visitor gave details: `log_lead` picks it up from the conversation)."""
    from widget_api.crm.claims import record_meeting_link
    from widget_api.crm.leads import InvalidEmail, normalize_email

    if args.email:
        try:
            normalize_email(args.email)
        except InvalidEmail:
            raise ToolError("lead_email_invalid", [{"fields": ["email"]}]) from None
    meetings = ctx.company.meetings
    duration = args.duration_minutes or meetings.effective_default_duration
    url = booking_url(meetings, args, duration)
    recorded = record_meeting_link(ctx.deps.db, ctx.company.id, ctx.session_id, args.email, url)
    return Result(
        url=url, click_url=_click_url(ctx, url), provider=meetings.provider,
        duration_minutes=duration, recorded_on_lead=recorded,
    )  # fmt: skip


def _click_url(ctx: RunContext, url: str) -> str | None:
    from widget_api.reports.recorder import tracked_link

    try:
        token = tracked_link(ctx.deps.db, company_id=ctx.company.id, session_id=ctx.session_id,
                             url=url)  # fmt: skip
    except Exception:  # the visitor still gets the plain link; only the click goes uncounted
        log.exception("could not make a tracked meeting link for %s", ctx.company.id)
        return None
    return f"/go/{token}"
