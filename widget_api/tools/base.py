"""What every tool shares: the call context, its dependencies and a recoverable error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from widget_api.companies.models import CompanyConfig

if TYPE_CHECKING:
    from knowledge import KnowledgeBase
    from widget_api.crm.db import Database
    from widget_api.tools.clip_index import ClipIndex

# What the model should do next, per error code; tool errors are read by the model, not a human.
RECOVERY_HINTS: dict[str, str] = {
    "tool_arguments_invalid": (
        "The tool arguments were not valid. Check the fields named in details, ask the visitor"
        " for anything missing, then call the tool again."
    ),
    "unknown_tool": "There is no tool with that name. Use only the tools you were given.",
    "knowledge_unavailable": (
        "The knowledge base cannot be reached right now. Tell the visitor you cannot look that"
        " up at the moment and offer to have a colleague follow up by email. Do not guess."
    ),
    "lead_email_invalid": (
        "The email address is not valid. Ask the visitor to spell their email address again,"
        " then call the tool again."
    ),
    "lead_phone_invalid": (
        "The phone number is not valid. Ask the visitor to repeat it with the country code,"
        " or leave the phone out."
    ),
    "lead_fields_missing": (
        "Some required lead details are missing (see details). Ask the visitor for them, then"
        " call log_lead again."
    ),
    "lead_update_limit": (
        "This conversation has already updated the lead many times. Do not call log_lead again;"
        " tell the visitor their details are saved and a colleague will follow up."
    ),
    "no_clip_found": (
        "No demo clip fits that topic. Answer in words instead and do not promise a video."
    ),
    "database_unavailable": (
        "Saving failed on our side. Apologise briefly, and offer to try again in a moment."
    ),
    "internal_error": "The tool failed on our side. Apologise briefly and carry on without it.",
    "tool_call_conflict": (
        "That call_id was already used for a different call. Make a new call with a new id."
    ),
    "tool_call_in_progress": (
        "This call is still running. Wait for its result instead of calling again."
    ),
}


class ToolError(Exception):
    """A failure the model can recover from; becomes `{"error": {code, message}}` output."""

    def __init__(self, code: str, details: list[Any] | None = None) -> None:
        self.code = code
        self.details = details or []
        super().__init__(code)

    @property
    def message(self) -> str:
        return RECOVERY_HINTS.get(self.code, RECOVERY_HINTS["internal_error"])


@dataclass(frozen=True)
class ToolContext:
    """Who is calling: the company, the widget session and how the visitor talks."""

    company: CompanyConfig
    session_id: str
    channel: str = "voice"  # "voice" | "text"


@dataclass(frozen=True)
class ToolDeps:
    """The shared parts tools work against, held by the ToolRunner."""

    db: Database
    knowledge: KnowledgeBase
    clips: ClipIndex
    max_lead_updates: int  # log_lead calls per conversation (Settings)


@dataclass(frozen=True)
class RunContext:
    """A ToolContext plus the dependencies; what each tool function receives."""

    company: CompanyConfig
    session_id: str
    channel: str
    deps: ToolDeps
