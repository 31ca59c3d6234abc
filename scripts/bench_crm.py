"""CRM benchmark: concurrent `log_lead`-style calls with retried call ids, SQLite and PostgreSQL.

Each call goes through `run_once` (claim → execute outside a transaction → store) and the
executor upserts the lead, as the tool endpoint does. Prints ONE JSON object: per backend the
wall time, throughput, per-call latency p50/p99, how many executions ran and the rows left
(which must equal the unique call ids and the unique emails).

    .venv/bin/python -m scripts.bench_crm [--calls 1000] [--retry-ratio 0.2] [--threads 64]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, select

from widget_api.crm.db import Database
from widget_api.crm.leads import LeadFields, upsert_lead
from widget_api.crm.models import Lead, ToolCall
from widget_api.crm.tool_calls import run_once

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _plan(calls: int, retry_ratio: float, seed: int = 7) -> list[tuple[str, str]]:
    """(call_id, email) per call: unique calls plus retries of earlier ones, shuffled."""
    rng = random.Random(seed)
    unique = calls - int(calls * retry_ratio)
    # Some visitors log twice under different call ids (a returning visitor).
    base = [
        (f"call-{i}", f"visitor{i % max(1, int(unique * 0.9))}@example.com") for i in range(unique)
    ]
    plan = base + [rng.choice(base) for _ in range(calls - unique)]
    rng.shuffle(plan)
    return plan


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_backend(url: str, plan: list[tuple[str, str]], threads: int) -> dict[str, Any]:
    db = Database(url)
    db.upgrade()
    executions = 0
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def call(item: tuple[str, str]) -> float:
        call_id, email = item

        def execute() -> tuple[str, bool, str | None]:
            nonlocal executions
            with lock:
                executions += 1
            lead = upsert_lead(db, "acme", LeadFields(name="Bench Visitor", email=email,
                                                      interest="pricing"),
                               session_id="bench", channel="voice")  # fmt: skip
            return json.dumps({"lead_id": lead.id}), True, None

        started = time.perf_counter()
        run_once(db, company_id="acme", session_id="bench", call_id=call_id, name="log_lead",
                 arguments="{}", execute=execute)  # fmt: skip
        return (time.perf_counter() - started) * 1000

    def warm(_: int) -> None:
        barrier.wait(60)  # every worker thread exists before the clock starts

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(warm, range(threads)))
        t0 = time.perf_counter()
        latencies = list(pool.map(call, plan))
        wall = time.perf_counter() - t0
    with db.session(readonly=True) as session:
        leads = session.execute(select(func.count()).select_from(Lead)).scalar_one()
        tool_calls = session.execute(select(func.count()).select_from(ToolCall)).scalar_one()
    db.dispose()
    unique_calls = len({c for c, _ in plan})
    unique_emails = len({e for _, e in plan})
    return {
        "calls": len(plan), "unique_call_ids": unique_calls, "unique_emails": unique_emails,
        "executions": executions, "tool_call_rows": tool_calls, "lead_rows": leads,
        "exact": executions == tool_calls == unique_calls and leads == unique_emails,
        "wall_s": round(wall, 3), "throughput_per_s": round(len(plan) / wall, 1),
        "latency_ms_p50": round(statistics.median(latencies), 2),
        "latency_ms_p99": round(_percentile(latencies, 0.99), 2),
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_crm")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--retry-ratio", type=float, default=0.2)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args(argv)
    plan = _plan(args.calls, args.retry_ratio)
    result: dict[str, Any] = {"threads": args.threads, "retry_ratio": args.retry_ratio}
    with tempfile.TemporaryDirectory() as tmp:
        result["sqlite"] = run_backend(f"sqlite:///{Path(tmp) / 'bench.db'}", plan, args.threads)
    if not args.skip_postgres:
        name = f"bench_crm_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
            result["postgresql"] = run_backend(url, plan, args.threads)
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps(result))
    backends = [v for k, v in result.items() if isinstance(v, dict)]
    return 0 if all(b["exact"] for b in backends) else 1


if __name__ == "__main__":
    sys.exit(main())
