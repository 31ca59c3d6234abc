"""ConversationCaps: the duration and idle caps both conversation kinds share, on a fake clock."""

from __future__ import annotations

import pytest

from tests.relay.fakes import Clock, run
from widget_api.relay.caps import ConversationCaps
from widget_api.relay.contracts import RelayLimits

LIMITS = RelayLimits(max_session_seconds=600, idle_timeout_seconds=60)


def _caps(clock: Clock, reached: list[str], busy: bool = False) -> ConversationCaps:
    caps = ConversationCaps(LIMITS, reached.append, clock=clock, busy=lambda: busy)
    caps.start()
    return caps


@pytest.mark.parametrize(("seconds", "reached"), [(59, []), (61, ["session_idle"])])
def test_an_idle_conversation_ends_after_the_idle_timeout(seconds: int, reached: list[str]) -> None:
    async def body() -> None:
        clock, codes = Clock(), list[str]()
        caps = _caps(clock, codes)
        clock.now += seconds
        caps.check()
        assert codes == reached

    run(body)


def test_activity_moves_the_idle_deadline() -> None:
    async def body() -> None:
        clock, codes = Clock(), list[str]()
        caps = _caps(clock, codes)
        clock.now += 40
        caps.touch()
        clock.now += 40
        caps.check()
        assert codes == []

    run(body)


def test_the_time_limit_ends_even_a_busy_conversation() -> None:
    async def body() -> None:
        clock, codes = Clock(), list[str]()
        caps = _caps(clock, codes, busy=True)
        clock.now += 601
        caps.check()
        assert codes == ["session_expired"]

    run(body)


def test_work_in_progress_counts_as_activity() -> None:
    async def body() -> None:
        clock, codes = Clock(), list[str]()
        caps = _caps(clock, codes, busy=True)
        clock.now += 120
        caps.check()
        assert codes == []

    run(body)


def test_a_cap_fires_once_and_a_stopped_caps_never_fires() -> None:
    async def body() -> None:
        clock, codes = Clock(), list[str]()
        caps = _caps(clock, codes)
        clock.now += 61
        caps.check()
        caps.check()
        later: list[str] = []
        stopped = _caps(clock, later)
        stopped.stop()
        clock.now += 1000
        stopped.check()
        assert (codes, later) == (["session_idle"], [])

    run(body)
