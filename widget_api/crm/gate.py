"""A first-come, first-served limit on concurrent units of work.

SQLAlchemy's pool queue and SQLite's busy handler both let newcomers overtake waiting threads;
under a burst (many visitors logging leads at once) a few unlucky threads then wait for
seconds. Admitting units of work in arrival order, and never more than there are connections
(or, for SQLite, one writer at a time), keeps the tail latency close to the median.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import TimeoutError as PoolTimeout


class FairGate:
    """A FIFO counting semaphore; re-entrant per thread so nested units of work cannot deadlock."""

    def __init__(self, capacity: int, *, timeout: float = 30.0) -> None:
        self._free = capacity
        self._timeout = timeout
        self._lock = threading.Lock()
        self._waiters: deque[threading.Event] = deque()
        self._held = threading.local()

    @contextmanager
    def admit(self) -> Iterator[None]:
        depth = getattr(self._held, "depth", 0)
        if depth == 0 and not self._acquire():
            raise PoolTimeout("the database is busy; no connection became free in time")
        self._held.depth = depth + 1
        try:
            yield
        finally:
            self._held.depth = depth
            if depth == 0:
                self._release()

    def _acquire(self) -> bool:
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return True
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(self._timeout):
            return True
        with self._lock:
            if turn.is_set():  # granted just as we gave up
                return True
            self._waiters.remove(turn)
            return False

    def _release(self) -> None:
        with self._lock:
            if self._waiters:
                self._waiters.popleft().set()  # hand the slot straight to the oldest waiter
            else:
                self._free += 1
