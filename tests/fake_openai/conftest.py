"""Fixtures for the fake's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_openai import FakeOpenAI
from tests.fake_openai.client import RealtimeTestClient


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def connect(fake: FakeOpenAI):  # type: ignore[no-untyped-def]
    """Open a Realtime WebSocket with the standard key; skips session/conversation.created."""
    opened: list[RealtimeTestClient] = []

    def _connect(*, skip_greeting: bool = True, **kwargs) -> RealtimeTestClient:  # type: ignore[no-untyped-def]
        kwargs.setdefault("api_key", fake.api_key)
        client = RealtimeTestClient(fake.ws_url + "?model=gpt-realtime", **kwargs)
        opened.append(client)
        if skip_greeting:
            assert client.recv()["type"] == "session.created"
            assert client.recv()["type"] == "conversation.created"
        return client

    yield _connect
    for client in opened:
        client.close()
