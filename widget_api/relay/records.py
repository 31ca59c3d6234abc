"""Conversation records in the CRM for relayed and local-engine conversations."""

from __future__ import annotations

from widget_api.crm.conversations import count_turn, end_conversation, start_conversation
from widget_api.crm.db import Database


class CrmConversationLog:
    """start / turn / end of one widget session, written through the crm functions."""

    def __init__(self, db: Database, *, company_id: str, session_id: str) -> None:
        self._db = db
        self._company_id = company_id
        self._session_id = session_id

    def started(self, transport: str) -> None:
        start_conversation(
            self._db, company_id=self._company_id, session_id=self._session_id, transport=transport
        )

    def turn(self) -> None:
        count_turn(self._db, self._session_id)

    def ended(self) -> None:
        end_conversation(self._db, self._session_id)
