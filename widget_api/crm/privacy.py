"""Per-visitor export and deletion by email, and retention.

Everything the CRM holds about a person hangs off their lead (by email) or one of their
conversations: the lead, its claims, the conversations linked to it or that named the email in a
tool call, their transcripts and tool-call records. `forget_person` deletes all of that and
writes an audit entry with counts only; `purge_older_than` applies the retention setting.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from widget_api.crm.db import Database
from widget_api.crm.leads import InvalidEmail, LeadView, normalize_email
from widget_api.crm.models import Conversation, Lead, ToolCall, utcnow
from widget_api.crm.record import _record, claim_json
from widget_api.crm.record_models import LeadClaim, PrivacyAudit, TranscriptEntry
from widget_api.delivery import hooks, outbox
from widget_api.reports.recorder import forget_sessions


def _person(session: Session, company_id: str | None, email: str) -> tuple[list[Lead], set[str]]:
    """The person's leads and the session ids of every conversation that is theirs."""
    try:
        normalized = normalize_email(email)
    except InvalidEmail:
        return [], set()
    query = select(Lead).where(Lead.email_normalized == normalized)
    if company_id is not None:
        query = query.where(Lead.company_id == company_id)
    leads = list(session.scalars(query))
    ids = [lead.id for lead in leads]
    sessions = {lead.session_id for lead in leads if lead.session_id}
    if ids:
        sessions |= set(session.scalars(
            select(Conversation.session_id).where(Conversation.lead_id.in_(ids))
        ))  # fmt: skip
        sessions |= set(session.scalars(
            select(LeadClaim.session_id).where(LeadClaim.lead_id.in_(ids))
        ))  # fmt: skip
    # A conversation that booked or logged with this email but never linked to the lead.
    mention = select(ToolCall.session_id).where(
        func.lower(ToolCall.arguments).contains(normalized, autoescape=True)
    )
    if company_id is not None:
        mention = mention.where(ToolCall.company_id == company_id)
    sessions |= set(session.scalars(mention))
    # A conversation where the visitor typed or said the email but no lead was ever logged.
    said = select(TranscriptEntry.session_id).where(
        func.lower(TranscriptEntry.text).contains(normalized, autoescape=True)
    )
    if company_id is not None:
        said = said.join(Conversation, Conversation.session_id == TranscriptEntry.session_id).where(
            Conversation.company_id == company_id
        )
    sessions |= set(session.scalars(said))
    return leads, sessions


def export_person(db: Database, company_id: str | None, email: str) -> dict[str, Any]:
    """Everything held about the person with this email, as one JSON-ready document."""

    def read(session: Session) -> dict[str, Any]:
        leads, sessions = _person(session, company_id, email)
        conversations = session.scalars(
            select(Conversation).where(Conversation.session_id.in_(sessions))
            .order_by(Conversation.started_at)
        )  # fmt: skip
        claims = session.scalars(
            select(LeadClaim).where(or_(LeadClaim.lead_id.in_([x.id for x in leads]),
                                        LeadClaim.session_id.in_(sessions)))
            .order_by(LeadClaim.created_at)
        )  # fmt: skip
        calls = session.scalars(
            select(ToolCall).where(ToolCall.session_id.in_(sessions)).order_by(ToolCall.created_at)
        )
        return {
            "email": email,
            "leads": [LeadView.model_validate(lead).model_dump(mode="json") for lead in leads],
            "claims": [claim_json(c) for c in claims],
            "conversations": [_record(session, row).as_json() for row in conversations],
            "tool_calls": [
                {
                    "session_id": t.session_id,
                    "call_id": t.call_id,
                    "name": t.name,
                    "arguments": t.arguments,
                    "output": t.output,
                    "created_at": t.created_at.isoformat(),
                }
                for t in calls
            ],
        }

    return db.run(read, readonly=True)


def _delete_sessions(session: Session, sessions: set[str]) -> dict[str, int]:
    counts = {}
    for name, model, column in (
        ("transcript_entries", TranscriptEntry, TranscriptEntry.session_id),
        ("tool_calls", ToolCall, ToolCall.session_id),
        ("lead_claims", LeadClaim, LeadClaim.session_id),
        ("conversations", Conversation, Conversation.session_id),
    ):
        result = session.execute(delete(model).where(column.in_(sessions)))
        counts[name] = int(result.rowcount or 0)  # type: ignore[attr-defined]
    # Report rows (questions, clicks, bookings) and webhook payloads of these conversations.
    counts.update(forget_sessions(session, sessions))
    counts["outbox_events"] = outbox.forget(session, session_ids=sorted(sessions))
    return counts


def _audit(session: Session, company_id: str | None, action: str, counts: dict[str, int]) -> None:
    # Counts and the action only: the audit must not become a second copy of what was deleted.
    session.add(
        PrivacyAudit(
            company_id=company_id,
            action=action,
            counts=json.dumps(counts, sort_keys=True),
            created_at=utcnow(),
        )
    )


def forget_person(db: Database, company_id: str | None, email: str) -> dict[str, int]:
    """Delete the person's lead(s), conversations, transcripts, tool calls and claims."""

    def work(session: Session) -> dict[str, int]:
        leads, sessions = _person(session, company_id, email)
        counts = _delete_sessions(session, sessions) if sessions else {}
        ids = [lead.id for lead in leads]
        claims = session.execute(delete(LeadClaim).where(LeadClaim.lead_id.in_(ids)))
        counts["lead_claims"] = counts.get("lead_claims", 0) + int(claims.rowcount or 0)  # type: ignore[attr-defined]
        counts["outbox_events"] = counts.get("outbox_events", 0) + outbox.forget(
            session, lead_ids=ids
        )
        for lead in leads:  # receivers delete their copies (webhook, same transaction)
            hooks.lead_deleted(session, lead)
        gone = session.execute(delete(Lead).where(Lead.id.in_(ids)))
        counts["leads"] = int(gone.rowcount or 0)  # type: ignore[attr-defined]
        _audit(session, company_id, "forget", counts)
        return counts

    return db.run(work)


def purge_older_than(db: Database, days: int, *, company_id: str | None = None) -> dict[str, int]:
    """Retention: drop conversations (with transcripts, tool calls, claims) that started more
    than `days` ago, and leads not updated in that time."""
    cutoff = utcnow() - timedelta(days=days)

    def work(session: Session) -> dict[str, int]:
        old = select(Conversation.session_id).where(Conversation.started_at < cutoff)
        stale = select(Lead.id).where(Lead.updated_at < cutoff)
        if company_id is not None:
            old = old.where(Conversation.company_id == company_id)
            stale = stale.where(Lead.company_id == company_id)
        sessions = set(session.scalars(old))
        # Tool calls of conversations that never got a row (e.g. direct API use) age out too.
        calls = select(ToolCall.session_id).where(ToolCall.created_at < cutoff)
        if company_id is not None:
            calls = calls.where(ToolCall.company_id == company_id)
        sessions |= set(session.scalars(calls))
        counts = _delete_sessions(session, sessions) if sessions else {}
        counts["outbox_events"] = counts.get("outbox_events", 0) + outbox.purge_before(
            session, cutoff, company_id
        )
        ids = list(session.scalars(stale))
        claims = session.execute(delete(LeadClaim).where(LeadClaim.lead_id.in_(ids)))
        counts["lead_claims"] = counts.get("lead_claims", 0) + int(claims.rowcount or 0)  # type: ignore[attr-defined]
        gone = session.execute(delete(Lead).where(Lead.id.in_(ids)))
        counts["leads"] = int(gone.rowcount or 0)  # type: ignore[attr-defined]
        _audit(session, company_id, "purge", counts)
        return counts

    return db.run(work)


def audit_entries(db: Database, limit: int = 100) -> list[dict[str, Any]]:
    stmt = select(PrivacyAudit).order_by(PrivacyAudit.id.desc()).limit(limit)
    return db.run(
        lambda session: [
            {
                "company_id": a.company_id,
                "action": a.action,
                "counts": json.loads(a.counts),
                "created_at": a.created_at.isoformat(),
            }
            for a in session.scalars(stmt)
        ],
        readonly=True,
    )
