"""`widget-api serve` in its own process, for fault and load runs that need a real server.

The environment mirrors `scripts/bench_api.py`'s server (its harness's readiness wait and port
helper are reused here); callers add what their scenario needs (timeouts, Chroma host, ingest on/off).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import IO, Any

from scripts.api_harness import free_port, wait_ready
from tests.faults import procfs

REPO = Path(__file__).resolve().parents[2]
STOP_GRACE_SECONDS = 2.0


class ServerProcess:
    """gunicorn master + one uvicorn worker; `worker_pid` is where requests run."""

    def __init__(self, data_dir: Path, database_url: str, env: dict[str, str] | None = None,
                 *, threads: int = 64) -> None:  # fmt: skip
        self.data_dir = data_dir
        self.port = free_port()
        self.secret_key = "faults-" + uuid.uuid4().hex
        self.env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "WIDGET_DATA_DIR": str(data_dir),
            "DATABASE_URL": database_url,
            "WIDGET_SECRET_KEY": self.secret_key,
            "WIDGET_SESSION_RATE_PER_MINUTE_PER_CLIENT": "1000000",
            "WIDGET_SESSION_RATE_PER_MINUTE_PER_COMPANY": "1000000",
            "WIDGET_SESSION_DAILY_CAP_PER_COMPANY": "1000000",
            "WIDGET_VOICE_MINUTES_PER_DAY_PER_COMPANY": "100000000",  # each mint reserves 15 min
            # The reliability report fuzzes the admin API with wrong tokens on purpose.
            "WIDGET_ADMIN_FAILED_ATTEMPTS_PER_ADDRESS": "1000000",
            "WIDGET_LOG_LEVEL": "WARNING",
            "WIDGET_SERVER_THREADS": str(threads),
            "WIDGET_SERVER_MAX_CONNECTIONS_PER_CLIENT": "0",  # every client is 127.0.0.1
            **(env or {}),
        }
        self.threads = threads
        self.boot_threads = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[Any] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return self.base_url  # the server's own origin is always allowed

    def start(self, timeout: float = 240) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = (self.data_dir / "server.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "widget_api.cli", "serve", "--port", str(self.port)],
            cwd=REPO, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() can end master and worker
        )  # fmt: skip
        try:
            wait_ready(self.port, self.proc, timeout=timeout)
        except Exception:
            self.stop()
            raise
        # Before any real traffic: the worker's own threads plus the one that answered /readyz.
        self.boot_threads = procfs.holdings(self.worker_pid(), 0).threads
        return self

    @property
    def thread_budget(self) -> int:
        """Threads the worker may hold when idle: its boot threads plus a full request pool."""
        return self.boot_threads + self.threads

    def worker_pid(self) -> int:
        assert self.proc is not None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            kids = procfs.children(self.proc.pid)
            if kids:
                return kids[0]
            time.sleep(0.1)
        raise RuntimeError("gunicorn has no worker")

    def log_text(self) -> str:
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
            try:
                self.proc.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                # The worker's interpreter exit can take seconds (thread pools, torch); nothing
                # it holds needs a clean exit in a test, so end the whole group.
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
