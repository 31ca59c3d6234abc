"""`python -m tests.fake_openai`: the standalone server the benchmarks start."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.fake_openai.client import RealtimeTestClient

ROOT = Path(__file__).resolve().parents[2]


def test_standalone_echo_server_prints_its_address_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_openai", "--echo", "--api-key", "sk-standalone"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["api_key"] == "sk-standalone" and info["echo"] is True
        assert info["base_url"].startswith("http://127.0.0.1:")
        with RealtimeTestClient(
            info["ws_url"] + "?model=gpt-realtime", api_key="sk-standalone"
        ) as client:
            client.recv_until("conversation.created")
            frame = base64.b64encode(b"\x07" * 960).decode()
            client.send("input_audio_buffer.append", audio=frame)
            assert client.recv()["delta"] == frame
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
