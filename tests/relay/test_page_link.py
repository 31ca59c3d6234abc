"""PageLink's direct path, driven by fakes: order is kept when a direct write is refused."""

from __future__ import annotations

import asyncio
from typing import Any

from widget_api.relay.page_link import PageLink, SocketLimits


class FakeSocket:
    """ASGI send/receive plus the direct extension; `writable` plays the transport's state."""

    def __init__(self) -> None:
        self.writable = True
        self.wire: list[str] = []  # what reached the socket, in order
        self.asgi_sent: list[str] = []
        self.handler: Any = None
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def send_text(self, text: str) -> bool:
        if not self.writable:
            return False
        self.wire.append(text)
        return True

    async def send(self, message: dict[str, Any]) -> None:
        while not self.writable:
            await asyncio.sleep(0.001)
        if message["type"] == "websocket.send":
            self.wire.append(message["text"])
            self.asgi_sent.append(message["text"])

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    def direct(self) -> dict[str, Any]:
        return {"attach": self.attach, "send_text": self.send_text}

    def attach(self, handler: Any) -> None:
        self.handler = handler


def test_sends_after_a_refused_direct_write_queue_behind_it() -> None:
    async def scenario() -> FakeSocket:
        sock = FakeSocket()
        page = PageLink(sock.receive, sock.send, SocketLimits(), direct=sock.direct())
        page.send("a")  # direct
        sock.writable = False
        page.send("b")  # refused: queued, a writer waits
        sock.writable = True  # the transport drained, but the writer has not run yet
        page.send("c")  # must not overtake "b"
        await asyncio.sleep(0.05)
        return sock

    sock = asyncio.run(scenario())
    assert sock.wire == ["a", "b", "c"]
    assert sock.asgi_sent == ["b", "c"]


def test_frames_reach_the_handler_directly_and_through_receive() -> None:
    async def scenario() -> list[str | bytes]:
        sock = FakeSocket()
        page = PageLink(sock.receive, sock.send, SocketLimits(), direct=sock.direct())
        got: list[str | bytes] = []
        await sock.inbox.put({"type": "websocket.receive", "text": "queued before attach"})
        page.attach(got.append, lambda: None)
        await asyncio.sleep(0.01)
        sock.handler("direct")
        await sock.inbox.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(page.lost, 1)
        return got

    assert asyncio.run(scenario()) == ["queued before attach", "direct"]


def test_a_flood_through_the_direct_path_closes_with_1008() -> None:
    async def scenario() -> list[dict[str, Any]]:
        sock = FakeSocket()
        closes: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "websocket.close":
                closes.append(message)

        limits = SocketLimits(frames_per_second=10, frame_burst=5)
        page = PageLink(sock.receive, send, limits, direct=sock.direct())
        page.attach(lambda _frame: None, lambda: None)
        for _ in range(20):
            sock.handler("x")
        await asyncio.sleep(0.01)
        return closes

    assert asyncio.run(scenario()) == [
        {"type": "websocket.close", "code": 1008, "reason": "rate_exceeded"}
    ]
