"""The webhook vocabulary: event names and the payload every receiver gets.

Payloads follow the Standard Webhooks shape `{"type", "timestamp", "data"}`; `data` always names
the company and carries the lead (None only when a conversation ended without one), the
conversation with its summary when there is one, and links into the admin page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

WebhookEventType = Literal[
    "lead.created", "lead.updated", "meeting.requested", "conversation.ended", "lead.deleted"
]
EVENT_TYPES: tuple[str, ...] = get_args(WebhookEventType)


class LeadPayload(BaseModel):
    """The lead as sales sees it, plus its page in the admin (None once deleted)."""

    model_config = ConfigDict(extra="allow")

    id: int
    name: str
    email: str
    admin_url: str | None = None


class ConversationPayload(BaseModel):
    session_id: str
    summary: str | None = Field(None, description="Set once the conversation record has one.")
    ended_at: datetime | None = None


class MeetingPayload(BaseModel):
    url: str = Field(description="The booking link offered to the visitor.")


class EventData(BaseModel):
    company_id: str
    lead: LeadPayload | None = None
    conversation: ConversationPayload | None = None
    meeting: MeetingPayload | None = None


class WebhookPayload(BaseModel):
    """The JSON body of every webhook request."""

    type: WebhookEventType
    timestamp: datetime = Field(description="When the event happened (UTC).")
    data: EventData


def admin_lead_path(company_id: str, lead_id: int) -> str:
    """The lead's page in the admin (resolved against the server's public origin when sent)."""
    return f"/admin/{company_id}/leads/{lead_id}"


def with_admin_links(data: dict[str, Any], origin: str) -> dict[str, Any]:
    """`data` with the lead's admin link made absolute for this server."""
    lead = data.get("lead")
    if not isinstance(lead, dict) or "id" not in lead:
        return data
    deleted = lead.get("deleted", False)
    url = None if deleted else origin.rstrip("/") + admin_lead_path(data["company_id"], lead["id"])
    return {**data, "lead": {**lead, "admin_url": url}}
