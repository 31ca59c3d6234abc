"""Fixtures for the fuzz suite: a running server per database, the fuzz budget."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fake_openai import FakeOpenAI
from tests.fuzz.api_fuzz import FuzzAuth, make_auth, serve
from tests.fuzz.stack import ADMIN_TOKEN, build_stack, on_database, seed_leads, stack_settings
from widget_api.app import create_app
from widget_api.rate_limit import SessionRateLimiter
from widget_api.services import Services

# Total schemathesis cases over both databases: reduced in CI, FUZZ_CASES=1200 for the full run.
DEFAULT_FUZZ_CASES = 300


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fuzz-cases", type=int, default=None, help="schemathesis cases in total")


@pytest.fixture(scope="session")
def fuzz_cases(request: pytest.FixtureRequest) -> int:
    option = request.config.getoption("--fuzz-cases", default=None)
    return int(option or os.environ.get("FUZZ_CASES") or DEFAULT_FUZZ_CASES)


@pytest.fixture(scope="session")
def fuzz_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(scope="session")
def fuzz_stack(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, fuzz_openai: FakeOpenAI
) -> Services:
    """SQLite + Chroma with acme's docs + the model, built once for the fuzz suite."""
    data_dir: Path = tmp_path_factory.mktemp("fuzz-data")
    services = build_stack(
        stack_settings(data_dir, fuzz_openai), embedder, env={"ACME_ADMIN_TOKEN": ADMIN_TOKEN}
    )
    seed_leads(services)
    return services


def fuzz_auth(services: Services, server_url: str) -> FuzzAuth:
    return make_auth(
        services.signing_key, origin=services.settings.server_origin, admin_token=ADMIN_TOKEN
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def running_server(
    request: pytest.FixtureRequest, fuzz_stack: Services, postgres_database_url: str
) -> Iterator[tuple[str, Services, str]]:
    """(base_url, services, database) of a threaded server on a free loopback port."""
    services = fuzz_stack
    if request.param == "postgresql":
        services = on_database(fuzz_stack, postgres_database_url)
        seed_leads(services)
    # Generous limits: the fuzzer should reach the paid path, not only ever see 429s.
    services = dataclasses.replace(services, rate_limiter=SessionRateLimiter(1000, 1000, 10_000))
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with serve(create_app(services=services)) as url:
        yield url, services, request.param
    if request.param == "postgresql":
        services.db.dispose()
