"""Duration and idle caps, and the page leaving, through the real route and relay loop."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.fake_openai import FakeOpenAI
from tests.widget.conftest import recv_until, serve


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        server.script([])
        yield server


def _open(make_app: Any, fake: FakeOpenAI, **limits: Any) -> Iterator[Any]:
    app = make_app(openai_api_key=SecretStr(fake.api_key), openai_base_url=fake.base_url, **limits)
    with serve(app) as base:
        url = base.replace("http://", "ws://") + "/ws/realtime/acme"
        with connect(url, origin=base, open_timeout=5) as ws:
            recv_until(ws, lambda e: e["type"] == "session.updated")
            yield ws


@pytest.mark.parametrize(
    ("limits", "feed", "code"),
    [
        ({"relay_max_session_seconds": 60, "relay_idle_timeout_seconds": 1}, False, "session_idle"),
        (
            {"relay_max_session_seconds": 1, "relay_idle_timeout_seconds": 60},
            True,
            "session_expired",
        ),
    ],
)
def test_caps_end_the_conversation_with_an_error_event(
    make_app: Any, fake: FakeOpenAI, limits: dict[str, int], feed: bool, code: str
) -> None:
    for ws in _open(make_app, fake, **limits):
        if feed:  # the visitor keeps acting, so only the duration cap can end it
            for _ in range(30):
                ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
        error = recv_until(ws, lambda e: e["type"] == "error", timeout=10)[-1]
        assert error["error"]["code"] == code
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1000, code)
    record = fake.wait_for(lambda f: f.ws_sessions[-1].closed and f.ws_sessions[-1])
    assert record.closed_by == "client"


def test_page_leaving_closes_the_upstream(make_app: Any, fake: FakeOpenAI) -> None:
    for ws in _open(make_app, fake):
        ws.close()
    record = fake.wait_for(lambda f: f.ws_sessions[-1].closed and f.ws_sessions[-1])
    assert record.closed_by == "client"


def test_a_frame_over_the_relay_limit_gets_an_error_event(make_app: Any, fake: FakeOpenAI) -> None:
    # A socket limit above the relay's own (256 KB), so the relay's check is the one that answers.
    for ws in _open(make_app, fake, ws_max_message_bytes=512 * 1024):
        ws.send(json.dumps({"type": "conversation.item.create", "pad": "x" * 300_000}))
        error = recv_until(ws, lambda e: e["type"] == "error")[-1]
        assert error["error"]["code"] == "event_not_allowed"


def test_a_message_over_the_socket_limit_closes_with_1009(make_app: Any, fake: FakeOpenAI) -> None:
    for ws in _open(make_app, fake):
        ws.send("x" * (1024 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_a_fragmented_message_is_reassembled(make_app: Any, fake: FakeOpenAI) -> None:
    audio = base64.b64encode(bytes(960)).decode()
    frame = json.dumps({"type": "input_audio_buffer.append", "audio": audio})
    for ws in _open(make_app, fake):
        ws.send([frame[:40], frame[40:500], frame[500:]])  # three WebSocket frames, one message
        record = fake.wait_for(lambda f: f.ws_sessions[-1].audio_frames >= 1 and f.ws_sessions[-1])
        assert record.audio_bytes == 960
