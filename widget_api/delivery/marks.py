"""Attempt outcomes waiting to be written, flushed together in one transaction.

A sender with many requests in flight would otherwise spend a transaction (and a database
round trip) per response. The row's lease keeps it from being sent again until its mark
lands, so writing marks a moment later only delays bookkeeping, never a delivery; and a
sender killed before a flush leaves rows whose lease runs out and which are simply sent again
(at least once, with the same webhook-id).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from widget_api.crm.db import Database
from widget_api.delivery import outbox
from widget_api.delivery.outbox import Mark


class PendingMarks:
    """Outcomes not yet written, and endpoints whose backlog to hurry after them."""

    def __init__(self, db: Database, hurry_errors: Sequence[str]) -> None:
        self.db = db
        self.hurry_errors = tuple(hurry_errors)
        self._marks: list[Mark] = []
        self._hurry: list[str] = []
        self._lock = threading.Lock()  # put() and flush() run on different threads
        # One flush at a time: a hurry must commit after the failures queued before it.
        self._flushing = threading.Lock()

    def put(self, mark: Mark, *, hurry: str | None = None) -> None:
        with self._lock:
            self._marks.append(mark)
            if hurry is not None and hurry not in self._hurry:
                self._hurry.append(hurry)

    def __len__(self) -> int:
        with self._lock:
            return len(self._marks) + len(self._hurry)

    def flush(self) -> int:
        """Write everything pending in one transaction; returns marks that held their row.

        On a database error the batch goes back to the front of the queue (and the error is
        raised), so the next flush tries it again.
        """
        with self._flushing:
            with self._lock:
                marks, hurry = self._marks, self._hurry
                self._marks, self._hurry = [], []
            if not marks and not hurry:
                return 0
            try:
                return outbox.record(self.db, marks, hurry=hurry, errors=self.hurry_errors)
            except BaseException:
                with self._lock:
                    self._marks[:0] = marks
                    self._hurry[:0] = [h for h in hurry if h not in self._hurry]
                raise
