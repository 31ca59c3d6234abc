"""TwilioBridge: mu-law passthrough, barge-in at the heard position, time to first audio."""

from __future__ import annotations

import base64
import json
from typing import Any

from widget_api.phone.twilio_bridge import TwilioBridge

FRAME = base64.b64encode(b"\x7f" * 160).decode()  # 20 ms of mu-law
CHUNK = base64.b64encode(b"\x7f" * 800).decode()  # 100 ms: one mark each


class Wire:
    def __init__(self) -> None:
        self.twilio: list[dict[str, Any]] = []
        self.openai: list[dict[str, Any]] = []
        self.latencies: list[float] = []
        self.now = 0.0

    def bridge(self) -> TwilioBridge:
        bridge = TwilioBridge(
            lambda text: self.twilio.append(json.loads(text)),
            lambda text: self.openai.append(json.loads(text)),
            on_turn_latency=self.latencies.append,
            clock=lambda: self.now,
        )
        bridge.from_twilio(json.dumps({"event": "connected", "protocol": "Call"}))
        bridge.from_twilio(
            json.dumps({"event": "start", "start": {"streamSid": "MZ1", "callSid": "CA1"}})
        )
        return bridge


def media(timestamp: int, payload: str = FRAME) -> str:
    return json.dumps(
        {
            "event": "media",
            "streamSid": "MZ1",
            "media": {"track": "inbound", "timestamp": str(timestamp), "payload": payload},
        }
    )


def delta(item: str = "item_1", payload: str = CHUNK) -> str:
    return json.dumps(
        {
            "type": "response.output_audio.delta",
            "item_id": item,
            "delta": payload,
            "response_id": "r",
            "output_index": 0,
            "content_index": 0,
        }
    )


def test_caller_audio_goes_upstream_byte_for_byte() -> None:
    wire = Wire()
    bridge = wire.bridge()
    bridge.from_twilio(media(0))
    assert wire.openai == [{"type": "input_audio_buffer.append", "audio": FRAME}]


def test_model_audio_goes_to_twilio_unchanged_with_a_mark() -> None:
    wire = Wire()
    bridge = wire.bridge()
    bridge.from_openai(delta())
    assert wire.twilio[0] == {"event": "media", "streamSid": "MZ1", "media": {"payload": CHUNK}}
    assert wire.twilio[1]["event"] == "mark" and wire.twilio[1]["streamSid"] == "MZ1"


def test_barge_in_clears_twilio_and_truncates_at_the_heard_position() -> None:
    wire = Wire()
    bridge = wire.bridge()
    for _ in range(3):  # 300 ms of answer sent
        bridge.from_openai(delta())
    marks = [m["mark"]["name"] for m in wire.twilio if m["event"] == "mark"]
    bridge.from_twilio(
        json.dumps({"event": "mark", "streamSid": "MZ1", "mark": {"name": marks[0]}})
    )
    bridge.from_openai(json.dumps({"type": "input_audio_buffer.speech_started", "item_id": "u1"}))
    assert wire.twilio[-1] == {"event": "clear", "streamSid": "MZ1"}
    assert wire.openai[-1] == {
        "type": "conversation.item.truncate",
        "item_id": "item_1",
        "content_index": 0,
        "audio_end_ms": 100,
    }


def test_no_barge_in_once_the_answer_has_played() -> None:
    wire = Wire()
    bridge = wire.bridge()
    bridge.from_openai(delta())
    mark = wire.twilio[1]["mark"]["name"]
    bridge.from_twilio(json.dumps({"event": "mark", "streamSid": "MZ1", "mark": {"name": mark}}))
    sent = len(wire.twilio)
    bridge.from_openai(json.dumps({"type": "input_audio_buffer.speech_started", "item_id": "u2"}))
    assert len(wire.twilio) == sent and not any(
        e["type"] == "conversation.item.truncate" for e in wire.openai
    )


def test_time_to_first_audio_runs_from_the_last_caller_frame() -> None:
    wire = Wire()
    bridge = wire.bridge()
    for i, at in enumerate((1.00, 1.02, 1.04)):
        wire.now = at
        bridge.from_twilio(media(i * 20))
    wire.now = 1.30  # VAD decides a bit later; the clock runs from the frame at 40 ms
    bridge.from_openai(
        json.dumps(
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 40, "item_id": "u1"}
        )
    )
    wire.now = 1.54
    bridge.from_openai(delta())
    bridge.from_openai(delta())  # only the first delta counts
    assert [round(x) for x in wire.latencies] == [500]


def test_frames_that_are_not_base64_are_dropped() -> None:
    wire = Wire()
    bridge = wire.bridge()
    bridge.from_twilio(media(0, payload='abc","type":"response.create'))
    bridge.from_openai(delta(payload='x"}'))
    assert wire.openai == [] and wire.twilio == []


def test_small_deltas_share_a_mark_and_the_tail_is_marked_at_the_end() -> None:
    wire = Wire()
    bridge = wire.bridge()
    for _ in range(7):  # 140 ms in 20 ms deltas: one mark at 100 ms
        bridge.from_openai(delta(payload=FRAME))
    assert [m["event"] for m in wire.twilio].count("mark") == 1
    bridge.from_openai(json.dumps({"type": "response.output_audio.done", "item_id": "item_1"}))
    assert [m["event"] for m in wire.twilio].count("mark") == 2
