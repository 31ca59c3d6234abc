"""The `auto` fallback: a WebRTC call that never connected hands its reservation to the relay.

One conversation spends one start and one reservation, whichever transport carries it; a call
that joined keeps its reservation, and nothing is given back twice.
"""

from __future__ import annotations

import pytest

from tests.redis_fixtures import REDIS_URL, redis_prefix, redis_store  # noqa: F401
from widget_api.admission import (
    Admission,
    VoiceMinutes,
    continue_in_text,
    hand_over_to_call,
    mark_call_joined,
    settle_call,
    take_over_call,
)
from widget_api.rate_limit import LimitStore


def _minted_call(store: LimitStore, session_id: str, budget: int = 300) -> VoiceMinutes:
    """What the session route leaves behind: 300 s of the day's `budget` reserved."""
    minutes = VoiceMinutes(store)
    granted, _ = minutes.reserve("acme", 300, budget)
    admission = Admission(granted, granted, minutes.refunder("acme"), day=minutes.today())
    hand_over_to_call(store, session_id, admission)
    return minutes


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> LimitStore:
    if request.param == "redis":
        return request.getfixturevalue("redis_store")  # type: ignore[no-any-return]
    return LimitStore()


def test_a_call_that_never_joined_is_taken_over_once(store: LimitStore) -> None:
    minutes = _minted_call(store, "ws_a")
    taken = take_over_call(store, "acme", "ws_a")
    assert taken is not None and (taken.max_seconds, taken.reserved_seconds) == (300, 300)
    assert take_over_call(store, "acme", "ws_a") is None  # a second relay gets nothing
    settle_call(store, "acme", "ws_a", 0)  # a late call report gives nothing back either
    assert minutes.reserve("acme", 300, 300)[0] == 0
    taken.settle(100)  # the relayed conversation's end gives back what it left
    assert minutes.reserve("acme", 300, 300)[0] == 200


def test_a_joined_call_keeps_its_reservation(store: LimitStore) -> None:
    minutes = _minted_call(store, "ws_b")
    mark_call_joined(store, "ws_b")
    assert take_over_call(store, "acme", "ws_b") is None
    settle_call(store, "acme", "ws_b", 100)
    assert minutes.reserve("acme", 300, 300)[0] == 200


def test_nothing_to_take_without_a_reservation(store: LimitStore) -> None:
    assert take_over_call(store, "acme", "ws_none") is None
    minutes = _minted_call(store, "ws_none")  # a later mint on the same session still counts
    assert take_over_call(store, "acme", "ws_none") is not None
    assert minutes.reserve("acme", 300, 300)[0] == 0


def test_a_resumed_conversations_next_call_starts_unjoined(store: LimitStore) -> None:
    _minted_call(store, "ws_c", budget=600)
    mark_call_joined(store, "ws_c")
    settle_call(store, "acme", "ws_c", 300)  # the first call used all of its time
    minutes = _minted_call(store, "ws_c", budget=600)
    taken = take_over_call(store, "acme", "ws_c")
    assert taken is not None and taken.day == minutes.today()


def test_a_taken_over_call_continues_in_text_once(store: LimitStore) -> None:
    _minted_call(store, "ws_d")
    assert continue_in_text(store, "ws_d", 600) is None  # not before the relay took over
    assert take_over_call(store, "acme", "ws_d") is not None
    text = continue_in_text(store, "ws_d", 600)
    assert text is not None and (text.max_seconds, text.reserved_seconds) == (600, 0)
    assert continue_in_text(store, "ws_d", 600) is None
