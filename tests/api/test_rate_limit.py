"""Session limits, voice minutes and the limit storage: in this process and in real Redis."""

from __future__ import annotations

import threading

import pytest
from limits import RateLimitItemPerMinute

from tests.redis_fixtures import REDIS_URL, redis_prefix, redis_store  # noqa: F401
from widget_api.admission import MIN_VOICE_SECONDS, Admission, VoiceMinutes
from widget_api.errors import DomainError
from widget_api.rate_limit import LimitStore, LimitsUnavailable, SessionRateLimiter


def _codes(limiter: SessionRateLimiter, company: str, clients: list[str]) -> list[str]:
    out = []
    for client in clients:
        try:
            limiter.check(company, client)
            out.append("ok")
        except DomainError as err:
            assert err.details[0]["retry_after"] >= 1
            out.append(err.code)
    return out


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_limits_per_address_per_company_and_per_day(
    storage: str, request: pytest.FixtureRequest
) -> None:
    store = request.getfixturevalue("redis_store") if storage == "redis" else LimitStore()
    per_address = SessionRateLimiter(2, 100, 100, store=store)
    assert _codes(per_address, "acme", ["a", "a", "a", "b"]) == ["ok", "ok", "rate_limited", "ok"]
    per_company = SessionRateLimiter(100, 3, 100, store=store)
    assert _codes(per_company, "globex", ["a", "b", "c", "d"]) == ["ok"] * 3 + ["rate_limited"]
    daily = SessionRateLimiter(100, 100, 2, store=store)
    assert _codes(daily, "initech", ["a", "b", "c"]) == ["ok", "ok", "daily_cap_reached"]


def test_a_start_refused_by_the_company_does_not_use_the_address_allowance() -> None:
    limiter = SessionRateLimiter(2, 1, 100)
    assert _codes(limiter, "acme", ["a", "a"]) == ["ok", "rate_limited"]
    # The address's second slot is still free for another company.
    assert _codes(limiter, "globex", ["a"]) == ["ok"]


def test_two_stores_on_one_redis_prefix_share_their_counts(redis_prefix: str) -> None:  # noqa: F811
    """What two workers (or hosts) see: separate clients, one set of counts."""
    first = SessionRateLimiter(3, 100, 100, store=LimitStore(REDIS_URL, key_prefix=redis_prefix))
    second = SessionRateLimiter(3, 100, 100, store=LimitStore(REDIS_URL, key_prefix=redis_prefix))
    codes = _codes(first, "acme", ["a", "a"]) + _codes(second, "acme", ["a", "a"])
    assert codes == ["ok", "ok", "ok", "rate_limited"]


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_limits_are_exact_under_threads(storage: str, request: pytest.FixtureRequest) -> None:
    store = request.getfixturevalue("redis_store") if storage == "redis" else LimitStore()
    item = RateLimitItemPerMinute(40, namespace="threads")
    allowed: list[bool] = []

    def worker() -> None:
        for _ in range(20):
            allowed.append(store.hit(item, "k") == 0)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 40


def test_an_unreachable_redis_is_reported_not_hidden() -> None:
    store = LimitStore("redis://127.0.0.1:9/0")  # the discard port: nothing listens
    with pytest.raises(LimitsUnavailable):
        store.hit(RateLimitItemPerMinute(1, namespace="down"), "k")


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_voice_minutes_never_overrun_the_day_and_unused_time_comes_back(
    storage: str, request: pytest.FixtureRequest
) -> None:
    store = request.getfixturevalue("redis_store") if storage == "redis" else LimitStore()
    minutes = VoiceMinutes(store)
    budget = 5 * 60
    grants = [minutes.reserve("acme", 120, budget)[0] for _ in range(4)]
    assert grants == [120, 120, 60, 0]  # the last 60 s went to the third; nothing is left
    Admission(120, 120, minutes.refunder("acme")).settle(30.2)  # used 31 s of 120
    assert minutes.reserve("acme", 120, budget)[0] == 89
    assert minutes.reserve("globex", 120, budget)[0] == 120  # companies are apart


def test_a_reservation_under_the_minimum_is_refused_and_given_back() -> None:
    minutes = VoiceMinutes(LimitStore())
    assert minutes.reserve("acme", 600, MIN_VOICE_SECONDS - 1)[0] == 0
    assert minutes.reserve("acme", 600, 600)[0] == 600  # the refused one reserved nothing


def test_conversations_shorter_than_the_minimum_still_get_their_time() -> None:
    minutes = VoiceMinutes(LimitStore())
    assert minutes.reserve("acme", 5, 60_000)[0] == 5


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_a_webrtc_call_gives_back_its_unused_minutes_once(
    storage: str, request: pytest.FixtureRequest
) -> None:
    from widget_api.admission import hand_over_to_call, settle_call

    store = request.getfixturevalue("redis_store") if storage == "redis" else LimitStore()
    minutes = VoiceMinutes(store)
    granted, _ = minutes.reserve("acme", 300, 300)
    admission = Admission(granted, granted, minutes.refunder("acme"), day=minutes.today())
    hand_over_to_call(store, "ws_call", admission)  # the session route, on one worker
    assert minutes.reserve("acme", 300, 300)[0] == 0  # the day's budget is all reserved
    settle_call(store, "acme", "ws_call", 99.5)  # the call's end, on any worker
    settle_call(store, "acme", "ws_call", 0)  # a second report gives nothing more back
    assert minutes.reserve("acme", 300, 300)[0] == 200
    settle_call(store, "acme", "ws_phone", 10)  # no reservation (a phone call): nothing
    assert minutes.reserve("acme", 300, 300)[0] == 0
