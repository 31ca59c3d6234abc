"""`widget-api serve` with no configuration: gunicorn boots, SQLite is migrated, the demo docs
are ingested before serving, and the text-mode fallback answers."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(
    port: int, method: str, path: str, body: dict | None = None, headers: dict | None = None
):  # type: ignore[no-untyped-def]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=json.dumps(body) if body else None, headers=headers or {})
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"null")


@pytest.mark.slow
def test_serve_runs_the_embedded_defaults(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("WIDGET_", "OPENAI_", "DATABASE_URL"))
    }  # fmt: skip
    env.update(HF_HUB_OFFLINE="1", WIDGET_LOG_LEVEL="INFO")
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "widget_api.cli", "serve", "--port", str(port), "--threads", "8"],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if _request(port, "GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "server never became ready"
            time.sleep(0.5)
        status, body = _request(
            port, "POST", "/api/realtime/session", {"companyId": "acme"},
            {"Content-Type": "application/json", "Origin": f"http://127.0.0.1:{port}"},
        )  # fmt: skip
        assert (status, body["error"]["code"]) == (503, "realtime_unavailable")
        assert (tmp_path / "data" / "widget.db").exists()
        assert (tmp_path / "data" / "admin_tokens" / "acme").exists()
        output = (tmp_path / "serve.log").read_text()
        assert f"http://127.0.0.1:{port}/" in output
        assert "ingested docs for acme" in output
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
