"""A conversation's time caps (duration and idle), shared by the relay and the local engine.

One timer at the nearest deadline, not a poll: a quiet conversation costs one wake-up per
deadline, and marking activity is a single assignment (it runs on the relay's hot path, so it
never touches the timer). When the timer fires early because activity moved the idle deadline,
it simply re-arms at the new one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from widget_api.relay.contracts import RelayLimits

# Past the deadline, not on it: a timer that fires a hair early must not re-arm for 0 s.
_SLACK = 0.01


class ConversationCaps:
    """Ends a conversation (`on_cap(code)`) at its time limit or after an idle stretch.

    `busy()` says whether the conversation is working on something (an answer in progress), which
    counts as activity. Codes: `session_expired` (the time limit), `session_idle`.
    """

    def __init__(
        self,
        limits: RelayLimits,
        on_cap: Callable[[str], None],
        *,
        clock: Callable[[], float],
        busy: Callable[[], bool] | None = None,
    ) -> None:
        self._limits = limits
        self._on_cap = on_cap
        self._clock = clock
        self._busy = busy
        self._started_at = self.last_activity = clock()
        self._timer: asyncio.TimerHandle | None = None
        self._stopped = False

    def start(self) -> None:
        """Arm the timer (on the running loop)."""
        self._arm()

    def touch(self) -> None:
        """The conversation did something: the idle deadline moves (no timer work)."""
        self.last_activity = self._clock()

    def stop(self) -> None:
        """The conversation ended some other way: no cap fires any more."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def check(self) -> None:
        """End the conversation if a cap is reached, else re-arm (the timer calls this)."""
        if self._stopped:
            return
        now, limits = self._clock(), self._limits
        if now - self._started_at > limits.max_session_seconds:
            return self._reached("session_expired")
        if self._busy is not None and self._busy():
            self.last_activity = now
        elif now - self.last_activity > limits.idle_timeout_seconds:
            return self._reached("session_idle")
        self._arm()

    def _reached(self, code: str) -> None:
        self.stop()
        self._on_cap(code)

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        deadline = min(
            self._started_at + self._limits.max_session_seconds,
            self.last_activity + self._limits.idle_timeout_seconds,
        )
        delay = max(0.0, deadline - self._clock()) + _SLACK
        self._timer = asyncio.get_running_loop().call_later(delay, self.check)
