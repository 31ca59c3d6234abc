"""Which Realtime and transcription models we use, and which the installed SDK calls deprecated.

OpenAI announces model shutdowns in the `openai` SDK's generated docstrings ("Deprecated values:
... Announced shutdown date: YYYY-MM-DD"). Reading them from the installed SDK, instead of
copying dates here, means upgrading the SDK is enough to learn about the next shutdown. The
files are read as text (not imported): importing `openai` takes seconds, and `check-config`
and start-up should not pay for it.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

# Current, non-deprecated defaults (openai SDK 3.57): a reasoning Realtime model and a
# streaming transcription model that takes a glossary (`keywords`) and `languages`.
DEFAULT_MODEL = "gpt-realtime-2"
DEFAULT_TRANSCRIPTION_MODEL = "gpt-live-transcribe"

# The SDK's `RealtimeReasoningEffort` (a test checks they agree).
ReasoningEffort = Literal["minimal", "low", "medium", "high", "xhigh"]
ModelKind = Literal["realtime", "transcription"]

# Per the SDK docstrings: `keywords` and `languages` are "Supported by `gpt-transcribe` and
# `gpt-live-transcribe`"; `reasoning` only by reasoning Realtime models "such as gpt-realtime-2".
GLOSSARY_TRANSCRIPTION_MODELS = frozenset({"gpt-transcribe", "gpt-live-transcribe"})
_REASONING_MODEL = re.compile(r"^gpt-realtime-2(?:[.-]|$)")

# Where the SDK declares each model field (module, class attribute whose docstring lists them).
_SDK_SOURCES: dict[ModelKind, str] = {
    "realtime": "openai.types.realtime.realtime_session_create_request_param",
    "transcription": "openai.types.realtime.audio_transcription_param",
}
_BULLET = re.compile(r"^\s*-\s+(?P<body>.*)$")
_SHUTDOWN = re.compile(r"Announced\s+shutdown\s+date:\s*(\d{4}-\d{2}-\d{2})")
_QUOTED = re.compile(r'"([^"]+)"')


@dataclass(frozen=True)
class Deprecation:
    """One model the installed SDK marks deprecated, with its announced shutdown date."""

    model: str
    kind: ModelKind
    shutdown_date: str


def supports_reasoning(model: str) -> bool:
    """Whether the session may carry `reasoning` / `parallel_tool_calls` for this model."""
    return bool(_REASONING_MODEL.match(model))


def supports_glossary(transcription_model: str) -> bool:
    """Whether `keywords` and `languages` may be sent with this transcription model."""
    return transcription_model in GLOSSARY_TRANSCRIPTION_MODELS


def parse_deprecations(source: str, kind: ModelKind) -> dict[str, Deprecation]:
    """Model -> deprecation from the "Deprecated values:" bullets of an SDK source file."""
    found: dict[str, Deprecation] = {}
    for block in source.split("Deprecated values:")[1:]:
        for bullet in _bullets(block):
            date = _SHUTDOWN.search(bullet)
            if date is None:
                continue
            names = _QUOTED.findall(bullet[: date.start()])
            for name in names:
                found[name] = Deprecation(name, kind, date.group(1))
    return found


def _bullets(block: str) -> list[str]:
    """The bullet items at the start of a docstring section, each joined onto one line."""
    items: list[str] = []
    for line in block.splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith('"""') or (not stripped and items):
            break
        match = _BULLET.match(line)
        if match:
            items.append(match.group("body"))
        elif items and stripped:
            items[-1] += " " + stripped
    return items


@cache
def sdk_deprecations() -> dict[str, Deprecation]:
    """Every deprecated Realtime and transcription model the installed SDK lists (cached)."""
    found: dict[str, Deprecation] = {}
    for kind, module in _SDK_SOURCES.items():
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            continue
        found.update(parse_deprecations(Path(spec.origin).read_text("utf-8"), kind))
    return found


def deprecation(model: str, kind: ModelKind) -> Deprecation | None:
    """The SDK's deprecation notice for `model` used as `kind`, if there is one."""
    notice = sdk_deprecations().get(model)
    return notice if notice is not None and notice.kind == kind else None


def sdk_version() -> str:
    """The installed `openai` version, for messages that cite it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("openai")
    except PackageNotFoundError:
        return "not installed"
