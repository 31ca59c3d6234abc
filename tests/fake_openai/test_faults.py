"""Fault injection per endpoint, and a stop() that never hangs on held connections."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

from tests.fake_openai import FakeOpenAI, OnResponseCreate, Say, Turn
from tests.fake_openai.client import RealtimeTestClient

BODY = {"session": {"type": "realtime"}}


def mint(fake: FakeOpenAI, timeout: float = 5.0) -> httpx.Response:
    return httpx.post(
        fake.base_url + "/realtime/client_secrets",
        json=BODY,
        timeout=timeout,
        headers={"Authorization": f"Bearer {fake.api_key}"},
    )


def open_ws(fake: FakeOpenAI, timeout: float = 5.0) -> RealtimeTestClient:
    return RealtimeTestClient(
        fake.ws_url + "?model=gpt-realtime", api_key=fake.api_key, timeout=timeout
    )


def test_http_500_uses_the_error_envelope(fake: FakeOpenAI) -> None:
    fake.set_fault("http_500", endpoint="client_secrets", times=1)
    answer = mint(fake)
    assert answer.status_code == 500
    assert answer.json()["error"]["type"] == "server_error"
    assert mint(fake).status_code == 200  # times=1 used up


def test_slow_answer_outlasts_a_short_client_timeout(fake: FakeOpenAI) -> None:
    fake.set_fault("slow", endpoint="client_secrets", seconds=3)
    with pytest.raises(httpx.ReadTimeout):
        mint(fake, timeout=0.3)


def test_slow_answer_still_answers(fake: FakeOpenAI) -> None:
    fake.set_fault("slow", endpoint="client_secrets", seconds=0.2, times=1)
    assert mint(fake).status_code == 200


def test_malformed_json_body(fake: FakeOpenAI) -> None:
    fake.set_fault("malformed_json", endpoint="client_secrets")
    answer = mint(fake)
    assert answer.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        answer.json()


def test_close_mid_response_drops_the_body(fake: FakeOpenAI) -> None:
    fake.set_fault("close_mid_response", endpoint="client_secrets")
    with pytest.raises(httpx.RemoteProtocolError):
        mint(fake)


def test_refuse_one_endpoint_closes_without_answer(fake: FakeOpenAI) -> None:
    fake.set_fault("refuse", endpoint="client_secrets")
    with pytest.raises(httpx.RemoteProtocolError):
        mint(fake)
    with open_ws(fake) as client:  # the other endpoint is unaffected
        assert client.recv()["type"] == "session.created"


def test_refuse_everything_stops_listening_until_cleared(fake: FakeOpenAI) -> None:
    fake.set_fault("refuse")
    with pytest.raises(httpx.ConnectError):
        mint(fake)
    fake.clear_faults()
    assert mint(fake).status_code == 200


def test_never_answer_holds_until_client_gives_up(fake: FakeOpenAI) -> None:
    fake.set_fault("never_answer", endpoint="client_secrets")
    with pytest.raises(httpx.ReadTimeout):
        mint(fake, timeout=0.3)


def test_faults_are_per_endpoint(fake: FakeOpenAI) -> None:
    fake.set_fault("http_500", endpoint="realtime")
    assert mint(fake).status_code == 200
    with pytest.raises(InvalidStatus) as info:
        open_ws(fake)
    assert info.value.response.status_code == 500


def test_ws_refuse_fails_the_handshake(fake: FakeOpenAI) -> None:
    fake.set_fault("refuse", endpoint="realtime")
    with pytest.raises(InvalidMessage):
        open_ws(fake)


def test_ws_slow_and_never_answer_time_out_the_handshake(fake: FakeOpenAI) -> None:
    fake.set_fault("never_answer", endpoint="realtime")
    with pytest.raises(TimeoutError):
        open_ws(fake, timeout=0.3)


def test_ws_malformed_frame_comes_first(fake: FakeOpenAI) -> None:
    fake.set_fault("malformed_json", endpoint="realtime")
    with open_ws(fake) as client:
        with pytest.raises(json.JSONDecodeError):
            client.recv()
        assert client.recv()["type"] == "session.created"


@pytest.mark.parametrize("close_code", [1011, None])
def test_ws_closes_mid_response(fake: FakeOpenAI, close_code: int | None) -> None:
    fake.script([Turn(OnResponseCreate(), Say("one two three four", chunks=4))])
    fake.set_fault("close_mid_response", endpoint="realtime", after_deltas=2, close_code=close_code)
    with open_ws(fake) as client:
        client.send("response.create")
        seen = []
        with pytest.raises(ConnectionClosed) as info:
            while True:
                seen.append(client.recv()["type"])
        assert "response.output_audio.delta" in seen and "response.done" not in seen
        if close_code is None:
            assert info.value.rcvd is None  # TCP dropped, no close frame
        else:
            assert info.value.rcvd is not None and info.value.rcvd.code == close_code
    record = fake.wait_for(lambda f: f.ws_sessions[0].closed and f.ws_sessions[0])
    assert record.closed_by == "server"


def test_stop_does_not_hang_with_held_connections() -> None:
    fake = FakeOpenAI().start()
    fake.set_fault("never_answer", endpoint="client_secrets")
    outcome: list[BaseException | None] = []

    def held() -> None:
        try:
            mint(fake, timeout=30)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)

    worker = threading.Thread(target=held)
    worker.start()
    fake.wait_for(lambda f: len(f.client_secret_requests) == 1)
    client = open_ws(fake)
    started = time.monotonic()
    fake.stop()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert isinstance(outcome[0], httpx.RemoteProtocolError)
    with pytest.raises(ConnectionClosed) as info:
        while True:
            client.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1001
    assert time.monotonic() - started < 10  # generous bound: guards against a hang only


def test_ws_session_expires_with_error_then_close(fake: FakeOpenAI) -> None:
    fake.set_fault("session_expired", endpoint="realtime", seconds=0.2)
    with open_ws(fake) as client:
        types = [client.recv()["type"] for _ in range(2)]
        assert types == ["session.created", "conversation.created"]
        error = client.recv()
        assert error["type"] == "error" and error["error"]["code"] == "session_expired"
        with pytest.raises(ConnectionClosed) as info:
            client.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1000
