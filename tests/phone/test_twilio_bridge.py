"""TwilioBridge: mu-law passthrough, barge-in at the heard position, time to first audio/text."""

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
        self.latencies: list[tuple[float | None, float | None]] = []
        self.now = 0.0

    def bridge(self) -> TwilioBridge:
        bridge = TwilioBridge(
            lambda text: self.twilio.append(json.loads(text)),
            lambda text: self.openai.append(json.loads(text)),
            on_turn_latency=lambda audio, text: self.latencies.append((audio, text)),
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


def event(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})


def text_delta(response: str = "r", kind: str = "response.output_audio_transcript.delta") -> str:
    return event(kind, response_id=response, item_id="item_1", output_index=0, content_index=0,
                 delta="Hi")  # fmt: skip


def created(response: str = "r", conversation: str | None = "conv_1") -> str:
    return event("response.created", response={"id": response, "conversation_id": conversation})


def done(response: str = "r") -> str:
    return event("response.done", response={"id": response, "status": "completed"})


def caller_spoke(wire: Wire, bridge: TwilioBridge, start: float = 1.0, end_ms: int = 40) -> None:
    """Three caller frames 20 ms apart from `start`; VAD calls the end a bit later."""
    for i in range(3):
        wire.now = start + i * 0.02
        bridge.from_twilio(media(i * 20))
    wire.now = start + 0.30  # the clock runs from the frame at `end_ms`, not from now
    bridge.from_openai(event("input_audio_buffer.speech_stopped", audio_end_ms=end_ms,
                             item_id="u1"))  # fmt: skip


def rounded(figures: list[tuple[float | None, float | None]]) -> list[tuple[Any, ...]]:
    return [tuple(None if x is None else round(x) for x in pair) for pair in figures]


def test_time_to_first_audio_and_text_run_from_the_last_caller_frame() -> None:
    wire = Wire()
    bridge = wire.bridge()
    caller_spoke(wire, bridge)
    bridge.from_openai(created())
    wire.now = 1.44
    bridge.from_openai(text_delta())
    wire.now = 1.54
    bridge.from_openai(delta())
    bridge.from_openai(delta())  # only the first delta counts
    bridge.from_openai(text_delta())
    assert wire.latencies == []  # stored once the answer is done
    bridge.from_openai(done())
    bridge.from_openai(done())
    assert rounded(wire.latencies) == [(500, 400)]


def test_a_text_only_answer_stores_its_first_text_delta() -> None:
    wire = Wire()
    bridge = wire.bridge()
    caller_spoke(wire, bridge)
    wire.now = 1.34
    bridge.from_openai(text_delta(kind="response.output_text.delta"))
    bridge.from_openai(done())
    assert rounded(wire.latencies) == [(None, 300)]


def test_a_tool_only_response_leaves_the_turn_open_for_the_answer() -> None:
    wire = Wire()
    bridge = wire.bridge()
    caller_spoke(wire, bridge)
    bridge.from_openai(created("r_tool"))
    bridge.from_openai(done("r_tool"))  # a function call: no audio, no text
    bridge.from_openai(created("r_answer"))
    wire.now = 1.84
    bridge.from_openai(text_delta("r_answer"))
    bridge.from_openai(delta())
    bridge.from_openai(done("r_answer"))
    assert rounded(wire.latencies) == [(800, 800)]


def test_out_of_band_text_is_not_an_answer() -> None:
    wire = Wire()
    bridge = wire.bridge()
    caller_spoke(wire, bridge)
    bridge.from_openai(created("r_summary", conversation=None))  # the end-of-call summary
    bridge.from_openai(text_delta("r_summary", kind="response.output_text.delta"))
    bridge.from_openai(done("r_summary"))
    bridge.finish()
    assert wire.latencies == []


def test_an_answer_cut_off_by_barge_in_is_stored_once_and_the_next_turn_apart() -> None:
    wire = Wire()
    bridge = wire.bridge()
    caller_spoke(wire, bridge)
    wire.now = 1.54
    bridge.from_openai(text_delta("r1"))
    bridge.from_openai(delta())
    bridge.from_openai(event("input_audio_buffer.speech_started", item_id="u2"))
    bridge.from_openai(delta())  # a late chunk of the cut answer counts for nothing
    caller_spoke(wire, bridge, start=3.0)  # the next turn starts before r1 is done
    bridge.from_openai(done("r1"))
    wire.now = 3.34
    bridge.from_openai(text_delta("r2"))
    bridge.from_openai(delta())
    bridge.from_openai(done("r2"))
    assert rounded(wire.latencies) == [(500, 500), (300, 300)]


def test_a_turn_the_end_of_the_call_cut_off_is_stored_at_finish() -> None:
    wire = Wire()
    bridge = wire.bridge()
    caller_spoke(wire, bridge)
    wire.now = 1.54
    bridge.from_openai(delta())
    bridge.finish()
    bridge.finish()
    assert rounded(wire.latencies) == [(500, None)]


def test_the_agent_reads_every_event_but_audio_and_vad() -> None:
    forwarded: list[str] = []
    bridge = TwilioBridge(lambda text: None, lambda text: None, on_event=forwarded.append)
    bridge.from_twilio(json.dumps({"event": "start", "start": {"streamSid": "MZ1"}}))
    events = [
        delta(), event("input_audio_buffer.speech_stopped", audio_end_ms=0), created(),
        text_delta(), event("response.output_audio.done", item_id="item_1"), done(),
    ]  # fmt: skip
    for text in events:
        bridge.from_openai(text)
    assert [json.loads(t)["type"] for t in forwarded] == [
        "response.created", "response.output_audio_transcript.delta",
        "response.output_audio.done", "response.done",
    ]  # fmt: skip


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
