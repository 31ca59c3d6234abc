"""Time to first audio on the relay: from VAD `speech_stopped` to the first answer audio sent."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from websockets.sync.client import connect

from tests.fake_openai import FakeOpenAI, OnSpeech, Say, Turn
from tests.widget.conftest import recv_until, serve
from widget_api.crm.latency import session_turn_latencies
from widget_api.crm.models import Conversation

FRAME = base64.b64encode(b"\x10\x00" * 480).decode()  # 20 ms of PCM16 at 24 kHz


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def base(make_app: Any, fake: FakeOpenAI) -> Iterator[str]:
    app = make_app(openai_api_key=SecretStr(fake.api_key), openai_base_url=fake.base_url)
    with serve(app) as url:
        yield url


def test_relay_stores_each_turns_time_to_first_audio(
    base: str, fake: FakeOpenAI, widget_services: Any
) -> None:
    # The fake "thinks" 0.35 s before its first audio: the stored figure must include that.
    fake.script([
        Turn(OnSpeech("How much is Growth?", min_audio_ms=200),
             Say("Growth is 49 dollars.", chunks=2, delay_s=0.35)),
    ])  # fmt: skip
    with connect(base.replace("http://", "ws://") + "/ws/realtime/acme?mode=voice",
                 origin=base, open_timeout=5) as ws:  # type: ignore[arg-type]
        recv_until(ws, lambda e: e["type"] == "session.updated")
        for _ in range(15):
            ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": FRAME}))
        recv_until(ws, lambda e: e["type"] == "response.done")
    with widget_services.db.session() as session:
        session_id = session.scalars(
            select(Conversation.session_id).order_by(Conversation.id.desc())
        ).first()
    figures = fake.wait_for(lambda f: session_turn_latencies(widget_services.db, session_id))
    assert len(figures) == 1
    channel, turn, audio_ms, text_ms = figures[0]
    # The relay stamps speech_stopped when it reads it, a little after the fake sent it and
    # began its 0.35 s pause: the figure includes most of the pause, never all of it.
    assert (channel, turn) == ("relay", 1) and 300 <= audio_ms < 5000
    # The transcript of that audio is the turn's first text: it waited as long.
    assert text_ms is not None and 300 <= text_ms < 5000
