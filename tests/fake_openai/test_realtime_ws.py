"""The Realtime WebSocket: handshake auth, beta refusal, client events and their errors."""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.fake_openai import FakeOpenAI
from tests.fake_openai.client import RealtimeTestClient


def test_standard_key_header_opens_a_session(fake: FakeOpenAI) -> None:
    with RealtimeTestClient(fake.ws_url + "?model=gpt-realtime", api_key=fake.api_key) as client:
        created = client.recv()
        assert created["type"] == "session.created" and created["event_id"].startswith("event_")
        assert created["session"]["type"] == "realtime"
        assert created["session"]["model"] == "gpt-realtime"
        conversation = client.recv()
        assert conversation["type"] == "conversation.created"
        assert conversation["conversation"]["id"].startswith("conv_")
        assert client.ws.subprotocol is None
    record = fake.wait_for_connection()
    assert (record.auth, record.model, record.transport) == ("api_key", "gpt-realtime", "websocket")
    assert fake.api_key not in str(record.headers)


def test_ephemeral_subprotocol_opens_the_secrets_session(fake: FakeOpenAI) -> None:
    ek = fake.mint_secret(
        {"type": "realtime", "instructions": "Be brief.", "audio": {"output": {"voice": "cedar"}}}
    )
    protocols = ["realtime", f"openai-insecure-api-key.{ek}"]
    with RealtimeTestClient(fake.ws_url, subprotocols=protocols) as client:
        assert client.ws.subprotocol == "realtime"
        session = client.recv()["session"]
        assert session["instructions"] == "Be brief."
        assert session["audio"]["output"]["voice"] == "cedar"
    record = fake.wait_for_connection()
    assert record.auth == "ephemeral" and ek not in str(record.headers)


@pytest.mark.parametrize("how", ["wrong_key", "unknown_ek", "expired_ek", "no_auth"])
def test_bad_auth_is_401_at_handshake(fake: FakeOpenAI, how: str) -> None:
    ek = fake.mint_secret()
    if how == "expired_ek":
        fake.expire_secret(ek)
    kwargs = {
        "wrong_key": {"api_key": "sk-wrong"},
        "unknown_ek": {"subprotocols": ["realtime", "openai-insecure-api-key.ek_nope"]},
        "expired_ek": {"subprotocols": ["realtime", f"openai-insecure-api-key.{ek}"]},
        "no_auth": {},
    }[how]
    with pytest.raises(InvalidStatus) as info:
        RealtimeTestClient(fake.ws_url + "?model=gpt-realtime", **kwargs)  # type: ignore[arg-type]
    assert info.value.response.status_code == 401


@pytest.mark.parametrize("beta", ["header", "subprotocol"])
def test_beta_shape_gets_error_and_close_4000(fake: FakeOpenAI, beta: str) -> None:
    ek = fake.mint_secret()
    if beta == "header":
        kwargs = {"api_key": fake.api_key, "headers": {"OpenAI-Beta": "realtime=v1"}}
    else:
        kwargs = {
            "subprotocols": ["realtime", f"openai-insecure-api-key.{ek}", "openai-beta.realtime-v1"]
        }
    with RealtimeTestClient(fake.ws_url + "?model=gpt-realtime", **kwargs) as client:  # type: ignore[arg-type]
        event = client.recv()
        assert event["type"] == "error"
        assert event["error"]["code"] == "beta_api_shape_disabled"
        with pytest.raises(ConnectionClosed) as info:
            client.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 4000


def test_session_update_requires_type_and_echoes_event_id(connect) -> None:  # type: ignore[no-untyped-def]
    client = connect()
    client.send("session.update", event_id="evt_1", session={"instructions": "x"})
    error = client.recv()
    assert error["type"] == "error"
    assert error["error"]["code"] == "missing_required_parameter"
    assert error["error"]["param"] == "session.type"
    assert error["error"]["event_id"] == "evt_1"


@pytest.mark.parametrize(
    ("session", "param", "code"),
    [
        ({"type": "realtime", "temperature": 0.7}, "session.temperature", "unknown_parameter"),
        (
            {"type": "realtime", "audio": {"output": {"voice": "nova"}}},
            "session.audio.output.voice",
            "invalid_value",
        ),
        (
            {"type": "realtime", "output_modalities": ["text", "audio"]},
            "session.output_modalities",
            "invalid_value",
        ),
    ],
)
def test_session_update_validation(connect, session, param, code) -> None:  # type: ignore[no-untyped-def]
    client = connect()
    client.send("session.update", session=session)
    error = client.recv()["error"]
    assert (error["param"], error["code"]) == (param, code)


def test_session_update_changes_only_sent_fields(connect, fake: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    client = connect()
    client.send(
        "session.update",
        session={
            "type": "realtime",
            "instructions": "Hi",
            "audio": {"input": {"turn_detection": None}},
        },
    )
    updated = client.recv()
    assert updated["type"] == "session.updated"
    assert updated["session"]["instructions"] == "Hi"
    assert updated["session"]["audio"]["input"]["turn_detection"] is None
    assert updated["session"]["audio"]["output"]["voice"] == "alloy"
    record = fake.wait_for(lambda f: f.ws_sessions[0].received("session.update"))
    assert record[0]["session"]["instructions"] == "Hi"


def test_commit_of_empty_buffer_is_an_error(connect) -> None:  # type: ignore[no-untyped-def]
    client = connect()
    client.send("input_audio_buffer.commit", event_id="c1")
    error = client.recv()["error"]
    assert (error["code"], error["event_id"]) == ("input_audio_buffer_commit_empty", "c1")


def test_manual_commit_and_clear(connect, fake: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    client = connect()
    client.send(
        "session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    )
    client.recv()
    client.append_audio(b"\x00\x01" * 2400)  # 100 ms
    client.send("input_audio_buffer.clear")
    assert client.recv()["type"] == "input_audio_buffer.cleared"
    client.append_audio(b"\x00\x01" * 4800)  # 200 ms
    client.send("input_audio_buffer.commit")
    events = client.recv_until("conversation.item.done")
    assert [e["type"] for e in events] == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert events[0]["item_id"] == events[2]["item"]["id"]
    assert events[2]["item"]["role"] == "user"
    record = fake.ws_sessions[0]
    assert (record.audio_frames, record.audio_bytes) == (2, 14400)
    assert "input_audio_buffer.append" not in [e["type"] for e in record.events]


@pytest.mark.parametrize(
    ("event", "code"),
    [
        ({"type": "no.such.event"}, "invalid_value"),
        ({"type": "input_audio_buffer.append", "audio": "***"}, "invalid_value"),
        (
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_audio", "audio": "AAAA"}],
                },
            },
            "invalid_value",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": "call_unknown", "output": "{}"},
            },
            "invalid_tool_call_id",
        ),
        (
            {
                "type": "conversation.item.truncate",
                "item_id": "item_x",
                "content_index": 0,
                "audio_end_ms": 0,
            },
            "item_not_found",
        ),
        ({"type": "response.cancel"}, "response_cancel_not_active"),
    ],
)
def test_bad_client_events_get_error_events(connect, event, code) -> None:  # type: ignore[no-untyped-def]
    client = connect()
    client.send_event(event)
    reply = client.recv()
    assert reply["type"] == "error" and reply["error"]["code"] == code
    client.send("input_audio_buffer.clear")  # the session stays open after an error
    assert client.recv()["type"] == "input_audio_buffer.cleared"


def test_non_json_frame_is_an_error_event(connect) -> None:  # type: ignore[no-untyped-def]
    client = connect()
    client.ws.send("not json")
    assert client.recv()["error"]["code"] == "invalid_json"


def test_user_text_item_is_added_and_done(connect) -> None:  # type: ignore[no-untyped-def]
    client = connect()
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
    client.send("conversation.item.create", item=item)
    added, done = client.recv(), client.recv()
    assert (added["type"], done["type"]) == ("conversation.item.added", "conversation.item.done")
    assert done["item"]["id"].startswith("item_") and done["item"]["status"] == "completed"
    assert done["item"]["content"] == item["content"]


def test_switching_vad_type_starts_from_its_defaults(connect) -> None:  # type: ignore[no-untyped-def]
    client = connect()
    semantic = {"type": "semantic_vad", "eagerness": "high"}
    client.send(
        "session.update",
        session={"type": "realtime", "audio": {"input": {"turn_detection": semantic}}},
    )
    td = client.recv()["session"]["audio"]["input"]["turn_detection"]
    assert td == {
        "type": "semantic_vad",
        "eagerness": "high",
        "create_response": True,
        "interrupt_response": True,
    }
    client.send(
        "session.update",
        session={
            "type": "realtime",
            "audio": {"input": {"turn_detection": {"type": "server_vad"}}},
        },
    )
    td = client.recv()["session"]["audio"]["input"]["turn_detection"]
    assert td["threshold"] == 0.5 and "eagerness" not in td
