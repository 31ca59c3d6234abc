"""One in-process server (uvicorn in a thread, as a worker runs it) with tight limits, so each
defence shows within a second or two; clients connect from several loopback addresses."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.faults import inprocess

# Small enough that the tests reach every limit quickly; the defaults are in Settings.
LIMITS: dict[str, Any] = {
    "server_threads": 2,
    "server_header_timeout_seconds": 1.0,
    "server_body_timeout_seconds": 1.0,
    "server_max_connections_per_client": 8,
    "relay_idle_timeout_seconds": 2,
    "ws_send_queue_bytes": 64 * 1024,
}


@contextmanager
def _serve(factory: pytest.TempPathFactory, embedder: Any, **extra: Any) -> Iterator[str]:
    data = factory.mktemp("serving")
    settings = inprocess.settings_for(data, f"sqlite:///{data / 'widget.db'}", **LIMITS, **extra)
    with inprocess.serve_app(settings, embedder) as (base_url, _services):
        yield base_url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[str]:
    with _serve(tmp_path_factory, embedder) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def unmetered_server(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[str]:
    """No rate caps, so only the send queue can stop a page that never reads."""
    unmetered = {"ws_max_frames_per_second": 10**6, "ws_max_bytes_per_second": 10**9}
    with _serve(tmp_path_factory, embedder, **unmetered) as base_url:
        yield base_url


def port_of(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1])


def connect_from(address: str, port: int, timeout: float = 5.0) -> socket.socket:
    """A TCP connection to the server from `address` (any 127.x.y.z is this machine)."""
    sock = socket.socket()
    sock.settimeout(timeout)
    sock.bind((address, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def thread_count() -> int:
    """This process's OS threads, from /proc (the server runs in this process)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise RuntimeError("no Threads line in /proc/self/status")


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")
