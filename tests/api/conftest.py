"""Fixtures for the API tests: one migrated SQLite database and one Chroma with the demo docs
ingested for the whole run, the real model (the session `embedder`), and the loopback fake
OpenAI. Each test gets a fresh app (fresh rate limiter) over those shared parts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.fake_openai import FakeOpenAI
from widget_api.app import create_app
from widget_api.rate_limit import SessionRateLimiter
from widget_api.realtime.client_secrets import ClientSecretMinter
from widget_api.services import Services, build_services, prepare_storage
from widget_api.settings import Settings
from widget_api.tokens import issue_tool_token

SERVER_ORIGIN = "http://127.0.0.1:8000"
SITE_ORIGIN = "https://acme-relay.example"


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _clean_fake(fake_openai: FakeOpenAI) -> Iterator[None]:
    fake_openai.clear_faults()
    yield
    fake_openai.clear_faults()


def make_settings(data_dir: Path, fake: FakeOpenAI | None, **overrides: Any) -> Settings:
    """Settings for tests; nothing comes from the environment or a `.env` file."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": f"sqlite:///{data_dir / 'widget.db'}",
        "secret_key": "test-signing-key-" + "x" * 32,
        "openai_api_key": fake.api_key if fake else None,
        "openai_base_url": fake.base_url if fake else "http://127.0.0.1:9/v1",
        "openai_timeout_seconds": 1.0,
        "host": "127.0.0.1",
        "port": 8000,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def base_services(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, fake_openai: FakeOpenAI
) -> Services:
    """The shared parts, built once: migrated SQLite, Chroma with acme's docs ingested."""
    settings = make_settings(tmp_path_factory.mktemp("api-data"), fake_openai)
    services = build_services(settings, embedder=embedder, env={})
    prepare_storage(services)
    return services


@pytest.fixture
def make_app(base_services: Services) -> Callable[..., Flask]:
    """An app over the shared parts; keyword overrides replace Settings fields or Services."""

    def _make(services: Services | None = None, **settings_overrides: Any) -> Flask:
        services = services or base_services
        settings = services.settings.model_copy(update=settings_overrides)
        minter = ClientSecretMinter(settings) if settings.realtime_enabled else None
        fresh = dataclasses.replace(
            services,
            settings=settings,
            minter=minter,
            rate_limiter=SessionRateLimiter(
                settings.session_rate_per_minute_per_client,
                settings.session_rate_per_minute_per_company,
                settings.session_daily_cap_per_company,
            ),
        )
        app = create_app(services=fresh)
        app.config["TESTING"] = True
        return app

    return _make


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def tool_token(base_services: Services) -> Callable[..., str]:
    def _token(company_id: str = "acme", session_id: str = "ws_test", ttl: int = 600) -> str:
        return issue_tool_token(base_services.signing_key, company_id, session_id, ttl)

    return _token
