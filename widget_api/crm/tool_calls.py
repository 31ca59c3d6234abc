"""Idempotent tool execution: one run per (session_id, call_id), however often it is sent.

The Realtime model, the browser and the relay may all retry a function call. The first request
claims the call with an INSERT that hits the unique constraint; the tool then runs with no
transaction open (tools do network I/O); the outcome is stored. A retry replays the stored
output; a concurrent duplicate waits for the first to finish. A claim whose executor died is
taken over once it is older than `stale_after` seconds, so nothing blocks forever.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from widget_api.crm.db import Database
from widget_api.crm.models import ToolCall, utcnow
from widget_api.errors import ApiError

log = logging.getLogger(__name__)

Executor = Callable[[], tuple[str, bool, str | None]]  # (output JSON, ok, error_code)


@dataclass(frozen=True)
class _Claim:
    row_id: int
    attempt: int


def run_once(
    db: Database,
    *,
    company_id: str,
    session_id: str,
    call_id: str,
    name: str,
    arguments: str,
    execute: Executor,
    stale_after: float = 30.0,
    wait_timeout: float = 20.0,
    poll_interval: float = 0.02,
) -> tuple[str, bool]:
    """Run `execute` once for this call and return `(output, replayed)`.

    Raises ApiError("tool_call_in_progress") when a duplicate is still running after
    `wait_timeout` seconds (the caller may retry later).
    """
    claim = _claim(db, company_id, session_id, call_id, name, arguments)
    deadline = time.monotonic() + wait_timeout
    delay = poll_interval
    while claim is None:
        row = _load(db, session_id, call_id)
        if row is not None and row.state == "done":
            return row.output or "", True
        if row is not None and row.claimed_at <= utcnow() - timedelta(seconds=stale_after):
            claim = _take_over(db, row.id, row.attempt)
            if claim is not None:
                log.warning("re-running stale tool call %s (%s)", call_id, name)
                break
        if time.monotonic() >= deadline:
            raise ApiError("tool_call_in_progress")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    return _execute(db, claim, session_id, call_id, execute), False


def _claim(
    db: Database, company_id: str, session_id: str, call_id: str, name: str, arguments: str
) -> _Claim | None:
    insert = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
    now = utcnow()
    stmt = (
        insert(ToolCall)
        .values(
            company_id=company_id,
            session_id=session_id,
            call_id=call_id,
            name=name,
            arguments=arguments,
            state="pending",
            attempt=1,
            claimed_at=now,
            created_at=now,
        )  # fmt: skip
        .on_conflict_do_nothing(index_elements=["session_id", "call_id"])
        .returning(ToolCall.id)
    )
    # A retry after a lost commit acknowledgement meets its own row: same call, still pending,
    # first attempt, and our claim time to the microsecond.
    ours = select(ToolCall.id).where(
        ToolCall.session_id == session_id,
        ToolCall.call_id == call_id,
        ToolCall.state == "pending",
        ToolCall.attempt == 1,
        ToolCall.claimed_at == now,
    )

    def claim(session: Session) -> int | None:
        row_id = session.execute(stmt).scalar_one_or_none()
        return row_id if row_id is not None else session.execute(ours).scalar_one_or_none()

    row_id = db.run(claim, durable=False)
    return None if row_id is None else _Claim(row_id, 1)


def _load(db: Database, session_id: str, call_id: str) -> ToolCall | None:
    stmt = select(ToolCall).where(ToolCall.session_id == session_id, ToolCall.call_id == call_id)
    return db.run(lambda session: session.scalars(stmt).one_or_none(), readonly=True)


def _take_over(db: Database, row_id: int, seen_attempt: int) -> _Claim | None:
    """Claim a stale pending row; the attempt counter makes exactly one taker win."""
    stmt = (
        update(ToolCall)
        .where(ToolCall.id == row_id, ToolCall.state == "pending", ToolCall.attempt == seen_attempt)
        .values(attempt=seen_attempt + 1, claimed_at=utcnow())
    )
    won = db.run(lambda session: session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]
    return _Claim(row_id, seen_attempt + 1) if won else None


def _execute(db: Database, claim: _Claim, session_id: str, call_id: str, execute: Executor) -> str:
    started = time.perf_counter()
    try:
        output, ok, error_code = execute()  # no transaction is open here
    except BaseException:
        _release(db, claim)
        raise
    latency_ms = (time.perf_counter() - started) * 1000
    stmt = (
        update(ToolCall)
        .where(
            ToolCall.id == claim.row_id,
            ToolCall.attempt == claim.attempt,
            ToolCall.state == "pending",
        )
        .values(
            output=output,
            ok=ok,
            error_code=error_code,
            latency_ms=latency_ms,
            state="done",
            completed_at=utcnow(),
        )  # fmt: skip
    )
    # Repeating this update is safe: after a lost acknowledgement it matches nothing and the
    # stored row (ours) is read back below.
    stored = db.run(
        lambda session: session.execute(stmt).rowcount == 1,  # type: ignore[attr-defined]
        durable=False,
    )
    if stored:
        return output
    # Our claim went stale and another executor took over and finished: its answer is the one
    # every other retry will see, so return that one too.
    row = _load(db, session_id, call_id)
    return row.output if row is not None and row.output is not None else output


def _release(db: Database, claim: _Claim) -> None:
    """Drop our pending claim after the executor raised, so a retry can run the call."""
    stmt = delete(ToolCall).where(
        ToolCall.id == claim.row_id,
        ToolCall.attempt == claim.attempt,
        ToolCall.state == "pending",
    )
    try:
        db.run(lambda session: session.execute(stmt))
    except Exception:  # the original error matters more; the claim goes stale instead
        log.exception("could not release tool call claim %s", claim.row_id)
