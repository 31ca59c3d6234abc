"""One fake OpenAI and one `widget-api serve` process shared by the fault and load tests.

Booting the server (model load, migrations) costs seconds, so `tests/faults` and `tests/load`
share one through `acquire`/`release`; each area's conftest wraps them in a session fixture.
Faults are set per test and cleared after; the server itself never changes.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from tests.fake_openai import FakeOpenAI
from tests.faults.server_process import ServerProcess
from widget_api.tokens import issue_tool_token

OPENAI_TIMEOUT_SECONDS = 1.0


@dataclass
class Stack:
    fake: FakeOpenAI
    server: ServerProcess
    database_url: str
    timeout: float
    _tmp: tempfile.TemporaryDirectory[str]

    def tool_session(self, session_id: str, company: str = "acme") -> dict[str, str]:
        """A session id and its tool token, minted with the server's signing key."""
        key = self.server.secret_key.encode()
        return {"session_id": session_id,
                "tool_token": issue_tool_token(key, company, session_id, 3600)}  # fmt: skip

    def close(self) -> None:
        self.server.stop()
        self.fake.stop()
        self._tmp.cleanup()


# Enough for the fault runs (8 conversations at a time) and the load tests; small enough that
# a full request pool still makes a tight bound for the thread-leak check.
SERVER_THREADS = 16


def start_stack(*, ingest: bool = False, timeout: float = OPENAI_TIMEOUT_SECONDS,
                threads: int = SERVER_THREADS) -> Stack:  # fmt: skip
    tmp = tempfile.TemporaryDirectory(prefix="faults-stack-")
    fake = FakeOpenAI().start()
    database_url = f"sqlite:///{tmp.name}/widget.db"
    env = {
        "OPENAI_API_KEY": fake.api_key,
        "OPENAI_BASE_URL": fake.base_url,
        "WIDGET_OPENAI_TIMEOUT_SECONDS": str(timeout),
        "WIDGET_INGEST_DEMO_ON_START": "true" if ingest else "false",
    }
    server = ServerProcess(Path(tmp.name) / "data", database_url, env, threads=threads)
    try:
        server.start()
    except Exception:
        fake.stop()
        tmp.cleanup()
        raise
    return Stack(fake, server, database_url, timeout, tmp)


_lock = threading.Lock()
_shared: Stack | None = None
_users = 0


def acquire() -> Stack:
    global _shared, _users
    with _lock:
        if _shared is None:
            _shared = start_stack()
        _users += 1
        return _shared


def release() -> None:
    global _shared, _users
    with _lock:
        _users -= 1
        if _users == 0 and _shared is not None:
            _shared.close()
            _shared = None
