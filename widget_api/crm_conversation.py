"""The CRM-backed conversation seams: `ConversationLog` and `Recorder` (widget_api.contracts).

The relay and the local engine record through those protocols only; these implementations
write through `widget_api.crm` and are wired in by `widget_api.conversation`.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from widget_api.continuity import Resumed, issue_resume_token
from widget_api.crm.conversations import end_conversation
from widget_api.crm.db import Database
from widget_api.crm.models import utcnow
from widget_api.crm.record import (
    Line,
    append_lines,
    end,
    record_context,
    set_summary,
    start_or_resume,
    tool_line,
)
from widget_api.protocol import HistoryLine, WidgetSession, dump

log = logging.getLogger(__name__)

SUMMARY_INSTRUCTIONS = (
    "Write a summary of this conversation for the sales team, in at most five short sentences:"
    " what the visitor needs, their company, team size, timeline, budget and current tool if"
    " said, what was promised, and the next step. Plain text, no greeting."
)


class CrmConversationLog:
    """start / turn / end of one widget session, written through the crm functions."""

    def __init__(
        self, db: Database, *, company_id: str, session_id: str, language: str | None = None
    ) -> None:
        self._db = db
        self._company_id = company_id
        self._session_id = session_id
        self._language = language
        self._latency_channel = "relay"

    def started(self, transport: str) -> None:
        # The local engine's turns are `text`; the relay's (voice or text) `relay`.
        self._latency_channel = "text" if transport == "local-text" else "relay"
        start_or_resume(self._db, company_id=self._company_id, session_id=self._session_id,
                        transport=transport, language=self._language)  # fmt: skip

    def turn(self) -> None:
        # Counted with the transcript (CrmRecorder.flush): one write per turn, not two.
        return None

    def ended(self) -> None:
        end_conversation(self._db, self._session_id)

    def turn_latency(self, first_audio_ms: float | None, first_text_ms: float | None) -> None:
        from widget_api.crm.latency import record_turn_latency

        if first_audio_ms is None and first_text_ms is None:
            return
        record_turn_latency(self._db, company_id=self._company_id, session_id=self._session_id,
                            channel=self._latency_channel, first_audio_ms=first_audio_ms,
                            first_text_ms=first_text_ms)  # fmt: skip


class CrmRecorder:
    """The transcript and record of one conversation, buffered per turn (see crm.record).

    Lines are captured on the relay loop (cheap appends under a lock) and written by `flush`
    from the pool, one INSERT of the turn's lines per call.
    """

    def __init__(
        self,
        db: Database,
        *,
        company_id: str,
        session_id: str,
        signing_key: bytes,
        resumed: Resumed | None = None,
    ) -> None:
        self._db = db
        self._company_id = company_id
        self._session_id = session_id
        self._key = signing_key
        self._resumed = resumed
        self._lock = threading.Lock()
        self._lines: list[Line] = []
        self._user_lines = 0

    @property
    def resumed(self) -> bool:
        return self._resumed is not None

    @property
    def history(self) -> list[tuple[str, str]]:
        return self._resumed.history if self._resumed else []

    @property
    def contact(self) -> tuple[str, str] | None:
        return self._resumed.contact if self._resumed else None

    @property
    def wants_summary(self) -> bool:
        return self._user_lines > 0

    def session_event(self) -> dict[str, Any] | None:
        """`widget.session`: the resume token, and the history when continuing."""
        token = issue_resume_token(self._key, self._company_id, self._session_id)
        history = [HistoryLine.model_validate({"role": r, "text": t}) for r, t in self.history]
        return dump(WidgetSession(resume_token=token, resumed=self.resumed, history=history))

    def said(self, role: str, text: str, at: datetime | None = None) -> None:
        text = text.strip()
        if not text:
            return
        with self._lock:
            self._lines.append(Line(role, text, at or utcnow()))
            self._user_lines += role == "user"

    def tool(self, call_id: str, name: str, arguments: str, output: str, ok: bool) -> None:
        with self._lock:
            self._lines.append(tool_line(call_id, name, arguments, output, ok))

    def context(self, event: dict[str, Any]) -> None:
        page, referrer = event.get("page_url"), event.get("referrer")
        record_context(
            self._db, self._session_id,
            page_url=page if isinstance(page, str) else None,
            referrer=referrer if isinstance(referrer, str) else None,
            privacy_accepted=event.get("privacy_accepted") is True,
            language=language if isinstance(language := event.get("language"), str) else None,
        )  # fmt: skip

    def flush(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
        if lines:
            append_lines(self._db, self._company_id, self._session_id, lines)

    def close(self, reason: str) -> None:
        self.flush()
        end(self._db, self._session_id, reason=reason)

    def summary(self, text: str) -> None:
        if text.strip():
            set_summary(self._db, self._session_id, text.strip())


class SafeRecorder:
    """A recorder whose database writes never end a live conversation."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in ("context", "flush", "close", "summary") or not callable(attr):
            return attr

        def guarded(*args: Any) -> None:
            try:
                attr(*args)
            except Exception:
                log.exception("conversation record: %s failed", name)

        return guarded
