"""A private PostgreSQL restarted (fast shutdown) in the middle of a `log_lead` load."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults import inprocess
from tests.faults.pg_restart import run_pg_restart
from tests.faults.private_postgres import PrivatePostgres
from widget_api.tokens import issue_tool_token

CALLS = 240  # the report runs 1,000
pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as pg:
        yield pg


def test_leads_survive_a_restart_mid_load_and_are_stored_exactly_once(
    private_pg: PrivatePostgres, tmp_path: Path, embedder: Any
) -> None:
    settings = inprocess.settings_for(tmp_path, private_pg.url)
    with inprocess.serve_app(settings, embedder) as (base_url, services):

        def session(session_id: str) -> dict[str, str]:
            token = issue_tool_token(services.signing_key, "acme", session_id, 3600)
            return {"session_id": session_id, "tool_token": token}

        result = run_pg_restart(
            base_url, private_pg.url, session, private_pg.restart, calls=CALLS, concurrency=16
        )
    assert result["restarted_mid_load"], result["restart"]
    assert result["failed_calls"] == []  # the server retried; no lead was lost
    assert result["success_answers"] == CALLS
    assert result["successes_stored_exactly_once"]
    assert result["leads_stored"] == result["leads_expected"] == CALLS
    assert result["duplicates"] == 0
