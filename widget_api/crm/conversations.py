"""Conversation records: one row per widget session (transport, duration, turns)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from widget_api.crm.db import Database
from widget_api.crm.models import Conversation, utcnow
from widget_api.delivery import hooks


def start_conversation(db: Database, *, company_id: str, session_id: str, transport: str) -> None:
    """Record the session's start; a repeated start (reconnect) keeps the first row."""
    insert = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(Conversation)
        .values(
            session_id=session_id,
            company_id=company_id,
            transport=transport,
            started_at=utcnow(),
            turns=0,
        )
        .on_conflict_do_nothing(index_elements=["session_id"])
    )
    db.run(lambda session: session.execute(stmt))


def end_conversation(db: Database, session_id: str) -> None:
    """Stamp the end time once; later calls leave it alone."""
    stmt = (
        update(Conversation)
        .where(Conversation.session_id == session_id, Conversation.ended_at.is_(None))
        .values(ended_at=utcnow())
    )

    def work(session: Session) -> None:
        if session.execute(stmt).rowcount:  # type: ignore[attr-defined]
            hooks.conversation_ended(session, session_id=session_id)  # webhook, same commit

    db.run(work)


def count_turn(db: Database, session_id: str) -> None:
    """Add one completed turn (a visitor utterance answered by the rep)."""
    stmt = (
        update(Conversation)
        .where(Conversation.session_id == session_id)
        .values(turns=Conversation.turns + 1)
    )
    db.run(lambda session: session.execute(stmt))
