"""What a conversation on the page's socket does whichever engine answers it.

`RelaySession` (OpenAI) and `LocalSession` (the local text engine) share this part: the time
caps, the end (the reason sent to the page, the page closed, the record closed off the loop),
refusing a frame, and the page context handed to the record. Everything runs on the relay loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable
from typing import Any, Protocol

from widget_api.relay import frames
from widget_api.relay.caps import ConversationCaps
from widget_api.relay.contracts import Recorder, RelayLimits

log = logging.getLogger(__name__)


class PageSide(Protocol):
    def send(self, text: str) -> None: ...
    def close(self, code: int = 1000, reason: str = "") -> None: ...


# offload(blocking_fn, then): runs blocking_fn off the loop, then `then(future)` on the loop.
Offload = Callable[[Callable[[], Any], Callable[[concurrent.futures.Future[Any]], None]], None]


def ignore(_future: concurrent.futures.Future[Any]) -> None:
    """An offload continuation for work whose result nobody waits for."""
    return None


class PageConversation:
    """The shared base: `done` resolves with the reason the conversation ended."""

    def __init__(
        self,
        page: PageSide,
        *,
        limits: RelayLimits,
        offload: Offload,
        recorder: Recorder,
        clock: Callable[[], float],
        busy: Callable[[], bool] | None = None,
    ) -> None:
        self._page = page
        self._limits = limits
        self._offload = offload
        self._recorder = recorder
        self._clock = clock
        self._loop = asyncio.get_running_loop()
        self.done: asyncio.Future[str] = self._loop.create_future()
        self.caps = ConversationCaps(limits, self._finish, clock=clock, busy=busy)
        self.done.add_done_callback(self._on_done)

    def _finish(self, code: str) -> None:
        """Tell the page why the conversation ends (a catalogue code), then end it."""
        if self.done.done():
            return
        log.info("conversation ends: %s", code)
        self._send_page(frames.error_event(code))
        self._page.close(1000, code)
        self.done.set_result(code)

    def _on_done(self, done: asyncio.Future[str]) -> None:
        self.caps.stop()
        reason = done.result() if not done.cancelled() else "cancelled"
        self._offload(lambda: self._recorder.close(reason), ignore)

    def _refuse(self) -> None:
        """Answer a frame the page may not send (binary, oversize, unknown or malformed).

        The check stays inline in each `on_page_frame`: it runs for every audio frame.
        """
        self._send_page(frames.error_event("event_not_allowed"))

    def _record_context(self, event: dict[str, Any]) -> None:
        """`widget.context` (page URL, referrer, privacy notice): for the record, off the loop."""
        self._offload(lambda: self._recorder.context(event), ignore)

    def _send_page(self, event: dict[str, Any]) -> None:
        self._page.send(frames.dumps(event))
