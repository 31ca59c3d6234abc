"""Delivering outbox rows: sign, send, and schedule a retry or a dead letter.

At least once: a row is only marked delivered after a 2xx, and a sender that dies mid-request
leaves its leased row to become due again. Each attempt carries the event's stable
`webhook-id`, so receivers drop the duplicates at-least-once implies. Retries back off
exponentially with jitter (a fleet of failed deliveries does not return in lockstep), up to
`max_attempts`, then the delivery is a dead letter until someone presses retry.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import json
import logging
import random
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp

from knowledge.errors import LoadError
from knowledge.loaders.web import check_host, pinned_request
from widget_api.crm.db import Database
from widget_api.delivery import outbox
from widget_api.delivery.events import with_admin_links
from widget_api.delivery.marks import PendingMarks
from widget_api.delivery.outbox import FAN_OUT_BATCH, Claimed
from widget_api.delivery.receivers import Receivers
from widget_api.delivery.signing import signature_headers

log = logging.getLogger(__name__)

USER_AGENT = "SalesWidgetWebhooks/1.0"
MAX_RESPONSE_BYTES = 64 * 1024
# Failures that mean "the receiver is not there": once it answers again its backlog is due now.
UNREACHABLE = ("connect_error",)
# How long finished requests' marks gather before one transaction writes them all.
MARK_LINGER_SECONDS = 0.05

T = TypeVar("T")


@dataclass(frozen=True)
class SenderConfig:
    origin: str  # this server's public origin, for the admin links in payloads
    max_attempts: int = 12
    backoff_seconds: float = 10.0
    backoff_max_seconds: float = 6 * 3600
    timeout_seconds: float = 10.0
    concurrency: int = 64
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


def _needs_lookup(url: str, allow_private: bool) -> bool:
    """Whether vetting `url` asks DNS (blocking; done off the event loop), not an IP literal."""
    if allow_private:
        return False
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None = None
    error: str = ""
    permanent: bool = False
    retry_after: float | None = None


class Sender:
    """Fans out and delivers outbox rows; `run_once` for tests, `start` for a server.

    The requests run on one event loop (a thread of its own), so `concurrency` of them can be in
    flight at once while a receiver that hangs until the timeout costs neither a thread nor CPU.
    Database work (fan-out, claims, the batched outcome marks) runs in worker threads, so the
    loop never waits on the database.
    """

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
        self._session: aiohttp.ClientSession | None = None  # made on the loop (it binds to it)
        self.marks = PendingMarks(db, UNREACHABLE)
        self._unreachable: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._main: concurrent.futures.Future[None] | None = None
        self._io: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._grace = 4.0  # seconds requests in flight get to finish at stop
        # Loop-thread state (only touched on the loop).
        self._inflight: set[asyncio.Task[Outcome]] = set()
        self._stopping = False
        self._want_slots = False
        self._wake: asyncio.Event | None = None
        self._marked: asyncio.Event | None = None

    # --- one delivery ---------------------------------------------------------------------

    async def send_async(self, item: Claimed) -> Outcome:
        """One HTTP attempt of one delivery (no database work)."""
        receiver = self.receivers.get(item.company_id, item.endpoint)
        if receiver is None:
            return Outcome(False, error="receiver_removed", permanent=True)
        if receiver.secret is None:
            return Outcome(False, error="secret_missing", permanent=True)
        allow = self.config.allow_private
        try:
            if _needs_lookup(item.endpoint, allow):
                target, options = await asyncio.to_thread(guarded_target, item.endpoint, allow)
            else:
                target, options = guarded_target(item.endpoint, allow)
        except Refused:
            return Outcome(False, error="target_refused", permanent=True)
        body = payload_body(item, self.config.origin)
        headers = {
            **signature_headers(receiver.secret, item.event_id, body),
            "Content-Type": "application/json",
            **options.get("headers", {}),
        }
        # The pinned request names the original host for TLS (SNI and the certificate check).
        server_hostname = options.get("extensions", {}).get("sni_hostname")
        try:
            async with self._client().post(
                target, data=body.encode(), headers=headers, allow_redirects=False,
                server_hostname=server_hostname,
            ) as response:  # fmt: skip
                await _drain(response)
                status, retry_after = response.status, response.headers.get("retry-after", "")
        except aiohttp.ClientConnectorError:
            return Outcome(False, error="connect_error")
        except TimeoutError:
            return Outcome(False, error="timeout")
        except aiohttp.ClientError as exc:
            return Outcome(False, error=f"request_error:{type(exc).__name__}")
        if 200 <= status < 300:
            return Outcome(True, status)
        after = float(retry_after) if retry_after.isdigit() else None
        return Outcome(False, status, f"http_{status}", retry_after=after)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds),
                headers={"User-Agent": USER_AGENT},
                connector=aiohttp.TCPConnector(limit=self.config.concurrency * 2),
            )
        return self._session

    async def _close_client(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _mark(self, item: Claimed, outcome: Outcome) -> None:
        """Queue the outcome's mark (written by the next flush)."""
        if outcome.ok:
            hurry = None
            if item.endpoint in self._unreachable:
                self._unreachable.discard(item.endpoint)
                hurry = item.endpoint
            self.marks.put(outbox.delivered(item, outcome.status or 200), hurry=hurry)
            return
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
        mark = outbox.failed(item, status=outcome.status, error=outcome.error, retry_in=retry_in)
        self.marks.put(mark)

    async def _attempt(self, item: Claimed) -> Outcome:
        """Send one claimed delivery and queue its mark; its slot frees when HTTP is done."""
        try:
            outcome = await self.send_async(item)
        except Exception:  # a bug in one delivery must not stop the sender
            log.exception("webhook delivery %s failed unexpectedly", item.id)
            outcome = Outcome(False, error="internal_error")
        self._mark(item, outcome)
        if self._marked is not None:
            self._marked.set()
        return outcome

    # --- the sync surface (tests, scripts) --------------------------------------------------

    def send(self, item: Claimed) -> Outcome:
        """One HTTP attempt of one delivery, waited for."""
        return self._call(self.send_async(item))

    def deliver(self, item: Claimed) -> Outcome:
        """Send one claimed delivery and record what happened."""

        async def one() -> Outcome:
            outcome = await self._attempt(item)
            await asyncio.to_thread(self.marks.flush)
            return outcome

        return self._call(one())

    def run_once(self) -> int:
        """Fan out new events and deliver what is due now, waiting for it; returns sent count."""

        async def once() -> int:
            await asyncio.to_thread(outbox.fan_out, self.db, self.receivers.subscribed)
            items = await asyncio.to_thread(
                outbox.claim, self.db, limit=self.config.concurrency * 4,
                lease_seconds=self.config.lease_seconds,
            )  # fmt: skip
            slots = asyncio.Semaphore(self.config.concurrency)

            async def one(item: Claimed) -> None:
                async with slots:
                    await self._attempt(item)

            await asyncio.gather(*(one(item) for item in items))
            await asyncio.to_thread(self.marks.flush)
            return len(items)

        return self._call(once())

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._ensure_loop()).result(timeout)

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                # Database calls and DNS lookups: a few at a time, never on the loop itself.
                self._io = concurrent.futures.ThreadPoolExecutor(8, "webhook-io")
                loop.set_default_executor(self._io)
                self._thread = threading.Thread(
                    target=loop.run_forever, name="webhook-sender", daemon=True
                )
                self._thread.start()
                self._loop = loop
            return self._loop

    # --- the loop ---------------------------------------------------------------------------

    async def _tick(self) -> bool:
        """Fan out, then claim due rows for the free slots; True when more work is waiting."""
        fanned = await asyncio.to_thread(outbox.fan_out, self.db, self.receivers.subscribed)
        free = self.config.concurrency - len(self._inflight)
        items: list[Claimed] = []
        if free > 0:
            items = await asyncio.to_thread(
                outbox.claim, self.db, limit=free, lease_seconds=self.config.lease_seconds
            )
        for item in items:
            task = asyncio.create_task(self._attempt(item))
            self._inflight.add(task)
            task.add_done_callback(self._finished)
        # Every slot taken (or none free) means more may be due: go again once slots free.
        self._want_slots = free <= 0 or len(items) == free
        return fanned >= FAN_OUT_BATCH

    def _finished(self, task: asyncio.Task[Outcome]) -> None:
        self._inflight.discard(task)
        free = self.config.concurrency - len(self._inflight)
        # Claim in batches (a quarter of the slots), not one transaction per finished request.
        if self._want_slots and self._wake is not None and free >= self._refill:
            self._wake.set()

    @property
    def _refill(self) -> int:
        return max(1, self.config.concurrency // 4)

    async def _flush_marks(self) -> None:
        """Write queued marks until stopped, a batch at a time."""
        assert self._marked is not None
        while not self._stopping:
            await self._marked.wait()
            self._marked.clear()
            # Let a batch gather: the slots are already free, only bookkeeping waits.
            await asyncio.sleep(MARK_LINGER_SECONDS)
            try:
                await asyncio.to_thread(self.marks.flush)
            except Exception:  # the database may be restarting; the marks stay queued
                log.exception("recording webhook outcomes failed")
                await asyncio.sleep(self.config.poll_seconds)
                self._marked.set()

    async def _run(self) -> None:
        self._wake, self._marked = asyncio.Event(), asyncio.Event()
        flusher = asyncio.create_task(self._flush_marks())
        while not self._stopping:
            try:
                again = await self._tick()
            except Exception:  # the database may be restarting: wait a poll and go on
                log.exception("webhook sender step failed")
                again = False
            if again:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.poll_seconds)
            self._wake.clear()
        await self._wind_down(flusher)

    async def _wind_down(self, flusher: asyncio.Task[None]) -> None:
        """Give requests in flight until the stop timeout, then close the connections."""
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=self._grace)
        for task in self._inflight:
            task.cancel()  # no mark: the lease runs out and the row is sent again
        flusher.cancel()  # `stop` writes what is left, on its own thread
        await self._close_client()

    def start(self) -> Sender:
        loop = self._ensure_loop()
        with self._lock:
            if self._main is None:
                self._main = asyncio.run_coroutine_threadsafe(self._run(), loop)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming, let requests in flight finish (up to `timeout`), flush the marks."""
        loop = self._loop
        if loop is None or self._closed:
            return
        self._closed = True
        self._grace = max(0.0, timeout - 1.0)

        def halt() -> None:
            self._stopping = True
            if self._wake is not None:
                self._wake.set()
            if self._marked is not None:
                self._marked.set()

        loop.call_soon_threadsafe(halt)
        try:
            if self._main is not None:
                self._main.result(timeout)
            else:
                self._call(self._close_client(), timeout)
        except Exception:
            log.exception("webhook sender did not stop cleanly")
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
        if self._io is not None:
            self._io.shutdown(wait=False)
        # Here, not in a worker thread: at interpreter exit (see `runner`) the executors are
        # already shut down and would refuse the work.
        try:
            self.marks.flush()
        except Exception:
            log.exception("recording webhook outcomes at stop failed")


async def _drain(response: aiohttp.ClientResponse) -> None:
    # Read a little so the connection can be reused; never a receiver's whole answer.
    size = 0
    async for chunk in response.content.iter_chunked(16 * 1024):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            break
