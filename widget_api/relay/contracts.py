"""What the relay needs from the rest of the server: the seams, their null and safe wrappers,
and the limits.

The relay never imports Flask, the CRM or the tool registry: `widget_api.conversation` builds
the implementations from the app's Services and passes them in, and tests pass in their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from widget_api.contracts import ConversationLog, Recorder, RunTool, ToolOutcomeLike

# The seams the rest of the server implements live outside the relay package (widget_api.contracts):
# the tool seam is shared with the local engine, the record's with the CRM side.
__all__ = ["ConversationLog", "Recorder", "RunTool", "ToolOutcomeLike"]

log = logging.getLogger(__name__)


class NullConversationLog:
    """For tools and benchmarks that record nothing."""

    def started(self, transport: str) -> None:
        return None

    def turn(self) -> None:
        return None

    def ended(self) -> None:
        return None

    def turn_latency(self, first_audio_ms: float | None, first_text_ms: float | None) -> None:
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

    def turn_latency(self, first_audio_ms: float | None, first_text_ms: float | None) -> None:
        self._call(lambda: self._inner.turn_latency(first_audio_ms, first_text_ms))


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
