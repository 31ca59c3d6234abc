"""The effective session: server defaults plus what the client asked for, as the API reports it."""

from __future__ import annotations

import copy
from typing import Any

from .protocol import default_session, vad_defaults

# Objects that are values, not bags of settings: a new one replaces the old one entirely.
WHOLE = frozenset({"voice", "format", "transcription", "noise_reduction", "prompt", "tracing"})


def merge_session(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Apply a (validated) partial session to an effective one: only sent fields change.

    Objects merge key by key; lists, strings and `null` replace (so `[]` clears tools and
    `null` turns VAD off, as in session.update). A turn detection of another `type` (or one
    replacing `null`) starts from that type's defaults: server_vad knobs never leak into
    semantic_vad.
    """
    merged = copy.deepcopy(base)
    for key, value in update.items():
        current = merged.get(key)
        if key == "turn_detection" and isinstance(value, dict):
            if not isinstance(current, dict) or current.get("type") != value.get("type"):
                current = vad_defaults(str(value.get("type")))
            merged[key] = {**current, **copy.deepcopy(value)}
        elif isinstance(value, dict) and isinstance(current, dict) and key not in WHOLE:
            merged[key] = merge_session(current, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def effective_session(requested: dict[str, Any] | None, model: str | None = None) -> dict[str, Any]:
    """The full session the server would report for a requested (validated) partial one."""
    requested = dict(requested or {})
    base = default_session(model or str(requested.get("model") or "gpt-realtime"))
    return merge_session(base, requested)
