"""Chroma server mode: a real `chroma run` subprocess on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from knowledge import KnowledgeBase, KnowledgeConfig, KnowledgeUnavailable
from knowledge import search as search_module

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    chroma = Path(sys.executable).parent / "chroma"
    port = free_port()
    proc = subprocess.Popen(
        [
            str(chroma),
            "run",
            "--path",
            str(tmp_path / "server-data"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("chroma server did not start")
            time.sleep(0.2)
        yield port, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_ingest_and_search_against_a_chroma_server(
    tmp_path: Path,
    embedder,
    chroma_server,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    port, proc = chroma_server
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "sla.md").write_text("# Support\n\n## SLA\nEnterprise uptime is 99.95 percent.\n")
    (docs / "pay.md").write_text("# Billing\n\nWe accept cards and SEPA direct debit.\n")
    config = KnowledgeConfig(
        chroma_path=tmp_path / "unused",
        chroma_host="127.0.0.1",
        chroma_port=port,
        index_dir=tmp_path / "bm25",
    )
    kb = KnowledgeBase(config, embedder)
    kb.ping()
    assert kb.ingest("acme", [docs]).count("added") == 2
    assert not (tmp_path / "unused").exists()  # nothing embedded on disk in server mode
    [hit, *_] = kb.search("acme", "what uptime do you guarantee?", top_k=2)
    assert hit.heading_path == ["Support", "SLA"]
    assert KnowledgeBase(config, embedder).ingest("acme", [docs]).count("unchanged") == 2

    monkeypatch.setattr(search_module, "VERSION_TTL", 0.0)
    proc.terminate()
    proc.wait(timeout=10)
    with pytest.raises(KnowledgeUnavailable):
        kb.ping()
    with pytest.raises(KnowledgeUnavailable):
        kb.search("acme", "uptime")
