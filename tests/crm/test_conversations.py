"""Conversation rows: one per session, turns counted, end stamped once."""

from __future__ import annotations

from sqlalchemy import select

from widget_api.crm.conversations import count_turn, end_conversation, start_conversation
from widget_api.crm.db import Database
from widget_api.crm.models import Conversation


def _rows(db: Database) -> list[Conversation]:
    with db.session(readonly=True) as session:
        return list(session.scalars(select(Conversation)))


def test_conversation_lifecycle(db: Database) -> None:
    start_conversation(db, company_id="acme", session_id="s-1", transport="webrtc")
    start_conversation(db, company_id="acme", session_id="s-1", transport="relay")  # reconnect
    for _ in range(3):
        count_turn(db, "s-1")
    end_conversation(db, "s-1")
    [row] = _rows(db)
    assert (row.transport, row.turns) == ("webrtc", 3)
    assert row.ended_at is not None and row.ended_at >= row.started_at
    first_end = row.ended_at
    end_conversation(db, "s-1")
    assert _rows(db)[0].ended_at == first_end


def test_unknown_session_is_ignored(db: Database) -> None:
    count_turn(db, "nope")
    end_conversation(db, "nope")
    assert _rows(db) == []
