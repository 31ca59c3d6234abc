"""The relay (`/ws/realtime/<companyId>`) against the loopback fake of the Realtime API.

The page side is a plain WebSocket client; tools run for real (knowledge base, CRM).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.fake_openai import FakeOpenAI, FunctionCall, OnSpeech, OnUserText, Say, Turn, sine_pcm16
from tests.widget.conftest import recv_until, serve, user_text_events

FRAME = base64.b64encode(sine_pcm16(20)).decode()
APPEND = json.dumps({"type": "input_audio_buffer.append", "audio": FRAME})


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def relay_url(make_app: Any, fake: FakeOpenAI) -> Iterator[str]:
    app = make_app(openai_api_key=SecretStr(fake.api_key), openai_base_url=fake.base_url)
    with serve(app) as base:
        yield base.replace("http://", "ws://") + "/ws/realtime/acme"


@pytest.fixture
def page(relay_url: str):  # type: ignore[no-untyped-def]
    """Open the relay as the widget page would (Origin: the server itself)."""
    opened = []

    def _open(mode: str = "voice", origin: str | None = None) -> Any:
        base = relay_url.split("/ws/")[0].replace("ws://", "http://")
        ws = connect(f"{relay_url}?mode={mode}", origin=origin or base, open_timeout=5)
        opened.append(ws)
        return ws

    yield _open
    for ws in opened:
        ws.close()


def test_audio_is_forwarded_both_ways(page, fake: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    fake.script(echo=True)
    before = len(fake.ws_sessions)
    ws = page()
    recv_until(ws, lambda e: e["type"] == "session.updated")
    for _ in range(25):
        ws.send(APPEND)
    deltas = []
    while len(deltas) < 25:
        event = json.loads(ws.recv(timeout=5))
        if event["type"] == "response.output_audio.delta":
            deltas.append(event["delta"])
    assert set(deltas) == {FRAME}
    record = fake.wait_for(
        lambda f: (
            len(f.ws_sessions) > before
            and f.ws_sessions[-1].audio_frames >= 25
            and f.ws_sessions[-1]
        )
    )
    assert record.auth == "api_key" and record.audio_bytes == 25 * 960
    # The server configured the session (instructions and our tools), not the page.
    update = record.received("session.update")[0]["session"]
    assert {t["name"] for t in update["tools"]} >= {"search_knowledge", "log_lead"}
    assert "Acme" in update["instructions"]


def test_function_call_runs_search_knowledge_and_output_reaches_the_model(
    page, fake: FakeOpenAI
) -> None:  # type: ignore[no-untyped-def]
    fake.script([Turn(OnUserText(), [
        FunctionCall(
            "search_knowledge", {"query": "price of the Growth plan"}, call_id="call_growth"
        ),
        Say("Here is what I found: {tool_output}"),
    ])])  # fmt: skip
    ws = page(mode="text")
    recv_until(ws, lambda e: e["type"] == "session.updated")
    for frame in user_text_events("How much is Growth?"):
        ws.send(frame)
    events = recv_until(
        ws, lambda e: e["type"] == "response.output_text.done" and "found" in e["text"]
    )
    card = next(e for e in events if e["type"] == "widget.tool_result")
    assert card["name"] == "search_knowledge" and card["ok"] is True
    assert any("Growth" in p["text"] for p in card["result"]["passages"])
    assert '"passages"' in events[-1]["text"]  # the tool output went back to the model
    record = fake.ws_sessions[-1]
    outputs = record.received("conversation.item.create")
    output = next(e["item"] for e in outputs if e["item"]["type"] == "function_call_output")
    assert output["call_id"] == "call_growth" and "passages" in json.loads(output["output"])
    assert record.session.get("output_modalities") == ["text"]


def test_barge_in_truncates_at_the_heard_position(page, fake: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    fake.script([
        Turn(OnUserText(), Say("Long.", chunks=40, ms_per_chunk=100, pace_s=0.01, hold=True)),
        Turn(OnSpeech(transcript="Wait", barge_in=True, start_ms=20, min_audio_ms=200)),
    ])  # fmt: skip
    ws = page()
    recv_until(ws, lambda e: e["type"] == "session.updated")
    for frame in user_text_events("Tell me everything"):
        ws.send(frame)
    deltas: list[dict[str, Any]] = []
    while len(deltas) < 5:  # 500 ms of audio reached the page; it reports 300 ms played
        deltas.append(recv_until(ws, lambda e: e["type"] == "response.output_audio.delta")[-1])
    item_id = deltas[-1]["item_id"]
    ws.send(json.dumps({"type": "widget.playback", "item_id": item_id, "played_ms": 300}))
    for _ in range(5):
        ws.send(APPEND)
    recv_until(ws, lambda e: e["type"] == "input_audio_buffer.speech_started")
    record = fake.wait_for(lambda f: f.ws_sessions[-1].received("conversation.item.truncate"))
    truncate = record[0]
    assert truncate["item_id"] == item_id and truncate["content_index"] == 0
    assert 300 <= truncate["audio_end_ms"] < 4000


def test_upstream_close_gives_an_error_event_and_a_clean_close(page, fake: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    fake.script([Turn(OnUserText(), Say("Hello there.", chunks=6))])
    fake.set_fault("close_mid_response", endpoint="realtime", after_deltas=1, times=1)
    try:
        ws = page()
        recv_until(ws, lambda e: e["type"] == "session.updated")
        for frame in user_text_events("Hi"):
            ws.send(frame)
        events = recv_until(ws, lambda e: e["type"] == "error")
        assert events[-1]["error"]["code"] == "upstream_error"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    finally:
        fake.clear_faults()


def test_page_cannot_change_the_session(page, fake: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    fake.script([])
    ws = page()
    recv_until(ws, lambda e: e["type"] == "session.updated")
    ws.send(
        json.dumps({"type": "session.update", "session": {"type": "realtime", "instructions": "x"}})
    )
    event = recv_until(ws, lambda e: e["type"] == "error")[-1]
    assert event["error"]["code"] == "event_not_allowed"
    assert len(fake.ws_sessions[-1].received("session.update")) == 1


@pytest.mark.parametrize(
    ("path", "origin", "status"),
    [
        ("/ws/realtime/acme", "https://evil.example", 403),
        ("/ws/realtime/acme", None, 403),
        ("/ws/realtime/nope", "https://acme-relay.example", 404),
    ],
)
def test_handshake_is_refused(relay_url: str, path: str, origin: str | None, status: int) -> None:
    url = relay_url.split("/ws/")[0] + path
    with pytest.raises(InvalidStatus) as info:
        connect(url, origin=origin, open_timeout=5)  # type: ignore[arg-type]
    assert info.value.response.status_code == status


def test_allowed_customer_origin_is_accepted(page, fake: FakeOpenAI, customer_port: int) -> None:  # type: ignore[no-untyped-def]
    ws = page(origin=f"http://127.0.0.1:{customer_port}")
    assert recv_until(ws, lambda e: e["type"] == "session.updated")


def test_unreachable_openai_falls_back_to_the_local_engine(page, fake: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    fake.set_fault("http_500", endpoint="realtime", times=1)
    try:
        ws = page(mode="voice")
        notice = recv_until(ws, lambda e: e["type"] == "widget.notice")[-1]
        assert notice["mode"] == "text" and notice["code"] == "upstream_error"
        for frame in user_text_events("Which integrations do you support?"):
            ws.send(frame)
        done = recv_until(ws, lambda e: e["type"] == "response.output_text.done")[-1]
        assert "Source:" in done["text"]
    finally:
        fake.clear_faults()
