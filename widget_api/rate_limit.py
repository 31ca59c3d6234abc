"""Rate limits, daily caps and counters on `limits` storage: in this process, or in Redis.

The `limits` library (the engine under Flask-Limiter) keeps moving windows on memory storage
(the embedded default: one process sees every request) or on Redis (`REDIS_URL`), where every
worker and every host counts against the same keys. One `LimitStore` per process holds the
storage; the session limiter, the voice budget and the admin sign-in guard all hit it.

A storage outage raises `LimitsUnavailable`; each caller decides which way to fail (paid voice
fails closed into text mode, a correct admin token still works).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import (
    RateLimitItem,
    RateLimitItemPerDay,
    RateLimitItemPerMinute,
    RateLimitItemPerSecond,
)
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from widget_api.errors import DomainError

log = logging.getLogger(__name__)

# Redis answers in well under a millisecond on a healthy network; a stuck one must not hold a
# request (or the relay's handler) for long.
REDIS_TIMEOUT_SECONDS = 2.0


class LimitsUnavailable(RuntimeError):
    """The limit storage (Redis) did not answer."""


class LimitStore:
    """The process's limit storage and its moving-window strategy."""

    def __init__(self, redis_url: str | None = None, *, key_prefix: str = "widget") -> None:
        storage: object = MemoryStorage(wrap_exceptions=True)
        if redis_url:  # redis://, rediss://, redis+sentinel://… as `limits` reads them
            storage = storage_from_string(
                redis_url,
                key_prefix=key_prefix,
                wrap_exceptions=True,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
        if not isinstance(storage, Storage):
            raise ValueError("REDIS_URL must name a synchronous storage (not async+…)")
        self.storage: Storage = storage
        self.shared = bool(redis_url)
        self._window = MovingWindowRateLimiter(self.storage)

    def hit(self, item: RateLimitItem, *key: str, cost: int = 1) -> float:
        """Count `cost` events: 0.0 when allowed, else seconds until a slot frees (not counted)."""
        try:
            if self._window.hit(item, *key, cost=cost):
                return 0.0
            return self.wait(item, *key)
        except StorageError as exc:
            raise LimitsUnavailable(type(exc.storage_error).__name__) from None

    def blocked(self, item: RateLimitItem, *key: str) -> float:
        """Seconds until one more event fits (0.0 when it fits now); counts nothing."""
        try:
            return 0.0 if self._window.test(item, *key) else self.wait(item, *key)
        except StorageError as exc:
            raise LimitsUnavailable(type(exc.storage_error).__name__) from None

    def wait(self, item: RateLimitItem, *key: str) -> float:
        reset = self._window.get_window_stats(item, *key).reset_time
        return max(reset - time.time(), 0.001)

    def add(self, key: str, amount: int, expiry_seconds: int) -> int:
        """Atomically add `amount` (may be negative) to a plain counter; returns the new total."""
        try:
            return int(self.storage.incr(key, expiry_seconds, amount=amount))
        except StorageError as exc:
            raise LimitsUnavailable(type(exc.storage_error).__name__) from None

    def forget(self, key: str) -> None:
        """Delete a plain counter."""
        try:
            self.storage.clear(key)
        except StorageError as exc:
            raise LimitsUnavailable(type(exc.storage_error).__name__) from None

    def clear(self, item: RateLimitItem, *key: str) -> None:
        self._window.clear(item, *key)

    def reset(self) -> None:
        """Forget every count under this store's prefix (tests and benchmarks)."""
        self.storage.reset()


def retry_after(seconds: float) -> list[dict[str, int]]:
    """The `details` entry the error handler turns into a Retry-After header."""
    return [{"retry_after": max(1, math.ceil(seconds))}]


@dataclass(frozen=True)
class SessionLimits:
    """What one address and one company may start: per minute, and per company per day."""

    per_client_per_minute: int
    per_company_per_minute: int
    per_company_per_day: int

    def items(self) -> tuple[RateLimitItem, RateLimitItem, RateLimitItem]:
        return (
            RateLimitItemPerMinute(self.per_client_per_minute, namespace="session-client"),
            RateLimitItemPerMinute(self.per_company_per_minute, namespace="session-company"),
            RateLimitItemPerDay(self.per_company_per_day, namespace="session-day"),
        )


class SessionRateLimiter:
    """The one budget every paid conversation start spends: a minted client secret (WebRTC)
    and a relay's upstream connection alike, per client address, per company, per day."""

    def __init__(
        self,
        per_client_per_minute: int,
        per_company_per_minute: int,
        per_company_per_day: int,
        *,
        store: LimitStore | None = None,
    ) -> None:
        self.store = store or LimitStore()
        self._client, self._company, self._day = SessionLimits(
            per_client_per_minute, per_company_per_minute, per_company_per_day
        ).items()

    def check(self, company_id: str, client: str) -> None:
        """Count one conversation start, or raise `rate_limited` / `daily_cap_reached` (429).

        Raises LimitsUnavailable when the storage is down. All three windows are tested before
        any is counted, so a start refused by the company's window does not use up the
        address's own allowance.
        """
        store = self.store
        checks = (
            ("rate_limited", self._client, (company_id, client)),
            ("rate_limited", self._company, (company_id,)),
            ("daily_cap_reached", self._day, (company_id,)),
        )
        for code, item, key in checks:
            wait = store.blocked(item, *key)
            if wait:
                raise DomainError(code, details=retry_after(wait))
        for code, item, key in checks:
            wait = store.hit(item, *key)
            if wait:  # another worker took the last slot between the test and the hit
                raise DomainError(code, details=retry_after(wait))


class FailedAttempts:
    """Wrong secrets (admin bearer tokens, sign-ins) one address may try per window.

    An address over its allowance is refused before its token is even compared (429 with
    Retry-After), so guessing stays slow; the right token from any other address still works.
    Counting is best effort: with the storage down, sign-ins are not blocked (a correct admin
    token must keep working) and the outage is logged.
    """

    def __init__(self, store: LimitStore, limit: int, window_seconds: int) -> None:
        self._store = store
        self._item = RateLimitItemPerSecond(limit, window_seconds, namespace="admin-failures")

    def check(self, client: str) -> None:
        """Raise `rate_limited` (429) while `client` has used up its wrong attempts."""
        try:
            wait = self._store.blocked(self._item, client)
        except LimitsUnavailable as exc:
            log.warning("limit storage unavailable (%s): admin attempts not limited", exc)
            return
        if wait:
            raise DomainError("rate_limited", details=retry_after(wait))

    def failed(self, client: str) -> None:
        """Count one wrong attempt from `client`."""
        try:
            self._store.hit(self._item, client)
        except LimitsUnavailable as exc:
            log.warning("limit storage unavailable (%s): admin failure not counted", exc)
