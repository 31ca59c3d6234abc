"""Declarative scripts for the fake Realtime model: what the "user" says and how the model replies.

A `Script` is an ordered list of `Turn`s. Each connection walks the list with its own cursor: the
next turn starts when its trigger happens (speech, a user text item, or `response.create`), and its
replies play one per response. A `FunctionCall` reply ends a response; the next reply waits for the
client's `function_call_output` item and `response.create`, exactly as a real model would.

Reply text may contain `{tool_output}` (the output the client sent for the latest function call)
and `{user_text}` (the latest user text or scripted speech transcript), so a test can prove that a
tool result or a user message reached the model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OnSpeech:
    """The user speaks: simulated server VAD over the input audio the client streams.

    `speech_started` fires once `start_ms` of audio has arrived since the last commit, and
    `speech_stopped` + commit + user item + transcription once `min_audio_ms` has arrived.
    Audio counts only while the model is idle (no active response, no reply waiting for a
    tool output), unless `barge_in=True`: then it also counts mid-response and `speech_started`
    cancels the response (`turn_detected`). With `min_rms > 0`, PCM16 frames quieter than that
    RMS count as silence; otherwise the audio's content is never analysed, only its length.
    """

    transcript: str = "Hello?"
    min_audio_ms: int = 300
    start_ms: int = 20
    barge_in: bool = False
    min_rms: float = 0.0
    # The transcription fails: `...input_audio_transcription.failed` instead of delta/completed.
    transcription_fails: bool = False


@dataclass(frozen=True)
class OnUserText:
    """A user `message` item with `input_text` content (containing `contains`, if given)."""

    contains: str | None = None


@dataclass(frozen=True)
class OnResponseCreate:
    """A client `response.create` when no replies are pending (e.g. a greeting)."""


Trigger = OnSpeech | OnUserText | OnResponseCreate


@dataclass(frozen=True)
class Say:
    """The model speaks `text`: audio deltas (a real 24 kHz PCM16 tone) with a transcript.

    With `output_modalities: ["text"]` the same reply streams as `response.output_text.*`.
    `pace_s` pauses between deltas so a barge-in can land mid-response; `hold` keeps the
    response active after the last delta until it is cancelled (deterministic barge-in tests).
    """

    text: str = "Hello from the fake model."
    chunks: int = 4
    ms_per_chunk: int = 100
    frequency_hz: float = 440.0
    pace_s: float = 0.0
    hold: bool = False
    delay_s: float = 0.0  # before the first delta: added time to first audio (latency tests)


@dataclass(frozen=True)
class FunctionCall:
    """The model calls a function tool; arguments stream in `chunks` deltas."""

    name: str
    arguments: str | Mapping[str, Any] = "{}"
    call_id: str | None = None
    chunks: int = 2

    @property
    def arguments_text(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments))


@dataclass(frozen=True)
class Fail:
    """The response ends without an answer: `response.done` with status `failed` (an error in
    `status_details`) or `incomplete` (`reason`, e.g. `max_output_tokens`)."""

    status: str = "failed"  # "failed" | "incomplete"
    reason: str | None = None
    code: str = "server_error"


Reply = Say | FunctionCall | Fail


@dataclass(frozen=True)
class Turn:
    """One exchange: a trigger and the model replies it leads to (one response each)."""

    trigger: Trigger
    replies: Sequence[Reply] | Reply = ()

    def __post_init__(self) -> None:
        if isinstance(self.replies, Say | FunctionCall | Fail):
            object.__setattr__(self, "replies", (self.replies,))
        else:
            object.__setattr__(self, "replies", tuple(self.replies))


@dataclass(frozen=True)
class Script:
    """What every new connection plays. `fallback` answers an unscripted `response.create`.

    `echo=True` turns the model into an echo: each `input_audio_buffer.append` is answered at once
    with a `response.output_audio.delta` carrying the same base64 payload (relay benchmark).
    """

    turns: Sequence[Turn] = ()
    fallback: Reply | None = field(default_factory=lambda: Say("Okay."))
    echo: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "turns", tuple(self.turns))


def render(text: str, *, tool_output: str, user_text: str) -> str:
    """Fill the `{tool_output}` and `{user_text}` placeholders (no other braces are touched)."""
    return text.replace("{tool_output}", tool_output).replace("{user_text}", user_text)
