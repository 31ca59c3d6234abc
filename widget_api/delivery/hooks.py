"""Webhook events from the changes they report, written in the same unit of work.

The CRM calls these with its open session right where it makes the change (one line per
change), so an event exists exactly when its change committed. Event ids are derived from the
change (lead id and update time, session id), so a unit of work that `Database.run` repeats
after a lost commit acknowledgement writes no second event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from widget_api.crm.models import Conversation, Lead
from widget_api.delivery.outbox import enqueue

if TYPE_CHECKING:
    from pydantic import BaseModel


def _lead_data(lead: BaseModel | Lead) -> dict[str, Any]:
    if isinstance(lead, Lead):
        from widget_api.crm.leads import LeadView

        lead = LeadView.model_validate(lead)
    return lead.model_dump(mode="json")


def _conversation(session: Session, session_id: str | None) -> dict[str, Any] | None:
    """The conversation with its summary (the record's column, when it has one yet)."""
    if not session_id:
        return None
    row = session.scalars(select(Conversation).where(Conversation.session_id == session_id)).first()
    summary = getattr(row, "summary", None) if row is not None else None
    ended = row.ended_at.isoformat() if row is not None and row.ended_at else None
    return {"session_id": session_id, "summary": summary, "ended_at": ended}


def lead_saved(session: Session, lead: BaseModel, *, created: bool) -> None:
    """`lead.created` or `lead.updated` for a lead just upserted."""
    data = _lead_data(lead)
    kind = "lead.created" if created else "lead.updated"
    enqueue(
        session, company_id=data["company_id"], type=kind,
        data={"company_id": data["company_id"], "lead": data,
              "conversation": _conversation(session, data.get("session_id"))},
        key=f"{kind}:{data['id']}:{data['updated_at']}",
        lead_id=data["id"], session_id=data.get("session_id"),
    )  # fmt: skip


def meeting_requested(
    session: Session,
    *,
    company_id: str,
    session_id: str | None,
    lead: BaseModel | Lead | None,
    url: str,
) -> None:
    """`meeting.requested`: a booking link was made for the visitor (with their lead if any)."""
    data = _lead_data(lead) if lead is not None else None
    enqueue(
        session, company_id=company_id, type="meeting.requested",
        data={"company_id": company_id, "lead": data, "meeting": {"url": url},
              "conversation": _conversation(session, session_id)},
        key=f"meeting.requested:{company_id}:{session_id}:{url}",
        lead_id=data["id"] if data else None, session_id=session_id,
    )  # fmt: skip


def conversation_ended(session: Session, *, session_id: str) -> None:
    """`conversation.ended` with the conversation's lead (if it left one) and summary."""
    row = session.scalars(select(Conversation).where(Conversation.session_id == session_id)).first()
    if row is None:
        return
    lead_id = getattr(row, "lead_id", None)
    query = select(Lead).where(Lead.company_id == row.company_id)
    query = (
        query.where(Lead.id == lead_id) if lead_id else query.where(Lead.session_id == session_id)
    )
    lead = session.scalars(query.order_by(Lead.updated_at.desc())).first()
    enqueue(
        session, company_id=row.company_id, type="conversation.ended",
        data={"company_id": row.company_id,
              "lead": _lead_data(lead) if lead is not None else None,
              "conversation": _conversation(session, session_id)},
        key=f"conversation.ended:{session_id}",
        lead_id=lead.id if lead is not None else None, session_id=session_id,
    )  # fmt: skip


def lead_deleted(session: Session, lead: BaseModel | Lead) -> None:
    """`lead.deleted`: call before deleting, in the deleting transaction.

    The payload names the lead (id, name and email) so the receiving CRM can delete its copy
    too; nothing else of it is sent.
    """
    data = _lead_data(lead)
    kept = {k: data[k] for k in ("id", "company_id", "name", "email")}
    enqueue(
        session, company_id=data["company_id"], type="lead.deleted",
        data={"company_id": data["company_id"], "lead": {**kept, "deleted": True}},
        key=f"lead.deleted:{data['id']}:{data['email']}",
    )  # fmt: skip
