"""The app (through create_app) over real SQLite / PostgreSQL and the real embedding model,
with two companies (acme with Calendly bookings, globex)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydantic import SecretStr

from tests.crm.db_fixtures import _postgres_db, _sqlite_db, db  # noqa: F401
from widget_api.app import create_app
from widget_api.companies import CompanyRegistry, load_company_file
from widget_api.crm.db import Database
from widget_api.rate_limit import SessionRateLimiter
from widget_api.services import Services
from widget_api.settings import BUNDLED_COMPANIES_DIR, Settings

ACME_TOKEN = "acme-admin-token-0123456789"
GLOBEX_TOKEN = "globex-admin-token-9876543210"
BOOKING_SECRET = "calendly-signing-key-for-tests"
AUTH = {"Authorization": f"Bearer {ACME_TOKEN}"}


@pytest.fixture
def companies() -> CompanyRegistry:
    acme = load_company_file(BUNDLED_COMPANIES_DIR / "acme.toml")
    meetings = acme.meetings.model_copy(
        update={"provider": "calendly", "booking_secret_env": "H10_TEST_CALENDLY_KEY"}
    )
    return CompanyRegistry([
        acme.model_copy(update={"admin_token": SecretStr(ACME_TOKEN), "meetings": meetings}),
        acme.model_copy(update={"id": "globex", "display_name": "Globex",
                                "admin_token": SecretStr(GLOBEX_TOKEN)}),
    ])  # fmt: skip


@pytest.fixture
def app(
    db: Database,  # noqa: F811
    companies: CompanyRegistry,
    embedder: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Flask:
    """Reports need no knowledge base or tool runner, so those parts are left out (`None`)."""
    monkeypatch.setenv("H10_TEST_CALENDLY_KEY", BOOKING_SECRET)
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    services = Services(
        settings=settings, companies=companies, knowledge=cast(Any, None), embedder=embedder,
        db=db, tools=cast(Any, None), signing_key=b"k" * 48,
        rate_limiter=SessionRateLimiter(10, 10, 10),
    )  # fmt: skip
    return create_app(services=services)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
