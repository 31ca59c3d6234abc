"""Many conversations at once share the relay loop: every audio frame arrives, in order, intact."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from websockets.asyncio.client import connect
from websockets.typing import Origin

from tests.fake_openai import FakeOpenAI, sine_pcm16
from tests.widget.conftest import serve

SESSIONS = 20
FRAMES = 50  # one second of 20 ms frames per session
TONE = sine_pcm16(20)


@pytest.fixture(scope="module")
def echo_relay(make_app: Any) -> Iterator[str]:
    with FakeOpenAI(echo=True) as fake:
        app = make_app(openai_api_key=SecretStr(fake.api_key), openai_base_url=fake.base_url)
        with serve(app) as base:
            yield base


def _frame(session: int, seq: int) -> tuple[str, str]:
    audio = base64.b64encode(struct.pack("<II", session, seq) + TONE[8:]).decode()
    return json.dumps({"type": "input_audio_buffer.append", "audio": audio}), audio


async def _conversation(base: str, index: int) -> tuple[list[str], list[str]]:
    url = base.replace("http://", "ws://") + "/ws/realtime/acme"
    sent: list[str] = []
    echoed: list[str] = []
    async with connect(url, origin=Origin(base), open_timeout=30) as ws:
        while json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] != "session.updated":
            pass
        for seq in range(FRAMES):
            frame, audio = _frame(index, seq)
            await ws.send(frame)
            sent.append(audio)
            await asyncio.sleep(0.02)
        while len(echoed) < FRAMES:
            event = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if event["type"] == "response.output_audio.delta":
                echoed.append(event["delta"])
    return sent, echoed


def test_concurrent_sessions_lose_no_audio_frame(echo_relay: str) -> None:
    async def run_all() -> list[tuple[list[str], list[str]]]:
        return await asyncio.gather(*(_conversation(echo_relay, i) for i in range(SESSIONS)))

    # In its own thread: Playwright's sync API (browser tests) leaves a loop running in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        results = pool.submit(asyncio.run, run_all()).result()
    assert len(results) == SESSIONS
    for sent, echoed in results:
        assert echoed == sent  # all of this session's frames, its own, in order, untouched
