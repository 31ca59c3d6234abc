"""`asyncio.run` for sync tests that may share a pytest session with the Playwright browser.

The session-scoped sync Playwright keeps its event loop running on the main thread, where
`asyncio.run` then refuses to start ("cannot be called from a running event loop"). A
coroutine run on a thread of its own has a loop of its own, whatever ran before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(1, thread_name_prefix="isolated-loop") as pool:
        return pool.submit(asyncio.run, coroutine).result()
