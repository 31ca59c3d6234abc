"""Idempotent tool execution: one run per (session_id, call_id), however often it is sent.

The Realtime model, the browser and the relay may all retry a function call. The first request
claims the call (`claim`: an INSERT that meets the unique constraint, answered together with the
row it met); the tool then runs with no transaction open (tools do network I/O); `store` keeps
the outcome. A retry replays the stored output; a concurrent duplicate waits for the first to
finish. A claim whose executor died is taken over once it is older than `stale_after` seconds,
so nothing blocks forever. The same call id sent with another tool name or other arguments is
a conflict, never a silent replay of a different call's answer.

On PostgreSQL a claim and a stored outcome are one statement each on an autocommit connection
(`Database.run_statement`): two round trips of bookkeeping per call.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ClauseElement,
    Connection,
    CursorResult,
    Dialect,
    Executable,
    bindparam,
    delete,
    exists,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from widget_api.crm.db import Database
from widget_api.crm.models import ToolCall, utcnow
from widget_api.errors import DomainError

log = logging.getLogger(__name__)

Executor = Callable[[], tuple[str, bool, str | None]]  # (output JSON, ok, error_code)


@dataclass(frozen=True)
class CallKey:
    """Which call this is: the idempotency key plus what the call asked for."""

    company_id: str
    session_id: str
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Claim:
    """This process owns the call and must `store` (or `release`) it."""

    row_id: int
    attempt: int


@dataclass(frozen=True)
class Stored:
    """The call already ran: its stored output is the answer."""

    output: str


@dataclass(frozen=True)
class _Row:
    id: int
    name: str
    arguments: str
    state: str
    output: str | None
    attempt: int
    claimed_at: datetime


_COLUMNS = (
    ToolCall.id,
    ToolCall.name,
    ToolCall.arguments,
    ToolCall.state,
    ToolCall.output,
    ToolCall.attempt,
    ToolCall.claimed_at,
)


def claim(
    db: Database,
    key: CallKey,
    *,
    stale_after: float = 30.0,
    wait_timeout: float = 20.0,
    poll_interval: float = 0.02,
) -> Claim | Stored:
    """Claim the call, or return its stored output; waits while a duplicate is running.

    Raises DomainError `tool_call_conflict` when the call id was used for another tool or other
    arguments, and `tool_call_in_progress` when a duplicate still runs after `wait_timeout`.
    """
    now = utcnow()
    ours, row = _insert_or_find(db, key, now)
    deadline = time.monotonic() + wait_timeout
    delay = poll_interval
    while not ours:
        if row is not None:
            _check_same_call(row, key)
            if row.state == "done":
                return Stored(row.output or "")
            if row.claimed_at <= utcnow() - timedelta(seconds=stale_after):
                taken = _take_over(db, row.id, row.attempt)
                if taken is not None:
                    log.warning("re-running stale tool call %s (%s)", key.call_id, key.name)
                    return taken
        if time.monotonic() >= deadline:
            raise DomainError("tool_call_in_progress")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
        row = _load(db, key.session_id, key.call_id)
    assert row is not None
    return Claim(row.id, row.attempt)


def store(
    db: Database,
    claimed: Claim,
    key: CallKey,
    *,
    output: str,
    ok: bool,
    error_code: str | None,
    latency_ms: float,
) -> str:
    """Keep the outcome; returns the call's answer (another executor's, if ours went stale)."""
    params = {
        "row_id": claimed.row_id, "seen_attempt": claimed.attempt, "new_output": output,
        "new_ok": ok, "new_error_code": error_code, "new_latency_ms": latency_ms,
        "completed": utcnow(),
    }  # fmt: skip
    # Repeating this update is safe: after a lost acknowledgement it matches nothing and the
    # stored row (ours) is read back below.
    stored = db.run_statement(lambda conn: _execute(conn, _STORE, params).rowcount == 1)
    if stored:
        return output
    # Our claim went stale and another executor took over and finished: its answer is the one
    # every other retry will see, so return that one too.
    row = _load(db, key.session_id, key.call_id)
    return row.output if row is not None and row.output is not None else output


def release(db: Database, claimed: Claim) -> None:
    """Drop our pending claim (the tool raised or a dependency is down) so a retry runs it."""
    stmt = delete(ToolCall).where(
        ToolCall.id == claimed.row_id,
        ToolCall.attempt == claimed.attempt,
        ToolCall.state == "pending",
    )
    try:
        db.run_statement(lambda conn: conn.execute(stmt))
    except Exception:  # the original error matters more; the claim goes stale instead
        log.exception("could not release tool call claim %s", claimed.row_id)


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

    The composition of `claim`, `store` and `release` for callers with a plain executor
    (benchmarks, tests); if `execute` raises, the claim is released and the error re-raised.
    """
    key = CallKey(company_id, session_id, call_id, name, arguments)
    claimed = claim(
        db, key, stale_after=stale_after, wait_timeout=wait_timeout, poll_interval=poll_interval
    )
    if isinstance(claimed, Stored):
        return claimed.output, True
    started = time.perf_counter()
    try:
        output, ok, error_code = execute()  # no transaction is open here
    except BaseException:
        release(db, claimed)
        raise
    latency_ms = (time.perf_counter() - started) * 1000
    answer = store(
        db, claimed, key, output=output, ok=ok, error_code=error_code, latency_ms=latency_ms
    )
    return answer, False


def _same_arguments(stored: str, sent: str) -> bool:
    if stored == sent:
        return True
    try:  # the same call re-serialized (key order, spacing) is still the same call
        return bool(json.loads(stored) == json.loads(sent))
    except ValueError:
        return False


def _check_same_call(row: _Row, key: CallKey) -> None:
    if row.name != key.name or not _same_arguments(row.arguments, key.arguments):
        raise DomainError("tool_call_conflict", details=[{"field": "call_id"}])


# The bookkeeping statements are built once, with bound parameters: building and hashing a
# fresh statement per call cost more CPU than the round trip it sends.
_STORE = (
    update(ToolCall)
    .where(
        ToolCall.id == bindparam("row_id"),
        ToolCall.attempt == bindparam("seen_attempt"),
        ToolCall.state == "pending",
    )
    .values(
        output=bindparam("new_output", type_=ToolCall.output.type),
        ok=bindparam("new_ok", type_=ToolCall.ok.type),
        error_code=bindparam("new_error_code", type_=ToolCall.error_code.type),
        latency_ms=bindparam("new_latency_ms", type_=ToolCall.latency_ms.type),
        state="done",
        completed_at=bindparam("completed", type_=ToolCall.completed_at.type),
    )
)
_EXISTING = select(*_COLUMNS).where(
    ToolCall.session_id == bindparam("session_id", type_=ToolCall.session_id.type),
    ToolCall.call_id == bindparam("call_id", type_=ToolCall.call_id.type),
)


def _claim_statement(insert: Callable[..., Any]) -> Any:
    values = {
        column: bindparam(column, type_=ToolCall.__table__.c[column].type)
        for column in ("company_id", "session_id", "call_id", "name", "arguments")
    }
    now = bindparam("now", type_=ToolCall.claimed_at.type)
    return (
        insert(ToolCall)
        .values(**values, state="pending", attempt=1, claimed_at=now, created_at=now)
        .on_conflict_do_nothing(index_elements=["session_id", "call_id"])
        .returning(*_COLUMNS)
    )


_SQLITE_CLAIM = _claim_statement(sqlite.insert)
# PostgreSQL: one round trip, the claim and, when it met a row, that row.
_PG_INSERTED = _claim_statement(postgresql.insert).cte("inserted")
_PG_CLAIM = select(*_PG_INSERTED.c).union_all(
    _EXISTING.where(~exists(select(literal(1)).select_from(_PG_INSERTED)))
)


@functools.cache
def _driver_sql(statement: ClauseElement, dialect: Dialect) -> tuple[str, dict[str, Any]]:
    """The statement's SQL and the values of its literals (`'pending'`, `1`)."""
    compiled = statement.compile(dialect=dialect)
    return str(compiled), dict(compiled.params)


def _execute(
    conn: Connection, statement: ClauseElement, params: dict[str, Any]
) -> CursorResult[Any]:
    """On PostgreSQL, the statement compiled once and sent as driver SQL: SQLAlchemy's per-call
    cache-key walk cost more CPU than the round trip (its types have no bind processors)."""
    if conn.dialect.name != "postgresql":
        return conn.execute(cast(Executable, statement), params)
    sql, literals = _driver_sql(statement, conn.dialect)
    return conn.exec_driver_sql(sql, {**literals, **params})


def _insert_or_find(db: Database, key: CallKey, now: datetime) -> tuple[bool, _Row | None]:
    """(True, our row) when the claim is ours, else (False, the row met or None).

    A retry after a lost commit acknowledgement meets its own row: same call, still pending,
    first attempt, and our claim time to the microsecond; that row is ours too.
    """
    params: dict[str, Any] = {
        "company_id": key.company_id, "session_id": key.session_id, "call_id": key.call_id,
        "name": key.name, "arguments": key.arguments, "now": now,
    }  # fmt: skip

    def work(conn: Connection) -> _Row | None:
        found: Any
        if db.dialect == "postgresql":
            found = _execute(conn, _PG_CLAIM, params).first()
        else:
            found = (
                conn.execute(_SQLITE_CLAIM, params).first()
                or conn.execute(_EXISTING, params).first()
            )
        return None if found is None else _Row(*found)

    row = db.run_statement(work)
    if row is None:  # met a row committed after this statement's snapshot: read it next
        return False, None
    return row.state == "pending" and row.attempt == 1 and row.claimed_at == now, row


def _load(db: Database, session_id: str, call_id: str) -> _Row | None:
    params = {"session_id": session_id, "call_id": call_id}
    found = db.run_statement(lambda conn: conn.execute(_EXISTING, params).first())
    return None if found is None else _Row(*found)


def _take_over(db: Database, row_id: int, seen_attempt: int) -> Claim | None:
    """Claim a stale pending row; the attempt counter makes exactly one taker win."""
    stmt = (
        update(ToolCall)
        .where(ToolCall.id == row_id, ToolCall.state == "pending", ToolCall.attempt == seen_attempt)
        .values(attempt=seen_attempt + 1, claimed_at=utcnow())
    )
    won = db.run_statement(lambda conn: conn.execute(stmt).rowcount == 1)
    return Claim(row_id, seen_attempt + 1) if won else None
