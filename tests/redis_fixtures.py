"""Real Redis (127.0.0.1:6379, started by `.ci/run`) for the tests of shared limits.

Each test gets its own key prefix and its keys are deleted afterwards, so tests may run in
parallel with each other and with a developer's own server on the same Redis.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from widget_api.rate_limit import LimitStore

REDIS_URL = "redis://127.0.0.1:6379/0"


@contextmanager
def private_prefix() -> Iterator[str]:
    """A key prefix of its own; its keys are removed at the end."""
    import redis

    prefix = f"widget-test-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is not running (.ci/run starts it): {exc}")
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """This test's own key prefix."""
    with private_prefix() as prefix:
        yield prefix


@pytest.fixture
def redis_store(redis_prefix: str) -> LimitStore:
    return LimitStore(REDIS_URL, key_prefix=redis_prefix)
