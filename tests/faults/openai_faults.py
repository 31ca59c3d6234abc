"""OpenAI failing in every way the fake can, against a real server: what the visitor sees.

Two paths per fault. The session route must answer a JSON 502/504 with a stable code; the relay
WebSocket must either fall back to the local text engine (handshake failures) or keep the page
informed with a clear `error` event (a mid-response close), and every frame the page gets must
be JSON. Both within the configured OpenAI timeout: the client's own read timeout is that bound
plus a grace, so a server that hangs fails the trial instead of stalling it.

`run_faulted_sessions` repeats the trials many times and then checks the server process holds
no more threads, descriptors, sockets or upstream connections than after a warm-up.
"""

from __future__ import annotations

import http.client
import json
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.fake_openai import FakeOpenAI
from tests.faults import procfs

# Beyond the configured OpenAI timeout, how long a client waits before calling the server hung
# (generous: on a 2-core machine shared with other suites a fallback answer can take seconds).
GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class FaultCase:
    name: str
    kind: str | None  # the fake's fault kind; None with `unlisten`
    session_expect: tuple[int, str]  # (HTTP status, error code) of the session route
    relay_expect: str  # "fallback" (local text engine) | "error_event" | "survives"
    seconds_over_timeout: float = 0.0  # for `slow`: how far past the timeout the fake waits
    unlisten: bool = False  # the whole fake stops listening (ECONNREFUSED)

    def apply(self, fake: FakeOpenAI, timeout: float) -> None:
        fake.clear_faults()
        if self.unlisten:
            fake.set_fault("refuse")
            return
        seconds = timeout + self.seconds_over_timeout if self.kind == "slow" else 0.0
        for endpoint in ("client_secrets", "realtime"):
            fake.set_fault(self.kind, endpoint=endpoint, seconds=seconds, after_deltas=1)  # type: ignore[arg-type]


FAULTS: tuple[FaultCase, ...] = (
    FaultCase("connection_refused", None, (502, "upstream_error"), "fallback", unlisten=True),
    FaultCase("connection_dropped", "refuse", (502, "upstream_error"), "fallback"),
    FaultCase("http_500", "http_500", (502, "upstream_error"), "fallback"),
    FaultCase("slow", "slow", (504, "upstream_timeout"), "fallback", seconds_over_timeout=1.5),
    FaultCase("malformed_json", "malformed_json", (502, "upstream_error"), "survives"),
    FaultCase("close_mid_response", "close_mid_response", (502, "upstream_error"), "error_event"),
    FaultCase("never_answer", "never_answer", (504, "upstream_timeout"), "fallback"),
)
FAULTS_BY_NAME = {case.name: case for case in FAULTS}


@dataclass(frozen=True)
class Trial:
    fault: str
    path: str  # "session_route" | "relay"
    survived: bool
    detail: str


def session_route_trial(
    base_url: str, case: FaultCase, timeout: float, company: str = "acme"
) -> Trial:
    """POST /api/realtime/session under the fault: the expected JSON error, never a hang."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout + GRACE_SECONDS)
    try:
        conn.request(
            "POST", "/api/realtime/session", body=json.dumps({"companyId": company}),
            headers={"Content-Type": "application/json", "Origin": base_url},
        )  # fmt: skip
        response = conn.getresponse()
        status, raw = response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        return Trial(case.name, "session_route", False, f"no answer: {type(exc).__name__}")
    finally:
        conn.close()
    try:
        code = json.loads(raw)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return Trial(case.name, "session_route", False, f"{status} without a JSON error")
    got = (status, code)
    return Trial(case.name, "session_route", got == case.session_expect, f"{status} {code}")


def _user_turn(text: str) -> list[str]:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return [
        json.dumps({"type": "conversation.item.create", "item": item}),
        json.dumps({"type": "response.create"}),
    ]


class _Page:
    """The page's side of the relay socket: JSON frames only, each wait bounded."""

    def __init__(self, ws: Any, bound: float) -> None:
        self.ws = ws
        self.bound = bound
        self.events: list[dict[str, Any]] = []

    def until(self, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + self.bound
        while True:
            frame = self.ws.recv(timeout=max(0.01, deadline - time.monotonic()))
            event = json.loads(frame)  # a non-JSON frame reaching the page fails the trial
            if not isinstance(event, dict):
                raise ValueError("frame is not a JSON object")
            self.events.append(event)
            if done(event):
                return event

    def say(self, text: str) -> None:
        for frame in _user_turn(text):
            self.ws.send(frame)


def relay_trial(base_url: str, case: FaultCase, timeout: float, company: str = "acme") -> Trial:
    """One voice conversation on /ws/realtime/<company> under the fault."""
    url = base_url.replace("http://", "ws://") + f"/ws/realtime/{company}"
    bound = timeout + GRACE_SECONDS
    try:
        with connect(url, origin=base_url, open_timeout=bound, close_timeout=2) as ws:  # type: ignore[call-overload]
            page = _Page(ws, bound)
            detail = _relay_conversation(page, case)
    except (TimeoutError, OSError, ConnectionClosed, ValueError, KeyError) as exc:
        return Trial(case.name, "relay", False, f"{type(exc).__name__}: {exc}"[:200])
    return Trial(case.name, "relay", detail == case.relay_expect, detail)


def _relay_conversation(page: _Page, case: FaultCase) -> str:
    first = page.until(lambda e: e["type"] in ("widget.notice", "session.updated", "error"))
    if first["type"] == "widget.notice":
        # Handshake failed: the local engine answers on the same socket, in text mode.
        if first.get("mode") != "text" or first.get("code") != "upstream_error":
            return f"notice {first.get('mode')} {first.get('code')}"
        page.say("Hello, what do you sell?")
        page.until(lambda e: e["type"] == "response.done")
        return "fallback"
    if first["type"] == "error":
        return f"error {first['error'].get('code')} before any turn"
    page.say("Hello")
    last = page.until(lambda e: e["type"] in ("response.done", "error"))
    if last["type"] == "response.done":
        return "survives"
    if last["error"].get("code") != "upstream_error":
        return f"error {last['error'].get('code')}"
    try:  # after the error event the server closes the page's socket itself
        page.until(lambda e: False)
    except ConnectionClosed:
        return "error_event"
    return "error event without a close"


def run_fault_round(
    base_url: str, fake: FakeOpenAI, case: FaultCase, timeout: float, n: int, concurrency: int
) -> list[Trial]:
    """`n` trials of one fault (paths alternate), `concurrency` at a time; cleared after."""
    case.apply(fake, timeout)
    try:

        def one(i: int) -> Trial:
            trial = relay_trial if i % 2 else session_route_trial
            return trial(base_url, case, timeout)

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            return list(pool.map(one, range(n)))
    finally:
        fake.clear_faults()


def _settled(pid: int, fake_port: int, limit: dict[str, int], wait: float) -> procfs.Holdings:
    """Holdings once they are back under `limit` (or whatever they are after `wait` seconds)."""
    deadline = time.monotonic() + wait
    while True:
        now = procfs.holdings(pid, fake_port)
        ok = (
            now.threads <= limit["threads"]
            and now.fds <= limit["fds"]
            and sum(now.upstream.values()) <= limit["upstream"]
        )
        if ok or time.monotonic() > deadline:
            return now
        time.sleep(0.2)


def run_faulted_sessions(
    base_url: str, worker_pid: int, fake: FakeOpenAI, *, sessions: int, timeout: float,
    thread_budget: int, concurrency: int = 8, settle_seconds: float = 15.0,
) -> dict[str, Any]:  # fmt: skip
    """`sessions` faulted conversations spread over every fault; then what the server still holds.

    A warm-up round per fault first lets the SDK's connection pool and gunicorn's thread pool
    reach their working size. The thread pool grows lazily up to `--threads` whenever all its
    threads happen to be busy, so threads may rise to `thread_budget` (the worker's threads at
    boot plus its pool size) but never beyond: a leaked thread per faulted session would pass
    it within a few dozen sessions. Descriptors and upstream connections have no such pool and
    must come back to the warm-up level.
    """
    for case in FAULTS:
        run_fault_round(base_url, fake, case, timeout, concurrency, concurrency)
    baseline = _settled(worker_pid, fake.port, {"threads": 0, "fds": 0, "upstream": 0}, 2.0)
    per_fault = max(1, sessions // len(FAULTS))
    trials: list[Trial] = []
    for case in FAULTS:
        trials += run_fault_round(base_url, fake, case, timeout, per_fault, concurrency)
    limit = {
        "threads": max(baseline.threads + 2, thread_budget),
        "fds": baseline.fds + 4,
        "upstream": max(sum(baseline.upstream.values()), concurrency),
    }
    after = _settled(worker_pid, fake.port, limit, settle_seconds)
    failed = [t for t in trials if not t.survived]
    fake_side_open = procfs.open_at(fake.port)
    leaks = {
        "threads": after.threads - baseline.threads,
        "fds": after.fds - baseline.fds,
        "sockets": after.sockets - baseline.sockets,
        "upstream_connections": sum(after.upstream.values()),
        "upstream_close_wait": after.upstream.get("CLOSE_WAIT", 0),
    }
    return {
        "faulted_sessions": len(trials),
        "survived": len(trials) - len(failed),
        "failures": [t.__dict__ for t in failed[:20]],
        "by_fault": {
            case.name: dict(
                Counter("ok" if t.survived else "failed" for t in trials if t.fault == case.name)
            )
            for case in FAULTS
        },  # fmt: skip
        "baseline": baseline.as_dict(),
        "after": after.as_dict(),
        "growth": leaks,
        "limits": limit,
        "fake_open_connections": fake_side_open,
        "leak_free": (
            after.threads <= limit["threads"]
            and after.fds <= limit["fds"]
            and sum(after.upstream.values()) <= limit["upstream"]
            and after.upstream.get("CLOSE_WAIT", 0) == 0
        ),
    }
