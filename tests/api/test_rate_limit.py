"""Sliding-window and daily limits for session starts."""

from __future__ import annotations

import threading

import pytest

from widget_api.errors import ApiError
from widget_api.rate_limit import SessionRateLimiter, SlidingWindow


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_window_refuses_over_limit_and_frees_slots_as_time_passes() -> None:
    clock = Clock()
    window = SlidingWindow(limit=2, window=60, clock=clock)
    assert window.hit("a") == 0 and window.hit("a") == 0
    assert window.hit("a") > 0
    assert window.hit("b") == 0  # keys are independent
    clock.now += 60.5
    assert window.hit("a") == 0


def test_window_is_exact_under_threads() -> None:
    window = SlidingWindow(limit=100, window=60)
    allowed = []

    def worker() -> None:
        for _ in range(50):
            allowed.append(window.hit("k") == 0)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 100


def test_limiter_codes_per_client_company_and_day() -> None:
    clock, wall = Clock(), Clock(86400 * 20_000 + 10)
    limiter = SessionRateLimiter(2, 3, 4, clock=clock, wall_clock=wall)
    limiter.check("acme", "1.1.1.1")
    limiter.check("acme", "1.1.1.1")
    with pytest.raises(ApiError) as info:
        limiter.check("acme", "1.1.1.1")
    assert info.value.code == "rate_limited"
    assert info.value.details[0]["retry_after"] >= 1
    limiter.check("acme", "2.2.2.2")
    with pytest.raises(ApiError) as info:  # the company's per-minute limit
        limiter.check("acme", "3.3.3.3")
    assert info.value.code == "rate_limited"
    clock.now += 61
    limiter.check("acme", "4.4.4.4")
    with pytest.raises(ApiError) as info:  # fifth start today
        limiter.check("acme", "5.5.5.5")
    assert info.value.code == "daily_cap_reached"
    wall.now += 86400
    clock.now += 61
    limiter.check("acme", "5.5.5.5")
