"""Widget fixtures: the demo company on tmp_path (its docs really ingested), apps and servers.

The customer-site port is chosen up front so the test company's `allowed_origins` can name
`http://127.0.0.1:<port>` (allowed) while `http://localhost:<port>` stays a foreign origin.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from widget_api.settings import BUNDLED_COMPANIES_DIR, Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def customer_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def widget_services(tmp_path_factory: pytest.TempPathFactory, embedder: Any, customer_port: int):  # type: ignore[no-untyped-def]
    """Services for the acme demo company (docs ingested once), with no OpenAI key."""
    from widget_api.services import build_services, prepare_storage

    root = tmp_path_factory.mktemp("widget")
    companies = root / "companies"
    companies.mkdir()
    text = (BUNDLED_COMPANIES_DIR / "acme.toml").read_text()
    text = re.sub(
        r"allowed_origins = \[",
        f'allowed_origins = [\n  "http://127.0.0.1:{customer_port}",',
        text,
        count=1,
    )
    (companies / "acme.toml").write_text(text)
    shutil.copytree(BUNDLED_COMPANIES_DIR / "acme", companies / "acme")
    settings = Settings(
        data_dir=root / "data", companies_dir=companies, OPENAI_API_KEY=None, DATABASE_URL=None
    )
    services = build_services(settings, embedder=embedder, env={})
    prepare_storage(services)
    return services


@pytest.fixture(scope="session")
def make_app(widget_services: Any) -> Callable[..., Any]:
    """A Flask app over the shared services with some settings changed."""
    from widget_api.app import create_app

    def _make(**changes: Any) -> Any:
        from widget_api.rate_limit import SessionRateLimiter
        from widget_api.realtime.client_secrets import ClientSecretMinter

        # Every relay upstream spends the session budget; tests about other things open many
        # from one address, so each app gets fresh, generous limits unless a test sets them.
        generous = {"session_rate_per_minute_per_client": 10**6,
                    "session_rate_per_minute_per_company": 10**6,
                    "session_daily_cap_per_company": 10**6,
                    "voice_minutes_per_day_per_company": 10**6}  # fmt: skip
        settings = widget_services.settings.model_copy(update={**generous, **changes})
        minter = ClientSecretMinter(settings) if settings.realtime_enabled else None
        limiter = SessionRateLimiter(
            settings.session_rate_per_minute_per_client,
            settings.session_rate_per_minute_per_company,
            settings.session_daily_cap_per_company,
        )
        services = dataclasses.replace(
            widget_services, settings=settings, minter=minter, rate_limiter=limiter
        )
        return create_app(settings, services=services)

    return _make


@contextmanager
def serve(app: Any, port: int = 0) -> Iterator[str]:
    """Run `app` on a loopback port: uvicorn in a thread, as `widget-api serve`'s worker runs it."""
    from widget_api.server import serve_in_thread

    with serve_in_thread(app, port=port) as base:
        yield base


def recv_until(
    ws: Any, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
) -> list[dict[str, Any]]:
    """Events received until (and including) the first one matching `predicate`."""
    seen: list[dict[str, Any]] = []
    while True:
        event = json.loads(ws.recv(timeout=timeout))
        seen.append(event)
        if predicate(event):
            return seen


def user_text_events(text: str) -> list[str]:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return [
        json.dumps({"type": "conversation.item.create", "item": item}),
        json.dumps({"type": "response.create"}),
    ]


from tests.widget.browser_fixtures import browser, customer_site, page, speech_wav  # noqa: E402,F401
