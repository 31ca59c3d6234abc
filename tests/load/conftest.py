"""Load fixtures: the server process shared with tests/faults, and a PostgreSQL-backed app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.crm.db_fixtures import drop_pg_schema, pg_schema_url
from tests.faults import inprocess
from tests.faults import stack as stacks
from widget_api.tokens import issue_tool_token


@pytest.fixture(scope="session")
def stack() -> Iterator[stacks.Stack]:
    yield stacks.acquire()
    stacks.release()


@pytest.fixture(scope="module")
def postgres_app(
    postgres_database_url: str, embedder: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, list[dict[str, str]]]]:
    """(base URL, database URL, tool sessions) of the app on a private PostgreSQL schema."""
    url = pg_schema_url(postgres_database_url, "load_tests")
    settings = inprocess.settings_for(Path(tmp_path_factory.mktemp("load-pg")), url)
    with inprocess.serve_app(settings, embedder) as (base_url, services):
        sessions = []
        for i in range(16):
            token = issue_tool_token(services.signing_key, "acme", f"ws_load_{i}", 3600)
            sessions.append({"session_id": f"ws_load_{i}", "tool_token": token})
        yield base_url, url, sessions
    drop_pg_schema(postgres_database_url, "load_tests")
