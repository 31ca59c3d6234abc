"""In-process sliding-window rate limits for the session route.

Sessions cost money (each mints an OpenAI client secret), so they are limited per client address
and per company per minute, and per company per UTC day. State lives in this process: the server
runs one worker with many threads by default, so one limiter sees every request.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from widget_api.errors import ApiError


@dataclass
class SlidingWindow:
    """At most `limit` events per `window` seconds per key; thread-safe."""

    limit: int
    window: float
    clock: Callable[[], float] = time.monotonic
    _events: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, key: str) -> float:
        """Record one event: 0.0 when allowed, else seconds until a slot frees (not recorded)."""
        now = self.clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                return max(events[0] + self.window - now, 0.001)
            events.append(now)
            if len(self._events) > 10_000:
                self._forget_idle(now)
            return 0.0

    def _forget_idle(self, now: float) -> None:
        # Bounded memory under address churn: drop keys whose newest event left the window.
        for key in [k for k, ev in self._events.items() if not ev or ev[-1] <= now - self.window]:
            del self._events[key]


@dataclass
class DailyCounter:
    """Events per key per UTC day; thread-safe."""

    limit: int
    clock: Callable[[], float] = time.time
    _day: int = -1
    _counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, key: str) -> float:
        """Record one event; 0.0 when allowed, else the seconds until the next UTC day."""
        now = self.clock()
        day = int(now // 86400)
        with self._lock:
            if day != self._day:
                self._day, self._counts = day, {}
            if self._counts.get(key, 0) >= self.limit:
                return (day + 1) * 86400 - now
            self._counts[key] = self._counts.get(key, 0) + 1
            return 0.0


class SessionRateLimiter:
    """The session route's three limits, checked together."""

    def __init__(
        self,
        per_client_per_minute: int,
        per_company_per_minute: int,
        per_company_per_day: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.per_client = SlidingWindow(per_client_per_minute, 60.0, clock)
        self.per_company = SlidingWindow(per_company_per_minute, 60.0, clock)
        self.daily = DailyCounter(per_company_per_day, wall_clock)

    def check(self, company_id: str, client: str) -> None:
        """Count one session start, or raise `rate_limited` / `daily_cap_reached` (429)."""
        wait = self.per_client.hit(f"{company_id}|{client}")
        if not wait:
            wait = self.per_company.hit(company_id)
        if wait:
            raise ApiError("rate_limited", details=[{"retry_after": math.ceil(wait)}])
        wait = self.daily.hit(company_id)
        if wait:
            raise ApiError("daily_cap_reached", details=[{"retry_after": math.ceil(wait)}])
