"""Relay benchmark: N concurrent conversations streaming real-time audio through the relay.

Each session streams 24 kHz PCM16 in 20 ms frames (50 a second, paced on an absolute
schedule) to the fake Realtime API in echo mode and receives every frame back as a
`response.output_audio.delta`. The same load runs first straight against the fake (the
baseline) and then through `/ws/realtime/<companyId>` on `widget-api serve` in its own process,
in the same run; the difference is the latency the relay adds. Prints ONE JSON object:
added latency per frame p50/p99, frames lost, the server's CPU (per session and per relayed
frame) and memory per session (from /proc), and the widget's payload sizes.

    python -m scripts.bench_relay [--sessions 200] [--seconds 10] [--pin]

On 2 cores the load generator, the fake and the server compete for CPU, and the latency tail
then measures the kernel's scheduling as much as the relay. `--pin` gives the server one core
and the load generator and the fake the other(s) (sched_setaffinity), which shows the relay's
own added latency; run both ways and quote both.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parents[1]
FRAME_SECONDS = 0.020
FRAME_BYTES = 960  # 20 ms of 24 kHz mono PCM16
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class SessionStats:
    sent: int = 0
    received: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    failed: str | None = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _frame(session: int, seq: int, tone: bytes) -> str:
    # The first 8 bytes tag the frame, so its echo can be matched without any bookkeeping.
    pcm = struct.pack("<II", session, seq) + tone[8:]
    audio = base64.b64encode(pcm).decode()
    return '{"type":"input_audio_buffer.append","audio":"' + audio + '"}'


def _tag(message: str) -> tuple[int, int] | None:
    if '"response.output_audio.delta"' not in message[:80]:
        return None
    start = message.find('"delta":"')
    if start < 0:
        return None
    head = base64.b64decode(message[start + 9 : start + 21])
    return struct.unpack("<II", head[:8])  # type: ignore[return-value]


async def _session(index: int, url: str, headers: dict[str, str], origin: str | None,
                   start_at: float, seconds: float, tone: bytes, ready: asyncio.Event,
                   stats: SessionStats) -> None:  # fmt: skip
    sent_at: dict[int, float] = {}
    try:
        async with connect(
            url, additional_headers=headers, origin=Origin(origin) if origin else None,
            compression=None, max_size=2**22, open_timeout=60, ping_interval=None,
        ) as ws:  # fmt: skip
            while True:  # wait for the session to be configured
                message = await asyncio.wait_for(ws.recv(), 60)
                if '"session.updated"' in message or '"session.created"' in message:
                    break
            done = asyncio.Event()

            async def reader() -> None:
                async for message in ws:
                    tag = _tag(message)  # type: ignore[arg-type]
                    if tag is None or tag[0] != index:
                        continue
                    stats.received += 1
                    stats.latencies_ms.append((time.perf_counter() - sent_at[tag[1]]) * 1000)
                    if done.is_set() and stats.received >= stats.sent:
                        return

            task = asyncio.create_task(reader())
            ready.set()
            frames = int(seconds / FRAME_SECONDS)
            for seq in range(frames):
                delay = start_at + seq * FRAME_SECONDS - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent_at[seq] = time.perf_counter()
                await ws.send(_frame(index, seq, tone))
                stats.sent += 1
            done.set()
            # Drain while echoes keep coming: under overload frames are late, not lost; a frame
            # counts as lost only once nothing has arrived for 3 s.
            while not task.done():
                before = stats.received
                await asyncio.wait([task], timeout=3.0)
                if stats.received == before:
                    task.cancel()
                    break
    except Exception as exc:  # a refused or dropped session is reported, not raised
        stats.failed = type(exc).__name__
        ready.set()


async def _phase(n: int, url: str, headers: dict[str, str], origin: str | None,
                 seconds: float) -> list[SessionStats]:  # fmt: skip
    tone = bytes(random.getrandbits(8) for _ in range(FRAME_BYTES))
    stats = [SessionStats() for _ in range(n)]
    readies = [asyncio.Event() for _ in range(n)]
    # Everyone starts streaming together once connected; offsets spread frames over the 20 ms.
    start_at = time.perf_counter() + 5 + n * 0.03
    tasks = [
        asyncio.create_task(
            _session(
                i,
                url,
                headers,
                origin,
                start_at + (i % 20) / 1000,
                seconds,
                tone,
                readies[i],
                stats[i],
            )
        )  # fmt: skip
        for i in range(n)
    ]
    await asyncio.gather(*tasks)
    return stats


def _summary(stats: list[SessionStats]) -> dict[str, Any]:
    lat = sorted(x for s in stats for x in s.latencies_ms)
    sent = sum(s.sent for s in stats)
    received = sum(s.received for s in stats)

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))], 3) if lat else float("nan")

    return {
        "sessions_ok": sum(1 for s in stats if s.failed is None),
        "sessions_failed": sum(1 for s in stats if s.failed is not None),
        "frames_sent": sent,
        "frames_received": received,
        "frames_lost": sent - received,
        "latency_ms_p50": pct(0.50),
        "latency_ms_p99": pct(0.99),
        "latency_ms_mean": round(statistics.fmean(lat), 3) if lat else None,
    }


def _p99_by_second(stats: list[SessionStats]) -> list[float]:
    """The relay phase's p99 per second of streaming: a tail spread evenly or a few bursts."""
    per_second: dict[int, list[float]] = {}
    for s in stats:
        for seq, latency in enumerate(s.latencies_ms):
            per_second.setdefault(int(seq * FRAME_SECONDS), []).append(latency)
    return [
        round(sorted(v)[min(len(v) - 1, int(0.99 * len(v)))], 1)
        for _, v in sorted(per_second.items())
    ]


def _proc_tree(pid: int) -> list[int]:
    """pid and its descendants (gunicorn master and workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            pass
    return total / TICK


def _rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _start_fake() -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_openai", "--echo", "--uvloop"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())


def _start_server(
    fake: dict[str, Any], port: int, threads: int, workers: int, data_dir: str
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "OPENAI_API_KEY": fake["api_key"],
        "OPENAI_BASE_URL": fake["base_url"],
        "WIDGET_DATA_DIR": data_dir,
        "WIDGET_LOG_LEVEL": "WARNING",
        "HF_HUB_OFFLINE": "1",
        # Every relay upstream spends the session budget (one load address, hundreds of
        # sessions): the benchmark measures the relay, not the limits.
        "WIDGET_SESSION_RATE_PER_MINUTE_PER_CLIENT": "1000000",
        "WIDGET_SESSION_RATE_PER_MINUTE_PER_COMPANY": "1000000",
        "WIDGET_SESSION_DAILY_CAP_PER_COMPANY": "1000000",
        "WIDGET_VOICE_MINUTES_PER_DAY_PER_COMPANY": "100000000",
        # Every session comes from this one address: no per-address connection cap.
        "WIDGET_SERVER_MAX_CONNECTIONS_PER_CLIENT": "0",
    }
    env.pop("DATABASE_URL", None)
    exe = Path(sys.executable).parent / "widget-api"
    return subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port),
         "--threads", str(threads), "--workers", str(workers)],
        cwd=data_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def _wait_ready(base: str, proc: subprocess.Popen[str], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("widget-api serve exited during start-up")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("widget-api serve did not become healthy")


def payload_sizes() -> dict[str, int]:
    """Gzipped bytes of the embed loader and of the widget page's own transfer."""
    from scripts.widget_size import sizes

    return sizes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0, help="streaming time per phase")
    parser.add_argument(
        "--threads", type=int, default=64, help="HTTP threads per worker (WebSockets hold none)"
    )
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="server on the last core, the load generator and the fake on the others",
    )
    args = parser.parse_args(argv)
    cores = sorted(os.sched_getaffinity(0))
    pinned = args.pin and len(cores) >= 2
    if pinned:
        os.sched_setaffinity(0, cores[:-1])  # the fake, started below, inherits this
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    fake_proc, fake = _start_fake()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench-relay-") as data_dir:
        threads = args.threads
        server = _start_server(fake, port, threads, args.workers, data_dir)
        if pinned:
            os.sched_setaffinity(server.pid, cores[-1:])  # gunicorn's workers inherit it
        try:
            _wait_ready(base, server)
            direct = asyncio.run(_phase(
                args.sessions, fake["ws_url"] + "?model=gpt-realtime",
                {"Authorization": f"Bearer {fake['api_key']}"}, None, args.seconds))  # fmt: skip
            pids = _proc_tree(server.pid)
            rss_before, cpu_before = _rss_mb(pids), _cpu_seconds(pids)
            load_before = os.getloadavg()[0]
            t0 = time.monotonic()
            relay_url = base.replace("http://", "ws://") + "/ws/realtime/acme?mode=voice"
            relayed = asyncio.run(_phase(args.sessions, relay_url, {}, base, args.seconds))
            elapsed = time.monotonic() - t0
            pids = _proc_tree(server.pid)
            cpu = _cpu_seconds(pids) - cpu_before
            rss_peak = _rss_mb(pids)
        finally:
            server.send_signal(signal.SIGTERM)
            fake_proc.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            fake_proc.wait(timeout=30)
    d, r = _summary(direct), _summary(relayed)
    n = max(1, r["sessions_ok"])
    result = {
        "sessions": args.sessions,
        "seconds_streamed": args.seconds,
        "frame_ms": 20,
        "direct": d,
        "relay": r,
        "added_latency_ms_p50": round(r["latency_ms_p50"] - d["latency_ms_p50"], 3),
        "added_latency_ms_p99": round(r["latency_ms_p99"] - d["latency_ms_p99"], 3),
        "frames_lost": r["frames_lost"],
        "relay_latency_ms_p99_by_second": _p99_by_second(relayed),
        "pinned": f"server on core {cores[-1]}, load and fake on {cores[:-1]}" if pinned else None,
        "server_cpu_percent_of_core_per_session": round(100 * cpu / elapsed / n, 3),
        "server_cpu_percent_of_core_total": round(100 * cpu / elapsed, 1),
        # The relay's own cost, free of how long the phase took: each frame crosses it twice
        # (page→OpenAI as sent, OpenAI→page as received).
        "server_cpu_us_per_relayed_frame": round(
            1e6 * cpu / max(1, r["frames_sent"] + r["frames_received"]), 1
        ),
        "server_rss_mb_total": round(rss_peak, 1),
        "server_rss_mb_per_session": round(max(0.0, rss_peak - rss_before) / n, 3),
        "server_workers": args.workers,
        "cores": os.cpu_count(),
        # The box is shared: a 1-minute load average above the core count means every
        # latency above is inflated by other work (both phases alike, but not equally).
        "loadavg_1min_before_relay_phase": round(load_before, 2),
        "loadavg_1min_after": round(os.getloadavg()[0], 2),
        "payload_bytes_gzip": payload_sizes(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
