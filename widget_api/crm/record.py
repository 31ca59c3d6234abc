"""The conversation record: start or resume, the page it started on, the transcript, the end.

Transcript lines are buffered by the caller and written one batch per turn: a single multi-row
INSERT plus one UPDATE of the conversation, in one transaction without waiting for the WAL flush
(a turn lost in a database crash costs a few lines of a transcript, never a lead). On PostgreSQL
the usual turn is one statement, one round trip. Qualification facts found in the visitor's
lines become claims in that same transaction.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Dialect, String, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from widget_api.crm.claims import Claim, add_message_claims, ensure_conversation
from widget_api.crm.db import Database
from widget_api.crm.models import Conversation, Lead, utcnow
from widget_api.crm.qualification import extract_facts
from widget_api.crm.record_models import TranscriptEntry
from widget_api.reports.recorder import mark_unanswered, says_it_does_not_know
from widget_api.vocabulary import LEAD_FIELDS

MAX_LINE_CHARS = 8000
MAX_URL_CHARS = 2000
SUMMARY_CHARS = 1200
# The qualification facts a lead's page and a conversation's summary show, with their labels.
QUALIFICATION_LABELS = tuple((s.name, s.label) for s in LEAD_FIELDS if s.qualification)


@dataclass(frozen=True)
class Line:
    """One transcript line as captured (role: "user", "assistant" or "tool")."""

    role: str
    text: str
    at: datetime = field(default_factory=utcnow)
    tool_name: str | None = None
    tool_call_id: str | None = None
    tool_ok: bool | None = None


def tool_line(call_id: str, name: str, arguments: str, output: str, ok: bool) -> Line:
    """A tool call and its result as one transcript line (JSON, both as the model saw them)."""
    try:
        args: Any = json.loads(arguments)
    except ValueError:
        args = arguments
    try:
        result: Any = json.loads(output)
    except ValueError:
        result = output
    text = json.dumps({"arguments": args, "result": result}, ensure_ascii=False)
    return Line("tool", text, tool_name=name, tool_call_id=call_id, tool_ok=ok)


def start_or_resume(
    db: Database, *, company_id: str, session_id: str, transport: str,
    language: str | None = None,
) -> None:  # fmt: skip
    """Record a (re)connection: the first creates the row, later ones add their transport."""
    dialect = db.dialect

    def work(session: Session) -> None:
        ensure_conversation(session, dialect, company_id, session_id)
        row = session.scalars(
            select(Conversation).where(Conversation.session_id == session_id)
        ).one()
        if row.transport == "unknown":
            row.transport = transport
        used = [t for t in (row.transports or "").split(",") if t]
        if transport not in used:
            used.append(transport)
        row.transports = ",".join(used)[:200]
        row.language = row.language or language
        row.ended_at = None  # a resumed conversation is live again
        row.last_activity_at = utcnow()

    db.run(work)


# A BCP 47 language tag as browsers report it ("en", "de-CH", "zh-Hant-TW"), as long as the
# conversations.language column holds.
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,3}")
_LANGUAGE_CHARS = cast(String, Conversation.__table__.c.language.type).length or 0  # String(n)


def record_context(
    db: Database, session_id: str, *, page_url: str | None, referrer: str | None,
    privacy_accepted: bool, language: str | None = None,
) -> None:  # fmt: skip
    """The page and referrer where the conversation started (kept from the first report), when
    the visitor accepted the privacy notice, and the visitor's language (their browser's, which
    says more about this conversation than the company's configured language)."""
    visitor_language = (
        language
        if language and len(language) <= _LANGUAGE_CHARS and _LANGUAGE_TAG.fullmatch(language)
        else None
    )

    def work(session: Session) -> None:
        row = session.scalars(
            select(Conversation).where(Conversation.session_id == session_id)
        ).one_or_none()
        if row is None:
            return
        if row.page_url is None and page_url:
            row.page_url = page_url[:MAX_URL_CHARS]
            row.referrer = (referrer or None) and referrer[:MAX_URL_CHARS]
        if privacy_accepted and row.privacy_accepted_at is None:
            row.privacy_accepted_at = utcnow()
        if visitor_language:
            row.language = visitor_language

    db.run(work)


_INSERT_LINES = insert(TranscriptEntry)
_conversations = cast(Table, Conversation.__table__)
_STAMP_TURN = (
    update(_conversations)
    .where(_conversations.c.session_id == bindparam("sid"))
    .values(
        turns=_conversations.c.turns + bindparam("n"),
        last_activity_at=bindparam("now", type_=_conversations.c.last_activity_at.type),
    )
)


_LINE_COLUMNS = ("session_id", "role", "text", "tool_name", "tool_call_id", "tool_ok", "created_at")
_ONE_STATEMENT_MAX_LINES = 16


@functools.cache
def _append_sql(count: int, dialect: Dialect) -> str:
    """PostgreSQL: `count` lines' INSERT and the conversation's UPDATE as one statement.

    Compiled once per batch size and sent as driver SQL: building and cache-keying the
    statement per turn cost more CPU than the round trip it saves. (PostgreSQL's types take
    these parameters as they are: no bind processors to skip.)
    """
    table = cast(Table, TranscriptEntry.__table__)
    batch = [
        {c: bindparam(f"{c}_{i}", type_=table.c[c].type) for c in _LINE_COLUMNS}
        for i in range(count)
    ]
    lines = insert(table).values(batch).returning(table.c.id).cte("lines")
    return str(_STAMP_TURN.add_cte(lines).compile(dialect=dialect))


def _append_params(rows: list[dict[str, Any]], stamp: dict[str, Any]) -> dict[str, Any]:
    params = dict(stamp)
    for i, row in enumerate(rows):
        params.update({f"{c}_{i}": row[c] for c in _LINE_COLUMNS})
    return params


def append_lines(
    db: Database, company_id: str, session_id: str, lines: Sequence[Line], *,
    count_turns: bool = True,
) -> None:  # fmt: skip
    """Store one turn's lines; visitor lines are read for qualification and, unless the caller
    counts turns itself (the relay does, per answered turn), count as turns."""
    if not lines:
        return
    rows = [
        {
            "session_id": session_id,
            "role": line.role,
            "text": line.text[:MAX_LINE_CHARS],
            "tool_name": line.tool_name,
            "tool_call_id": line.tool_call_id,
            "tool_ok": line.tool_ok,
            "created_at": line.at,
        }
        for line in sorted(lines, key=lambda line: line.at)
    ]
    user_lines = [line.text for line in lines if line.role == "user"]
    # "I don't know" from the rep: the question before it goes to the unanswered report.
    admits = any(line.role == "assistant" and says_it_does_not_know(line.text) for line in lines)
    claims = [
        Claim(fact.field, fact.value, fact.evidence)
        for text in user_lines for fact in extract_facts(text)
    ]  # fmt: skip
    stamp = {"sid": session_id, "n": len(user_lines) if count_turns else 0, "now": utcnow()}
    if (
        db.dialect == "postgresql" and not claims and not admits
        and len(rows) <= _ONE_STATEMENT_MAX_LINES
    ):  # fmt: skip
        # The common turn: one statement (the batch INSERT inside the UPDATE's WITH) on an
        # autocommit connection, so one round trip instead of BEGIN, SET, INSERT, UPDATE, COMMIT.
        sql, params = _append_sql(len(rows), db.engine.dialect), _append_params(rows, stamp)
        db.run_statement(lambda conn: conn.exec_driver_sql(sql, params))
        return
    # Core statements on the session's connection (cached compilation, no ORM bulk path): one
    # INSERT of the batch and one UPDATE carrying the turn count and the activity stamp, in one
    # short non-durable transaction.

    def work(session: Session) -> None:
        connection = session.connection()
        connection.execute(_INSERT_LINES, rows)
        connection.execute(_STAMP_TURN, stamp)
        if claims:
            add_message_claims(session, company_id, session_id, claims)
        if admits:
            mark_unanswered(session, session_id)

    db.run(work, durable=False)


def end(db: Database, session_id: str, *, reason: str, summary: str | None = None) -> None:
    """Stamp the end, the reason and the outcome; store a summary (extractive when none given)."""

    def work(session: Session) -> None:
        row = session.scalars(
            select(Conversation).where(Conversation.session_id == session_id)
        ).one_or_none()
        if row is None:
            return
        row.ended_at = row.ended_at or utcnow()
        row.end_reason = reason
        row.outcome = _outcome(row)
        if summary:
            row.summary = summary[:4000]
        elif row.summary is None:
            row.summary = extractive_summary(session, row)

    db.run(work)


def set_summary(db: Database, session_id: str, summary: str) -> None:
    stmt = (
        update(Conversation)
        .where(Conversation.session_id == session_id)
        .values(summary=summary[:4000])
    )
    db.run(lambda session: session.execute(stmt))


def _outcome(row: Conversation) -> str:
    if row.meeting_link:
        return "meeting_link"
    if row.lead_id is not None:
        return "lead"
    return "no_lead" if row.turns else "no_messages"


def extractive_summary(session: Session, row: Conversation) -> str | None:
    """The visitor's own questions and facts, the lead and the booking: sentences, not a model."""
    texts = list(session.scalars(
        select(TranscriptEntry.text)
        .where(TranscriptEntry.session_id == row.session_id, TranscriptEntry.role == "user")
        .order_by(TranscriptEntry.created_at, TranscriptEntry.id)
    ))  # fmt: skip
    if not texts:
        return None
    questions = [" ".join(t.split()) for t in texts if "?" in t or len(t.split()) > 4][:4]
    parts = []
    if questions:
        parts.append("Asked: " + " | ".join(q[:200] for q in questions) + ".")
    if row.lead_id is not None:
        lead = session.get(Lead, row.lead_id)
        if lead is not None:
            facts = [f"{label.lower()} {getattr(lead, key)}"
                     for key, label in QUALIFICATION_LABELS if getattr(lead, key)]  # fmt: skip
            who = lead.name + (f" ({lead.company})" if lead.company else "")
            parts.append(f"Lead: {who}" + (f"; {', '.join(facts)}" if facts else "") + ".")
    if row.meeting_link:
        parts.append("A meeting link was created.")
    return " ".join(parts)[:SUMMARY_CHARS] or None


@dataclass(frozen=True)
class TranscriptLine:
    role: str
    text: str
    tool_name: str | None
    tool_ok: bool | None
    created_at: datetime


@dataclass(frozen=True)
class ConversationRecord:
    """A conversation as sales sees it: where, how, how long, the outcome and the transcript."""

    session_id: str
    transport: str
    transports: list[str]
    started_at: datetime
    ended_at: datetime | None
    duration_seconds: float | None
    turns: int
    page_url: str | None
    referrer: str | None
    language: str | None
    outcome: str | None
    end_reason: str | None
    summary: str | None
    meeting_link: str | None
    privacy_accepted_at: datetime | None
    transcript: list[TranscriptLine]

    def as_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "transcript"}
        data = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}
        data["transcript"] = [
            {
                "role": t.role,
                "text": t.text,
                "tool_name": t.tool_name,
                "tool_ok": t.tool_ok,
                "at": t.created_at.isoformat(),
            }
            for t in self.transcript
        ]
        return data


def _record(session: Session, row: Conversation) -> ConversationRecord:
    lines = session.scalars(
        select(TranscriptEntry).where(TranscriptEntry.session_id == row.session_id)
        .order_by(TranscriptEntry.created_at, TranscriptEntry.id)
    )  # fmt: skip
    end_at = row.ended_at or row.last_activity_at
    return ConversationRecord(
        session_id=row.session_id, transport=row.transport,
        transports=[t for t in (row.transports or row.transport).split(",") if t],
        started_at=row.started_at, ended_at=row.ended_at,
        duration_seconds=(end_at - row.started_at).total_seconds() if end_at else None,
        turns=row.turns, page_url=row.page_url, referrer=row.referrer, language=row.language,
        outcome=row.outcome, end_reason=row.end_reason, summary=row.summary,
        meeting_link=row.meeting_link, privacy_accepted_at=row.privacy_accepted_at,
        transcript=[TranscriptLine(t.role, t.text, t.tool_name, t.tool_ok, t.created_at)
                    for t in lines],
    )  # fmt: skip


def conversations_for_lead(db: Database, lead_id: int) -> list[ConversationRecord]:
    """Every conversation linked to the lead, newest first, with transcripts."""

    def read(session: Session) -> list[ConversationRecord]:
        rows = session.scalars(
            select(Conversation).where(Conversation.lead_id == lead_id)
            .order_by(Conversation.started_at.desc())
        )  # fmt: skip
        return [_record(session, row) for row in rows]

    return db.run(read, readonly=True)


def conversation_record(db: Database, session_id: str) -> ConversationRecord | None:
    def read(session: Session) -> ConversationRecord | None:
        row = session.scalars(
            select(Conversation).where(Conversation.session_id == session_id)
        ).one_or_none()
        return None if row is None else _record(session, row)

    return db.run(read, readonly=True)


def visitor_lines(db: Database, session_id: str, limit: int = 50) -> list[tuple[str, str]]:
    """The latest (role, text) message lines of a conversation, oldest first (for resuming)."""
    stmt = (
        select(TranscriptEntry.role, TranscriptEntry.text)
        .where(TranscriptEntry.session_id == session_id,
               TranscriptEntry.role.in_(("user", "assistant")))
        .order_by(TranscriptEntry.created_at.desc(), TranscriptEntry.id.desc())
        .limit(limit)
    )  # fmt: skip
    rows = db.run(lambda session: list(session.execute(stmt).all()), readonly=True)
    return [(r, t) for r, t in reversed(rows)]


def conversation_lead(db: Database, session_id: str) -> tuple[str, str] | None:
    """(name, email) of the lead linked to the conversation, if any."""
    stmt = (
        select(Lead.name, Lead.email)
        .join(Conversation, Conversation.lead_id == Lead.id)
        .where(Conversation.session_id == session_id)
    )
    row = db.run(lambda session: session.execute(stmt).first(), readonly=True)
    return None if row is None else (row[0], row[1])


@dataclass(frozen=True)
class LeadRecord:
    """What sales sees on a lead's page: the lead, each value's evidence, the claims (with
    conflicts) and every linked conversation with its transcript."""

    lead: Any  # LeadView
    evidence: dict[str, str]
    claims: list[Any]  # claims.ClaimRow
    conflicts: int
    conversations: list[ConversationRecord]

    def as_json(self) -> dict[str, Any]:
        return {
            "lead": self.lead.model_dump(mode="json"),
            "evidence": self.evidence,
            "claims": [{**claim_json(c), "conflict": c.conflict} for c in self.claims],
            "conflicts": self.conflicts,
            "conversations": [c.as_json() for c in self.conversations],
        }


def lead_record(db: Database, company_id: str, lead_id: int) -> LeadRecord:
    """The lead with its evidence, claims and conversations (`lead_not_found` otherwise)."""
    from widget_api.crm.claims import lead_claims
    from widget_api.crm.leads import get_lead

    lead = get_lead(db, company_id, lead_id)
    claims = lead_claims(db, lead_id)
    evidence: dict[str, str] = {}
    for claim in claims:  # oldest first: the latest quote for the value the lead holds wins
        if not claim.conflict and claim.evidence:
            evidence[claim.field] = claim.evidence
    conflicts = sum(1 for c in claims if c.conflict)
    return LeadRecord(lead, evidence, claims, conflicts, conversations_for_lead(db, lead_id))


def claim_json(claim: Any) -> dict[str, Any]:
    """One claim (a `LeadClaim` row or a `claims.ClaimRow`) as sales and exports see it."""
    return {
        "session_id": claim.session_id,
        "field": claim.field,
        "value": claim.value,
        "evidence": claim.evidence,
        "source": claim.source,
        "applied": claim.applied,
        "created_at": claim.created_at.isoformat(),
    }
