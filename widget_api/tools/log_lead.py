"""`log_lead`: save (or update) the visitor as a lead that sales reviews."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, create_model, field_validator

from widget_api.companies.models import CompanyConfig
from widget_api.crm.lead_models import input_field, number_as_text
from widget_api.tools.base import RunContext, ToolError
from widget_api.vocabulary import CHANNELS, LEAD_FIELDS, LeadFieldSpec, ToolName

NAME: ToolName = "log_lead"
DESCRIPTION = (
    "Save the visitor as a sales lead, or update their lead if they share more later. Call it"
    " only after the visitor has told you their name and email address (confirm the email by"
    " repeating it). Include everything else they told you."
)


class ArgsBase(BaseModel):
    """log_lead's arguments; the fields come from `vocabulary.LEAD_FIELDS` (`args_model`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    specs: ClassVar[tuple[LeadFieldSpec, ...]] = ()

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_as_text(cls, value: Any, info: ValidationInfo) -> Any:
        numeric = {s.name for s in cls.specs if s.accepts_number}
        return number_as_text(value) if info.field_name in numeric else value


def args_model(specs: tuple[LeadFieldSpec, ...]) -> type[ArgsBase]:
    """The `Args` model for a field table: what the model is told and what we validate."""
    fields = {s.name: input_field(s, required=s.tool_required, described=True) for s in specs}
    model = create_model("Args", __base__=ArgsBase, __module__=__name__, **fields)
    model.specs = specs
    return model


Args = args_model(LEAD_FIELDS)


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

    # Some fields are the model's own summary (interest, notes): no single message says them.
    wanted = {s.name: str(given[s.name]) for s in LEAD_FIELDS if s.quotable and given.get(s.name)}
    if not wanted:
        return {}
    said = [text for role, text in visitor_lines(ctx.deps.db, ctx.session_id) if role == "user"]
    return {field: find_evidence(value, said) for field, value in wanted.items()}


def run(args: BaseModel, ctx: RunContext) -> Result:
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
            channel=ctx.channel if ctx.channel in CHANNELS else "voice",
            evidence=_evidence(ctx, given), max_updates=ctx.deps.max_lead_updates,
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
