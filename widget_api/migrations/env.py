"""Alembic environment: the CRM models' metadata, a URL from the caller or from the Settings.

`Database.upgrade()` passes an open connection in `config.attributes["connection"]`; the
`alembic` CLI (run from the repo root) resolves the URL the way the server does.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context

from widget_api.crm.models import Base

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None and config.attributes.get("connection") is None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from widget_api.settings import Settings

    return Settings().effective_database_url


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=kwargs.pop("dialect_name") == "sqlite",
        **kwargs,
    )


def run_offline() -> None:
    url = _database_url()
    _configure(url=url, literal_binds=True, dialect_name=url.split(":", 1)[0].split("+")[0])
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Any) -> None:
    _configure(connection=connection, dialect_name=connection.dialect.name)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    from widget_api.crm.db import Database

    db = Database(_database_url(), pool_size=1, max_overflow=0)
    try:
        with db.engine.connect() as conn:
            _run_on(conn)
    finally:
        db.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
