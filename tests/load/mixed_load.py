"""A sustained mixed load stepped up until the server stops holding it.

Each step offers a fixed rate for a few seconds, open loop (requests leave on schedule whether
or not earlier ones finished): 20 % session starts (against the fake OpenAI), 40 % tool calls
(search, clip, meeting link, a new lead), 40 % widget page and loader GETs. A step is held when
every request got the right answer (status and shape), the server finished the step's work
within a second of its end, and p99 latency stayed under a second. Stepping stops at the first
step not held, after `max_steps`, or after `max_seconds`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from scripts.api_harness import percentile, thread_client
from scripts.bench_api import tool_call

P99_BOUND_MS = 1000.0
DRAIN_SECONDS = 1.0
RETRY_PAUSE_SECONDS = 3.0
TOOLS = ("search_knowledge", "get_demo_clip", "create_meeting_link", "log_lead")


@dataclass(frozen=True)
class Outcome:
    kind: str
    ok: bool
    ms: float
    finished: float


def _get(port: int, path: str) -> tuple[int, bytes]:
    client = thread_client(port)
    try:
        client.conn.request("GET", path)
        response = client.conn.getresponse()
        return response.status, response.read()
    except (http.client.HTTPException, OSError):
        client.conn.close()
        client.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        raise


def _tool_args(name: str, i: int) -> dict[str, Any]:
    if name == "search_knowledge":
        return {"query": "price of the Growth plan"}
    if name == "get_demo_clip":
        return {"topic": "AI agent answering customers"}
    if name == "create_meeting_link":
        return {"name": "Mixed Load", "duration_minutes": 30}
    email = f"mixed{i}.{uuid.uuid4().hex[:8]}@example.com"
    return {"name": "Mixed Load", "email": email, "interest": "Growth plan"}


def _one(port: int, i: int, session: dict[str, str]) -> tuple[str, bool]:
    slot = i % 10
    if slot < 2:
        status, _h, body, _ms = thread_client(port).post(
            "/api/realtime/session", {"companyId": "acme"}, {"Origin": f"http://127.0.0.1:{port}"}
        )
        return "session", status == 200 and bool(body.get("client_secret"))
    if slot < 6:
        name = TOOLS[i % len(TOOLS)]
        args = _tool_args(name, i)
        status, body, _ms, _t = tool_call(port, session, name, args, uuid.uuid4().hex)
        output = body.get("output", "") if isinstance(body, dict) else ""
        return "tool", status == 200 and not json.loads(output or "{}").get("error")
    path = "/widget/acme" if slot < 9 else "/embed.js"
    status, raw = _get(port, path)
    return "page", status == 200 and len(raw) > 0


def run_step(port: int, rate: float, seconds: float, session: dict[str, str],
             workers: int = 64) -> dict[str, Any]:  # fmt: skip
    """Offer `rate` requests per second for `seconds`; what came back, and whether it held."""
    n = max(1, int(rate * seconds))
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    start = time.perf_counter()

    def task(i: int) -> None:
        began = time.perf_counter()
        try:
            kind, ok = _one(port, i, session)
        except Exception:  # a refused or broken connection is an error like any other
            kind, ok = "error", False
        done = time.perf_counter()
        with lock:
            outcomes.append(Outcome(kind, ok, (done - began) * 1000, done - start))

    futures: list[Future[None]] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(task, i))
        for future in futures:
            future.result(timeout=seconds + 60)
    errors = sum(1 for o in outcomes if not o.ok)
    finished = max(o.finished for o in outcomes)
    latencies = [o.ms for o in outcomes]
    p99 = percentile(latencies, 99)
    held = errors == 0 and finished <= seconds + DRAIN_SECONDS and p99 <= P99_BOUND_MS
    return {
        "offered_rps": rate,
        "requests": n,
        "errors": errors,
        "achieved_rps": round(n / finished, 1),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": p99,
        "by_kind": {k: sum(o.kind == k for o in outcomes) for k in ("session", "tool", "page")},
        "held": held,
    }


def step_up(port: int, session: dict[str, str], *, rates: list[float], seconds: float = 5.0,
            max_seconds: float = 180.0, confirm: bool = True) -> dict[str, Any]:  # fmt: skip
    """Run the steps in order until one is not held (or the time budget is spent).

    A step that is not held is run once more after a pause before the stepping stops: on a
    shared machine a neighbour's burst can spoil one step, and the figure should be the
    server's, not the neighbour's. Both attempts are reported.
    """
    for i in range(20):  # warm-up, not counted: first-use imports, caches, keep-alive sockets
        with contextlib.suppress(Exception):  # e.g. a keep-alive socket the server timed out
            _one(port, i, session)
    steps: list[dict[str, Any]] = []
    began = time.monotonic()
    for rate in rates:
        if time.monotonic() - began + seconds > max_seconds:
            break
        step = run_step(port, rate, seconds, session)
        steps.append(step)
        if not step["held"] and confirm and time.monotonic() - began + seconds < max_seconds:
            time.sleep(RETRY_PAUSE_SECONDS)
            step = run_step(port, rate, seconds, session)
            step["second_attempt"] = True
            steps.append(step)
        if not step["held"]:
            break
        time.sleep(0.5)  # let keep-alive sockets and queues settle between steps
    held = [s for s in steps if s["held"]]
    return {
        "step_seconds": seconds,
        "steps": steps,
        "highest_held_rps": max((s["offered_rps"] for s in held), default=0.0),
        "errors_at_highest_held": 0 if held else None,
        "total_errors": sum(s["errors"] for s in steps),
    }
