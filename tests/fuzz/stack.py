"""A whole server stack for the fuzz and security suites: real SQLite or PostgreSQL, real
Chroma with the companies' docs ingested, the real model, and the loopback fake OpenAI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from widget_api.crm.db import Database
from widget_api.services import Services, build_services, prepare_storage
from widget_api.settings import Settings
from widget_api.tools.base import ToolContext
from widget_api.tools.registry import ToolRunner

ADMIN_TOKEN = "fuzz-admin-token-acme-0123456789"


def stack_settings(data_dir: Path, fake: Any | None = None, **overrides: Any) -> Settings:
    """Settings that read nothing from the environment or a `.env` file."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": f"sqlite:///{data_dir / 'widget.db'}",
        "secret_key": "fuzz-signing-key-" + "k" * 32,
        "openai_api_key": fake.api_key if fake else None,
        "openai_base_url": fake.base_url if fake else "http://127.0.0.1:9/v1",
        "openai_timeout_seconds": 2.0,
        # Fuzzers and the security tours send many wrong admin tokens from one address on
        # purpose; the guess limit has its own tests (tests/admin/test_admin_limits.py).
        "admin_failed_attempts_per_address": 10**6,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def build_stack(settings: Settings, embedder: Any, env: dict[str, str] | None = None) -> Services:
    """Services over real storage, migrated and with each company's docs ingested."""
    services = build_services(settings, embedder=embedder, env=env or {})
    prepare_storage(services)
    return services


def on_database(services: Services, database_url: str) -> Services:
    """The same stack (same Chroma and model) over another database, migrated."""
    db = Database(database_url)
    db.upgrade()
    tools = ToolRunner(db=db, knowledge=services.knowledge, embedder=services.embedder)
    settings = services.settings.model_copy(update={"database_url": database_url})
    return dataclasses.replace(services, settings=settings, db=db, tools=tools)


def seed_leads(services: Services, company_id: str = "acme", count: int = 5) -> None:
    """A few real leads through the log_lead tool, so lead routes have rows to find."""
    company = services.companies.get(company_id)
    for i in range(count):
        arguments = {"name": f"Seed {i}", "email": f"seed{i}@{company_id}-fuzz.example",
                     "interest": "pricing"}  # fmt: skip
        outcome = services.tools.run(
            ToolContext(company, "ws_seed"), f"seed-{i}", "log_lead", json.dumps(arguments)
        )
        assert outcome.ok, outcome.output
