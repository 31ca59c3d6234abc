"""The app on a loopback port inside this process (uvicorn in a thread, as a worker serves it).

For scenarios whose fault lives outside the server (a private PostgreSQL, a Chroma server):
it shares the already-loaded embedding model instead of booting a process per scenario.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from widget_api.services import Services
from widget_api.settings import Settings

SECRET_KEY = "faults-inprocess-" + "k" * 32


def settings_for(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    """Settings from arguments only (no environment, no `.env`); no OpenAI key: text mode."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "secret_key": SECRET_KEY,
        "openai_api_key": None,
        "ingest_demo_on_start": False,
        "session_rate_per_minute_per_client": 1_000_000,
        "session_rate_per_minute_per_company": 1_000_000,
        "session_daily_cap_per_company": 1_000_000,
        "voice_minutes_per_day_per_company": 100_000_000,  # each mint reserves 15 min
        "server_max_connections_per_client": 0,  # every client is 127.0.0.1
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextmanager
def serve_app(settings: Settings, embedder: Any) -> Iterator[tuple[str, Services]]:
    """(base URL, services) of the app served from a daemon thread until the block ends."""
    from widget_api.app import create_app
    from widget_api.server import serve_in_thread
    from widget_api.services import build_services, get_services, prepare_storage

    services = build_services(settings, embedder=embedder, env={})
    if not settings.effective_database_url.startswith("sqlite"):
        services.db.upgrade()  # `widget-api migrate` in production
    prepare_storage(services)
    app = create_app(services=services)
    try:
        with serve_in_thread(app) as base:
            yield base, get_services(app)
    finally:
        services.db.dispose()
