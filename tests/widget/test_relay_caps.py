"""Duration and idle caps, and the no-key text mode, through the relay's narrow seams."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fake_openai import FakeOpenAI
from widget_api.relay.channel import ChannelClosed
from widget_api.relay.contracts import NullConversationLog, RelayLimits
from widget_api.relay.session import RelaySession
from widget_api.relay.upstream import open_upstream


class QueueChannel:
    """An in-memory page: frames to the relay go in `inbox`, frames from it land in `sent`."""

    def __init__(self) -> None:
        self.inbox: queue.Queue[str | None] = queue.Queue()
        self.sent: list[dict[str, Any]] = []
        self.closed_with: tuple[int, str] | None = None

    def send(self, text: str) -> None:
        if self.closed_with:
            raise ChannelClosed("closed")
        self.sent.append(json.loads(text))

    def receive(self, timeout: float | None) -> str | None:
        if self.closed_with:
            raise ChannelClosed("closed")
        try:
            frame = self.inbox.get(timeout=timeout)
        except queue.Empty:
            return None
        if frame is None:
            raise ChannelClosed("page left")
        return frame

    def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed_with = self.closed_with or (code, reason)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        server.script([])
        yield server


def _run(fake: FakeOpenAI, limits: RelayLimits, channel: QueueChannel, feed: bool) -> None:
    upstream = open_upstream(fake.base_url, fake.api_key, "gpt-realtime", timeout=5)
    if feed:  # the visitor keeps typing (activity), so only the duration cap can end it
        for _ in range(50):
            channel.inbox.put(json.dumps({"type": "input_audio_buffer.clear"}))
    RelaySession(
        channel, upstream, session={"type": "realtime"}, run_tool=_no_tools,
        conversation=NullConversationLog(), limits=limits,
    ).run()  # fmt: skip


def _no_tools(call_id: str, name: str, arguments: str) -> Any:
    raise AssertionError("no tool calls expected")


@pytest.mark.parametrize(
    ("limits", "feed", "code"),
    [
        (
            RelayLimits(max_session_seconds=60, idle_timeout_seconds=0.3, poll_seconds=0.05),
            False,
            "session_idle",
        ),
        (
            RelayLimits(max_session_seconds=0.3, idle_timeout_seconds=60, poll_seconds=0.01),
            True,
            "session_expired",
        ),
    ],
)
def test_caps_end_the_conversation_with_an_error_event(
    fake: FakeOpenAI, limits: RelayLimits, feed: bool, code: str
) -> None:
    channel = QueueChannel()
    _run(fake, limits, channel, feed)
    assert channel.sent[-1]["type"] == "error" and channel.sent[-1]["error"]["code"] == code
    assert channel.closed_with == (1000, code)
    record = fake.wait_for(lambda f: f.ws_sessions[-1].closed and f.ws_sessions[-1])
    assert record.closed_by == "client"


def test_page_leaving_closes_the_upstream(fake: FakeOpenAI) -> None:
    channel = QueueChannel()
    channel.inbox.put(None)
    _run(fake, RelayLimits(max_session_seconds=60, idle_timeout_seconds=60), channel, False)
    assert fake.wait_for(lambda f: f.ws_sessions[-1].closed)
