"""An app around the admin blueprint, with two companies and real SQLite / PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydantic import SecretStr

from tests.crm.db_fixtures import _postgres_db, _sqlite_db, db, fresh_database_url  # noqa: F401
from widget_api.companies import CompanyRegistry, load_company_file
from widget_api.crm.db import Database
from widget_api.rate_limit import SessionRateLimiter
from widget_api.settings import BUNDLED_COMPANIES_DIR, Settings

ACME_TOKEN = "acme-admin-token-0123456789"
GLOBEX_TOKEN = "globex-admin-token-9876543210"


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
    """The real error handlers and admin blueprint; only the services the admin needs."""
    from widget_api.app import _register_error_handlers
    from widget_api.routes import admin
    from widget_api.services import EXTENSION_KEY

    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    flask_app = Flask("widget_api.app")
    flask_app.extensions[EXTENSION_KEY] = SimpleNamespace(
        settings=settings, companies=companies, db=db, signing_key=b"k" * 48,
        rate_limiter=SessionRateLimiter(10, 10, 10),
    )  # fmt: skip
    _register_error_handlers(flask_app)
    flask_app.register_blueprint(admin.bp)
    from widget_api.routes import admin_record

    flask_app.register_blueprint(admin_record.bp)
    return flask_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
