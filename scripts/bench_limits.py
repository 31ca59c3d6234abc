"""Metered relay figure: voice sockets from one address against the upstreams they open.

Starts the OpenAI fake and `widget-api serve` (N workers; with `--redis`, the limits in Redis
under a throw-away key prefix), opens `--sockets` voice WebSockets from one loopback address one
after another, holding them open, and prints JSON: how many were relayed (an upstream
Realtime connection opened with the server's key), how many went on in text and why, and the
upstream connections the fake saw. The target: at most the per-address limit (10 by default).

    python -m scripts.bench_limits --workers 2 --redis redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from scripts.api_harness import free_port, wait_ready


def _first_answer(ws: Any) -> str:
    while True:
        event = json.loads(ws.recv(timeout=30))
        if event["type"] == "session.updated":
            return "relayed"
        if event["type"] == "widget.notice":
            return f"text:{event.get('code')}"


def _forget_keys(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    keys = list(client.scan_iter(f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def _serve(fake: Any, args: argparse.Namespace, data_dir: Path, port: int) -> Any:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OPENAI_API_KEY": fake.api_key,
        "OPENAI_BASE_URL": fake.base_url,
        "WIDGET_DATA_DIR": str(data_dir),
        "WIDGET_INGEST_DEMO_ON_START": "false",
        "WIDGET_LOG_LEVEL": "WARNING",
        "WIDGET_LIMITS_KEY_PREFIX": args.prefix,
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    if args.redis:
        env["REDIS_URL"] = args.redis
    cmd = [sys.executable, "-m", "widget_api.cli", "serve", "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(args.workers)]  # fmt: skip
    return subprocess.Popen(
        cmd, cwd=data_dir.parent, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    from websockets.sync.client import connect

    from tests.fake_openai import FakeOpenAI

    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI() as fake:
        fake.script([])
        port = free_port()
        proc = _serve(fake, args, Path(tmp) / "data", port)
        try:
            wait_ready(port, proc)
            time.sleep(args.settle_seconds)  # let every worker finish booting
            base = f"http://127.0.0.1:{port}"
            url = f"ws://127.0.0.1:{port}/ws/realtime/acme?mode=voice"
            before, outcomes = len(fake.ws_sessions), Counter[str]()
            with ExitStack() as held:  # every socket stays open until all are counted
                for _ in range(args.sockets):
                    ws = held.enter_context(connect(url, origin=base, open_timeout=30))
                    outcomes[_first_answer(ws)] += 1
                upstream = len(fake.ws_sessions) - before
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            if args.redis:
                _forget_keys(args.redis, args.prefix)
    return {
        "workers": args.workers,
        "storage": "redis" if args.redis else "memory",
        "voice_sockets_from_one_address": args.sockets,
        "upstream_connections": upstream,
        "outcomes": dict(outcomes),
        "per_address_limit_per_minute": 10,
        "target_upstream_at_most": 10,
        "pass": upstream <= 10,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--redis", help="REDIS_URL for the server (needed for --workers > 1)")
    parser.add_argument("--settle-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    args.prefix = f"bench-limits-{uuid.uuid4().hex[:8]}"  # this run's keys, removed at the end
    print(json.dumps(run(args), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
