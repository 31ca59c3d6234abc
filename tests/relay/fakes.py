"""Fake sides for driving the relay's sessions without sockets: the page, OpenAI's upstream,
the pool (offload, run when the test says) and a clock the test moves."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from widget_api.relay.contracts import NullConversationLog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Side:
    """A page or an upstream: what was sent to it, and how it was closed."""

    sent: list[str] = field(default_factory=list)
    closed: tuple[int, str] | None = None

    def send(self, text: str) -> None:
        self.sent.append(text)

    def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(text) for text in self.sent]

    def types(self) -> list[str]:
        return [event["type"] for event in self.events()]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events() if event["type"] == kind]


class Offload:
    """Holds blocking work until `run()`, as the hub's pool would run it later."""

    def __init__(self) -> None:
        self.pending: list[tuple[Callable[[], Any], Callable[[Any], None]]] = []

    def __call__(self, fn: Callable[[], Any], then: Callable[[Any], None]) -> None:
        self.pending.append((fn, then))

    def run(self) -> None:
        while self.pending:
            fn, then = self.pending.pop(0)
            future: concurrent.futures.Future[Any] = concurrent.futures.Future()
            try:
                future.set_result(fn())
            except Exception as exc:
                future.set_exception(exc)
            then(future)


@dataclass(frozen=True)
class Outcome:
    """A tool outcome as the ToolRunner gives it (widget_api.contracts.ToolOutcomeLike)."""

    name: str
    output: str
    result: dict[str, Any]
    ok: bool = True
    error_code: str | None = None


def run(body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a test body on a fresh loop (the sessions read the running loop when built)."""
    asyncio.run(body())


def event(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields}, separators=(",", ":"))


class LatencyLog(NullConversationLog):
    """A ConversationLog that keeps the turn latencies it was given."""

    def __init__(self) -> None:
        self.turns: list[tuple[float | None, float | None]] = []

    def turn_latency(self, first_audio_ms: float | None, first_text_ms: float | None) -> None:
        self.turns.append((first_audio_ms, first_text_ms))
