"""Public-internet benchmark: a legitimate visitor while idle and slow sockets pile up.

Starts `widget-api serve` (1 worker, no OpenAI key, so every WebSocket is a local text
conversation; the demo docs ingested) in its own process, then from this process:

1. opens `--idle` WebSockets (text conversations, greeted, then silent) from other loopback
   addresses (127.1.x.y, under the per-address cap) and holds them;
2. keeps `--slowloris` slow-header sockets open from 127.2.x.y (one header byte every few
   seconds; a socket the server times out is replaced at once, as a real attacker would);
3. meanwhile a legitimate visitor at 127.0.0.1 probes `/healthz` and a tool call
   (`POST /api/chat/acme/tool`, search_knowledge) in turn for `--seconds`;
4. then one page floods 250 KB junk frames without ever reading for 10 s, and another sends
   one 900 KB frame; the flood's RSS cost is read during the flood and after it closes.

Prints ONE JSON object: probe answers within 1 s (fraction, p50/p99), the server's RSS and
thread count before and with the idle sockets (memory per idle WebSocket), the flood's RSS cost
and what is left of it after close, close codes seen, and the 1-minute load average (the machine
is shared: figures are noisy when it is busy).

    python -m scripts.bench_public [--idle 1000] [--slowloris 200] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from scripts.bench_relay import _proc_tree, _rss_mb

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-public-" + "k" * 40
PER_ADDRESS = 50  # under the server's default cap of 64 connections per address


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _threads(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("Threads:"):
                    total += int(line.split()[1])
    return total


@contextlib.contextmanager
def _server(port: int, data_dir: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WIDGET_", "OPENAI_"))}
    env.pop("DATABASE_URL", None)
    env.update({
        "HF_HUB_OFFLINE": "1", "WIDGET_DATA_DIR": data_dir, "WIDGET_SECRET_KEY": SECRET,
        "WIDGET_LOG_LEVEL": "WARNING",
    })  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "widget_api.cli", "serve", "--host", "127.0.0.1",
         "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def _wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("widget-api serve exited during start-up")
        with contextlib.suppress(OSError, ValueError, IndexError):
            status, _ = await _http(port, "GET", "/readyz")
            if status == 200:
                return
        await asyncio.sleep(0.5)
    raise RuntimeError("widget-api serve did not become ready")


async def _http(
    port: int, method: str, path: str, body: bytes = b"", headers: str = "",
    source: str = "127.0.0.1",
) -> tuple[int, bytes]:  # fmt: skip
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, local_addr=(source, 0)
    )
    try:
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
            f"Content-Length: {len(body)}\r\n{headers}\r\n".encode() + body
        )
        data = await reader.read()
    finally:
        writer.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


def _tool_token(session_id: str) -> str:
    from widget_api.tokens import issue_tool_token

    return issue_tool_token(SECRET.encode(), "acme", session_id, 3600)


async def _open_idle(port: int, index: int, held: list[ClientConnection]) -> None:
    address = f"127.1.{index // PER_ADDRESS // 250}.{1 + index // PER_ADDRESS % 250}"
    sock = socket.socket()
    sock.bind((address, 0))
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    origin = f"http://127.0.0.1:{port}"
    ws = await connect(
        f"ws://127.0.0.1:{port}/ws/realtime/acme?mode=text", sock=sock, origin=Origin(origin),
        open_timeout=60, ping_interval=None, compression=None, max_queue=4,
    )  # fmt: skip
    while json.loads(await ws.recv())["type"] != "widget.notice":
        pass
    held.append(ws)


async def _slowloris(port: int, index: int, stop: asyncio.Event, stats: dict[str, int]) -> None:
    """One slow-header socket, reopened whenever the server drops it, until `stop`."""
    address = f"127.2.0.{1 + index // PER_ADDRESS}"
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(address, 0)
            )
        except OSError:
            await asyncio.sleep(0.5)
            continue
        stats["opened"] += 1
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        with contextlib.suppress(OSError, ConnectionError):
            while not stop.is_set() and not reader.at_eof():
                writer.write(b"X")  # one header byte at a time, never the blank line
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    if await asyncio.wait_for(reader.read(4096), 3.0):
                        stats["answered"] += 1  # the server's 408 (or 429): it gave up on us
                        break
        writer.close()


async def _probe(port: int, seconds: float) -> dict[str, Any]:
    """A legitimate visitor: /healthz and a tool call in turn, one at a time."""
    session_id = f"bench_{uuid.uuid4().hex}"
    token = _tool_token(session_id)
    lat: dict[str, list[float]] = {"healthz": [], "tool": []}
    fails: dict[str, int] = {"healthz": 0, "tool": 0}
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        kind = "healthz" if i % 2 == 0 else "tool"
        i += 1
        started = time.perf_counter()
        try:
            if kind == "healthz":
                status, _ = await asyncio.wait_for(_http(port, "GET", "/healthz"), 10)
            else:
                body = json.dumps({
                    "name": "search_knowledge", "arguments": '{"query": "free trial"}',
                    "call_id": uuid.uuid4().hex, "session_id": session_id,
                }).encode()  # fmt: skip
                status, _ = await asyncio.wait_for(_http(
                    port, "POST", "/api/chat/acme/tool", body,
                    f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n",
                ), 10)  # fmt: skip
        except (OSError, TimeoutError):
            status = 0
        ms = (time.perf_counter() - started) * 1000
        if status == 200:
            lat[kind].append(ms)
        else:
            fails[kind] += 1
        await asyncio.sleep(0.05)
    return {kind: _describe(lat[kind], fails[kind]) for kind in lat}


def _describe(latencies: list[float], failed: int) -> dict[str, Any]:
    total = len(latencies) + failed
    ordered = sorted(latencies)

    def pct(q: float) -> float | None:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1) if ordered else None

    return {
        "probes": total,
        "failed": failed,
        "within_1s": round(sum(1 for ms in latencies if ms <= 1000) / total, 4) if total else None,
        "ms_p50": pct(0.50),
        "ms_p99": pct(0.99),
        "ms_max": round(max(latencies), 1) if latencies else None,
        "ms_mean": round(statistics.fmean(latencies), 1) if latencies else None,
    }


async def _flood(port: int, pids: list[int], seconds: float) -> dict[str, Any]:
    """A page that sends 250 KB junk frames and never reads; then one 900 KB frame."""
    origin = Origin(f"http://127.0.0.1:{port}")
    url = f"ws://127.0.0.1:{port}/ws/realtime/acme?mode=text"
    before = _rss_mb(pids)
    peak = before
    close_code: int | None = None
    ws = await connect(url, origin=origin, open_timeout=30, compression=None, max_size=None)
    junk = "x" * (250 * 1024)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            await asyncio.wait_for(ws.send(junk), 5)
            peak = max(peak, _rss_mb(pids))
    except (ConnectionClosed, TimeoutError, OSError) as exc:
        close_code = getattr(getattr(exc, "rcvd", None), "code", None)
    peak = max(peak, _rss_mb(pids))
    await ws.close()
    await asyncio.sleep(5)
    after = _rss_mb(pids)
    big_code: int | None = None
    async with connect(url, origin=origin, open_timeout=30, max_size=None) as big:
        await big.send("x" * (900 * 1024))
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.wait_for(big.recv(), 10)
        big_code = big.close_code
    return {
        "flood_seconds": seconds,
        "flood_rss_cost_mb": round(peak - before, 1),
        "flood_rss_left_after_close_mb": round(after - before, 1),
        "flood_closed_by_server_with": close_code,
        "frame_900kb_closed_with": big_code,
    }


async def _run(
    args: argparse.Namespace, port: int, proc: subprocess.Popen[bytes]
) -> dict[str, Any]:
    await _wait_ready(port, proc)
    pids = _proc_tree(proc.pid)
    await _probe(port, 3)  # warm-up: first-use imports, the model's first query
    quiet = await _probe(port, 5)
    rss_before, threads_before = _rss_mb(pids), _threads(pids)
    held: list[ClientConnection] = []
    opened_at = time.monotonic()
    for start in range(0, args.idle, 50):  # in batches, as a crowd arrives
        results = await asyncio.gather(
            *(_open_idle(port, i, held) for i in range(start, min(args.idle, start + 50))),
            return_exceptions=True,
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            print(f"idle socket failed: {errors[0]!r}", file=sys.stderr)
    open_seconds = time.monotonic() - opened_at
    await asyncio.sleep(2)
    rss_idle, threads_idle = _rss_mb(pids), _threads(pids)
    stop = asyncio.Event()
    loris: dict[str, int] = {"opened": 0, "answered": 0}
    attackers = [
        asyncio.create_task(_slowloris(port, i, stop, loris)) for i in range(args.slowloris)
    ]
    await asyncio.sleep(2)
    attacked = await _probe(port, args.seconds)
    still_open = sum(1 for ws in held if ws.close_code is None)
    stop.set()
    await asyncio.gather(*attackers, return_exceptions=True)
    await asyncio.gather(*(ws.close() for ws in held), return_exceptions=True)
    await asyncio.sleep(2)
    flood = await _flood(port, pids, 10.0)
    return {
        "benchmark": "public",
        "idle_websockets": len(held),
        "idle_websockets_still_open_after_attack": still_open,
        "idle_open_seconds": round(open_seconds, 1),
        "slowloris_sockets": args.slowloris,
        "slowloris_connections_opened": loris["opened"],
        "slowloris_timed_out_by_server": loris["answered"],
        "probe_seconds": args.seconds,
        "quiet": quiet,
        "under_attack": attacked,
        "server_rss_mb_before_idle": round(rss_before, 1),
        "server_rss_mb_with_idle": round(rss_idle, 1),
        "server_kb_per_idle_websocket": round(
            (rss_idle - rss_before) * 1024 / max(1, len(held)), 1
        ),
        "server_threads_before_idle": threads_before,
        "server_threads_with_idle": threads_idle,
        **flood,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=int, default=1000, help="idle WebSockets to hold")
    parser.add_argument("--slowloris", type=int, default=200, help="slow-header sockets")
    parser.add_argument("--seconds", type=float, default=30.0, help="probing under attack")
    args = parser.parse_args(argv)
    # Each socket is a descriptor on both ends; the server inherits the raised limit.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="bench-public-") as data_dir, \
            _server(port, data_dir) as proc:  # fmt: skip
        result = asyncio.run(_run(args, port, proc))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
