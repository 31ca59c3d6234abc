"""Phone fixtures: the demo company with phone numbers, the fake OpenAI, one served app.

The app runs on a port chosen up front, because Twilio signs the public URL it calls and the
app checks signatures against its configured public origin.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fake_openai import FakeOpenAI
from tests.widget.conftest import free_port
from widget_api.settings import BUNDLED_COMPANIES_DIR, Settings

AUTH_TOKEN = "twilio-test-auth-token"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"openai-webhook-test-secret-32byt").decode()
ACME_NUMBER = "+15550001111"
CALLER = "+15557654321"
MAX_CALL_SECONDS = 8


@pytest.fixture(scope="session")
def phone_fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh_fake(phone_fake: FakeOpenAI) -> None:
    phone_fake.reset()


@pytest.fixture(scope="session")
def phone_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def phone_services(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, phone_fake: FakeOpenAI,
    phone_port: int,
) -> Any:  # fmt: skip
    from widget_api.realtime.client_secrets import ClientSecretMinter
    from widget_api.services import build_services, prepare_storage

    root = tmp_path_factory.mktemp("phone")
    companies = root / "companies"
    companies.mkdir()
    text = (BUNDLED_COMPANIES_DIR / "acme.toml").read_text()
    text = re.sub(r"^voice = ", f'phone_numbers = ["{ACME_NUMBER}"]\nvoice = ', text, count=1,
                  flags=re.M)  # fmt: skip
    (companies / "acme.toml").write_text(text)
    shutil.copytree(BUNDLED_COMPANIES_DIR / "acme", companies / "acme")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=root / "data", companies_dir=companies, DATABASE_URL=None,
        OPENAI_API_KEY=phone_fake.api_key, OPENAI_BASE_URL=phone_fake.base_url,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN, OPENAI_WEBHOOK_SECRET=WEBHOOK_SECRET,
        public_origin=f"http://127.0.0.1:{phone_port}", relay_max_session_seconds=MAX_CALL_SECONDS,
        voice_minutes_per_day_per_company=100000,
    )  # fmt: skip
    services = build_services(settings, embedder=embedder, env={})
    prepare_storage(services)
    return dataclasses.replace(services, minter=ClientSecretMinter(settings))


@pytest.fixture(scope="session")
def phone_app(phone_services: Any) -> Any:
    from widget_api.app import create_app

    app = create_app(services=phone_services)
    app.config["TESTING"] = True
    return app


@pytest.fixture(scope="session")
def phone_base(phone_app: Any, phone_port: int) -> Iterator[str]:
    from widget_api.server import serve_in_thread

    with serve_in_thread(phone_app, port=phone_port) as base:
        yield base
