"""What the relay needs from the rest of the server, as narrow protocols.

The relay never imports Flask, the CRM or the tool registry: the WebSocket handler builds these
from the app's Services and passes them in, and tests pass in their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from widget_api.contracts import RunTool, ToolOutcomeLike

# The tool seam is shared with the local engine, so it lives outside the relay package.
__all__ = ["RunTool", "ToolOutcomeLike"]

log = logging.getLogger(__name__)


class ConversationLog(Protocol):
    def started(self, transport: str) -> None: ...
    def turn(self) -> None: ...
    def ended(self) -> None: ...
    def first_audio(self, millis: float) -> None: ...  # one turn's time to first audio


class NullConversationLog:
    """For tools and benchmarks that record nothing."""

    def started(self, transport: str) -> None:
        return None

    def turn(self) -> None:
        return None

    def ended(self) -> None:
        return None

    def first_audio(self, millis: float) -> None:
        return None


class SafeConversationLog:
    """Wraps a ConversationLog so a database hiccup never ends a live conversation."""

    def __init__(self, inner: ConversationLog) -> None:
        self._inner = inner

    def _call(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            log.exception("conversation record failed")

    def started(self, transport: str) -> None:
        self._call(lambda: self._inner.started(transport))

    def turn(self) -> None:
        self._call(self._inner.turn)

    def ended(self) -> None:
        self._call(self._inner.ended)

    def first_audio(self, millis: float) -> None:
        self._call(lambda: self._inner.first_audio(millis))


class Recorder(Protocol):
    """The conversation record's seam: transcript lines, the page it runs on, how it ends.

    `said` and `tool` only buffer (safe on the relay loop); `context`, `flush`, `close` and
    `summary` write to the database and run off the loop. `relay/records.py` has the CRM one.
    """

    @property
    def resumed(self) -> bool: ...
    @property
    def history(self) -> list[tuple[str, str]]: ...
    @property
    def contact(self) -> tuple[str, str] | None: ...
    @property
    def wants_summary(self) -> bool: ...
    def session_event(self) -> dict[str, Any] | None: ...
    def said(self, role: str, text: str, at: datetime | None = None) -> None: ...
    def tool(self, call_id: str, name: str, arguments: str, output: str, ok: bool) -> None: ...
    def context(self, event: dict[str, Any]) -> None: ...
    def flush(self) -> None: ...
    def close(self, reason: str) -> None: ...
    def summary(self, text: str) -> None: ...


class NullRecorder:
    """Records nothing (benchmarks, and tests about other things)."""

    resumed = False
    history: list[tuple[str, str]] = []  # noqa: RUF012 - read-only, never mutated
    contact = None
    wants_summary = False

    def session_event(self) -> dict[str, Any] | None:
        return None

    def said(self, role: str, text: str, at: datetime | None = None) -> None:
        return None

    def tool(self, call_id: str, name: str, arguments: str, output: str, ok: bool) -> None:
        return None

    def context(self, event: dict[str, Any]) -> None:
        return None

    def flush(self) -> None:
        return None

    def close(self, reason: str) -> None:
        return None

    def summary(self, text: str) -> None:
        return None


NULL_RECORDER = NullRecorder()


@dataclass(frozen=True)
class RelayLimits:
    max_session_seconds: float
    idle_timeout_seconds: float
    # Largest frame accepted from the page (an audio append of ~1 s is ~64 KB).
    max_client_frame: int = 256 * 1024
    max_text_chars: int = 2000
