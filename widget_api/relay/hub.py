"""The relay's place on the worker's event loop, and the pool its blocking work runs on.

Every conversation's sockets live on the uvicorn worker's one event loop: a frame is read, looked
at and written in a single callback, and an idle conversation costs no thread. Thread-per-
connection cost four threads per conversation, and at a few hundred conversations the GIL
hand-offs between them, 50 frames a second each way, were the bottleneck. Blocking work (tool
calls hit the database and Chroma; conversation records hit the database; the local engine
embeds and searches) runs on a small thread pool and its result is posted back to the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# Tool calls are rare (a few per conversation) but may wait on the database or Chroma; a handful of
# threads keeps one slow tool from delaying the others without turning back into thread-per-session.
TOOL_THREADS = 4


class RelayHub:
    """The pool that runs a conversation's blocking work; the loop is whichever one calls."""

    def __init__(self, tool_threads: int = TOOL_THREADS) -> None:
        self._tool_threads = tool_threads
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def pool(self) -> concurrent.futures.ThreadPoolExecutor:
        """The pool, started on first use (never at import time)."""
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    self._tool_threads, thread_name_prefix="relay-tool"
                )
            return self._pool

    def offload(
        self, fn: Callable[[], T], then: Callable[[concurrent.futures.Future[T]], None]
    ) -> None:
        """Run blocking `fn` on the pool, then `then(future)` back on the loop. Loop-side only."""
        loop = asyncio.get_running_loop()
        future = self.pool().submit(fn)
        future.add_done_callback(functools.partial(_post, loop, then))

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Await blocking `fn(*args)` run on the pool."""
        return await asyncio.get_running_loop().run_in_executor(self.pool(), fn, *args)

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _post(
    loop: asyncio.AbstractEventLoop,
    then: Callable[[concurrent.futures.Future[T]], None],
    done: concurrent.futures.Future[T],
) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed while the work ran (shutdown)
        loop.call_soon_threadsafe(then, done)
