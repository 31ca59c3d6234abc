"""Time to first audio and to first text of each answered turn, stored once per turn.

Used by the phone bridge, the SIP sideband agent and the widget's relay.

Both figures run from the same moment, the end of the caller's speech, on one clock, so they
can be compared. A turn is stored when its answer is done (`response.done`) and only if the
answer measured something: a response that only called a tool leaves the turn open, and the
answer that follows the tool output is measured from the same end of speech. A turn that is
still measured but not done when the next one starts (or the call ends) is stored then, so a
turn is never lost and never stored twice.

Out-of-band responses (`conversation: "none"`, such as the end-of-call summary) are no answer
to the caller: their text never counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

OnTurn = Callable[[float | None, float | None], None]  # (first_audio_ms, first_text_ms)
ASIDES_KEPT = 16  # out-of-band response ids remembered (one summary per call, in practice)


class TurnTimer:
    """One call's turn clock; the owner feeds it the events it already reads."""

    def __init__(self, on_turn: OnTurn | None, clock: Callable[[], float]) -> None:
        self._on_turn, self._clock = on_turn, clock
        self._started: float | None = None
        self._audio_open = self._text_open = False
        self._audio_ms: float | None = None
        self._text_ms: float | None = None
        self._asides: list[str] = []

    def speech_stopped(self, at: float | None = None) -> None:
        """The caller stopped speaking (`at`, on the timer's clock; default now)."""
        self.flush()
        self._started = self._clock() if at is None else at
        self._audio_open = self._text_open = True

    def typed_line(self) -> None:
        """The visitor sent a typed line: a turn whose answer text is timed, not its audio."""
        self.flush()
        self._started = self._clock()
        self._audio_open, self._text_open = False, True

    def response_created(self, response: dict[str, object]) -> None:
        """Note an out-of-band response (its `conversation_id` is null), whose text never counts."""
        rid = response.get("id")
        if "conversation_id" in response and response["conversation_id"] is None and rid:
            self._asides = [*self._asides[-(ASIDES_KEPT - 1) :], str(rid)]

    def first_audio(self) -> float | None:
        """The answer's audio reached the caller; the figure when it is the turn's first."""
        if not self._audio_open or self._started is None:
            return None
        self._audio_open = False
        self._audio_ms = (self._clock() - self._started) * 1000
        return self._audio_ms

    def first_text(self, response_id: object = None) -> float | None:
        """A text or transcript delta of the answer; the figure when it is the turn's first."""
        if not self._text_open or self._started is None or response_id in self._asides:
            return None
        self._text_open = False
        self._text_ms = (self._clock() - self._started) * 1000
        return self._text_ms

    def interrupted(self) -> None:
        """Barge-in: what the answer measured so far stands; nothing later counts for it."""
        self._audio_open = self._text_open = False

    def response_done(self, response_id: object = None) -> None:
        """Store the turn if its answer measured anything; a tool-only response keeps it open."""
        if response_id not in self._asides:
            self.flush()

    def flush(self) -> None:
        """Store what the current turn measured, once, and close it."""
        audio, text = self._audio_ms, self._text_ms
        if audio is None and text is None:
            return
        self._audio_ms = self._text_ms = None
        self._audio_open = self._text_open = False
        if self._on_turn is None:
            return
        try:
            self._on_turn(audio, text)
        except Exception:  # a lost figure must never end a call
            log.exception("could not record a turn's latency")
