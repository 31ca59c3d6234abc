"""Sideband benchmark: how much a server-side tool answer adds to the tool's own time.

N calls run at once against the fake Realtime API (each an accepted call with its own sideband
WebSocket, one per call); every call's script makes `--tools` function calls. The agent times
each answer from the moment the call's `response.output_item.done` is read to the moment the
`function_call_output` is sent, minus the tool's own run time. The tool here sleeps a fixed
time (a stand-in for a database or search call), so only the agent's own work is measured.
Prints ONE JSON object.

    python -m scripts.bench_sideband [--calls 20] [--tools 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

from tests.fake_openai import FakeOpenAI, FunctionCall, OnResponseCreate, Say, Turn
from widget_api.realtime.call_agent import CallAgent, CallHooks
from widget_api.realtime.calls import CallControl

TOOL_SECONDS = 0.002


def _script(tools: int) -> list[Turn]:
    """One turn: the model calls a tool `tools` times in a row, then speaks."""
    calls: list[Any] = [FunctionCall("search_knowledge", {"query": f"q{i}"}) for i in range(tools)]
    return [Turn(OnResponseCreate(), [*calls, Say("ok", chunks=1)])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--tools", type=int, default=10, help="tool calls per call")
    args = parser.parse_args(argv)

    def tool(call_id: str, name: str, arguments: str) -> tuple[str, bool]:
        time.sleep(TOOL_SECONDS)
        return '{"found":true}', True

    with FakeOpenAI() as fake:
        fake.script(_script(args.tools), fallback=Say("summary", chunks=1))
        control = CallControl(fake.api_key, fake.base_url, timeout=10)
        agents = []
        for _ in range(args.calls):
            call_id = fake.answered_call({"type": "realtime"})
            hooks = CallHooks(
                connect=control.connect_sideband, run_tool=tool, record=lambda lines: None,
                finish=lambda reason, summary: None, hangup=control.hangup,
            )  # fmt: skip
            agents.append(CallAgent(call_id, hooks, max_seconds=120, greet=True).start())
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(
            a.stats.tool_calls < args.tools for a in agents
        ):
            time.sleep(0.05)
        for agent in agents:
            agent.end("ended_by_server", wait=10)
        sidebands = sum(1 for r in fake.ws_sessions if r.transport == "sideband")
    overheads = sorted(x for a in agents for x in a.stats.tool_overhead_ms)

    def pct(p: float) -> float:
        return round(overheads[min(len(overheads) - 1, int(p * len(overheads)))], 3)

    print(json.dumps({
        "calls": args.calls,
        "tool_calls": len(overheads),
        "tool_calls_expected": args.calls * args.tools,
        "tool_seconds": TOOL_SECONDS,
        "overhead_ms_p50": pct(0.50) if overheads else None,
        "overhead_ms_p99": pct(0.99) if overheads else None,
        "overhead_ms_max": round(overheads[-1], 3) if overheads else None,
        "overhead_ms_mean": round(statistics.fmean(overheads), 3) if overheads else None,
        "upstream_connections_per_call": sidebands / max(1, args.calls),
        "cores": os.cpu_count(),
        "loadavg_1min": round(os.getloadavg()[0], 2),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
