"""The GA Realtime session object for one company (protocol reference §1.1, §5).

The same object goes into the client secret (WebRTC straight from the browser) and into the
relay's `session.update`, so both transports behave identically.
"""

from __future__ import annotations

from typing import Any

from widget_api.companies.models import CompanyConfig, SemanticVad, ServerVad
from widget_api.realtime.models import supports_glossary, supports_reasoning

# 16-bit PCM at 24 kHz is the only PCM rate the GA API accepts, in and out.
PCM_24K: dict[str, Any] = {"type": "audio/pcm", "rate": 24000}
# G.711 mu-law at 8 kHz: what telephone networks (Twilio, SIP) carry, passed through unchanged.
PCMU: dict[str, Any] = {"type": "audio/pcmu"}


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


def transcription(company: CompanyConfig) -> dict[str, Any]:
    """`audio.input.transcription`: the model, plus glossary and languages where it takes them."""
    primary = company.language.split("-")[0]
    out: dict[str, Any] = {"model": company.transcription_model}
    if supports_glossary(company.transcription_model):
        out["languages"] = list(company.transcription_languages or [primary])
        if company.transcription_keywords:
            out["keywords"] = list(company.transcription_keywords)
    else:
        out["language"] = primary
    return out


def build_session(
    company: CompanyConfig,
    tools: list[dict[str, Any]],
    *,
    instructions: str,
    audio_format: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A `type: "realtime"` session: audio out, voice, VAD, transcription, tools, reasoning.

    `audio_format` is 24 kHz PCM for browsers and `PCMU` for phone calls (no resampling).
    """
    fmt = audio_format or PCM_24K
    session: dict[str, Any] = {
        "type": "realtime",
        "model": company.model,
        "instructions": instructions,
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": dict(fmt),
                "transcription": transcription(company),
                "noise_reduction": {"type": "near_field"},
                "turn_detection": turn_detection(company.turn_detection),
            },
            "output": {"format": dict(fmt), "voice": company.voice},
        },
        "tools": tools,
        "tool_choice": "auto",
    }
    if company.reasoning_effort is not None and supports_reasoning(company.model):
        session["reasoning"] = {"effort": company.reasoning_effort}
    return session
