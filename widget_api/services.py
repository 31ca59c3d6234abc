"""Everything a request needs, built once per process in `create_app` and passed down.

Routes reach it with `get_services(current_app)`; tools, the relay and scripts receive the parts
they need as arguments. Nothing here runs at import time: the embedding model (seconds, ~90 MB)
loads when the services are built, once per process, and tests inject an already-loaded one.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from widget_api.companies import CompanyRegistry
from widget_api.rate_limit import LimitStore, SessionRateLimiter
from widget_api.realtime.client_secrets import ClientSecretMinter
from widget_api.settings import Settings

if TYPE_CHECKING:
    from flask import Flask

    from knowledge import KnowledgeBase
    from knowledge.embedding import Embedder
    from widget_api.crm.db import Database
    from widget_api.tools.registry import ToolRunner

log = logging.getLogger(__name__)

EXTENSION_KEY = "widget"


@dataclass
class Services:
    settings: Settings
    companies: CompanyRegistry
    knowledge: KnowledgeBase
    embedder: Embedder
    db: Database
    tools: ToolRunner
    rate_limiter: SessionRateLimiter
    signing_key: bytes
    minter: ClientSecretMinter | None = None  # None without an OpenAI key: text mode only


def build_services(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    env: Mapping[str, str] | None = None,
) -> Services:
    """Wire the parts together from one Settings object (loads the model unless given one)."""
    from knowledge import KnowledgeBase, KnowledgeConfig, load_embedder
    from widget_api.crm.db import Database
    from widget_api.files import private_dir, private_sqlite_file
    from widget_api.tools.registry import ToolRunner

    # Leads, transcripts, the knowledge base and secrets live here: the server's user only.
    private_dir(settings.data_dir)
    private_sqlite_file(settings.effective_database_url)
    if settings.chroma_host is None:
        private_dir(settings.effective_chroma_path)
    companies = CompanyRegistry.load(
        settings.companies_dir,
        env=os.environ if env is None else env,
        secrets_dir=settings.data_dir,
    )
    embedder = embedder or load_embedder(
        settings.embedding_model_path,
        backend=settings.embedding_backend,
        cache_dir=settings.model_cache_dir or settings.data_dir / "models",
    )
    knowledge = KnowledgeBase(
        KnowledgeConfig(
            chroma_path=settings.effective_chroma_path,
            chroma_host=settings.chroma_host,
            chroma_port=settings.chroma_port,
        ),
        embedder,
    )
    db = Database(settings.effective_database_url)
    return Services(
        settings=settings,
        companies=companies,
        knowledge=knowledge,
        embedder=embedder,
        db=db,
        tools=ToolRunner(
            db=db,
            knowledge=knowledge,
            embedder=embedder,
            max_lead_updates=settings.log_lead_max_calls_per_conversation,
        ),
        rate_limiter=SessionRateLimiter(
            settings.session_rate_per_minute_per_client,
            settings.session_rate_per_minute_per_company,
            settings.session_daily_cap_per_company,
            store=LimitStore(settings.redis_url, key_prefix=settings.limits_key_prefix),
        ),
        signing_key=settings.signing_key(),
        minter=ClientSecretMinter(settings) if settings.realtime_enabled else None,
    )


def get_services(app: Flask) -> Services:
    """The services `create_app` stored on the app."""
    services: Services = app.extensions[EXTENSION_KEY]
    return services


@contextmanager
def _prepare_lock(data_dir: Path) -> Iterator[None]:
    # Several workers (or a second `serve`) may start at once; one prepares, the others wait.
    from widget_api.files import private_dir

    private_dir(data_dir)
    with (data_dir / ".prepare.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def prepare_storage(services: Services) -> None:
    """First-start work before serving: SQLite migrations and ingesting bundled company docs.

    SQLite is migrated automatically because it is the zero-configuration demo; a PostgreSQL
    schema is the operator's decision (`widget-api migrate`). Ingest is incremental, so later
    starts only hash the files.
    """
    settings = services.settings
    with _prepare_lock(settings.data_dir):
        if settings.effective_database_url.startswith("sqlite"):
            log.info("applying database migrations (SQLite)")
            services.db.upgrade()
        else:
            check_schema_current(services.db)
        if not settings.ingest_demo_on_start:
            return
        for company in services.companies.all():
            docs = services.companies.docs_dir(company.id)
            if docs is None:
                continue
            sources = sorted(p for p in docs.rglob("*") if p.is_file())
            report = services.knowledge.ingest(company.collection, sources, tags=["docs"])
            log.info(
                "ingested docs for %s from %s: %s",
                company.id,
                docs,
                {s: report.count(s) for s in ("added", "changed", "unchanged", "failed")},
            )


class SchemaNotCurrent(RuntimeError):
    """The database is not at the latest migration; the server refuses to start on it."""


def check_schema_current(db: Database) -> None:
    """Raise SchemaNotCurrent unless the database is at the migrations' head revision."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from widget_api.crm.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current != head:
        raise SchemaNotCurrent(
            f"the database is at migration {current or 'none'}, not {head}: "
            "run `widget-api migrate` first"
        )
