"""Scripted turns: the GA event order for audio replies, function calls, barge-in and echo."""

from __future__ import annotations

import base64
import json
import struct

from tests.fake_openai import (
    FakeOpenAI,
    FunctionCall,
    OnResponseCreate,
    OnSpeech,
    OnUserText,
    Say,
    Script,
    Turn,
)

FRAME_20MS = b"\x10\x00" * 480  # 20 ms of PCM16 24 kHz
TRANSCRIBE = {"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}

USER_TURN = [
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
    "conversation.item.added",
    "conversation.item.done",
    "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.completed",
]
RESPONSE_HEAD = [
    "response.created",
    "rate_limits.updated",
    "response.output_item.added",
    "conversation.item.added",
]
AUDIO_TAIL = [
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
]


def speak(client, frames: int) -> None:  # type: ignore[no-untyped-def]
    for _ in range(frames):
        client.append_audio(FRAME_20MS)


def test_speech_turn_plays_audio_reply_in_ga_order(fake: FakeOpenAI, connect) -> None:  # type: ignore[no-untyped-def]
    fake.script(
        [
            Turn(
                OnSpeech("How much is it?", min_audio_ms=200),
                Say("It is cheap.", chunks=3, ms_per_chunk=100),
            )
        ]
    )
    client = connect()
    client.send("session.update", session=TRANSCRIBE)
    client.recv_until("session.updated")
    speak(client, 10)
    events = client.recv_until("response.done")
    types = [e["type"] for e in events]
    deltas = ["response.output_audio.delta", "response.output_audio_transcript.delta"] * 3
    assert (
        types == USER_TURN + RESPONSE_HEAD + ["response.content_part.added"] + deltas + AUDIO_TAIL
    )
    by_type = {e["type"]: e for e in events}
    assert by_type["conversation.item.input_audio_transcription.completed"]["transcript"] == (
        "How much is it?"
    )
    assert by_type["response.output_audio_transcript.done"]["transcript"] == "It is cheap."
    audio = b"".join(
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"
    )
    assert len(audio) == 300 * 48  # 300 ms of PCM16 at 24 kHz
    samples = struct.unpack(f"<{len(audio) // 2}h", audio)
    assert max(samples) > 5000  # a real tone, not silence
    done = by_type["response.done"]["response"]
    assert (
        done["status"] == "completed" and done["usage"]["output_token_details"]["audio_tokens"] == 6
    )
    item = by_type["response.output_item.done"]["item"]
    assert item["content"] == [{"type": "output_audio", "transcript": "It is cheap."}]
    assert len({e["event_id"] for e in events}) == len(events)


def test_function_call_round_trip_echoes_tool_output(fake: FakeOpenAI, connect) -> None:  # type: ignore[no-untyped-def]
    fake.script(
        [
            Turn(
                OnSpeech("Pricing?", min_audio_ms=100),
                [
                    FunctionCall("search_knowledge", {"query": "pricing"}),
                    Say("Here is what I found: {tool_output}"),
                ],
            )
        ]
    )
    client = connect()
    speak(client, 6)
    events = client.recv_until("response.done")
    types = [e["type"] for e in events]
    start = types.index("response.created")
    assert types[start:] == RESPONSE_HEAD + [
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    call = next(e for e in events if e["type"] == "response.output_item.done")["item"]
    assert call["type"] == "function_call" and call["name"] == "search_knowledge"
    assert json.loads(call["arguments"]) == {"query": "pricing"}
    assert call["id"].startswith("item_") and call["call_id"].startswith("call_")
    client.send(
        "conversation.item.create",
        item={
            "type": "function_call_output",
            "call_id": call["call_id"],
            "output": '{"plan": "Pro"}',
        },
    )
    client.recv_until("conversation.item.done")
    client.send("response.create")
    reply = client.recv_until("response.done")
    transcript = next(e for e in reply if e["type"] == "response.output_audio_transcript.done")
    assert transcript["transcript"] == 'Here is what I found: {"plan": "Pro"}'
    record = fake.ws_sessions[0]
    outputs = record.received("conversation.item.create")
    assert outputs[0]["item"]["output"] == '{"plan": "Pro"}'


def test_response_create_while_active_is_refused(fake: FakeOpenAI, connect) -> None:  # type: ignore[no-untyped-def]
    fake.script([Turn(OnResponseCreate(), Say("Greeting", hold=True))])
    client = connect()
    client.send("response.create")
    created = client.recv_until("response.created")[-1]
    client.send("response.create", event_id="again")
    error = next(e for e in client.recv_until("error") if e["type"] == "error")
    assert error["error"]["code"] == "conversation_already_has_active_response"
    assert error["error"]["event_id"] == "again"
    client.send("response.cancel")
    done = client.recv_until("response.done")[-1]["response"]
    assert done["id"] == created["response"]["id"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}


def test_speech_barges_in_and_cancels_with_turn_detected(fake: FakeOpenAI, connect) -> None:  # type: ignore[no-untyped-def]
    fake.script(
        [
            Turn(OnResponseCreate(), Say("A long greeting", hold=True)),
            Turn(OnSpeech("Stop.", min_audio_ms=100, barge_in=True), Say("Sure.")),
        ]
    )
    client = connect()
    client.send("response.create")
    first = client.recv_until("response.output_audio.delta")
    item_id = first[-1]["item_id"]
    speak(client, 6)
    events = client.recv_until("response.done")
    types = [e["type"] for e in events]
    assert "input_audio_buffer.speech_started" in types
    done = events[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"]["reason"] == "turn_detected"
    assert done["output"][0]["status"] == "incomplete"
    client.send("conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=50)
    following: list[dict] = []  # the next reply may finish before or after the truncate
    while not ({"conversation.item.truncated", "response.done"} <= {e["type"] for e in following}):
        following.append(client.recv())
    truncated = next(e for e in following if e["type"] == "conversation.item.truncated")
    assert truncated["audio_end_ms"] == 50
    reply = next(e for e in following if e["type"] == "response.done")
    assert reply["response"]["status"] == "completed"


def test_truncate_beyond_audio_length_is_an_error(fake: FakeOpenAI, connect) -> None:  # type: ignore[no-untyped-def]
    fake.script([Turn(OnResponseCreate(), Say("Hi there", chunks=2, ms_per_chunk=100))])
    client = connect()
    client.send("response.create")
    events = client.recv_until("response.done")
    item_id = events[-1]["response"]["output"][0]["id"]
    client.send("conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=201)
    error = client.recv()
    assert error["type"] == "error" and error["error"]["param"] == "audio_end_ms"
    client.send("conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=200)
    assert client.recv()["type"] == "conversation.item.truncated"


def test_user_text_turn_and_text_modality(fake: FakeOpenAI, connect) -> None:  # type: ignore[no-untyped-def]
    fake.script([Turn(OnUserText("demo"), Say("You said: {user_text}", chunks=2))])
    client = connect()
    client.send("session.update", session={"type": "realtime", "output_modalities": ["text"]})
    client.recv_until("session.updated")
    client.send(
        "conversation.item.create",
        item={
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "a demo"}],
        },
    )
    client.send("response.create")
    events = client.recv_until("response.done")
    types = [e["type"] for e in events]
    assert types.count("response.output_text.delta") == 2
    assert "response.output_audio.delta" not in types
    text = next(e for e in events if e["type"] == "response.output_text.done")["text"]
    assert text == "You said: a demo"


def test_unscripted_response_create_plays_fallback(fake: FakeOpenAI, connect) -> None:  # type: ignore[no-untyped-def]
    fake.script(Script(fallback=Say("Fallback words")))
    client = connect()
    client.send("response.create")
    events = client.recv_until("response.done")
    done = next(e for e in events if e["type"] == "response.output_audio_transcript.done")
    assert done["transcript"] == "Fallback words"


def test_echo_mode_returns_each_frame(fake: FakeOpenAI, connect) -> None:  # type: ignore[no-untyped-def]
    fake.script(echo=True)
    client = connect()
    payloads = [base64.b64encode(bytes([i]) * 960).decode() for i in range(5)]
    for payload in payloads:
        client.send("input_audio_buffer.append", audio=payload)
    echoed = [client.recv() for _ in payloads]
    assert [e["type"] for e in echoed] == ["response.output_audio.delta"] * 5
    assert [e["delta"] for e in echoed] == payloads
    record = fake.wait_for(lambda f: f.ws_sessions[0].audio_frames == 5 and f.ws_sessions[0])
    assert record.audio_bytes == 5 * 960 and record.events == []


def test_response_create_options_are_validated(connect) -> None:  # type: ignore[no-untyped-def]
    client = connect()
    client.send("response.create", event_id="r1", response={"modalities": ["text"]})
    error = client.recv()["error"]
    assert (error["code"], error["param"], error["event_id"]) == (
        "unknown_parameter",
        "response.modalities",
        "r1",
    )


def test_out_of_band_response_is_not_added_to_the_conversation(
    fake: FakeOpenAI,
    connect,  # type: ignore[no-untyped-def]
) -> None:
    client = connect()
    client.send("response.create", response={"conversation": "none", "metadata": {"k": "v"}})
    events = client.recv_until("response.done")
    types = [e["type"] for e in events]
    assert "conversation.item.added" not in types and "response.output_item.added" in types
    done = events[-1]["response"]
    assert done["conversation_id"] is None and done["metadata"] == {"k": "v"}
    record = fake.wait_for(lambda f: f.ws_sessions[0].responses and f.ws_sessions[0])
    assert record.responses[0]["status"] == "completed"
    assert record.responses[0]["metadata"] == {"k": "v"}


def test_reset_forgets_recordings_faults_and_script(fake: FakeOpenAI, connect) -> None:  # type: ignore[no-untyped-def]
    fake.script([Turn(OnResponseCreate(), Say("scripted"))])
    fake.set_fault("http_500", endpoint="client_secrets")
    connect().close()
    fake.wait_for(lambda f: f.ws_sessions and f.ws_sessions[0].closed)
    fake.reset()
    assert fake.ws_sessions == [] and fake.client_secret_requests == []
    client = connect()
    client.send("response.create")
    done = next(
        e
        for e in client.recv_until("response.done")
        if e["type"] == "response.output_audio_transcript.done"
    )
    assert done["transcript"] == "Okay."  # the default fallback, not the old script
    assert fake.ws_sessions[0].id == 2  # ids keep counting, so old and new never mix up


def test_g711_output_format_streams_8khz_mulaw(fake: FakeOpenAI, connect) -> None:  # type: ignore[no-untyped-def]
    fake.script([Turn(OnResponseCreate(), Say("Phone call", chunks=2, ms_per_chunk=100))])
    client = connect()
    client.send(
        "session.update",
        session={"type": "realtime", "audio": {"output": {"format": {"type": "audio/pcmu"}}}},
    )
    client.recv_until("session.updated")
    client.send("response.create")
    events = client.recv_until("response.done")
    audio = b"".join(
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"
    )
    assert len(audio) == 200 * 8  # 200 ms at 8 kHz, one byte per sample
    assert len(set(audio)) > 20  # a tone, not mu-law silence (0xFF)
    assert events[-1]["response"]["audio"]["output"]["format"] == {"type": "audio/pcmu"}
