"""One lead per visitor, built from each conversation's claims.

A conversation claims values for lead fields: through `log_lead` (the model or the local engine)
or by saying a qualification fact in a message. A claim fills an empty field, or overwrites a
value only when the claiming conversation created the lead. Every claim is stored with its
evidence either way, so a conflicting value from another (possibly anonymous) conversation is
kept and shown to sales instead of silently replacing what the visitor said before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from widget_api.crm.db import Database
from widget_api.crm.leads import UPDATABLE_FIELDS, LeadFields, LeadView
from widget_api.crm.models import Conversation, Lead, utcnow
from widget_api.crm.record_models import LeadClaim
from widget_api.delivery import hooks
from widget_api.errors import DomainError

CLAIMABLE_FIELDS = ("name", *UPDATABLE_FIELDS)
DEFAULT_MAX_LEAD_UPDATES = 10


@dataclass(frozen=True)
class Claim:
    field: str
    value: str
    evidence: str | None
    source: str = "message"  # "message" | "log_lead"


@dataclass(frozen=True)
class ClaimRow:
    """A claim as sales sees it on the lead page."""

    session_id: str
    field: str
    value: str
    evidence: str | None
    source: str
    applied: bool
    created_at: Any
    conflict: bool = False


def _insert(db_dialect: str) -> Any:
    return postgresql.insert if db_dialect == "postgresql" else sqlite.insert


def ensure_conversation(session: Session, dialect: str, company_id: str, session_id: str) -> None:
    """Create the conversation row if no start was recorded (e.g. tools called directly)."""
    now = utcnow()
    stmt = (
        _insert(dialect)(Conversation)
        .values(
            session_id=session_id,
            company_id=company_id,
            transport="unknown",
            started_at=now,
            turns=0,
            lead_updates=0,
        )
        .on_conflict_do_nothing(index_elements=["session_id"])
    )
    session.execute(stmt)


def _apply(lead: Lead, claims: Iterable[LeadClaim], *, owner: bool) -> bool:
    """Apply claims to the lead (fill empty, or overwrite when owner); marks each claim."""
    changed = False
    for claim in claims:
        current = getattr(lead, claim.field)
        if current is None or current == claim.value or owner:
            claim.applied = True
            if current != claim.value:
                setattr(lead, claim.field, claim.value)
                changed = True
        else:
            claim.applied = False
    return changed


def _new_claims(
    session: Session, company_id: str, session_id: str, lead_id: int | None,
    claims: Iterable[Claim],
) -> list[LeadClaim]:  # fmt: skip
    """Claim rows for values this conversation has not already claimed for this field."""
    seen: set[tuple[str, str]] = set(
        session.execute(
            select(LeadClaim.field, LeadClaim.value).where(LeadClaim.session_id == session_id)
        ).all()
    )
    now = utcnow()
    rows = []
    for claim in claims:
        if (claim.field, claim.value) in seen:
            continue
        seen.add((claim.field, claim.value))
        rows.append(LeadClaim(company_id=company_id, lead_id=lead_id, session_id=session_id,
                              field=claim.field, value=claim.value, evidence=claim.evidence,
                              source=claim.source, applied=False, created_at=now))  # fmt: skip
    session.add_all(rows)
    return rows


def _lead_for_update(session: Session, dialect: str, company_id: str, fields: LeadFields,
                     session_id: str, channel: str) -> tuple[Lead, bool]:  # fmt: skip
    """(lead row locked for this transaction, created by this call)."""
    now = utcnow()
    values: dict[str, Any] = {
        "company_id": company_id, "name": fields.name, "email": fields.email,
        "email_normalized": fields.email, "channel": channel, "session_id": session_id,
        "status": "new", "created_at": now, "updated_at": now,
        **{name: getattr(fields, name) for name in UPDATABLE_FIELDS},
    }  # fmt: skip
    stmt = (
        _insert(dialect)(Lead)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["company_id", "email_normalized"])
        .returning(Lead.id)
    )
    created_id = session.execute(stmt).scalar_one_or_none()
    query = select(Lead).where(Lead.company_id == company_id, Lead.email_normalized == fields.email)
    if dialect == "postgresql":
        query = query.with_for_update()
    lead = session.scalars(query.execution_options(populate_existing=True)).one()
    return lead, created_id is not None


def log_lead_claims(
    db: Database,
    company_id: str,
    session_id: str,
    fields: LeadFields,
    *,
    channel: str,
    evidence: Mapping[str, str | None] | None = None,
    max_updates: int = DEFAULT_MAX_LEAD_UPDATES,
) -> LeadView:
    """`log_lead` for one conversation: create or add to the visitor's lead, link it, claim.

    One transaction: the per-conversation cap, the lead row (created or locked), the claims, the
    link from the conversation (with claims it made before the lead existed, and its meeting
    link) and the lead's new values. Raises DomainError `lead_update_limit` past the cap.
    """
    evidence = evidence or {}
    given = fields.model_dump()
    claims = [
        Claim(name, str(given[name]), evidence.get(name), "log_lead")
        for name in CLAIMABLE_FIELDS if given.get(name) is not None
    ]  # fmt: skip
    dialect = db.dialect

    def work(session: Session) -> LeadView:
        ensure_conversation(session, dialect, company_id, session_id)
        count = session.execute(
            update(Conversation)
            .where(Conversation.session_id == session_id)
            .values(lead_updates=Conversation.lead_updates + 1)
            .returning(Conversation.lead_updates)
        ).scalar_one()
        if count > max_updates:
            raise DomainError("lead_update_limit", details=[{"max": max_updates}])
        lead, created = _lead_for_update(session, dialect, company_id, fields, session_id, channel)
        owner = created or lead.session_id == session_id
        conversation = session.scalars(
            select(Conversation).where(Conversation.session_id == session_id)
        ).one()
        conversation.lead_id = lead.id
        # Claims made before the lead existed (e.g. "we have 60 agents", then the email).
        earlier = list(session.scalars(
            select(LeadClaim).where(LeadClaim.session_id == session_id,
                                    LeadClaim.lead_id.is_(None))
        ))  # fmt: skip
        for claim in earlier:
            claim.lead_id = lead.id
        rows = _new_claims(session, company_id, session_id, lead.id, claims)
        changed = _apply(lead, [*earlier, *rows], owner=owner)
        if conversation.meeting_link and (lead.meeting_link is None or owner):
            changed |= lead.meeting_link != conversation.meeting_link
            lead.meeting_link = conversation.meeting_link
        if changed or created:
            lead.updated_at = utcnow()
        session.flush()
        view = LeadView.model_validate(lead)
        if changed or created:  # the webhook event commits with the change
            hooks.lead_saved(session, view, created=created)
        return view

    return db.run(work)


def add_message_claims(
    session: Session, company_id: str, session_id: str, claims: Iterable[Claim]
) -> None:
    """Claims from the visitor's messages, inside the caller's transaction (transcript flush).

    Applied at once when the conversation already has a lead; kept for the link otherwise.
    """
    lead_id = session.execute(
        select(Conversation.lead_id).where(Conversation.session_id == session_id)
    ).scalar_one_or_none()
    rows = _new_claims(session, company_id, session_id, lead_id, claims)
    if not rows or lead_id is None:
        return
    lead = session.get(Lead, lead_id, with_for_update=session.bind.dialect.name == "postgresql")  # type: ignore[union-attr]
    if lead is None:
        return
    if _apply(lead, rows, owner=lead.session_id == session_id):
        lead.updated_at = utcnow()


def record_meeting_link(
    db: Database, company_id: str, session_id: str, email: str | None, url: str
) -> bool:
    """Keep the booking link on the conversation and on its lead, whatever came first.

    Without a linked lead, a lead with the given email gets the link only if it has none (an
    anonymous conversation adds, never replaces); `log_lead` later copies it from the
    conversation. True when a lead holds the link now.
    """
    from widget_api.crm.leads import InvalidEmail, normalize_email

    dialect = db.dialect

    def link(session: Session) -> bool:
        ensure_conversation(session, dialect, company_id, session_id)
        lead_id = session.execute(
            update(Conversation)
            .where(Conversation.session_id == session_id)
            .values(meeting_link=url)
            .returning(Conversation.lead_id)
        ).scalar_one()
        if lead_id is not None:
            stmt = update(Lead).where(Lead.id == lead_id).values(meeting_link=url,
                                                                 updated_at=utcnow())  # fmt: skip
            return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]
        if not email:
            return False
        try:
            normalized = normalize_email(email)
        except InvalidEmail:
            return False
        stmt = (
            update(Lead)
            .where(
                Lead.company_id == company_id,
                Lead.email_normalized == normalized,
                Lead.meeting_link.is_(None),
            )
            .values(meeting_link=url, updated_at=utcnow())
        )
        return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def work(session: Session) -> bool:
        held = link(session)
        lead = None
        if held:
            lead = session.scalars(
                select(Lead).where(Lead.company_id == company_id, Lead.meeting_link == url)
            ).first()
        hooks.meeting_requested(session, company_id=company_id, session_id=session_id,
                                lead=lead, url=url)  # fmt: skip
        return held

    return db.run(work)


def lead_claims(db: Database, lead_id: int) -> list[ClaimRow]:
    """Every claim on a lead, oldest first; `conflict` marks values the lead does not hold."""

    def read(session: Session) -> list[ClaimRow]:
        lead = session.get(Lead, lead_id)
        if lead is None:
            return []
        rows = session.scalars(
            select(LeadClaim).where(LeadClaim.lead_id == lead_id)
            .order_by(LeadClaim.created_at, LeadClaim.id)
        )  # fmt: skip
        return [
            ClaimRow(
                r.session_id,
                r.field,
                r.value,
                r.evidence,
                r.source,
                r.applied,
                r.created_at,
                conflict=getattr(lead, r.field, None) != r.value,
            )
            for r in rows
        ]

    return db.run(read, readonly=True)
