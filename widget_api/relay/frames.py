"""Cheap looks at Realtime frames, so the per-frame path never decodes audio.

Audio frames dominate the traffic (50 a second each way per session). The relay recognises
them by a bounded regex on the frame's start and forwards the text untouched; every other
event is small and rare, and is parsed as JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

from widget_api.errors import CATALOGUE

# The top-level "type" is the first key in every frame our page and OpenAI produce. Only a
# match naming an audio event takes the fast path, so a nested "type" (e.g. an item's
# "function_call") can never be mistaken for one: such frames fall through to json.loads.
_TYPE_RE = re.compile(r'"type"\s*:\s*"([a-z_.]+)"')
_ITEM_ID_RE = re.compile(r'"item_id"\s*:\s*"([^"]*)"')
_DELTA_RE = re.compile(r'"delta"\s*:\s*"')
_PEEK_CHARS = 96

CLIENT_AUDIO = "input_audio_buffer.append"
SERVER_AUDIO = "response.output_audio.delta"

# PCM16 mono at 24 kHz: 48 bytes of audio per millisecond.
BYTES_PER_MS = 48


def peek_type(frame: str) -> str | None:
    """The event type named near the start of a frame, or None."""
    match = _TYPE_RE.search(frame, 0, _PEEK_CHARS)
    return match.group(1) if match else None


def audio_delta_info(frame: str) -> tuple[str | None, float]:
    """(item_id, milliseconds of audio) of an output audio delta, from lengths alone.

    Base64 turns 3 bytes into 4 characters, so the audio length follows from the string
    length; the payload itself is never decoded.
    """
    item = _ITEM_ID_RE.search(frame)
    start = _DELTA_RE.search(frame)
    millis = 0.0
    if start is not None:
        end = frame.find('"', start.end())
        if end > 0:
            millis = (end - start.end()) * 3 / 4 / BYTES_PER_MS
    return (item.group(1) if item else None), millis


def parse(frame: str | bytes) -> dict[str, Any] | None:
    """A JSON object frame, or None when the frame is not one."""
    try:
        value = json.loads(frame)
    except (ValueError, TypeError, RecursionError):  # RecursionError: `[[[[…` frames
        return None
    return value if isinstance(value, dict) else None


def dumps(event: dict[str, Any]) -> str:
    """Compact JSON with the type first, matching what `peek_type` expects."""
    if "type" in event and next(iter(event)) != "type":
        event = {"type": event["type"], **{k: v for k, v in event.items() if k != "type"}}
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def error_event(code: str) -> dict[str, Any]:
    """An `error` server event in the GA shape: a catalogue code with the catalogue's message."""
    message = CATALOGUE[code].message
    return {
        "type": "error",
        "error": {"type": "relay_error", "code": code, "message": message, "param": None},
    }
