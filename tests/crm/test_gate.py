"""The FIFO gate in front of the connection pool: order, re-entrancy, bounded waits."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from widget_api.crm.gate import FairGate


def test_waiters_are_admitted_in_arrival_order() -> None:
    gate = FairGate(1)
    order: list[int] = []
    queued = threading.Semaphore(0)
    tick = threading.Event()  # only used as a short sleep

    def worker(i: int) -> None:
        queued.release()
        with gate.admit():
            order.append(i)

    with gate.admit():
        threads = []
        for i in range(8):  # each one queues before the next starts
            t = threading.Thread(target=worker, args=(i,))
            t.start()
            queued.acquire()
            while len(gate._waiters) < i + 1:  # noqa: SLF001 - wait until it is queued
                tick.wait(0.001)
            threads.append(t)
    for t in threads:
        t.join(10)
    assert order == list(range(8))


def test_nested_admission_in_one_thread_does_not_deadlock() -> None:
    gate = FairGate(1, timeout=1)
    with gate.admit(), gate.admit():
        pass
    with gate.admit():  # the slot was returned exactly once
        pass


def test_waiting_is_bounded() -> None:
    gate = FairGate(1, timeout=0.05)
    held = threading.Event()
    done = threading.Event()

    def holder() -> None:
        with gate.admit():
            held.set()
            done.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(10)
    with pytest.raises(PoolTimeout), gate.admit():
        pass
    done.set()
    t.join(10)
    with gate.admit():  # the timed-out waiter left no stale claim behind
        pass
