"""Concurrent `log_lead` calls with retried call ids: exactly the unique leads, on both DBs."""

from __future__ import annotations

import pytest

from tests.faults.stack import Stack
from tests.load.lead_load import run_lead_load

CALLS = 200  # the report runs 1,000
RETRY_SHARE = 0.2
pytestmark = pytest.mark.slow


def _check(result: dict) -> None:  # type: ignore[type-arg]
    assert result["failed_requests"] == 0
    assert result["calls_with_differing_outputs"] == 0  # every retry got the first answer
    assert result["leads_stored"] == result["leads_expected"] == CALLS - int(CALLS * RETRY_SHARE)
    assert result["tool_calls_in_db"] == result["unique_calls"]
    assert result["none_lost"] and result["none_doubled"]


def test_sqlite_server_process_stores_exactly_the_unique_leads(stack: Stack) -> None:
    sessions = [stack.tool_session(f"ws_lead_load_{i}") for i in range(16)]
    result = run_lead_load(
        stack.server.base_url, stack.database_url, sessions, total=CALLS,
        retry_share=RETRY_SHARE, concurrency=32,
    )  # fmt: skip
    _check(result)


@pytest.mark.postgres
def test_postgresql_stores_exactly_the_unique_leads(postgres_app) -> None:  # type: ignore[no-untyped-def]
    base_url, database_url, sessions = postgres_app
    result = run_lead_load(
        base_url, database_url, sessions, total=CALLS, retry_share=RETRY_SHARE, concurrency=32
    )
    _check(result)
