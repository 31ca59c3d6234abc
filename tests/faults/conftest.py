"""Fixtures for the fault tests: the shared server process and its fake OpenAI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults import stack as stacks


@pytest.fixture(scope="session")
def stack() -> Iterator[stacks.Stack]:
    yield stacks.acquire()
    stacks.release()


@pytest.fixture
def clean_fake(stack: stacks.Stack) -> Iterator[stacks.Stack]:
    stack.fake.clear_faults()
    yield stack
    stack.fake.clear_faults()
