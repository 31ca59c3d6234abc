"""One asyncio event loop per server process that carries every relayed conversation.

Thread-per-connection cost four threads per conversation (gunicorn's handler, simple-websocket's
reader, the websockets client's reader, a close watcher), and at a few hundred conversations the
GIL hand-offs between them, 50 frames a second each way, were the bottleneck. Here both sockets of
every conversation live on one loop thread: a frame is read, looked at and written in a single
callback. Blocking work (tool calls hit the database and Chroma; conversation records hit the
database) runs on a small thread pool and its result is posted back to the loop.

The loop starts with the first conversation, never at import time, and runs on uvloop when it is
installed (its transports cost about half of asyncio's per write).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# Tool calls are rare (a few per conversation) but may wait on the database or Chroma; a handful of
# threads keeps one slow tool from delaying the others without turning back into thread-per-session.
TOOL_THREADS = 4


class RelayHub:
    """The process's relay loop and the pool its blocking work runs on."""

    def __init__(self, tool_threads: int = TOOL_THREADS) -> None:
        self._tool_threads = tool_threads
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop, started on first use."""
        with self._lock:
            if self._loop is None:
                self._loop = _new_loop()
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    self._tool_threads, thread_name_prefix="relay-tool"
                )
                ready = threading.Event()
                thread = threading.Thread(
                    target=self._run, args=(self._loop, ready), name="relay-loop", daemon=True
                )
                thread.start()
                ready.wait()
            return self._loop

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop and wait for it in the calling (handler) thread.

        The waiting thread sleeps on a lock: it costs memory for its stack, no CPU.
        """
        return asyncio.run_coroutine_threadsafe(coro, self.loop()).result()

    def offload(
        self, fn: Callable[[], T], then: Callable[[concurrent.futures.Future[T]], None]
    ) -> None:
        """Run blocking `fn` on the pool, then `then(future)` back on the loop. Loop-side only."""
        loop = self.loop()
        assert self._pool is not None
        future = self._pool.submit(fn)
        future.add_done_callback(lambda done: loop.call_soon_threadsafe(then, done))


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()  # type: ignore[no-any-return]
