"""The direct frame path (serving.direct_ws) under a real uvicorn server and a real client.

A tiny ASGI endpoint wires `PageLink` as the relay does; the client is the `websockets` library.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from widget_api.relay.page_link import PageLink, SocketLimits
from widget_api.serving.direct_ws import direct_ws_protocol
from widget_api.serving.guard import ConnectionGuard
from widget_api.serving.websocket import WebSocketRequest

GENEROUS = SocketLimits(
    max_message_bytes=4096,
    max_send_queue_bytes=64 * 1024 * 1024,
    frames_per_second=1e6,
    frame_burst=10**6,
    bytes_per_second=1e9,
    byte_burst=10**9,
)


class Endpoint:
    """Accepts, waits `attach_after` seconds, then runs `behaviour(page)` until the page leaves."""

    def __init__(self, behaviour: Callable[[PageLink], Callable[[str | bytes], None]],
                 attach_after: float = 0.0) -> None:  # fmt: skip
        self.behaviour = behaviour
        self.attach_after = attach_after
        self.queued_receives = 0  # frames that came through ASGI's receive() instead

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return

        async def counting_receive() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            if message["type"] == "websocket.receive":
                self.queued_receives += 1
            return message

        page = await WebSocketRequest(scope, counting_receive, send, GENEROUS).accept()
        assert page is not None
        await asyncio.sleep(self.attach_after)
        page.attach(self.behaviour(page), lambda: None)
        await page.lost


@contextmanager
def serve(app: Endpoint) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    guard = ConnectionGuard(max_per_client=0, header_timeout=5, max_header_bytes=16384)
    config = uvicorn.Config(
        app, ws=direct_ws_protocol(guard), ws_max_size=4096, log_config=None, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{sock.getsockname()[1]}/ws"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def echo(page: PageLink) -> Callable[[str | bytes], None]:
    def on_frame(frame: str | bytes) -> None:
        page.send(frame if isinstance(frame, str) else frame.decode())

    return on_frame


def test_frames_keep_their_order_across_attach_and_skip_the_asgi_queue() -> None:
    app = Endpoint(echo, attach_after=0.3)  # the first frames wait in uvicorn's queue
    with serve(app) as url, connect(url, compression=None) as ws:
        for i in range(2000):
            ws.send(f"frame {i}")
        echoed = [ws.recv(timeout=10) for _ in range(2000)]
    assert echoed == [f"frame {i}" for i in range(2000)]
    # What arrived before attach (one socket read's worth: reading then pauses) went through
    # receive(); the rest went straight to the handler.
    assert 1 <= app.queued_receives < 1000


def test_a_page_that_reads_late_gets_every_frame_in_order() -> None:
    """Writes that meet back-pressure wait in the page's queue; later ones must queue behind."""

    def burst(page: PageLink) -> Callable[[str | bytes], None]:
        async def stream() -> None:  # ~10 MB, far past the transport's buffer, over many turns
            for i in range(20000):
                page.send(f"{i:06d}" + "x" * 500)
                if i % 50 == 0:
                    await asyncio.sleep(0.001)  # the loop runs: back-pressure comes and goes

        def on_frame(_frame: str | bytes) -> None:
            tasks.add(asyncio.get_running_loop().create_task(stream()))

        return on_frame

    tasks: set[asyncio.Task[None]] = set()

    with serve(Endpoint(burst)) as url, connect(url, compression=None, max_size=None) as ws:
        ws.send("go")
        got = []
        for n in range(20000):
            if n % 1000 == 0:
                time.sleep(0.02)  # read slower than the server writes
            got.append(int(str(ws.recv(timeout=10))[:6]))
    assert got == list(range(20000))


def test_a_message_over_the_size_limit_still_closes_with_1009() -> None:
    with serve(Endpoint(echo)) as url, connect(url, compression=None) as ws:
        ws.send("small")
        assert ws.recv(timeout=5) == "small"
        ws.send("y" * 5000)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_a_failing_frame_handler_drops_only_its_connection() -> None:
    def fragile(page: PageLink) -> Callable[[str | bytes], None]:
        def on_frame(frame: str | bytes) -> None:
            if frame == "boom":
                raise RuntimeError("handler bug")
            page.send(frame if isinstance(frame, str) else frame.decode())

        return on_frame

    with serve(Endpoint(fragile)) as url:
        with connect(url, compression=None) as other, connect(url, compression=None) as ws:
            ws.send("fine")
            assert ws.recv(timeout=5) == "fine"
            ws.send("boom")
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=5)
            other.send("still here")
            assert other.recv(timeout=5) == "still here"
