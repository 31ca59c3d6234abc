"""GA Realtime wire constants and envelope builders shared by the fake's REST and WS sides.

Shapes follow `shared/docs/realtime-protocol.md` (GA only): REST errors use OpenAI's
`{"error": {message, type, param, code}}` envelope, WebSocket errors the `error` server event.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

GA_VOICES = frozenset(
    {"alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"}
)
AUDIO_FORMAT_TYPES = frozenset({"audio/pcm", "audio/pcmu", "audio/pcma"})
TOOL_CHOICE_MODES = frozenset({"auto", "none", "required"})
BETA_SUBPROTOCOL_PREFIX = "openai-beta."
EPHEMERAL_SUBPROTOCOL_PREFIX = "openai-insecure-api-key."
PCM_RATE = 24000
DEFAULT_MODEL = "gpt-realtime"
DEFAULT_SECRET_TTL = 600


def new_id(prefix: str) -> str:
    """An OpenAI-looking id such as `item_3f9c...`; random so ids never collide across runs."""
    return f"{prefix}_{secrets.token_hex(10)}"


def now() -> int:
    return int(time.time())


def rest_error(
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """OpenAI's REST error envelope."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def error_event(
    code: str | None,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    client_event_id: str | None = None,
) -> dict[str, Any]:
    """The `error` server event; `event_id` inside `error` echoes the failing client event."""
    return {
        "type": "error",
        "error": {
            "type": type_,
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_event_id,
        },
    }


def default_session(model: str = DEFAULT_MODEL) -> dict[str, Any]:
    """The effective GA session a fresh connection starts with (server defaults)."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": new_id("sess"),
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": 0,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": PCM_RATE},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": vad_defaults("server_vad"),
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": PCM_RATE},
                "voice": "alloy",
                "speed": 1.0,
            },
        },
        "include": None,
    }


def vad_defaults(kind: str) -> dict[str, Any]:
    """The server's defaults for one turn-detection type (§5.2)."""
    if kind == "semantic_vad":
        return {
            "type": "semantic_vad",
            "eagerness": "auto",
            "create_response": True,
            "interrupt_response": True,
        }
    return {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }


def bytes_per_ms(audio_format: dict[str, Any] | None) -> int:
    """Audio bytes per millisecond: PCM16 at 24 kHz is 48, G.711 at 8 kHz is 8."""
    if audio_format and audio_format.get("type") in ("audio/pcmu", "audio/pcma"):
        return 8
    return 48


# The SDK types `session.created` / `session.updated` with the *request* session model, which
# has no `id`, `object` or `expires_at` (those belong to the client secret answer only).
RESPONSE_ONLY_SESSION_KEYS = frozenset({"id", "object", "expires_at"})


def event_session(session: dict[str, Any]) -> dict[str, Any]:
    """The session as `session.created` / `session.updated` carry it."""
    return {k: v for k, v in session.items() if k not in RESPONSE_ONLY_SESSION_KEYS}
