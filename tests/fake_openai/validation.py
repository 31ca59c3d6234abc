"""Validation of GA session objects, as the real API does for client secrets and session.update.

Errors carry OpenAI's `param` path and code (`missing_required_parameter`, `unknown_parameter`,
`invalid_type`, `invalid_value`, `integer_below_min_value`, ...), so callers can assert on them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .protocol import (
    AUDIO_FORMAT_TYPES,
    DEFAULT_SECRET_TTL,
    GA_VOICES,
    PCM_RATE,
    TOOL_CHOICE_MODES,
)

SESSION_KEYS = frozenset(
    {
        "type",
        "model",
        "instructions",
        "output_modalities",
        "audio",
        "tools",
        "tool_choice",
        "max_output_tokens",
        "truncation",
        "tracing",
        "prompt",
        "include",
        "reasoning",
        "parallel_tool_calls",
    }
)
REASONING_EFFORTS = frozenset({"minimal", "low", "medium", "high", "xhigh"})
TRANSCRIPTION_DELAYS = frozenset({"minimal", "low", "medium", "high", "xhigh"})
TURN_DETECTION_KEYS = frozenset(
    {
        "type",
        "threshold",
        "prefix_padding_ms",
        "silence_duration_ms",
        "idle_timeout_ms",
        "create_response",
        "interrupt_response",
        "eagerness",
    }
)
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class InvalidRequest(Exception):
    """A request the real API would refuse with `invalid_request_error`."""

    def __init__(self, message: str, *, param: str | None, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


def _type_name(expected: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        bool: "a boolean",
        dict: "an object",
        list: "an array",
        float: "a number",
    }
    if isinstance(expected, tuple):
        return " or ".join(names.get(t, t.__name__) for t in expected)
    return names.get(expected, expected.__name__)


def _require_type(value: Any, expected: type | tuple[type, ...], param: str) -> None:
    ok = isinstance(value, expected) and not (
        isinstance(value, bool) and expected in (int, float, (int, float))
    )
    if not ok:
        raise InvalidRequest(
            f"Invalid type for '{param}': expected {_type_name(expected)}.",
            param=param,
            code="invalid_type",
        )


def _check_keys(obj: dict[str, Any], allowed: frozenset[str], prefix: str) -> None:
    for key in obj:
        if key not in allowed:
            raise InvalidRequest(
                f"Unknown parameter: '{prefix}.{key}'.",
                param=f"{prefix}.{key}",
                code="unknown_parameter",
            )


def _choice(value: Any, allowed: frozenset[str] | set[str], param: str) -> None:
    if value not in allowed:
        raise InvalidRequest(
            f"Invalid value: {value!r}. Supported values are: "
            + ", ".join(repr(v) for v in sorted(allowed))
            + ".",
            param=param,
            code="invalid_value",
        )


def _range(value: Any, low: float, high: float, param: str, *, integer: bool) -> None:
    _require_type(value, int if integer else (int, float), param)
    kind = "integer" if integer else "decimal"
    if value < low:
        raise InvalidRequest(
            f"Invalid '{param}': {kind} below minimum value. Expected a value >= {low:g}, "
            f"but got {value} instead.",
            param=param,
            code=f"{kind}_below_min_value",
        )
    if value > high:
        raise InvalidRequest(
            f"Invalid '{param}': {kind} above maximum value. Expected a value <= {high:g}, "
            f"but got {value} instead.",
            param=param,
            code=f"{kind}_above_max_value",
        )


def validate_expires_after(value: Any) -> int:
    """Return the TTL in seconds; anchor must be `created_at`, seconds 10..7200."""
    param = "expires_after"
    _require_type(value, dict, param)
    _check_keys(value, frozenset({"anchor", "seconds"}), param)
    if "anchor" not in value:
        raise InvalidRequest(
            "Missing required parameter: 'expires_after.anchor'.",
            param="expires_after.anchor",
            code="missing_required_parameter",
        )
    _choice(value["anchor"], {"created_at"}, "expires_after.anchor")
    seconds = value.get("seconds", DEFAULT_SECRET_TTL)
    _range(seconds, 10, 7200, "expires_after.seconds", integer=True)
    return int(seconds)


def validate_session(session: Any, prefix: str = "session") -> None:
    """Validate a GA realtime session object (full or partial); `type` is always required."""
    _require_type(session, dict, prefix)
    if "type" not in session:
        raise InvalidRequest(
            f"Missing required parameter: '{prefix}.type'.",
            param=f"{prefix}.type",
            code="missing_required_parameter",
        )
    _choice(session["type"], {"realtime"}, f"{prefix}.type")
    _check_keys(session, SESSION_KEYS, prefix)
    for key, check in _FIELD_CHECKS.items():
        if key in session:
            check(session[key], f"{prefix}.{key}")


def _check_str(value: Any, param: str) -> None:
    _require_type(value, str, param)


def _check_modalities(value: Any, param: str) -> None:
    _require_type(value, list, param)
    for i, item in enumerate(value):
        _choice(item, {"audio", "text"}, f"{param}[{i}]")
    if len(value) != 1:
        raise InvalidRequest(
            f"Invalid value for '{param}': exactly one of 'audio' or 'text' is supported.",
            param=param,
            code="invalid_value",
        )


def _check_format(value: Any, param: str) -> None:
    _require_type(value, dict, param)
    _check_keys(value, frozenset({"type", "rate"}), param)
    _choice(value.get("type"), AUDIO_FORMAT_TYPES, f"{param}.type")
    if value["type"] == "audio/pcm":
        if value.get("rate", PCM_RATE) != PCM_RATE:
            _choice(value.get("rate"), {PCM_RATE}, f"{param}.rate")  # type: ignore[arg-type]
    elif "rate" in value:
        raise InvalidRequest(
            f"Unknown parameter: '{param}.rate'.",
            param=f"{param}.rate",
            code="unknown_parameter",
        )


def _check_turn_detection(value: Any, param: str) -> None:
    if value is None:
        return
    _require_type(value, dict, param)
    _check_keys(value, TURN_DETECTION_KEYS, param)
    _choice(value.get("type"), {"server_vad", "semantic_vad"}, f"{param}.type")
    if "threshold" in value:
        _range(value["threshold"], 0.0, 1.0, f"{param}.threshold", integer=False)
    for key in ("prefix_padding_ms", "silence_duration_ms"):
        if key in value:
            _range(value[key], 0, 10_000, f"{param}.{key}", integer=True)
    if value.get("idle_timeout_ms") is not None:
        if value["type"] != "server_vad":
            raise InvalidRequest(
                f"Unknown parameter: '{param}.idle_timeout_ms'.",
                param=f"{param}.idle_timeout_ms",
                code="unknown_parameter",
            )
        _range(value["idle_timeout_ms"], 5000, 30000, f"{param}.idle_timeout_ms", integer=True)
    for key in ("create_response", "interrupt_response"):
        if key in value:
            _require_type(value[key], bool, f"{param}.{key}")
    if "eagerness" in value:
        _choice(value["eagerness"], {"low", "medium", "high", "auto"}, f"{param}.eagerness")


def _check_audio_input(value: Any, param: str) -> None:
    _require_type(value, dict, param)
    _check_keys(
        value, frozenset({"format", "transcription", "noise_reduction", "turn_detection"}), param
    )
    if "format" in value:
        _check_format(value["format"], f"{param}.format")
    if value.get("transcription") is not None:
        _check_transcription(value["transcription"], f"{param}.transcription")
    if value.get("noise_reduction") is not None:
        sub = f"{param}.noise_reduction"
        _require_type(value["noise_reduction"], dict, sub)
        _check_keys(value["noise_reduction"], frozenset({"type", "strength"}), sub)
        if "type" in value["noise_reduction"]:
            _choice(value["noise_reduction"]["type"], {"near_field", "far_field"}, f"{sub}.type")
        if "strength" in value["noise_reduction"]:
            _require_type(value["noise_reduction"]["strength"], (int, float), f"{sub}.strength")
    if "turn_detection" in value:
        _check_turn_detection(value["turn_detection"], f"{param}.turn_detection")


def _check_transcription(value: Any, param: str) -> None:
    """`{model, language, prompt, delay, keywords, languages}` as the SDK's AudioTranscription."""
    _require_type(value, dict, param)
    allowed = {"model", "language", "prompt", "delay", "keywords", "languages"}
    _check_keys(value, frozenset(allowed), param)
    for key in ("model", "language", "prompt"):
        if key in value:
            _require_type(value[key], str, f"{param}.{key}")
    if "delay" in value:
        _choice(value["delay"], TRANSCRIPTION_DELAYS, f"{param}.delay")
    for key in ("keywords", "languages"):
        if key in value:
            _require_type(value[key], list, f"{param}.{key}")
            for i, item in enumerate(value[key]):
                _require_type(item, str, f"{param}.{key}[{i}]")


def _check_reasoning(value: Any, param: str) -> None:
    _require_type(value, dict, param)
    _check_keys(value, frozenset({"effort"}), param)
    if "effort" in value:
        _choice(value["effort"], REASONING_EFFORTS, f"{param}.effort")


def _check_bool(value: Any, param: str) -> None:
    _require_type(value, bool, param)


def _check_voice(value: Any, param: str) -> None:
    if isinstance(value, dict):
        _check_keys(value, frozenset({"id"}), param)
        _require_type(value.get("id"), str, f"{param}.id")
        return
    _require_type(value, str, param)
    _choice(value, GA_VOICES, param)


def _check_audio_output(value: Any, param: str) -> None:
    _require_type(value, dict, param)
    _check_keys(value, frozenset({"format", "voice", "speed"}), param)
    if "format" in value:
        _check_format(value["format"], f"{param}.format")
    if "voice" in value:
        _check_voice(value["voice"], f"{param}.voice")
    if "speed" in value:
        _range(value["speed"], 0.25, 1.5, f"{param}.speed", integer=False)


def _check_audio(value: Any, param: str) -> None:
    _require_type(value, dict, param)
    _check_keys(value, frozenset({"input", "output"}), param)
    if "input" in value:
        _check_audio_input(value["input"], f"{param}.input")
    if "output" in value:
        _check_audio_output(value["output"], f"{param}.output")


def _check_tool(tool: Any, param: str) -> None:
    _require_type(tool, dict, param)
    if tool.get("type") == "mcp":
        _require_type(tool.get("server_label"), str, f"{param}.server_label")
        return
    _choice(tool.get("type"), {"function", "mcp"}, f"{param}.type")
    _check_keys(tool, frozenset({"type", "name", "description", "parameters"}), param)
    if "name" not in tool:
        raise InvalidRequest(
            f"Missing required parameter: '{param}.name'.",
            param=f"{param}.name",
            code="missing_required_parameter",
        )
    _require_type(tool["name"], str, f"{param}.name")
    if not TOOL_NAME.match(tool["name"]):
        raise InvalidRequest(
            f"Invalid '{param}.name': string does not match pattern '^[a-zA-Z0-9_-]+$'.",
            param=f"{param}.name",
            code="invalid_value",
        )
    if "description" in tool:
        _require_type(tool["description"], str, f"{param}.description")
    if "parameters" in tool:
        _require_type(tool["parameters"], dict, f"{param}.parameters")
        if tool["parameters"].get("type") != "object":
            raise InvalidRequest(
                f"Invalid schema for function '{tool['name']}': schema must be a JSON Schema "
                "of 'type: \"object\"'.",
                param=f"{param}.parameters",
                code="invalid_function_parameters",
            )


def _check_tools(value: Any, param: str) -> None:
    _require_type(value, list, param)
    names: set[str] = set()
    for i, tool in enumerate(value):
        _check_tool(tool, f"{param}[{i}]")
        name = tool.get("name")
        if name in names:
            raise InvalidRequest(
                f"Invalid '{param}': duplicate function name {name!r}.",
                param=f"{param}[{i}].name",
                code="invalid_value",
            )
        if name:
            names.add(name)


def _check_tool_choice(value: Any, param: str) -> None:
    if isinstance(value, str):
        _choice(value, TOOL_CHOICE_MODES, param)
        return
    _require_type(value, dict, param)
    _choice(value.get("type"), {"function", "mcp"}, f"{param}.type")
    if value["type"] == "function":
        _check_keys(value, frozenset({"type", "name"}), param)
        _require_type(value.get("name"), str, f"{param}.name")


def _check_max_tokens(value: Any, param: str) -> None:
    if value != "inf":
        _range(value, 1, 4096, param, integer=True)


def _check_truncation(value: Any, param: str) -> None:
    if isinstance(value, str):
        _choice(value, {"auto", "disabled"}, param)
        return
    _require_type(value, dict, param)
    _check_keys(value, frozenset({"type", "retention_ratio", "token_limits"}), param)
    _choice(value.get("type"), {"retention_ratio"}, f"{param}.type")
    _range(value.get("retention_ratio"), 0.0, 1.0, f"{param}.retention_ratio", integer=False)
    if "token_limits" in value:
        _require_type(value["token_limits"], dict, f"{param}.token_limits")


def _check_tracing(value: Any, param: str) -> None:
    if value is None or value == "auto":
        return
    _require_type(value, dict, param)
    _check_keys(value, frozenset({"workflow_name", "group_id", "metadata"}), param)


def _check_prompt(value: Any, param: str) -> None:
    if value is not None:
        _require_type(value, dict, param)
        _require_type(value.get("id"), str, f"{param}.id")


def _check_include(value: Any, param: str) -> None:
    if value is None:
        return
    _require_type(value, list, param)
    for i, item in enumerate(value):
        _choice(item, {"item.input_audio_transcription.logprobs"}, f"{param}[{i}]")


_FIELD_CHECKS: dict[str, Callable[[Any, str], None]] = {
    "model": _check_str,
    "instructions": _check_str,
    "output_modalities": _check_modalities,
    "audio": _check_audio,
    "tools": _check_tools,
    "tool_choice": _check_tool_choice,
    "max_output_tokens": _check_max_tokens,
    "truncation": _check_truncation,
    "tracing": _check_tracing,
    "prompt": _check_prompt,
    "include": _check_include,
    "reasoning": _check_reasoning,
    "parallel_tool_calls": _check_bool,
}


RESPONSE_KEYS = frozenset(
    {
        "output_modalities",
        "instructions",
        "tools",
        "tool_choice",
        "audio",
        "max_output_tokens",
        "prompt",
        "metadata",
        "conversation",
        "input",
        "reasoning",
        "parallel_tool_calls",
    }
)


def validate_response_options(options: Any) -> None:
    """Validate `response.create`'s `response` object (GA fields; no Beta `modalities`...)."""
    _require_type(options, dict, "response")
    _check_keys(options, RESPONSE_KEYS, "response")
    checks: dict[str, Callable[[Any, str], None]] = {
        "output_modalities": _check_modalities,
        "instructions": _check_str,
        "tools": _check_tools,
        "tool_choice": _check_tool_choice,
        "max_output_tokens": _check_max_tokens,
        "prompt": _check_prompt,
        "reasoning": _check_reasoning,
        "parallel_tool_calls": _check_bool,
    }
    for key, check in checks.items():
        if key in options:
            check(options[key], f"response.{key}")
    if "conversation" in options:
        _choice(options["conversation"], {"auto", "none"}, "response.conversation")
    if "audio" in options:
        audio = options["audio"]
        _require_type(audio, dict, "response.audio")
        _check_keys(audio, frozenset({"output"}), "response.audio")
        if "output" in audio:
            _require_type(audio["output"], dict, "response.audio.output")
            _check_keys(audio["output"], frozenset({"format", "voice"}), "response.audio.output")
            if "format" in audio["output"]:
                _check_format(audio["output"]["format"], "response.audio.output.format")
            if "voice" in audio["output"]:
                _check_voice(audio["output"]["voice"], "response.audio.output.voice")
    if options.get("metadata") is not None:
        _require_type(options["metadata"], dict, "response.metadata")
    if "input" in options:
        _require_type(options["input"], list, "response.input")
