"""Phone bridge benchmark: N concurrent Twilio-format calls through `/ws/twilio/<companyId>`.

Each call speaks Twilio Media Streams (signed handshake, `connected`, `start` with the stream
token, then a 160-byte 8 kHz mu-law `media` frame every 20 ms on an absolute schedule) to
`widget-api serve` in its own process, which bridges it to the fake Realtime API in echo mode:
every `input_audio_buffer.append` comes back at once as a `response.output_audio.delta` with the
same payload, which the bridge sends back to the "phone" as Twilio `media`. Frames are tagged,
so each echo is matched to its frame. The same load first runs straight against the fake (the
baseline); the difference is what the bridge adds per media frame (both directions). Prints ONE
JSON object (latency p50/p99 per frame, added latency, frames lost, server CPU and memory).

    python -m scripts.bench_phone [--calls 100] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from scripts.bench_relay import (
    SessionStats,
    _cpu_seconds,
    _free_port,
    _proc_tree,
    _rss_mb,
    _start_fake,
    _summary,
    _wait_ready,
)
from widget_api.phone.twilio_signature import stream_token, twilio_signature

ROOT = Path(__file__).resolve().parents[1]
FRAME_SECONDS = 0.020
FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
AUTH_TOKEN = "bench-phone-twilio-token"


def _payload(call: int, seq: int) -> str:
    return base64.b64encode(struct.pack("<II", call, seq) + b"\x7f" * (FRAME_BYTES - 8)).decode()


def _tag(payload: str) -> tuple[int, int] | None:
    try:
        return struct.unpack("<II", base64.b64decode(payload[:12])[:8])  # type: ignore[return-value]
    except (ValueError, struct.error):
        return None


def _twilio_echo(message: str) -> str | None:
    if '"event":"media"' not in message[:20]:
        return None
    start = message.find('"payload":"')
    return message[start + 11 : start + 23] if start >= 0 else None


def _realtime_echo(message: str) -> str | None:
    start = message.find('"delta":"')
    return message[start + 9 : start + 21] if start >= 0 else None


async def _read_echoes(ws: Any, index: int, sent_at: dict[int, float], stats: SessionStats,
                       done: asyncio.Event, head: Any) -> None:  # fmt: skip
    """Time every echoed frame of this call by its tag (other audio, e.g. a greeting, is not)."""
    async for message in ws:
        payload = head(message)
        tag = _tag(payload) if payload else None
        if tag is None or tag[0] != index or tag[1] not in sent_at:
            continue
        stats.received += 1
        stats.latencies_ms.append((time.perf_counter() - sent_at[tag[1]]) * 1000)
        if done.is_set() and stats.received >= stats.sent:
            return


LOST_AFTER = [3.0]  # seconds without any echo after which missing frames count as lost


async def _drain(task: asyncio.Task[None], stats: SessionStats) -> None:
    """Late is not lost: a frame counts as lost once nothing has arrived for LOST_AFTER s."""
    while not task.done():
        before = stats.received
        await asyncio.wait([task], timeout=LOST_AFTER[0])
        if stats.received == before:
            task.cancel()
            return


async def _stream(ws: Any, start_at: float, seconds: float, stats: SessionStats,
                  sent_at: dict[int, float], frame: Any) -> None:  # fmt: skip
    for seq in range(int(seconds / FRAME_SECONDS)):
        delay = start_at + seq * FRAME_SECONDS - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        text = frame(seq)
        sent_at[seq] = time.perf_counter()
        await ws.send(text)
        stats.sent += 1


async def _twilio_call(
    index: int, url: str, start_at: float, seconds: float, stats: SessionStats
) -> None:
    """One phone call as Twilio runs it: echoed frames are timed by their tag."""
    call_sid, stream_sid = f"CA{index:032x}", f"MZ{index:032x}"
    sent_at: dict[int, float] = {}
    headers = {"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url, {})}
    try:
        async with connect(url, additional_headers=headers, compression=None, max_size=2**22,
                           open_timeout=60, ping_interval=None) as ws:  # fmt: skip
            await ws.send(json.dumps({"event": "connected", "protocol": "Call"}))
            params = {"token": stream_token(AUTH_TOKEN, "acme", call_sid), "caller": "+15550100000"}
            await ws.send(json.dumps({
                "event": "start", "sequenceNumber": "1", "streamSid": stream_sid,
                "start": {"streamSid": stream_sid, "callSid": call_sid, "tracks": ["inbound"],
                          "customParameters": params,
                          "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                          "channels": 1}},
            }))  # fmt: skip
            done = asyncio.Event()
            task = asyncio.create_task(
                _read_echoes(ws, index, sent_at, stats, done, _twilio_echo)
            )
            await _stream(ws, start_at, seconds, stats, sent_at, lambda seq: (
                '{"event":"media","streamSid":"' + stream_sid + '","media":{"track":"inbound",'
                '"timestamp":"' + str(seq * 20) + '","payload":"' + _payload(index, seq) + '"}}'
            ))  # fmt: skip
            done.set()
            await _drain(task, stats)
            await ws.send(json.dumps({"event": "stop", "streamSid": stream_sid,
                                      "stop": {"callSid": call_sid}}))  # fmt: skip
    except Exception as exc:  # a refused or dropped call is reported, not raised
        stats.failed = type(exc).__name__


async def _direct_call(
    index: int, url: str, api_key: str, start_at: float, seconds: float, stats: SessionStats
) -> None:
    """The baseline: the same frames as Realtime appends straight to the fake."""
    sent_at: dict[int, float] = {}
    try:
        async with connect(url, additional_headers={"Authorization": f"Bearer {api_key}"},
                           compression=None, max_size=2**22, open_timeout=60,
                           ping_interval=None) as ws:  # fmt: skip
            done = asyncio.Event()
            task = asyncio.create_task(
                _read_echoes(ws, index, sent_at, stats, done, _realtime_echo)
            )
            await _stream(ws, start_at, seconds, stats, sent_at, lambda seq: (
                '{"type":"input_audio_buffer.append","audio":"' + _payload(index, seq) + '"}'
            ))  # fmt: skip
            done.set()
            await _drain(task, stats)
    except Exception as exc:
        stats.failed = type(exc).__name__


async def _phase(n: int, seconds: float, make: Any) -> list[SessionStats]:
    stats = [SessionStats() for _ in range(n)]
    # Everyone streams together once connected; offsets spread the frames over the 20 ms.
    start_at = time.perf_counter() + 5 + n * 0.03
    await asyncio.gather(*(make(i, start_at + (i % 20) / 1000, stats[i]) for i in range(n)))
    return stats


def bridge_code_cost(frames: int = 50_000) -> dict[str, float]:
    """The bridge's own per-frame work, in process (no sockets): caller frame in, echo out."""
    from widget_api.phone.twilio_bridge import TwilioBridge

    bridge = TwilioBridge(lambda text: None, lambda text: None)
    bridge.from_twilio(json.dumps({"event": "start", "start": {"streamSid": "MZ1"}}))
    inbound = [
        '{"event":"media","streamSid":"MZ1","media":{"track":"inbound","chunk":"1",'
        '"timestamp":"' + str(i * 20) + '","payload":"' + _payload(0, i) + '"}}'
        for i in range(frames)
    ]
    outbound = [
        '{"type":"response.output_audio.delta","event_id":"e","response_id":"r",'
        '"item_id":"item_1","output_index":0,"content_index":0,"delta":"' + _payload(0, i) + '"}'
        for i in range(frames)
    ]
    started = time.perf_counter()
    for text in inbound:
        bridge.from_twilio(text)
    middle = time.perf_counter()
    for text in outbound:
        bridge.from_openai(text)
    ended = time.perf_counter()
    return {
        "caller_frame_us": round(1e6 * (middle - started) / frames, 2),
        "answer_frame_us": round(1e6 * (ended - middle) / frames, 2),
    }


def _failures(stats: list[SessionStats]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in stats:
        if s.failed is not None:
            counts[s.failed] = counts.get(s.failed, 0) + 1
    return counts


def _start_server(fake: dict[str, Any], port: int, threads: int, data_dir: str) -> Any:
    env = {
        **os.environ,
        "OPENAI_API_KEY": fake["api_key"],
        "OPENAI_BASE_URL": fake["base_url"],
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "WIDGET_PUBLIC_ORIGIN": f"http://127.0.0.1:{port}",
        "WIDGET_DATA_DIR": data_dir,
        "WIDGET_LOG_LEVEL": "WARNING",
        "HF_HUB_OFFLINE": "1",
        "WIDGET_VOICE_MINUTES_PER_DAY_PER_COMPANY": "100000000",
        # Every call spends the company's session budget: the benchmark measures the bridge.
        "WIDGET_SESSION_RATE_PER_MINUTE_PER_COMPANY": "1000000",
        "WIDGET_SESSION_DAILY_CAP_PER_COMPANY": "1000000",
        # All calls come from one address, as Twilio's media servers' streams do.
        "WIDGET_SERVER_MAX_CONNECTIONS_PER_CLIENT": "0",
    }
    env.pop("DATABASE_URL", None)
    exe = Path(sys.executable).parent / "widget-api"
    return subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", str(threads)],
        cwd=data_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0, help="streaming time per phase")
    parser.add_argument("--lost-after", type=float, default=3.0,
                        help="seconds without any echo before missing frames count as lost "
                             "(3 as bench_relay; raise it on a loaded machine)")  # fmt: skip
    args = parser.parse_args(argv)
    LOST_AFTER[0] = args.lost_after
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    fake_proc, fake = _start_fake()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench-phone-") as data_dir:
        server = _start_server(fake, port, args.calls + 32, data_dir)
        try:
            _wait_ready(base, server)
            direct_url = fake["ws_url"] + "?model=gpt-realtime-2"
            direct = asyncio.run(_phase(args.calls, args.seconds, lambda i, at, s: _direct_call(
                i, direct_url, fake["api_key"], at, args.seconds, s)))  # fmt: skip
            pids = _proc_tree(server.pid)
            rss_before, cpu_before = _rss_mb(pids), _cpu_seconds(pids)
            load_before = os.getloadavg()[0]
            t0 = time.monotonic()
            url = base.replace("http://", "ws://") + "/ws/twilio/acme"
            bridged = asyncio.run(_phase(args.calls, args.seconds, lambda i, at, s: _twilio_call(
                i, url, at, args.seconds, s)))  # fmt: skip
            elapsed = time.monotonic() - t0
            pids = _proc_tree(server.pid)
            cpu = _cpu_seconds(pids) - cpu_before
            rss_peak = _rss_mb(pids)
        finally:
            server.send_signal(signal.SIGTERM)
            fake_proc.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            fake_proc.wait(timeout=30)
    d, b = _summary(direct), _summary(bridged)
    n = max(1, b["sessions_ok"])
    result = {
        "calls": args.calls,
        "seconds_streamed": args.seconds,
        "frame_ms": 20,
        "lost_after_seconds": args.lost_after,
        "codec": "audio/pcmu passthrough (8 kHz mu-law, 160 B/frame, no resampling)",
        "direct": d,
        "bridge": b,
        "added_latency_ms_p50": round(b["latency_ms_p50"] - d["latency_ms_p50"], 3),
        "added_latency_ms_p99": round(b["latency_ms_p99"] - d["latency_ms_p99"], 3),
        "frames_lost": b["frames_lost"],
        # The bridge code alone, per frame (no sockets, no event loop): what it adds by itself.
        "bridge_code_cost": bridge_code_cost(),
        "failed_calls_by_error": _failures(bridged),
        "server_cpu_percent_of_core_total": round(100 * cpu / elapsed, 1),
        "server_cpu_us_per_bridged_frame": round(
            1e6 * cpu / max(1, b["frames_sent"] + b["frames_received"]), 1
        ),
        "server_rss_mb_total": round(rss_peak, 1),
        "server_rss_mb_per_call": round(max(0.0, rss_peak - rss_before) / n, 3),
        "cores": os.cpu_count(),
        # Shared machine (8 helpers on 2 cores): a load above the core count inflates both phases.
        "loadavg_1min_before_bridge_phase": round(load_before, 2),
        "loadavg_1min_after": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
