"""The GA Realtime session object for one company (protocol reference §1.1, §5).

The same object goes into the client secret (WebRTC straight from the browser) and into the
relay's `session.update`, so both transports behave identically.
"""

from __future__ import annotations

from typing import Any

from widget_api.companies.models import CompanyConfig, SemanticVad, ServerVad

# 16-bit PCM at 24 kHz is the only PCM rate the GA API accepts, in and out.
PCM_24K: dict[str, Any] = {"type": "audio/pcm", "rate": 24000}


def turn_detection(config: ServerVad | SemanticVad) -> dict[str, Any]:
    """The GA `audio.input.turn_detection` object; the model answers and can be interrupted."""
    common = {"create_response": True, "interrupt_response": True}
    if isinstance(config, SemanticVad):
        return {"type": "semantic_vad", "eagerness": config.eagerness, **common}
    out: dict[str, Any] = {
        "type": "server_vad",
        "threshold": config.threshold,
        "prefix_padding_ms": config.prefix_padding_ms,
        "silence_duration_ms": config.silence_duration_ms,
        **common,
    }
    if config.idle_timeout_ms is not None:
        out["idle_timeout_ms"] = config.idle_timeout_ms
    return out


def build_session(
    company: CompanyConfig, tools: list[dict[str, Any]], *, instructions: str
) -> dict[str, Any]:
    """A `type: "realtime"` session: audio out, 24 kHz PCM, voice, VAD, transcription, tools."""
    return {
        "type": "realtime",
        "model": company.model,
        "instructions": instructions,
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": dict(PCM_24K),
                "transcription": {
                    "model": company.transcription_model,
                    "language": company.language.split("-")[0],
                },
                "noise_reduction": {"type": "near_field"},
                "turn_detection": turn_detection(company.turn_detection),
            },
            "output": {"format": dict(PCM_24K), "voice": company.voice},
        },
        "tools": tools,
        "tool_choice": "auto",
    }
