"""The widget's own events on the conversation socket, as typed models (data, no behaviour).

Every `widget.*` event the server sends the page, and every one the page may send, is declared
here once. The relay, the local engine and the sideband build their events through these
models; `embed_widget/protocol.js` is generated from them (`python -m widget_api.protocol`) and
`widget.js` reads event names and fields only from it (tests/widget/test_protocol.py checks
both ways). The cards a tool result turns into are the tools' own `Result` models.

To add an event: declare its model here, add it to SERVER_EVENTS or CLIENT_EVENTS, regenerate
protocol.js, then handle it in widget.js through `P.events`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from widget_api.vocabulary import CHANNELS, LEAD_STATUSES, TOOL_NAMES, TRANSPORTS


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- server -> page ------------------------------------------------------------------------
class HistoryLine(BaseModel):
    role: Literal["user", "assistant"]
    text: str


class WidgetSession(_Event):
    """The conversation's resume token, and its history when it continues an earlier one."""

    type: Literal["widget.session"] = "widget.session"
    resume_token: str
    resumed: bool
    history: list[HistoryLine] = Field(default_factory=list)


class WidgetNotice(_Event):
    """Voice is not available (or has ended): the page goes on in text mode."""

    type: Literal["widget.notice"] = "widget.notice"
    mode: Literal["text"] = "text"
    code: str  # a catalogue code: why voice is off
    message: str | None = None  # said to the visitor, if anything


class WidgetToolCall(_Event):
    """A tool started; the page shows that the assistant is looking something up."""

    type: Literal["widget.tool_call"] = "widget.tool_call"
    call_id: str
    name: str  # a ToolName, or whatever unknown name the model tried (answered with an error)


class Source(BaseModel):
    """A document an answer came from, as the sources card lists it."""

    title: str
    url: str | None = None
    source: str


class WidgetToolResult(_Event):
    """A tool finished; `result` is the tool's Result model (the card's data) or an error."""

    type: Literal["widget.tool_result"] = "widget.tool_result"
    call_id: str
    name: str
    ok: bool
    error_code: str | None = None
    result: dict[str, Any]
    # The documents the answer actually used (the local engine cites them; the voice model's
    # search results are the sources otherwise).
    sources: list[Source] | None = None


SERVER_EVENTS: tuple[type[_Event], ...] = (
    WidgetSession, WidgetNotice, WidgetToolCall, WidgetToolResult,
)  # fmt: skip


# --- page -> server ------------------------------------------------------------------------
class WidgetPlayback(_Event):
    """How much of an answer the visitor has heard (barge-in truncates there)."""

    type: Literal["widget.playback"] = "widget.playback"
    item_id: str
    played_ms: float
    drained: bool = False


class WidgetContext(_Event):
    """The host page this conversation runs on (personal data: URLs with query strings)."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["widget.context"] = "widget.context"
    page_url: str | None = None
    referrer: str | None = None
    privacy_accepted: bool = False
    # The visitor's browser language (navigator.language, BCP 47), e.g. "de-CH".
    language: str | None = None


CLIENT_EVENTS: tuple[type[_Event], ...] = (WidgetPlayback, WidgetContext)


def event_type(model: type[_Event]) -> str:
    return str(model.model_fields["type"].default)


def dump(event: _Event) -> dict[str, Any]:
    """The wire form: JSON-ready, without unset optional fields the page does not need."""
    return event.model_dump(mode="json", exclude_none=True)


def tool_result(
    call_id: str, name: str, *, ok: bool, error_code: str | None, result: dict[str, Any],
    sources: list[Source] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """`widget.tool_result`, the one shape the relay, the local engine and the sideband send."""
    event = WidgetToolResult(
        call_id=call_id, name=name, ok=ok, error_code=error_code, result=result, sources=sources
    )
    return dump(event)


# --- the generated JavaScript constants ------------------------------------------------------
def _constant(event_name: str) -> str:
    return event_name.removeprefix("widget.").upper()


def card_fields() -> dict[str, list[str]]:
    """Per tool, the top-level fields of its Result (what a card may read)."""
    from widget_api.tools.registry import TOOL_MODULES

    return {m.NAME: sorted(m.Result.model_fields) for m in TOOL_MODULES}


def constants() -> dict[str, Any]:
    """Everything widget.js may rely on, derived from the models and the vocabulary."""
    events = {_constant(event_type(m)): event_type(m) for m in (*SERVER_EVENTS, *CLIENT_EVENTS)}
    fields = {event_type(m): sorted(m.model_fields) for m in (*SERVER_EVENTS, *CLIENT_EVENTS)}
    return {
        "events": events,
        "fields": fields,
        "cards": card_fields(),
        "sourceFields": sorted(Source.model_fields),
        "transports": list(TRANSPORTS),
        "channels": list(CHANNELS),
        "leadStatuses": list(LEAD_STATUSES),
        "tools": list(TOOL_NAMES),
    }


def render_js() -> str:
    body = json.dumps(constants(), sort_keys=True, separators=(",", ":"))
    return (
        "// Generated by `python -m widget_api.protocol` from widget_api/protocol.py and\n"
        "// widget_api/vocabulary.py. Do not edit: change the models and regenerate.\n"
        f"window.WIDGET_PROTOCOL = Object.freeze({body});\n"
    )


def js_path() -> Path:
    return Path(str(resources.files("embed_widget"))) / "protocol.js"


def main(argv: Sequence[str] | None = None) -> int:
    """Write embed_widget/protocol.js (or, with --check, exit 1 when it is out of date)."""
    args = list(sys.argv[1:] if argv is None else argv)
    path = js_path()
    text = render_js()
    if "--check" in args:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        return 0 if current == text else 1
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
