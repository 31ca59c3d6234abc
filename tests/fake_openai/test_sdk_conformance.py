"""The fake against the installed `openai` SDK's types: what it emits and what it accepts."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.fake_openai import (
    FakeOpenAI,
    FunctionCall,
    OnResponseCreate,
    OnSpeech,
    OnUserText,
    Say,
    Turn,
)
from tests.fake_openai.sdk_types import (
    SdkMismatch,
    check_client_event,
    check_server_event,
    check_session,
)

FRAME_20MS = b"\x10\x00" * 480
# Everything the SDK 3.57 session type offers that the product or a company may use.
CURRENT_SESSION: dict[str, Any] = {
    "type": "realtime",
    "model": "gpt-realtime-2",
    "reasoning": {"effort": "low"},
    "parallel_tool_calls": False,
    "output_modalities": ["audio"],
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "transcription": {
                "model": "gpt-live-transcribe",
                "keywords": ["Acme Relay", "Growth plan"],
                "languages": ["en", "de"],
            },
            "noise_reduction": {"type": "far_field", "strength": 0.6},
            "turn_detection": {"type": "semantic_vad", "eagerness": "low"},
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "cedar"},
    },
    "truncation": {
        "type": "retention_ratio",
        "retention_ratio": 0.8,
        "token_limits": {"post_instructions": 8000},
    },
}
WHISPER_DELAY = {
    "type": "realtime",
    "audio": {"input": {"transcription": {"model": "gpt-realtime-whisper", "delay": "minimal"}}},
}
TEXT_ONLY = {"type": "realtime", "output_modalities": ["text"]}


def _validated(events: list[dict[str, Any]]) -> list[str]:
    for event in events:
        check_server_event(event)
    return [e["type"] for e in events]


def test_every_event_of_a_voice_tool_and_text_conversation_is_sdk_typed(
    fake: FakeOpenAI, connect
) -> None:  # type: ignore[no-untyped-def]
    fake.script(
        [
            Turn(OnResponseCreate(), Say("Hi there.", chunks=2)),
            Turn(
                OnSpeech("Pricing?", min_audio_ms=100),
                [FunctionCall("search_knowledge", {"query": "pricing"}), Say("{tool_output}")],
            ),
            Turn(OnUserText("bye"), Say("Bye.", chunks=1)),
        ]
    )
    client = connect(skip_greeting=False)
    seen = _validated([client.recv(), client.recv()])
    client.send("session.update", session=CURRENT_SESSION)
    seen += _validated(client.recv_until("session.updated"))
    client.send("response.create")
    seen += _validated(client.recv_until("response.done"))
    for _ in range(6):
        client.append_audio(FRAME_20MS)
    events = client.recv_until("response.done")
    seen += _validated(events)
    call = next(e for e in events if e["type"] == "response.output_item.done")["item"]
    output = {"type": "function_call_output", "call_id": call["call_id"], "output": '{"ok":1}'}
    client.send("conversation.item.create", item=output)
    seen += _validated(client.recv_until("conversation.item.done"))
    client.send("response.create")
    seen += _validated(client.recv_until("response.done"))
    client.send("session.update", session=TEXT_ONLY)
    seen += _validated(client.recv_until("session.updated"))
    text = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "bye"}]}
    client.send("conversation.item.create", item=text)
    client.send("response.create")
    seen += _validated(client.recv_until("response.done"))
    expected = {
        "session.created", "conversation.created", "session.updated", "response.created",
        "rate_limits.updated", "response.output_item.added", "conversation.item.added",
        "response.content_part.added", "response.output_audio.delta",
        "response.output_audio_transcript.delta", "response.output_audio.done",
        "response.output_audio_transcript.done", "response.content_part.done",
        "response.output_item.done", "conversation.item.done", "response.done",
        "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed", "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.completed",
        "response.function_call_arguments.delta", "response.function_call_arguments.done",
        "response.output_text.delta", "response.output_text.done",
    }  # fmt: skip
    assert expected <= set(seen)


def test_error_cancel_truncate_and_buffer_events_are_sdk_typed(fake: FakeOpenAI, connect) -> None:  # type: ignore[no-untyped-def]
    fake.script([Turn(OnResponseCreate(), Say("Long answer", chunks=2, hold=True))])
    client = connect()
    client.send("response.create")
    events = client.recv_until("response.output_audio.delta")
    events += client.recv_until("response.output_audio.delta")
    item_id = next(e for e in events if e["type"] == "response.output_item.added")["item"]["id"]
    client.send("response.create")  # refused: one is active
    events += client.recv_until("error")
    client.send("response.cancel")
    events += client.recv_until("response.done")
    client.send("conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=50)
    events += client.recv_until("conversation.item.truncated")
    client.send("conversation.item.retrieve", item_id=item_id)
    events += client.recv_until("conversation.item.retrieved")
    client.send("conversation.item.delete", item_id=item_id)
    events += client.recv_until("conversation.item.deleted")
    client.send("input_audio_buffer.clear")
    events += client.recv_until("input_audio_buffer.cleared")
    seen = _validated(events)
    assert {"error", "conversation.item.truncated", "conversation.item.deleted"} <= set(seen)
    done = [e for e in events if e["type"] == "response.done"][-1]
    assert done["response"]["status"] == "cancelled"


@pytest.mark.parametrize("session", [CURRENT_SESSION, WHISPER_DELAY, TEXT_ONLY])
def test_fake_accepts_what_the_sdk_accepts(connect, session: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    check_session(session)
    check_client_event({"type": "session.update", "session": session})
    client = connect()
    client.send("session.update", session=session)
    updated = client.recv()
    assert updated["type"] == "session.updated", updated
    check_server_event(updated)


def test_fake_client_secrets_accept_current_session(fake: FakeOpenAI) -> None:
    import openai

    client = openai.OpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0)
    secret = client.realtime.client_secrets.create(session=copy.deepcopy(CURRENT_SESSION))  # type: ignore[arg-type]
    assert secret.value.startswith("ek_")
    assert fake.client_secret_requests[-1]["session"]["reasoning"] == {"effort": "low"}


@pytest.mark.parametrize(
    ("session", "param"),
    [
        ({"type": "realtime", "temperature": 0.8}, "session.temperature"),
        ({"type": "realtime", "modalities": ["audio"]}, "session.modalities"),
        ({"type": "realtime", "reasoning": {"effort": "max"}}, "session.reasoning.effort"),
        (
            {"type": "realtime", "audio": {"input": {"transcription": {"delay": "soon"}}}},
            "session.audio.input.transcription.delay",
        ),
    ],
)
def test_fake_and_sdk_both_refuse(connect, session: dict[str, Any], param: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SdkMismatch):
        check_session(session)
    client = connect()
    client.send("session.update", session=session)
    error = client.recv()
    assert error["type"] == "error" and error["error"]["param"] == param
    check_server_event(error)


def test_unknown_event_field_is_reported() -> None:
    event = {"type": "input_audio_buffer.cleared", "event_id": "e1", "surprise": json.dumps(1)}
    with pytest.raises(SdkMismatch, match="surprise"):
        check_server_event(event)


@pytest.mark.parametrize("status", ["failed", "incomplete"])
def test_failed_and_incomplete_responses_are_sdk_typed(
    fake: FakeOpenAI, connect, status: str
) -> None:  # type: ignore[no-untyped-def]
    from tests.fake_openai import Fail

    fake.script([Turn(OnResponseCreate(), Fail(status))])
    client = connect()
    client.send("response.create")
    done = client.recv_until("response.done")[-1]
    parsed = check_server_event(done)
    assert parsed.response.status == status
    assert parsed.response.status_details.type == status


def test_failed_transcription_is_sdk_typed(fake: FakeOpenAI, connect) -> None:  # type: ignore[no-untyped-def]
    fake.script([Turn(OnSpeech("Hm?", min_audio_ms=100, transcription_fails=True), Say("Sorry?"))])
    client = connect()
    client.send("session.update", session=CURRENT_SESSION)
    client.recv_until("session.updated")
    for _ in range(6):
        client.append_audio(FRAME_20MS)
    failed = client.recv_until("conversation.item.input_audio_transcription.failed")[-1]
    check_server_event(failed)
