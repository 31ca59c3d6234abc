"""The app (through create_app) with two companies and real SQLite / PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydantic import SecretStr

from tests.crm.db_fixtures import _postgres_db, _sqlite_db, db, fresh_database_url  # noqa: F401
from widget_api.app import create_app
from widget_api.companies import CompanyRegistry, load_company_file
from widget_api.crm.db import Database
from widget_api.rate_limit import SessionRateLimiter
from widget_api.services import Services
from widget_api.settings import BUNDLED_COMPANIES_DIR, Settings

ACME_TOKEN = "acme-admin-token-0123456789"
GLOBEX_TOKEN = "globex-admin-token-9876543210"
# The configured public origin: deliberately not the test client's `localhost`, as behind a
# proxy, so a check that trusted the request's Host header would show.
PUBLIC_ORIGIN = "https://leads.example.com"


@pytest.fixture
def companies() -> CompanyRegistry:
    acme = load_company_file(BUNDLED_COMPANIES_DIR / "acme.toml")
    return CompanyRegistry([
        acme.model_copy(update={"admin_token": SecretStr(ACME_TOKEN)}),
        acme.model_copy(update={"id": "globex", "display_name": "Globex",
                                "admin_token": SecretStr(GLOBEX_TOKEN)}),
    ])  # fmt: skip


@pytest.fixture
def app(db: Database, companies: CompanyRegistry, tmp_path: Path) -> Flask:  # noqa: F811
    """The real app from `create_app`, over two companies and the test database.

    The admin needs no knowledge base, model or tool runner, so those parts are left out
    (`None`): nothing on these routes reaches them, and loading the model is slow.
    """
    settings = Settings(data_dir=tmp_path, public_origin=PUBLIC_ORIGIN, _env_file=None)  # type: ignore[call-arg]
    services = Services(
        settings=settings, companies=companies, knowledge=cast(Any, None),
        embedder=cast(Any, None), db=db, tools=cast(Any, None), signing_key=b"k" * 48,
        rate_limiter=SessionRateLimiter(10, 10, 10),
    )  # fmt: skip
    return create_app(services=services)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
