"""Slow, idle, oversized, flooding and junk clients against a real loopback server.

Each test is bounded in sockets and time and asserts outcomes (status codes, close codes, thread
and memory ceilings), never how long something took.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager

import pytest
from websockets.asyncio.client import connect as aconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin
from wsproto import WSConnection
from wsproto.connection import ConnectionType
from wsproto.events import AcceptConnection, Request, TextMessage

from tests import isolated_loop
from tests.serving.conftest import LIMITS, connect_from, port_of, rss_bytes, thread_count

CAP = LIMITS["server_max_connections_per_client"]


def _get(base: str, path: str, source: str = "127.0.0.1") -> tuple[int, dict]:  # type: ignore[type-arg]
    sock = connect_from(source, port_of(base))
    with sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body or b"null")


def _status_of(sock: socket.socket) -> int | None:
    """The status the server answered on `sock` (None: closed without an answer)."""
    try:
        data = sock.recv(4096)
    except OSError:
        return None
    return int(data.split()[1]) if data.startswith(b"HTTP/1.1") else None


def _ws(base: str, source: str, path: str = "/ws/realtime/acme?mode=text") -> ClientConnection:
    url = base.replace("http://", "ws://") + path
    sock = connect_from(source, port_of(base))
    return connect(url, sock=sock, origin=base, open_timeout=5)  # type: ignore[arg-type]


@contextmanager
def _text_conversations(base: str, count: int, net: int) -> Iterator[list[ClientConnection]]:
    """`count` open text conversations (each greeted), spread over addresses under the cap."""
    with ExitStack() as stack:
        sockets = []
        for i in range(count):
            ws = stack.enter_context(_ws(base, f"127.{net}.0.{1 + i // (CAP - 1)}"))
            _until(ws, "widget.notice")
            sockets.append(ws)
        yield sockets


def _until(ws: ClientConnection, kind: str) -> dict:  # type: ignore[type-arg]
    while True:
        event = json.loads(ws.recv(timeout=10))
        if event["type"] == kind:
            return event  # type: ignore[no-any-return]


# --- slow HTTP clients ----------------------------------------------------------------------
def test_slow_header_clients_do_not_stall_healthz_and_are_timed_out(server: str) -> None:
    with ExitStack() as stack:
        slow = []
        for i in range(3 * CAP):  # three addresses, each at its cap
            sock = stack.enter_context(connect_from(f"127.0.2.{1 + i // CAP}", port_of(server)))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # never finished
            slow.append(sock)
        assert _get(server, "/healthz")[0] == 200
        # Past the header deadline each slow client gets 408 and is closed.
        assert {_status_of(sock) for sock in slow} == {408}


def test_connections_over_the_per_address_cap_get_429(server: str) -> None:
    with ExitStack() as stack:
        for _ in range(CAP):
            sock = stack.enter_context(connect_from("127.0.3.1", port_of(server)))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # held open, headers unfinished
        time.sleep(0.2)  # let the server accept them all before the next one arrives
        assert _get(server, "/healthz", source="127.0.3.1")[0] == 429
        assert _get(server, "/healthz", source="127.0.3.2")[0] == 200


def test_slow_bodies_hold_no_request_thread(server: str) -> None:
    threads = LIMITS["server_threads"]
    with ExitStack() as stack:
        slow = []
        for i in range(2 * threads + 2):  # more slow bodies than request threads
            sock = stack.enter_context(connect_from(f"127.0.4.{1 + i}", port_of(server)))
            sock.sendall(
                b"POST /api/tool/search_knowledge HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"query\": \""
            )
            slow.append(sock)
        assert _get(server, "/healthz")[0] == 200
        assert {_status_of(sock) for sock in slow} == {408}


def test_a_declared_body_over_the_limit_gets_413_before_it_is_sent(server: str) -> None:
    with connect_from("127.0.4.200", port_of(server)) as sock:
        sock.sendall(
            b"POST /api/tool/search_knowledge HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
        )
        assert _status_of(sock) == 413


# --- WebSockets -----------------------------------------------------------------------------
def test_idle_websockets_hold_no_thread(server: str) -> None:
    """Clients on one asyncio loop (no client threads), so /proc counts the server's threads."""

    async def hold(count: int, net: int, inside: Callable[[], Awaitable[None]]) -> None:
        url = server.replace("http://", "ws://") + "/ws/realtime/acme?mode=text"
        async with AsyncExitStack() as stack:
            for i in range(count):
                sock = connect_from(f"127.{net}.0.{1 + i // (CAP - 1)}", port_of(server))
                sock.setblocking(False)
                ws = await stack.enter_async_context(
                    aconnect(url, sock=sock, origin=Origin(server), open_timeout=5)
                )
                while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "widget.notice":
                    pass
            await inside()

    counts: dict[str, int] = {}

    async def measure() -> None:
        counts["before"] = thread_count()  # warm: the pools have started their threads

        async def during() -> None:
            counts["during"] = thread_count()
            status = await asyncio.to_thread(_get, server, "/healthz")
            counts["healthz"] = status[0]

        await hold(40, 2, during)

    isolated_loop.run(hold(6, 1, measure))
    assert counts["healthz"] == 200
    # 40 more open conversations, and at most the blocking-work pool's few extra threads
    # (plus the one asyncio.to_thread started for the probe).
    assert counts["during"] - counts["before"] <= 5


def test_a_message_over_the_size_limit_closes_with_1009(server: str) -> None:
    with _ws(server, "127.0.5.1") as ws:
        _until(ws, "widget.notice")
        ws.send("x" * (256 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_a_frame_flood_closes_with_1008(server: str) -> None:
    with _ws(server, "127.0.5.2") as ws:
        _until(ws, "widget.notice")
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(2000):  # far past the per-second allowance and its burst
                ws.send('{"type":"input_audio_buffer.clear"}')
            while True:
                ws.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "rate_exceeded")


def test_a_byte_flood_closes_with_1008(server: str) -> None:
    """Few frames, each under the size cap, but far more bytes a second than any page sends."""
    with _ws(server, "127.0.5.5") as ws:
        _until(ws, "widget.notice")
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(40):  # 8 MB at most, against a 1 MB burst and 256 KB/s
                ws.send("x" * (200 * 1024))
            while True:
                ws.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "rate_exceeded")


def test_junk_frames_do_not_keep_a_conversation_alive(server: str) -> None:
    with _ws(server, "127.0.5.3") as ws:
        _until(ws, "widget.notice")
        codes = []
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(100):  # bounded: the idle cap is 2 s, this is 20 s of junk
                with contextlib.suppress(ConnectionClosed):  # the close may beat our send
                    ws.send("not an event")
                event = json.loads(ws.recv(timeout=5))  # what arrived before the close first
                codes.append(event.get("error", {}).get("code"))
                time.sleep(0.2)
    assert "event_not_allowed" in codes and codes[-1] == "session_idle"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000


def test_a_page_that_never_reads_is_dropped_and_its_memory_bounded(unmetered_server: str) -> None:
    """Junk frames each earn an error event; the page reads none of them."""
    server = unmetered_server
    rss_before = rss_bytes()
    with connect_from("127.0.5.4", port_of(server)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client = WSConnection(ConnectionType.CLIENT)
        sock.sendall(client.send(Request(
            host="x", target="/ws/realtime/acme?mode=text",
            extra_headers=[(b"origin", server.encode())],
        )))  # fmt: skip
        client.receive_data(sock.recv(4096))
        assert any(isinstance(e, AcceptConnection) for e in client.events())
        junk = client.send(TextMessage(data="x" * 100))
        dropped = False
        for _ in range(400):  # at most ~40 MB of junk; the server answers ~200 B per frame
            try:
                sock.sendall(junk * 1000)
            except OSError:  # reset: the server dropped us
                dropped = True
                break
        assert dropped
    assert rss_bytes() - rss_before < 100 * 1024 * 1024


def test_websockets_over_the_per_address_cap_are_refused_with_429(server: str) -> None:
    with ExitStack() as stack:
        for _ in range(CAP):
            ws = stack.enter_context(_ws(server, "127.0.6.1"))
            _until(ws, "widget.notice")
        # A raw handshake: the refusal comes before the request is even read.
        with connect_from("127.0.6.1", port_of(server)) as sock:
            sock.sendall(
                b"GET /ws/realtime/acme?mode=text HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\nOrigin: " + server.encode() + b"\r\n\r\n"
            )
            assert _status_of(sock) == 429
        with _ws(server, "127.0.6.2") as other:
            assert _until(other, "widget.notice")["code"] == "realtime_unavailable"
