"""A Chroma server (`chroma run` from the venv) that a test can kill and bring back.

The product talks to it through `WIDGET_CHROMA_HOST`/`WIDGET_CHROMA_PORT` (Chroma's HTTP
client); the data folder survives a kill, so a restart on the same port serves the same
collections, as after a real outage.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import httpx

from scripts.api_harness import free_port

CHROMA = Path(sys.executable).with_name("chroma")


class ChromaServer:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="faults-chroma-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[Any] | None = None

    def start(self, timeout: float = 60) -> ChromaServer:
        self._log = (self.root / "chroma.log").open("ab")
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        self.proc = subprocess.Popen(
            [str(CHROMA), "run", "--path", str(self.root / "data"), "--host", "127.0.0.1",
             "--port", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma exited with {self.proc.returncode}")
            try:
                if httpx.get(self.heartbeat_url, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("chroma did not start")

    @property
    def heartbeat_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v2/heartbeat"

    def kill(self) -> None:
        """SIGKILL, as a crash: no goodbye to connected clients."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
