"""`widget-api serve --workers 2` with REDIS_URL: the limits hold across the worker processes.

One real server process (gunicorn master, two workers), real Redis with this test's own key
prefix, the OpenAI fake as the upstream. Thirty voice sockets from one address, all held open,
land on both workers; the server still opens exactly as many upstream connections
as one address may start per minute. With per-process counters it would be up to twice that.
The same process shows that the per-address connection cap holds across the workers, and the
data folder's permissions as `serve` leaves them.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from scripts.api_harness import free_port, wait_ready
from tests.fake_openai import FakeOpenAI
from tests.faults import procfs
from tests.redis_fixtures import REDIS_URL, private_prefix
from tests.widget.conftest import recv_until

pytestmark = pytest.mark.slow  # one server boot: two workers load the model (~30-90 s)

PER_ADDRESS = 10
SOCKETS = 30
# Open connections per address, across both workers (each admits half): room for the thirty
# voice sockets above however the kernel spreads them.
CONNECTIONS = 2 * SOCKETS


class Served:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, data_dir: Path) -> None:
        self.proc, self.port, self.data_dir = proc, port, data_dir
        self.base = f"http://127.0.0.1:{port}"

    def workers(self) -> list[int]:
        return procfs.children(self.proc.pid)

    def page_sockets(self, pid: int) -> int:
        """ESTABLISHED sockets `pid` accepted on the server's port (visitors' WebSockets)."""
        mine = procfs.socket_inodes(pid)
        return sum(1 for local, _r, state, inode in procfs.tcp_table(pid)
                   if local == self.port and state == "ESTABLISHED" and inode in mine)  # fmt: skip


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        server.script([])
        yield server


@pytest.fixture(scope="module")
def prefix() -> Iterator[str]:
    """This module's own Redis key prefix (one server boot serves both tests)."""
    with private_prefix() as prefix:
        yield prefix


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI, prefix: str
) -> Iterator[Served]:
    tmp_path = tmp_path_factory.mktemp("two-workers")
    port, data_dir = free_port(), tmp_path / "data"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OPENAI_API_KEY": fake.api_key,
        "OPENAI_BASE_URL": fake.base_url,
        "REDIS_URL": REDIS_URL,
        "WIDGET_LIMITS_KEY_PREFIX": prefix,
        "WIDGET_INGEST_DEMO_ON_START": "false",  # not needed here; each worker boots faster
        "WIDGET_DATA_DIR": str(data_dir),
        "WIDGET_SECRET_KEY": "two-workers-" + "k" * 40,
        "WIDGET_SESSION_RATE_PER_MINUTE_PER_CLIENT": str(PER_ADDRESS),
        "WIDGET_SERVER_MAX_CONNECTIONS_PER_CLIENT": str(CONNECTIONS),
        "WIDGET_SERVER_HEADER_TIMEOUT_SECONDS": "120",  # the half-sent requests stay open
        "WIDGET_LOG_LEVEL": "INFO",  # each worker logs "ready:" once its app is loaded
    }
    env.pop("DATABASE_URL", None)
    env.pop("WIDGET_PUBLIC_ORIGIN", None)
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "widget_api.cli", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "2"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_ready(port, proc, timeout=240)
        _wait_both_ready(tmp_path / "server.log", proc)
        yield Served(proc, port, data_dir)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def _wait_both_ready(log: Path, proc: subprocess.Popen[bytes], timeout: float = 240) -> None:
    """/readyz answers once one worker is up; the other may still be loading the model."""
    deadline = time.monotonic() + timeout
    while log.read_text(errors="replace").count("ready: http://") < 2:
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        assert time.monotonic() < deadline, "the second worker did not start"
        time.sleep(0.2)


def _open(held: ExitStack, base: str, source: str) -> tuple[ClientConnection, str]:
    url = base.replace("http://", "ws://") + "/ws/realtime/acme?mode=voice"
    ws = held.enter_context(connect(url, origin=base, open_timeout=30, source_address=(source, 0)))
    first = recv_until(ws, lambda e: e["type"] in ("session.updated", "widget.notice"), 30)[-1]
    return ws, "relayed" if first["type"] == "session.updated" else str(first.get("code"))


def _burst(served: Served, source: str) -> tuple[list[str], list[int]]:
    """Thirty voice sockets, opened one after another and held open: their outcomes and the
    sockets each worker holds. (Opened all at once, one worker's accept loop takes them all.)"""
    with ExitStack() as held:
        opened = [_open(held, served.base, source) for _ in range(SOCKETS)]
        return [o for _ws, o in opened], [served.page_sockets(w) for w in served.workers()]


def test_limits_hold_across_two_workers(served: Served, fake: FakeOpenAI) -> None:
    assert len(served.workers()) == 2
    spread = False
    for source in ("127.0.0.1", "127.0.0.3", "127.0.0.4"):  # a fresh address per burst
        before = len(fake.ws_sessions)
        outcomes, per_worker = _burst(served, source)
        assert outcomes.count("relayed") == PER_ADDRESS, outcomes
        assert outcomes.count("rate_limited") == SOCKETS - PER_ADDRESS
        assert len(fake.ws_sessions) - before == PER_ADDRESS
        if all(per_worker):  # both workers took part in this burst's decisions
            spread = True
            break
    assert spread, f"every burst landed on one worker ({per_worker}); nothing shown"


def _answered_429(conn: socket.socket) -> bool:
    """Whether the server answered this half-sent request with its 429 (an admitted one is
    still waiting for the rest of its headers, so nothing is there to read)."""
    conn.settimeout(0.2)
    try:
        answer = conn.recv(512)
    except TimeoutError:
        return False
    assert answer.startswith(b"HTTP/1.1 429") and b'"rate_limited"' in answer, answer[:200]
    return True


def test_the_connection_cap_holds_across_two_workers(served: Served) -> None:
    # Idle half-sent requests from one fresh address, opened one after another so the kernel
    # spreads them over both workers; with a count per worker the address would hold up to
    # twice the cap.
    attempts = CONNECTIONS + CONNECTIONS // 2
    with ExitStack() as held:
        conns = []
        for _ in range(attempts):
            conn = held.enter_context(socket.create_connection(
                ("127.0.0.1", served.port), timeout=10, source_address=("127.0.0.5", 0)
            ))  # fmt: skip
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            conns.append(conn)
            time.sleep(0.02)
        time.sleep(0.5)  # every refusal is written (refused sockets linger a second to be read)
        per_worker = [served.page_sockets(w) for w in served.workers()]
        admitted = sum(not _answered_429(conn) for conn in conns)
    assert all(per_worker), f"every connection landed on one worker ({per_worker})"
    assert CONNECTIONS // 2 <= admitted <= CONNECTIONS


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_serve_leaves_the_data_folder_private(served: Served) -> None:
    data = served.data_dir
    assert _mode(data) == 0o700
    assert _mode(data / "widget.db") == 0o600
    assert _mode(data / "admin_tokens" / "acme") == 0o600  # generated at start-up
    assert (data / "chroma").is_dir()
    # Everything that carries data or secrets; `models/` is a cache derived from the public
    # embedding model (and the 0700 folder above keeps other users out of it anyway).
    exposed: dict[str, Any] = {
        str(p.relative_to(data)): oct(_mode(p))
        for p in data.rglob("*")
        if _mode(p) & 0o077 and not p.is_symlink() and p.relative_to(data).parts[0] != "models"
    }
    assert exposed == {}, "files or folders open to other users"
