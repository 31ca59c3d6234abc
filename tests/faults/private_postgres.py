"""A private, throwaway PostgreSQL server that a test may restart.

The machine's shared server on :5432 serves everyone's tests and must never be restarted, so
restart scenarios get their own cluster: `initdb` into a temporary folder owned by `postgres`
(PostgreSQL refuses to run as root), loopback only, on a free port, fsync off (nothing here
needs to survive a power cut).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from scripts.api_harness import free_port

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"


def _as_postgres(*argv: str | Path, timeout: float = 60) -> None:
    command = [str(a) for a in argv]
    if os.geteuid() == 0:
        command = ["runuser", "-u", PG_USER, "--", *command]
    subprocess.run(command, check=True, timeout=timeout, capture_output=True)


class PrivatePostgres:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._started = False

    @property
    def admin_url(self) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the `postgres` database (tests own the whole cluster)."""
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def start(self) -> PrivatePostgres:
        if os.geteuid() == 0:
            shutil.chown(self.root, PG_USER, PG_USER)
        _as_postgres(PG_BIN / "initdb", "-D", self.data, "-U", PG_USER, "--auth=trust",
                     "--no-sync", "-E", "UTF8")  # fmt: skip
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        _as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.root / "server.log",
                     "-o", options, "-w", "-t", "60", "start")  # fmt: skip
        self._started = True
        return self

    def restart(self) -> None:
        """Fast shutdown (open connections are terminated) and start again, as an operator would."""
        _as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.root / "server.log",
                     "-m", "fast", "-w", "-t", "60", "restart")  # fmt: skip

    def stop(self) -> None:
        if self._started:
            with contextlib.suppress(subprocess.CalledProcessError):
                _as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
            self._started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
