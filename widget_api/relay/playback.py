"""Where the visitor is in the assistant's audio, for barge-in truncation.

OpenAI produces audio faster than real time, so at `speech_started` the model must be told how
much was actually heard (`conversation.item.truncate.audio_end_ms`). The page plays through an
AudioWorklet and reports its position (`widget.playback {item_id, played_ms}`) a few times a
second and whenever playback drains; between reports the position advances with the wall clock.
Without any report (a client that never sends one) the estimate is the time since the item's
first delta was forwarded. Both are capped at the audio actually forwarded, so the truncate
never exceeds the item's length (which OpenAI rejects).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Item:
    item_id: str
    first_sent_at: float
    sent_ms: float = 0.0
    reported_ms: float | None = None
    reported_at: float = 0.0
    drained: bool = False


class PlaybackTracker:
    """Tracks the assistant item currently being played on the page."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._item: _Item | None = None

    def on_audio_sent(self, item_id: str | None, millis: float) -> None:
        if item_id is None:
            return
        if self._item is None or self._item.item_id != item_id:
            self._item = _Item(item_id=item_id, first_sent_at=self._clock())
        self._item.sent_ms += millis
        self._item.drained = False

    def on_report(self, item_id: str, played_ms: float, *, drained: bool = False) -> None:
        item = self._item
        if item is None or item.item_id != item_id:
            return
        item.reported_ms = max(0.0, float(played_ms))
        item.reported_at = self._clock()
        item.drained = drained and item.reported_ms >= item.sent_ms - 1

    def heard_position(self) -> tuple[str, int] | None:
        """(item_id, audio_end_ms) to truncate at, or None when nothing is still playing."""
        item = self._item
        if item is None or item.drained:
            return None
        now = self._clock()
        if item.reported_ms is not None:
            heard = item.reported_ms + (now - item.reported_at) * 1000
        else:
            heard = (now - item.first_sent_at) * 1000
            if heard >= item.sent_ms:
                return None  # by the clock it has all been played; nothing to cut
        return item.item_id, int(max(0.0, min(heard, item.sent_ms)))

    def reset(self) -> None:
        self._item = None
