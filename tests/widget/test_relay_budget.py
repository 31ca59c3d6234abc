"""The metered relay: every upstream it opens spends the session route's budget.

Real sockets end to end: a served app, visitor WebSockets from two loopback addresses
(127.0.0.1 and 127.0.0.2 both reach the server on Linux), the OpenAI fake counting the
upstream connections the server opened with its key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from pydantic import SecretStr
from websockets.sync.client import connect

from tests.fake_openai import FakeOpenAI
from tests.widget.conftest import recv_until, serve

VISITOR, NEIGHBOUR = "127.0.0.1", "127.0.0.2"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        server.script([])
        yield server


@pytest.fixture
def served(make_app: Callable[..., Any], fake: FakeOpenAI) -> Callable[..., Any]:
    """Serve an app with the fake as OpenAI and the given settings; yields the base URL."""
    from contextlib import contextmanager

    @contextmanager
    def _served(**settings: Any) -> Iterator[str]:
        key = SecretStr(fake.api_key)
        app = make_app(openai_api_key=key, openai_base_url=fake.base_url, **settings)
        with serve(app) as base:
            yield base

    return _served


def _first_answer(base: str, mode: str = "voice", source: str = VISITOR) -> dict[str, Any]:
    """Open one conversation and return its first telling event: relayed or refused."""
    url = base.replace("http://", "ws://") + f"/ws/realtime/acme?mode={mode}"
    with connect(url, origin=base, open_timeout=10, source_address=(source, 0)) as ws:
        events = recv_until(
            ws, lambda e: e["type"] in ("session.updated", "widget.notice"), timeout=15
        )
        return events[-1]


def _outcome(event: dict[str, Any]) -> str:
    return "relayed" if event["type"] == "session.updated" else str(event.get("code"))


def test_thirty_voice_sockets_from_one_address_open_at_most_ten_upstreams(
    served: Callable[..., Any], fake: FakeOpenAI
) -> None:
    with served(session_rate_per_minute_per_client=10) as base:
        before = len(fake.ws_sessions)
        with ThreadPoolExecutor(10) as pool:
            answers = list(pool.map(lambda _: _first_answer(base), range(30)))
        outcomes = [_outcome(a) for a in answers]
        assert outcomes.count("relayed") == 10
        assert outcomes.count("rate_limited") == 20
        refused = next(a for a in answers if a["type"] == "widget.notice")
        assert refused["mode"] == "text"  # the page goes on in text, with a plain note
        assert len(fake.ws_sessions) - before == 10
        # Another address has its own allowance.
        assert _outcome(_first_answer(base, source=NEIGHBOUR)) == "relayed"


def test_session_route_and_relay_spend_one_budget(
    served: Callable[..., Any], fake: FakeOpenAI
) -> None:
    with served(session_rate_per_minute_per_client=4) as base:
        for _ in range(3):
            r = requests.post(base + "/api/realtime/session", json={"companyId": "acme"},
                              headers={"Origin": base}, timeout=10)  # fmt: skip
            assert r.status_code == 200, r.text
        assert _outcome(_first_answer(base)) == "relayed"  # the fourth start
        assert _outcome(_first_answer(base)) == "rate_limited"
        r = requests.post(base + "/api/realtime/session", json={"companyId": "acme"},
                          headers={"Origin": base}, timeout=10)  # fmt: skip
        assert (r.status_code, r.json()["error"]["code"]) == (429, "rate_limited")
        assert int(r.headers["Retry-After"]) >= 1


def test_voice_minutes_run_out_while_text_goes_on(
    served: Callable[..., Any], fake: FakeOpenAI
) -> None:
    # Two minutes a day, one minute per conversation: two voice conversations at once, no third.
    limits = {"voice_minutes_per_day_per_company": 2, "relay_max_session_seconds": 60}
    with served(**limits) as base:
        url = base.replace("http://", "ws://") + "/ws/realtime/acme?mode=voice"
        with connect(url, origin=base) as first, connect(url, origin=base) as second:
            for ws in (first, second):
                recv_until(ws, lambda e: e["type"] == "session.updated", timeout=15)
            spent = _first_answer(base)
            assert (spent["type"], spent["code"], spent["mode"]) == (
                "widget.notice",
                "voice_budget_spent",
                "text",
            )
            assert _outcome(_first_answer(base, mode="text")) == "relayed"  # text: no minutes
            r = requests.post(base + "/api/realtime/session", json={"companyId": "acme"},
                              headers={"Origin": base}, timeout=10)  # fmt: skip
            assert (r.status_code, r.json()["error"]["code"]) == (429, "voice_budget_spent")


def test_a_secret_lives_no_longer_than_the_conversation_may(
    served: Callable[..., Any], fake: FakeOpenAI
) -> None:
    with served(relay_max_session_seconds=120, client_secret_ttl_seconds=600) as base:
        r = requests.post(base + "/api/realtime/session", json={"companyId": "acme"},
                          headers={"Origin": base}, timeout=10)  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["max_duration_seconds"] == 120
        body = fake.client_secret_requests[-1]
        body = body if isinstance(body, dict) else json.loads(body)
        assert body["expires_after"]["seconds"] == 120


def test_the_time_limit_ends_in_text_with_a_notice(
    served: Callable[..., Any], fake: FakeOpenAI
) -> None:
    with served(relay_max_session_seconds=1, relay_idle_timeout_seconds=60) as base:
        url = base.replace("http://", "ws://") + "/ws/realtime/acme?mode=voice"
        with connect(url, origin=base) as ws:
            recv_until(ws, lambda e: e["type"] == "session.updated", timeout=15)
            for _ in range(30):  # the visitor keeps acting, so only the time limit ends it
                ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
            events = recv_until(ws, lambda e: e["type"] == "error", timeout=15)
        notices = [e for e in events if e["type"] == "widget.notice"]
        assert notices and notices[-1]["code"] == "session_expired"
        assert notices[-1]["mode"] == "text"
        assert events[-1]["error"]["code"] == "session_expired"
        record = fake.wait_for(lambda f: f.ws_sessions[-1].closed and f.ws_sessions[-1])
        assert record.closed_by == "client"  # the server closed its upstream


def _forwarded(base: str, forwarded_for: str) -> str:
    url = base.replace("http://", "ws://") + "/ws/realtime/acme?mode=voice"
    headers = {"X-Forwarded-For": forwarded_for}
    with connect(url, origin=base, open_timeout=10, additional_headers=headers) as ws:
        events = recv_until(ws, lambda e: e["type"] in ("session.updated", "widget.notice"), 15)
        return _outcome(events[-1])


@pytest.mark.parametrize("hops", [0, 1])
def test_behind_a_proxy_each_forwarded_visitor_has_an_allowance(
    served: Callable[..., Any], hops: int
) -> None:
    with served(session_rate_per_minute_per_client=1, proxy_hops=hops) as base:
        first = _forwarded(base, "203.0.113.1")
        again = _forwarded(base, "198.51.100.7, 203.0.113.1")  # a client-written entry: ignored
        other = _forwarded(base, "203.0.113.2")
        headers = {"Origin": base, "X-Forwarded-For": "203.0.113.3"}
        r = requests.post(
            base + "/api/realtime/session", json={"companyId": "acme"}, headers=headers, timeout=10
        )
    assert (first, again) == ("relayed", "rate_limited")
    if hops:  # the proxy's X-Forwarded-For names the visitor
        assert (other, r.status_code) == ("relayed", 200)
    else:  # no proxy declared: the header is the client's own claim, never trusted
        assert (other, r.status_code) == ("rate_limited", 429)
