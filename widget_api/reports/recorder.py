"""Recording what the reports count: questions, widget opens, meeting-link clicks, bookings.

Each function is best effort where it runs on a visitor's path (a failure is logged, never
raised into the conversation) and writes no personal data anywhere `forget_sessions` does not
reach.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from widget_api.crm.db import Database
from widget_api.crm.models import utcnow
from widget_api.crm.report_models import (
    Booking,
    DailyCounter,
    DayCache,
    MeetingLink,
    Question,
    QuestionVector,
)

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 400
_SPACE = re.compile(r"\s+")
_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")
# An answer that admits not knowing (the rep's instructions tell it to say so plainly).
_DONT_KNOW = re.compile(
    r"\b(i (?:do not|don't|dont) (?:know|have (?:that|this|any|information))|"
    r"i(?:'m| am) not sure|i could(?:n't| not) find|no information (?:about|on)|"
    r"not (?:in|covered by) (?:my|our|the) (?:documents|docs|documentation))\b",
    re.IGNORECASE,
)


class Hit(Protocol):
    """What a search hit must offer (knowledge.SearchHit has it)."""

    @property
    def title(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def score(self) -> float: ...


def _insert_for(db_or_session: Database | Session) -> Any:
    name = (
        db_or_session.dialect
        if isinstance(db_or_session, Database)
        else db_or_session.get_bind().dialect.name
    )
    return postgresql.insert if name == "postgresql" else sqlite.insert


def normalize_question(text: str) -> str:
    """The grouping key of the top list: lower case, single spaces, no edge punctuation."""
    return _EDGE_PUNCT.sub("", _SPACE.sub(" ", text.strip().lower()))[:MAX_QUESTION_CHARS]


def says_it_does_not_know(answer: str) -> bool:
    return _DONT_KNOW.search(answer) is not None


def record_question(
    db: Database,
    *,
    company_id: str,
    session_id: str,
    query: str,
    hits: Sequence[Hit],
    threshold: float,
) -> None:
    """One `search_knowledge` call: answered when the best passage reaches `threshold`."""
    best = max(hits, key=lambda h: h.score, default=None)
    answered = best is not None and best.score >= threshold
    row = Question(
        company_id=company_id,
        session_id=session_id,
        text=query.strip()[:MAX_QUESTION_CHARS],
        normalized=normalize_question(query),
        answered=answered,
        best_score=float(best.score) if best is not None else None,
        closest_title=best.title[:300] if best is not None and best.title else None,
        closest_source=best.source[:500] if best is not None else None,
        asked_at=utcnow(),
    )
    try:
        db.run(lambda session: session.add(row), durable=False)
    except Exception:  # the report loses a row; the visitor still gets the answer
        log.exception("could not record a question for %s", company_id)


def mark_unanswered(session: Session, session_id: str) -> bool:
    """In the caller's transaction: the session's latest question did not get an answer.

    The transcript recorder calls it when a final assistant message admits not knowing
    (`says_it_does_not_know`); True when there was a question to mark.
    """
    latest = (
        select(Question.id)
        .where(Question.session_id == session_id)
        .order_by(Question.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    stmt = update(Question).where(Question.id == latest).values(answered=False)
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def widget_opened(db: Database, company_id: str, at: datetime | None = None) -> None:
    """Count one opened widget (the iframe loads when a visitor first opens it)."""
    day = (at or utcnow()).date()
    stmt = _insert_for(db)(DailyCounter).values(
        company_id=company_id, day=day, name="widget_opened", count=1
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["company_id", "day", "name"],
        set_={"count": DailyCounter.count + 1},
    )
    try:
        db.run(lambda s: s.execute(stmt), durable=False)
    except Exception:
        log.exception("could not count a widget open for %s", company_id)


def tracked_link(db: Database, *, company_id: str, session_id: str, url: str) -> str:
    """A token for `/go/<token>`, which counts the click and redirects to `url`."""
    token = secrets.token_urlsafe(16)
    db.run(
        lambda s: s.add(
            MeetingLink(token=token, company_id=company_id, session_id=session_id, url=url,
                        created_at=utcnow())
        )
    )  # fmt: skip
    return token


def follow_link(db: Database, token: str) -> str | None:
    """The link's target, counting the first click; None for an unknown token."""

    def work(session: Session) -> str | None:
        link = session.get(MeetingLink, token)
        if link is None:
            return None
        if link.clicked_at is None:
            link.clicked_at = utcnow()
        return link.url

    return db.run(work)


def record_booking(
    db: Database,
    *,
    company_id: str,
    provider: str,
    external_id: str,
    session_id: str | None,
    lead_id: int | None,
) -> bool:
    """A booking reported by Calendly or Cal.com; a repeated notification counts once."""
    stmt = (
        _insert_for(db)(Booking)
        .values(
            company_id=company_id,
            provider=provider,
            external_id=external_id[:200],
            session_id=session_id,
            lead_id=lead_id,
            booked_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["external_id"])
        .returning(Booking.id)
    )
    return db.run(lambda s: s.execute(stmt).scalar_one_or_none()) is not None


def forget_sessions(session: Session, session_ids: Iterable[str]) -> dict[str, int]:
    """Delete the report rows of these conversations (forget and retention); rows per table."""
    ids = [s for s in session_ids if s]
    if not ids:
        return {}
    texts = set(
        session.scalars(select(Question.normalized).where(Question.session_id.in_(ids))).all()
    )
    counts = {}
    for model in (Question, MeetingLink, Booking):
        result = session.execute(delete(model).where(model.session_id.in_(ids)))
        counts[model.__tablename__] = int(result.rowcount or 0)  # type: ignore[attr-defined]
    # A cached vector is derived from the text: it goes when no other visitor asked the same.
    still_asked = set(
        session.scalars(select(Question.normalized).where(Question.normalized.in_(texts))).all()
    )
    gone = [vector_key(t) for t in texts - still_asked]
    if gone:
        session.execute(delete(QuestionVector).where(QuestionVector.key.in_(gone)))
    session.execute(delete(DayCache))  # past days' figures changed: recompute on next report
    return counts


def vector_key(normalized: str) -> str:
    return hashlib.sha256(normalized.encode()).hexdigest()
