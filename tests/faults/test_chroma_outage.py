"""Chroma (server mode) killed mid-conversation and started again."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults import inprocess
from tests.faults.chroma_outage import run_chroma_outage
from tests.faults.chroma_server import ChromaServer
from widget_api.settings import BUNDLED_COMPANIES_DIR
from widget_api.tokens import issue_tool_token

pytestmark = pytest.mark.slow  # a Chroma server subprocess


@pytest.fixture
def chroma() -> Iterator[ChromaServer]:
    with ChromaServer() as server:
        yield server


def one_doc_company(root: Path) -> Path:
    """The demo company with only its pricing page: ingesting every doc costs seconds."""
    companies = root / "companies"
    (companies / "acme" / "docs").mkdir(parents=True)
    shutil.copy(BUNDLED_COMPANIES_DIR / "acme.toml", companies / "acme.toml")
    shutil.copy(BUNDLED_COMPANIES_DIR / "acme" / "docs" / "pricing.md",
                companies / "acme" / "docs" / "pricing.md")  # fmt: skip
    return companies


def test_search_fails_softly_the_conversation_goes_on_and_search_recovers(
    chroma: ChromaServer, tmp_path: Path, embedder: Any
) -> None:
    settings = inprocess.settings_for(
        tmp_path, f"sqlite:///{tmp_path / 'widget.db'}", chroma_host="127.0.0.1",
        chroma_port=chroma.port, ingest_demo_on_start=True,
        companies_dir=one_doc_company(tmp_path),
    )  # fmt: skip
    with inprocess.serve_app(settings, embedder) as (base_url, services):

        def session(session_id: str) -> dict[str, str]:
            token = issue_tool_token(services.signing_key, "acme", session_id, 3600)
            return {"session_id": session_id, "tool_token": token}

        result = run_chroma_outage(base_url, session, chroma)
    assert result["before"] == {"search": "found", "readyz": 200}
    during = result["during_outage"]
    assert during["search"] == "knowledge_unavailable"
    assert during["get_demo_clip"] in ("found", "ok")
    assert during["log_lead"] == "ok"
    assert during["text_conversation"] == "answered"
    assert during["readyz"] == 503
    assert during["readyz_checks"] == {"database": "ok", "knowledge": "unavailable"}
    assert result["after_restart"] == {"search": "found", "readyz": 200}
    assert result["survived"]
