"""What both sides of a relayed conversation share: frames to a handler, the end reported once.

`PageLink` (the visitor's WebSocket) and `UpstreamLink` (OpenAI's) differ in how frames arrive
and leave; attaching a conversation to them, and telling it once that a side has gone, is the
same for both and is written here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

F = TypeVar("F", str, str | bytes)


class Link(Generic[F]):
    """One side of a conversation; `attach` names where its frames and its end go."""

    def __init__(self) -> None:
        self._on_frame: Callable[[F], None] | None = None
        self._on_closed: Callable[[], None] | None = None
        self._closed = False

    def attach(self, on_frame: Callable[[F], None], on_closed: Callable[[], None]) -> None:
        """Frames go to `on_frame` from now on; the end goes to `on_closed`, once."""
        self._on_frame, self._on_closed = on_frame, on_closed
        self._attached()
        if self._closed:
            on_closed()

    def _attached(self) -> None:
        """Start delivering (subclasses: start reading, or replay what came before `attach`)."""

    def _ended(self) -> bool:
        """Mark this side gone and tell the conversation; False if it already was."""
        if self._closed:
            return False
        self._closed = True
        if self._on_closed is not None:
            self._on_closed()
        return True
