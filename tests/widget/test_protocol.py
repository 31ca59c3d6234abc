"""widget.js and the typed wire protocol agree, both ways (no browser needed).

The page reads event names through `EV` (from the generated protocol.js) and fields off the
event (`ev.x`), the tool's Result (`r.x`), a clip (`clip.x`) and a source (`s.x`). Each read
must be declared by a model in widget_api/protocol.py or a tool's Result, and each event the
server declares must be handled.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Literal

import pytest

from widget_api import protocol
from widget_api.tools import get_demo_clip, search_knowledge
from widget_api.tools.registry import TOOL_MODULES

WIDGET_JS = Path(str(resources.files("embed_widget"))) / "widget.js"
EMBED_JS = Path(str(resources.files("embed_widget"))) / "embed.js"


def _handled_events(js: str) -> dict[str, str]:
    """Each `t === EV.NAME` branch of handleEvent -> the branch's source."""
    branches: dict[str, str] = {}
    for match in re.finditer(r"t === EV\.(\w+)\)\s*\{", js):
        rest = js[match.end() :]
        end = re.search(r"\n\s*\} else if \(|\n  \}\n", rest)
        branches[match.group(1)] = rest[: end.start() if end else len(rest)]
    return branches


def _card_bodies(js: str) -> dict[str, str]:
    """Each `tool_name: function (ev, r) {...}` of CARDS -> its body."""
    cards = js[js.index("var CARDS = {") :]
    cards = cards[: cards.index("\n  };")]
    parts = re.split(r"\n    (\w+): function \(ev, r\) \{", cards)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _reads(body: str, name: str) -> set[str]:
    return set(re.findall(rf"\b{name}\.(\w+)", body))


def protocol_mismatches(js: str, constants: dict[str, object]) -> list[str]:
    """Every disagreement between widget.js and the declared protocol, as readable lines."""
    events: dict[str, str] = constants["events"]  # type: ignore[assignment]
    fields: dict[str, list[str]] = constants["fields"]  # type: ignore[assignment]
    problems = [
        f"widget.js names event {n!r} as a string" for n in re.findall(r'"(widget\.\w+)"', js)
    ]
    used = set(re.findall(r"\bEV\.(\w+)", js))
    problems += [f"EV.{n} is not a declared event" for n in sorted(used - set(events))]
    handled = _handled_events(js)
    server = {protocol._constant(protocol.event_type(m)) for m in protocol.SERVER_EVENTS}
    problems += [f"server event EV.{n} is not handled" for n in sorted(server - set(handled))]
    for name, body in handled.items():
        declared = set(fields.get(events.get(name, ""), []))
        problems += [
            f"EV.{name} reads undeclared ev.{f}" for f in sorted(_reads(body, "ev") - declared)
        ]
    return problems


def card_mismatches(js: str) -> list[str]:
    results = {m.NAME: set(m.Result.model_fields) for m in TOOL_MODULES}
    tool_result = set(protocol.WidgetToolResult.model_fields)
    nested = {
        "clip": set(get_demo_clip.Clip.model_fields),
        "s": set(protocol.Source.model_fields) | set(search_knowledge.Passage.model_fields),
    }
    show = js[js.index("function showToolResult(ev) {") :]
    show = show[: show.index("\n  }")]
    problems = [f"showToolResult reads undeclared ev.{f}" for f in _reads(show, "ev") - tool_result]
    for tool, body in _card_bodies(js).items():
        if tool not in results:
            problems.append(f"card for unknown tool {tool}")
            continue
        problems += [
            f"{tool} card reads undeclared r.{f}" for f in _reads(body, "r") - results[tool]
        ]
        problems += [
            f"{tool} card reads undeclared ev.{f}" for f in _reads(body, "ev") - tool_result
        ]
        for var, declared in nested.items():
            problems += [
                f"{tool} card reads undeclared {var}.{f}" for f in _reads(body, var) - declared
            ]
    return problems


def test_generated_protocol_js_is_up_to_date() -> None:
    assert protocol.main(["--check"]) == 0, "run: python -m widget_api.protocol"


def test_widget_js_handles_every_declared_event_and_reads_only_declared_fields() -> None:
    assert protocol_mismatches(WIDGET_JS.read_text(encoding="utf-8"), protocol.constants()) == []


def test_cards_read_only_what_the_tool_results_declare() -> None:
    assert card_mismatches(WIDGET_JS.read_text(encoding="utf-8")) == []


def test_a_new_server_event_shows_up_in_the_constants_and_unhandled_in_widget_js(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class WidgetHint(protocol._Event):
        type: Literal["widget.hint"] = "widget.hint"
        text: str

    monkeypatch.setattr(protocol, "SERVER_EVENTS", (*protocol.SERVER_EVENTS, WidgetHint))
    constants = protocol.constants()
    assert constants["events"]["HINT"] == "widget.hint"  # type: ignore[index]
    assert constants["fields"]["widget.hint"] == ["text", "type"]  # type: ignore[index]
    problems = protocol_mismatches(WIDGET_JS.read_text(encoding="utf-8"), constants)
    assert problems == ["server event EV.HINT is not handled"]


def test_reading_an_undeclared_field_is_reported() -> None:
    js = WIDGET_JS.read_text(encoding="utf-8").replace(
        'if (ev.mode === "text") switchToText();', 'if (ev.mood === "text") switchToText();'
    )
    assert protocol_mismatches(js, protocol.constants()) == ["EV.NOTICE reads undeclared ev.mood"]


def test_every_server_event_model_round_trips_its_own_wire_form() -> None:
    event = protocol.tool_result("call_1", "log_lead", ok=True, error_code=None,
                                 result={"email": "a@b.example"})  # fmt: skip
    assert event == {"type": "widget.tool_result", "call_id": "call_1", "name": "log_lead",
                     "ok": True, "result": {"email": "a@b.example"}}  # fmt: skip
    assert protocol.WidgetToolResult.model_validate(event).name == "log_lead"


def test_the_loader_offers_exactly_the_declared_transports() -> None:
    from widget_api.vocabulary import TRANSPORTS

    loader = EMBED_JS.read_text(encoding="utf-8")
    [alternatives] = re.findall(r"/\^\(([a-z|]+)\)\$/\.test\(transport", loader)
    assert tuple(alternatives.split("|")) == TRANSPORTS
