"""Delivering outbox rows: sign, send, and schedule a retry or a dead letter.

At least once: a row is only marked delivered after a 2xx, and a sender that dies mid-request
leaves its leased row to become due again. Each attempt carries the event's stable
`webhook-id`, so receivers drop the duplicates at-least-once implies. Retries back off
exponentially with jitter (a fleet of failed deliveries does not return in lockstep), up to
`max_attempts`, then the delivery is a dead letter until someone presses retry.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import httpx

from knowledge.errors import LoadError
from knowledge.loaders.web import check_host, pinned_request
from widget_api.crm.db import Database
from widget_api.delivery import outbox
from widget_api.delivery.events import with_admin_links
from widget_api.delivery.outbox import Claimed
from widget_api.delivery.receivers import Receivers
from widget_api.delivery.signing import signature_headers

log = logging.getLogger(__name__)

USER_AGENT = "SalesWidgetWebhooks/1.0"
MAX_RESPONSE_BYTES = 64 * 1024
# Failures that mean "the receiver is not there": once it answers again its backlog is due now.
UNREACHABLE = ("connect_error",)


@dataclass(frozen=True)
class SenderConfig:
    origin: str  # this server's public origin, for the admin links in payloads
    max_attempts: int = 12
    backoff_seconds: float = 10.0
    backoff_max_seconds: float = 6 * 3600
    timeout_seconds: float = 10.0
    concurrency: int = 8
    poll_seconds: float = 0.5
    allow_private: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> SenderConfig:
        return cls(
            origin=settings.server_origin,
            max_attempts=settings.webhook_max_attempts,
            backoff_seconds=settings.webhook_backoff_seconds,
            backoff_max_seconds=settings.webhook_backoff_max_seconds,
            timeout_seconds=settings.webhook_timeout_seconds,
            concurrency=settings.webhook_concurrency,
            poll_seconds=settings.webhook_poll_seconds,
            allow_private=settings.allow_private_webhooks,
        )

    @property
    def lease_seconds(self) -> float:
        # Longer than any request may take, so nobody else sends the row meanwhile.
        return 2 * self.timeout_seconds + 5.0


def retry_delay(attempt: int, config: SenderConfig, rng: random.Random) -> float:
    """Seconds before the attempt after `attempt` (1-based): doubling, capped, half jittered."""
    ceiling = min(config.backoff_seconds * 2 ** min(attempt - 1, 40), config.backoff_max_seconds)
    return ceiling / 2 + rng.random() * ceiling / 2


def payload_body(item: Claimed, origin: str) -> str:
    """The JSON body: the same bytes on every attempt of the event (given one origin)."""
    data = with_admin_links(json.loads(item.data), origin)
    stamp = item.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    payload = {"type": item.type, "timestamp": stamp, "data": data}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


class Refused(Exception):
    """The target may not be sent to (private address, plain http); never retried."""


def guarded_target(url: str, allow_private: bool) -> tuple[str, dict[str, Any]]:
    """The URL to connect to and its request options, vetted by the ingest's SSRF guard.

    The host is resolved once and the request pinned to the vetted address (Host header and
    TLS name kept), so a rebinding DNS answer cannot swap in a private address afterwards.
    """
    if not allow_private and not url.startswith("https://"):
        raise Refused("plain http is only allowed with WIDGET_ALLOW_PRIVATE_WEBHOOKS")
    try:
        address = check_host(url, allow_private)
    except LoadError as exc:
        raise Refused(str(exc)) from None
    return pinned_request(url, address)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None = None
    error: str = ""
    permanent: bool = False
    retry_after: float | None = None


class Sender:
    """Fans out and delivers outbox rows; `run_once` for tests, `start` for a server."""

    def __init__(
        self,
        db: Database,
        receivers: Receivers,
        config: SenderConfig,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.receivers = receivers
        self.config = config
        self.rng = rng or random.Random()
        self.client = httpx.Client(
            timeout=httpx.Timeout(config.timeout_seconds),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=config.concurrency * 2),
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(config.concurrency, thread_name_prefix="webhook")
        self._inflight: set[Future[Outcome]] = set()
        self._lock = threading.Lock()
        self._unreachable: set[str] = set()

    # --- one delivery ---------------------------------------------------------------------

    def send(self, item: Claimed) -> Outcome:
        """One HTTP attempt of one delivery (no database work)."""
        receiver = self.receivers.get(item.company_id, item.endpoint)
        if receiver is None:
            return Outcome(False, error="receiver_removed", permanent=True)
        if receiver.secret is None:
            return Outcome(False, error="secret_missing", permanent=True)
        try:
            target, options = guarded_target(item.endpoint, self.config.allow_private)
        except Refused:
            return Outcome(False, error="target_refused", permanent=True)
        body = payload_body(item, self.config.origin)
        headers = {
            **signature_headers(receiver.secret, item.event_id, body),
            "Content-Type": "application/json",
            **options.get("headers", {}),
        }
        try:
            with self.client.stream(
                "POST", target, content=body.encode(), headers=headers,
                extensions=options.get("extensions", {}),
            ) as response:  # fmt: skip
                self._drain(response)
        except httpx.ConnectError:
            return Outcome(False, error="connect_error")
        except httpx.TimeoutException:
            return Outcome(False, error="timeout")
        except httpx.HTTPError as exc:
            return Outcome(False, error=f"request_error:{type(exc).__name__}")
        if 200 <= response.status_code < 300:
            return Outcome(True, response.status_code)
        return Outcome(
            False, response.status_code, f"http_{response.status_code}",
            retry_after=_retry_after(response),
        )  # fmt: skip

    @staticmethod
    def _drain(response: httpx.Response) -> None:
        # Read a little so the connection can be reused; never a receiver's whole answer.
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                break

    def deliver(self, item: Claimed) -> Outcome:
        """Send one claimed delivery and record what happened."""
        try:
            outcome = self.send(item)
        except Exception:  # a bug in one delivery must not stop the sender
            log.exception("webhook delivery %s failed unexpectedly", item.id)
            outcome = Outcome(False, error="internal_error")
        if outcome.ok:
            outbox.mark_delivered(self.db, item, outcome.status or 200)
            if item.endpoint in self._unreachable:
                self._unreachable.discard(item.endpoint)
                outbox.hurry_endpoint(self.db, item.endpoint, errors=UNREACHABLE)
            return outcome
        if outcome.error in UNREACHABLE:
            self._unreachable.add(item.endpoint)
        retry_in = None
        if not outcome.permanent and item.attempt < self.config.max_attempts:
            retry_in = retry_delay(item.attempt, self.config, self.rng)
            if outcome.retry_after is not None:
                retry_in = min(max(retry_in, outcome.retry_after), self.config.backoff_max_seconds)
        else:
            log.warning(
                "webhook %s to company %s is a dead letter after %d attempts (%s)",
                item.event_id, item.company_id, item.attempt, outcome.error,
            )  # fmt: skip
        outbox.mark_failed(self.db, item, status=outcome.status, error=outcome.error,
                           retry_in=retry_in)  # fmt: skip
        return outcome

    # --- the loop ---------------------------------------------------------------------------

    def run_once(self) -> int:
        """Fan out new events and deliver what is due now, waiting for it; returns sent count."""
        outbox.fan_out(self.db, self.receivers.subscribed)
        items = outbox.claim(
            self.db, limit=self.config.concurrency * 4, lease_seconds=self.config.lease_seconds
        )
        list(self._pool.map(self.deliver, items))
        return len(items)

    def _tick(self) -> bool:
        """One loop step; True when it found work (then the loop goes again at once)."""
        fanned = outbox.fan_out(self.db, self.receivers.subscribed)
        with self._lock:
            self._inflight = {f for f in self._inflight if not f.done()}
            free = self.config.concurrency - len(self._inflight)
        items = outbox.claim(self.db, limit=free, lease_seconds=self.config.lease_seconds)
        for item in items:
            future = self._pool.submit(self.deliver, item)
            future.add_done_callback(lambda _f: self._wake.set())
            with self._lock:
                self._inflight.add(future)
        return bool(items or fanned)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self._tick()
            except Exception:  # the database may be restarting: wait a poll and go on
                log.exception("webhook sender step failed")
                busy = False
            if not busy:
                self._wake.wait(self.config.poll_seconds)
            self._wake.clear()

    def start(self) -> Sender:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="webhook-sender", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None
