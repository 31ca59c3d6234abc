"""Webhook delivery and report benchmarks; prints ONE JSON object.

delivery: `--events` events (default 10,000) are written to the outbox at a steady rate while
two senders, each in a process of its own as in two `serve` workers (`--in-process`: both in
this process, beside the writer), sharing one PostgreSQL outbox, deliver them to a loopback
receiver (a process of its own, verifying every signature) that fails 30 % of requests, hangs
past the timeout on 5 %, and is stopped and restarted once mid-run. Reported: events lost
(written but never accepted), ids accepted more than once after the receiver's dedup (must be
0; duplicates it dropped are counted apart), the delay of every event still undelivered when
the receiver came back, measured from that moment (p50/p99/max), and each process's CPU.

reports: `--conversations` generated conversations (default 100,000) over 90 days on
PostgreSQL, with their questions, leads, clicks, bookings, widget opens and per-turn latency;
each report (funnel by day and week, top questions, unanswered grouped by meaning, latency)
runs `--repeats` times over the last 30 and 90 days, after one cold call each (it fills the
per-day cache of settled days and embeds the unanswered texts; reported apart). Times are the
report functions the routes call.

    .venv/bin/python -m scripts.bench_delivery [--events 10000] [--conversations 100000]
    [--only delivery|reports]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import select

from scripts.webhook_receiver import ReceiverProcess
from widget_api.crm.db import Database
from widget_api.crm.delivery_models import WebhookDelivery
from widget_api.delivery import outbox
from widget_api.delivery.receivers import Receiver, Receivers
from widget_api.delivery.sender import Sender, SenderConfig
from widget_api.delivery.signing import new_secret

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
EVENTS = frozenset({"lead.created", "lead.updated"})


@contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))], 3)


# --- delivery ---------------------------------------------------------------------------------


def _produce(db: Database, total: int, rate: float, created: dict[str, float]) -> None:
    """Write `total` events at about `rate` per second, 20 per transaction."""
    batch, start, written = 20, time.monotonic(), 0
    while written < total:
        n = min(batch, total - written)

        def add(session: Any, first: int = written, n: int = n) -> list[str]:
            return [
                outbox.enqueue(
                    session,
                    company_id="bench",
                    type="lead.created",
                    data={"company_id": "bench", "lead": {"id": first + i}},
                )
                for i in range(n)
            ]

        ids = db.run(add)
        now = time.monotonic()
        for event_id in ids:
            created[event_id] = now
        written += n
        pause = start + written / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)


def _sender_process(url: str, receiver_url: str, secret: str, config: SenderConfig,
                    stop: Any, cpu: Any) -> None:  # fmt: skip
    """One sender in its own interpreter, as a `serve` worker runs it, until `stop` is set;
    then it reports the CPU seconds its sending took (start-up imports left out)."""
    began = time.process_time()
    db = Database(url, pool_size=20, max_overflow=20)
    receivers = Receivers([Receiver("bench", receiver_url, EVENTS, secret)])
    sender = Sender(db, receivers, config).start()
    stop.wait()
    sender.stop()
    db.dispose()
    cpu.put(time.process_time() - began)


@contextmanager
def _senders(url: str, receiver_url: str, secret: str, config: SenderConfig, db: Database,
             in_process: bool) -> Iterator[list[float]]:  # fmt: skip
    """Two running senders; the list yielded gets each one's CPU seconds once they stopped."""
    cpu_seconds: list[float] = []
    if in_process:
        receivers = Receivers([Receiver("bench", receiver_url, EVENTS, secret)])
        local = [Sender(db, receivers, config).start() for _ in range(2)]
        try:
            yield cpu_seconds  # one process's CPU time would not say which sender used it
        finally:
            for sender in local:
                sender.stop()
        return
    ctx = multiprocessing.get_context("spawn")
    stop, cpu = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_sender_process, args=(url, receiver_url, secret, config, stop, cpu))
        for _ in range(2)
    ]
    for proc in procs:
        proc.start()
    try:
        yield cpu_seconds
    finally:
        stop.set()
        cpu_seconds.extend(round(cpu.get(timeout=60), 2) for _ in procs)
        for proc in procs:
            proc.join(30)


def _write_through_an_outage(
    db: Database, receiver: ReceiverProcess, args: argparse.Namespace, created: dict[str, float]
) -> tuple[float, float]:
    """Write every event; stop the receiver at ~40 % for the outage, then bring it back.

    Returns (start, the moment it came back).
    """
    producer = threading.Thread(target=_produce, args=(db, args.events, args.rate, created))
    started = time.monotonic()
    producer.start()
    while len(created) < args.events * 0.4:
        time.sleep(0.05)
    receiver.stop()  # same port and memory when it comes back (its tally survives)
    time.sleep(args.outage)
    receiver.start()
    recovered_at = time.monotonic()
    producer.join()
    return started, recovered_at


def run_delivery(args: argparse.Namespace) -> dict[str, Any]:
    secret = new_secret()
    timeout = 1.0
    receiver = ReceiverProcess(
        secret, fail_rate=0.30, hang_rate=0.05, hang_seconds=timeout + 0.5, seed=11
    ).launch()
    config = SenderConfig(
        origin="https://widget.example",
        max_attempts=100,
        backoff_seconds=0.25,
        backoff_max_seconds=2.0,
        timeout_seconds=timeout,
        concurrency=args.concurrency,
        poll_seconds=0.05,
        allow_private=True,
    )
    with pg_database("bench_delivery") as url:
        db = Database(url, pool_size=20, max_overflow=20)
        db.upgrade()
        created: dict[str, float] = {}
        with _senders(url, receiver.url, secret, config, db, args.in_process) as cpu_seconds:
            started, recovered_at = _write_through_an_outage(db, receiver, args, created)
            deadline = time.monotonic() + args.deadline
            while receiver.count() < args.events and time.monotonic() < deadline:
                time.sleep(0.1)
            elapsed = time.monotonic() - started
        states = db.run(
            lambda s: s.execute(select(WebhookDelivery.state, WebhookDelivery.attempts)).all()
        )
        db.dispose()
    tally = receiver.tally()
    receiver.close()
    accepted = tally.accepted
    # Undelivered when the receiver came back: written by then, accepted only after (or never).
    # The receiver's clock is CLOCK_MONOTONIC too, which Linux keeps system-wide.
    pending_then = {
        i for i, at in created.items()
        if at <= recovered_at and accepted.get(i, float("inf")) > recovered_at
    }  # fmt: skip
    delays = [accepted[i] - recovered_at for i in pending_then if i in accepted]
    e2e = [accepted[i] - created[i] for i in created if i in accepted]
    attempts = [a for _s, a in states]
    return {
        "events": args.events,
        "receiver": {
            "fail_rate": 0.30,
            "timeout_rate": 0.05,
            "outage_seconds": args.outage,
            "restarts": 1,
            "in": "a process of its own",
        },
        "senders": 2,
        "senders_in": "this process" if args.in_process else "a process each",
        "concurrency_per_sender": args.concurrency,
        "sender_timeout_seconds": timeout,
        "lost": len(set(created) - set(accepted)),
        "accepted": len(accepted),
        # Every written event id accepted, each counted once (repeats are the dropped duplicates).
        "accepted_ids_equal_written_ids": set(accepted) == set(created),
        "duplicates_dropped_by_id": tally.duplicates,
        "bad_signatures": tally.bad_signatures,
        "requests_received": tally.requests,
        "delivered_rows": sum(1 for s, _a in states if s == "delivered"),
        "dead_letters": sum(1 for s, _a in states if s == "dead"),
        "attempts_per_event": {
            "mean": round(sum(attempts) / max(1, len(attempts)), 3),
            "max": max(attempts, default=0),
        },
        "undelivered_at_recovery": len(pending_then),
        "delay_after_recovery_s": {
            "p50": pct(delays, 50),
            "p99": pct(delays, 99),
            "max": pct(delays, 100),
        },
        "end_to_end_delay_s": {"p50": pct(e2e, 50), "p99": pct(e2e, 99)},
        "wall_seconds": round(elapsed, 2),
        # From each sender's start to its stop (the wall above plus the stop).
        "cpu_seconds": {"per_sender": cpu_seconds, "receiver": round(tally.cpu_seconds, 2)},
    }


# --- reports ----------------------------------------------------------------------------------


def run_reports(args: argparse.Namespace) -> dict[str, Any]:
    from knowledge.embedding import load_embedder
    from scripts.report_data import generate
    from widget_api.reports.funnel import funnel
    from widget_api.reports.latency import latency
    from widget_api.reports.questions import top_questions, unanswered
    from widget_api.reports.window import ReportQuery

    embedder = load_embedder()
    out: dict[str, Any] = {"conversations": args.conversations, "days": 90}
    with pg_database("bench_reports") as url:
        db = Database(url)
        db.upgrade()
        t0 = time.monotonic()
        out["rows"] = generate(url, args.conversations, 90)
        out["generate_seconds"] = round(time.monotonic() - t0, 1)
        reports = {
            "funnel_day": lambda q: funnel(db, "bench", q),
            "funnel_week": lambda q: funnel(db, "bench", q.model_copy(update={"period": "week"})),
            "top_questions": lambda q: top_questions(db, "bench", q),
            "unanswered": lambda q: unanswered(db, embedder, "bench", q),
            "latency": lambda q: latency(db, "bench", q),
        }
        today = datetime.now(UTC).date()
        windows = {
            "30d": ReportQuery(since=today - timedelta(days=29), until=today),
            "90d": ReportQuery(since=today - timedelta(days=89), until=today),
        }
        # First calls fill the per-day cache and the question vectors; reported apart.
        cold = {}
        for name, run in reports.items():
            t0 = time.perf_counter()
            run(windows["90d"])
            cold[name] = round((time.perf_counter() - t0) * 1000, 1)
        out["cold_first_call_90d_ms"] = cold
        timings: dict[str, Any] = {}
        for wname, q in windows.items():
            for name, run in reports.items():
                samples = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    run(q)
                    samples.append((time.perf_counter() - t0) * 1000)
                timings[f"{name}_{wname}"] = {
                    "p50_ms": pct(samples, 50),
                    "max_ms": pct(samples, 100),
                }
        out["timings"] = timings
        # A day has just settled and nothing warmed the caches since: the first call of each
        # report computes that day on the request (the warmer in `serve` normally does it).
        from sqlalchemy import delete

        from widget_api.crm.report_models import DayCache
        from widget_api.reports.daycache import last_settled_day

        settled = last_settled_day()
        db.run(lambda s: s.execute(delete(DayCache).where(DayCache.day == settled)))
        after_new_day = {}
        for name, run in reports.items():
            t0 = time.perf_counter()
            run(windows["90d"])
            after_new_day[name] = round((time.perf_counter() - t0) * 1000, 1)
        out["first_call_after_new_day_90d_ms"] = after_new_day
        timings["first_call_after_new_day"] = {"max_ms": max(after_new_day.values())}
        out["max_ms"] = max(t["max_ms"] for t in timings.values())
        out["all_within_300ms"] = out["max_ms"] <= 300
        db.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=400.0, help="events written per second")
    parser.add_argument("--outage", type=float, default=3.0, help="receiver down, seconds")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--deadline", type=float, default=300.0)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--only", choices=["delivery", "reports"])
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run both senders in this process (beside the writer and receiver)",
    )
    args = parser.parse_args(argv)
    # The load average says how busy the machine was; no fixed note claims it.
    result: dict[str, Any] = {"load_average_1m_before": round(os.getloadavg()[0], 2)}
    if args.only in (None, "delivery"):
        result["delivery"] = run_delivery(args)
    if args.only in (None, "reports"):
        result["reports"] = run_reports(args)
    print(json.dumps(result))
    delivery_ok = "delivery" not in result or result["delivery"]["lost"] == 0
    return 0 if delivery_ok else 1


if __name__ == "__main__":
    sys.exit(main())
