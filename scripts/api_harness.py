"""The harness under `scripts/bench_api.py` and the load and fault tests: a `widget-api serve`
process on a loopback port, a keep-alive HTTP client per thread, percentiles, a throwaway
PostgreSQL database.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PG_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ORIGIN_HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((ORIGIN_HOST, 0))
        return int(sock.getsockname()[1])


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[index], 3)


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"p50_ms": percentile(values, 50), "p99_ms": percentile(values, 99)}


class Client:
    """One keep-alive HTTP connection (one per worker thread)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection(ORIGIN_HOST, port, timeout=30)

    def post(
        self, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], Any, float]:
        data = json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json", **headers}
        started = time.perf_counter()
        try:
            response, raw = self._send(path, data, all_headers)
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closed the idle kept-alive connection (its keep-alive timeout) before
            # this request reached it: once more on a new connection, as browsers do.
            started = time.perf_counter()
            response, raw = self._send(path, data, all_headers)
        elapsed = (time.perf_counter() - started) * 1000
        return response.status, dict(response.getheaders()), json.loads(raw), elapsed

    def _send(
        self, path: str, data: bytes, headers: dict[str, str]
    ) -> tuple[http.client.HTTPResponse, bytes]:
        try:
            self.conn.request("POST", path, body=data, headers=headers)
            response = self.conn.getresponse()
            return response, response.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection(ORIGIN_HOST, self.port, timeout=30)
            raise


_local = threading.local()


def thread_client(port: int) -> Client:
    client: Client | None = getattr(_local, "client", None)
    if client is None or client.port != port:
        client = _local.client = Client(port)
    return client


# --- the server process ---------------------------------------------------------------------


@contextmanager
def server(database_url: str, data_dir: Path, fake: Any) -> Iterator[int]:
    port = free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "WIDGET_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "OPENAI_API_KEY": fake.api_key,
        "OPENAI_BASE_URL": fake.base_url,
        "WIDGET_SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "WIDGET_SESSION_RATE_PER_MINUTE_PER_CLIENT": "1000000",
        "WIDGET_SESSION_RATE_PER_MINUTE_PER_COMPANY": "1000000",
        "WIDGET_SESSION_DAILY_CAP_PER_COMPANY": "1000000",
        "WIDGET_VOICE_MINUTES_PER_DAY_PER_COMPANY": "100000000",  # each mint reserves 15 min
        # Every client of the benchmark is this one address: no per-address connection cap.
        "WIDGET_SERVER_MAX_CONNECTIONS_PER_CLIENT": "0",
        "WIDGET_LOG_LEVEL": "WARNING",
    }
    log_file = (data_dir / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "widget_api.cli", "serve", "--port", str(port)],
        cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_ready(port, proc)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log_file.close()


# A first start exports the ONNX model and ingests the demo docs: minutes on a busy machine.
def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection(ORIGIN_HOST, port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("server did not become ready")


# --- measurements ---------------------------------------------------------------------------


def run_concurrently(n: int, concurrency: int, fn: Callable[[int], Any]) -> tuple[list[Any], float]:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(fn, range(n)))
    return results, time.perf_counter() - started


# --- databases --------------------------------------------------------------------------------


@contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg

    name = f"bench_api_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
