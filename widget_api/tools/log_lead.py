"""`log_lead`: save (or update) the visitor as a lead that sales reviews."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from widget_api.companies.models import CompanyConfig
from widget_api.tools.base import RunContext, ToolError
from widget_api.vocabulary import ToolName

NAME: ToolName = "log_lead"
DESCRIPTION = (
    "Save the visitor as a sales lead, or update their lead if they share more later. Call it"
    " only after the visitor has told you their name and email address (confirm the email by"
    " repeating it). Include everything else they told you."
)


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200, description="The visitor's full name.")
    email: str = Field(
        min_length=3, max_length=320, description="The visitor's email address, as confirmed."
    )
    company: str | None = Field(None, max_length=200, description="The visitor's company.")
    role: str | None = Field(None, max_length=200, description="The visitor's job title.")
    phone: str | None = Field(
        None, max_length=40, description="Phone number with country code, if offered."
    )
    interest: str = Field(
        min_length=1,
        max_length=2000,
        description="One or two sentences: what they need and which product or plan fits.",
    )
    team_size: str | None = Field(
        None, max_length=100, description="How many people would use it, e.g. '25 agents'."
    )
    timeline: str | None = Field(
        None, max_length=200, description="When they want to start, e.g. 'next quarter'."
    )
    budget: str | None = Field(None, max_length=200, description="Budget, if mentioned.")
    current_tool: str | None = Field(
        None, max_length=200, description="The helpdesk, CRM or tool they use today, if said."
    )
    notes: str | None = Field(None, max_length=4000, description="Anything else sales should know.")

    @field_validator("team_size", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        # Models often send a bare number for a team size.
        return (
            str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        )


class Result(BaseModel):
    saved: bool
    lead_id: int
    email: str
    meeting_link: str | None
    message: str


def customize(schema: dict[str, Any], company: CompanyConfig) -> dict[str, Any]:
    """Declare the company's extra required lead fields as required."""
    schema["required"] = list(dict.fromkeys([*schema["required"], *company.required_lead_fields]))
    return schema


def _evidence(ctx: RunContext, given: dict[str, Any]) -> dict[str, str | None]:
    """For each qualification value the model reports, the visitor's own message that said it."""
    from widget_api.crm.qualification import find_evidence
    from widget_api.crm.record import visitor_lines

    # Interest and notes are the model's own summary: no single message says them.
    quotable = ("name", "email", "company", "role", "phone", "team_size", "timeline", "budget",
                "current_tool")  # fmt: skip
    wanted = {f: str(given[f]) for f in quotable if given.get(f)}
    if not wanted:
        return {}
    said = [text for role, text in visitor_lines(ctx.deps.db, ctx.session_id) if role == "user"]
    return {field: find_evidence(value, said) for field, value in wanted.items()}


def run(args: Args, ctx: RunContext) -> Result:
    """Add to the visitor's lead as this conversation's claims (see crm.claims); bad email or
    phone, or too many calls in one conversation, become errors the model can act on."""
    from widget_api.crm.claims import log_lead_claims
    from widget_api.crm.leads import validate_lead_fields
    from widget_api.errors import DomainError

    given = args.model_dump()
    missing = [f for f in ctx.company.required_lead_fields if not given.get(f)]
    if missing:
        raise ToolError("lead_fields_missing", [{"fields": missing}])
    try:
        fields = validate_lead_fields(given)
        lead = log_lead_claims(
            ctx.deps.db, ctx.company.id, ctx.session_id, fields,
            channel=ctx.channel if ctx.channel in ("voice", "text") else "voice",
            evidence=_evidence(ctx, given),
        )  # fmt: skip
    except DomainError as exc:
        raise ToolError(exc.code, exc.details) from None
    return Result(
        saved=True,
        lead_id=lead.id,
        email=lead.email,
        meeting_link=lead.meeting_link,
        message="Lead saved. Thank the visitor; offer a meeting if they are qualified.",
    )
