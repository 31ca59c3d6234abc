"""Database fixtures for the CRM and admin tests: every test runs on SQLite AND PostgreSQL.

One migrated database per backend per run (SQLite file; a private schema in the run's
PostgreSQL database, so other areas sharing that database are unaffected), emptied before each
test. Migration tests build their own empty databases with `fresh_database_url`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest
from sqlalchemy import text

from widget_api.crm.db import Database

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
TABLES = (
    "tool_calls", "conversations", "lead_claims", "transcript_entries", "privacy_audit", "leads",
    # webhook outbox and reports (issue 10)
    "webhook_deliveries", "outbox_events", "report_questions", "report_question_vectors",
    "report_meeting_links", "report_bookings", "report_daily_counters", "report_day_cache",
    # per-turn latency (issue 12)
    "turn_latencies",
)  # fmt: skip


def _plain_pg_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def pg_schema_url(base_url: str, schema: str) -> str:
    """`base_url` with every connection's search_path set to `schema`."""
    with psycopg.connect(_plain_pg_url(base_url), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    return f"{base_url}?options={quote(f'-csearch_path={schema}')}"


def drop_pg_schema(base_url: str, schema: str) -> None:
    with psycopg.connect(_plain_pg_url(base_url), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def _sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('crm') / 'crm.db'}")
    db.upgrade()
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def _postgres_db(postgres_database_url: str) -> Iterator[Database]:
    db = Database(pg_schema_url(postgres_database_url, "crm_tests"))
    db.upgrade()
    yield db
    db.dispose()


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest) -> Database:
    """A migrated, empty CRM database (SQLite, then PostgreSQL)."""
    database: Database = request.getfixturevalue(f"_{request.param}_db")
    with database.session() as session:
        if database.dialect == "postgresql":
            session.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY"))
        else:
            for table in TABLES:
                session.execute(text(f"DELETE FROM {table}"))
    return database


@pytest.fixture(params=BACKENDS)
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """The URL of an EMPTY database (no tables) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/fresh.db"
        return
    base = request.getfixturevalue("postgres_database_url")
    schema = f"fresh_{uuid.uuid4().hex[:10]}"
    yield pg_schema_url(base, schema)
    drop_pg_schema(base, schema)
