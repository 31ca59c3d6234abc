"""Idempotent tool calls: one execution per (session, call id), replay on retry."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from widget_api.crm.db import Database
from widget_api.crm.models import ToolCall, utcnow
from widget_api.crm.tool_calls import run_once
from widget_api.errors import DomainError


class Counter:
    def __init__(self, output: str = '{"ok": true}', ok: bool = True) -> None:
        self.calls = 0
        self.output, self.ok = output, ok
        self.lock = threading.Lock()

    def __call__(self) -> tuple[str, bool, str | None]:
        with self.lock:
            self.calls += 1
        return self.output, self.ok, None if self.ok else "lead_email_invalid"


def _run(db: Database, execute, call_id: str = "call-1", **kwargs):  # type: ignore[no-untyped-def]
    return run_once(db, company_id="acme", session_id="sess-1", call_id=call_id,
                    name="log_lead", arguments='{"email": "a@example.com"}', execute=execute,
                    **kwargs)  # fmt: skip


def _rows(db: Database) -> list[ToolCall]:
    with db.session(readonly=True) as session:
        return list(session.scalars(select(ToolCall)))


def test_first_call_runs_and_stores_the_outcome(db: Database) -> None:
    execute = Counter('{"error": {"code": "lead_email_invalid"}}', ok=False)
    assert _run(db, execute) == ('{"error": {"code": "lead_email_invalid"}}', False)
    [row] = _rows(db)
    assert (row.state, row.ok, row.error_code, row.name) == (
        "done",
        False,
        "lead_email_invalid",
        "log_lead",
    )
    assert row.latency_ms is not None and row.latency_ms >= 0 and row.completed_at is not None


def test_retry_replays_the_stored_output_without_running_again(db: Database) -> None:
    first = Counter('{"lead_id": 1}')
    _run(db, first)
    second = Counter('{"lead_id": 2}')
    assert _run(db, second) == ('{"lead_id": 1}', True)
    assert (first.calls, second.calls, len(_rows(db))) == (1, 0, 1)


def test_other_call_ids_run_separately(db: Database) -> None:
    execute = Counter()
    _run(db, execute, "a")
    _run(db, execute, "b")
    assert execute.calls == 2 and len(_rows(db)) == 2


def test_a_duplicate_waits_for_the_running_call_and_gets_its_output(db: Database) -> None:
    started, release = threading.Event(), threading.Event()

    def slow() -> tuple[str, bool, str | None]:
        started.set()
        release.wait(10)
        return '{"slow": true}', True, None

    results: list[tuple[str, bool]] = []
    first = threading.Thread(target=lambda: results.append(_run(db, slow)))
    first.start()
    assert started.wait(10)
    duplicate = Counter()
    waiter = threading.Thread(target=lambda: results.append(_run(db, duplicate)))
    waiter.start()
    release.set()
    first.join(10)
    waiter.join(10)
    assert sorted(results) == [('{"slow": true}', False), ('{"slow": true}', True)]
    assert duplicate.calls == 0


def test_a_duplicate_gives_up_after_the_wait_bound(db: Database) -> None:
    _claim_pending(db, age_seconds=0)
    with pytest.raises(DomainError) as caught:
        _run(db, Counter(), wait_timeout=0.2)
    assert caught.value.code == "tool_call_in_progress"


def _claim_pending(db: Database, *, age_seconds: float) -> None:
    """A pending claim as left by an executor that crashed `age_seconds` ago."""
    with db.session() as session:
        session.add(ToolCall(company_id="acme", session_id="sess-1", call_id="call-1",
                             name="log_lead", arguments='{"email": "a@example.com"}',
                             state="pending", attempt=1,
                             claimed_at=utcnow() - timedelta(seconds=age_seconds)))  # fmt: skip


def test_a_stale_claim_is_taken_over_and_run(db: Database) -> None:
    _claim_pending(db, age_seconds=120)
    execute = Counter('{"rerun": true}')
    assert _run(db, execute, stale_after=30) == ('{"rerun": true}', False)
    [row] = _rows(db)
    assert (row.state, row.attempt, execute.calls) == ("done", 2, 1)


def test_a_late_write_from_a_superseded_executor_is_ignored(db: Database) -> None:
    started, release = threading.Event(), threading.Event()

    def stuck() -> tuple[str, bool, str | None]:
        started.set()
        release.wait(10)
        return '{"late": true}', True, None

    results: list[tuple[str, bool]] = []
    thread = threading.Thread(target=lambda: results.append(_run(db, stuck)))
    thread.start()
    assert started.wait(10)
    with db.session() as session:  # the claim ages past the stale bound
        session.execute(update(ToolCall).values(claimed_at=utcnow() - timedelta(seconds=120)))
    assert _run(db, Counter('{"fresh": true}'), stale_after=30) == ('{"fresh": true}', False)
    release.set()
    thread.join(10)
    assert results == [('{"fresh": true}', False)]  # the stuck one reports the stored answer
    assert _rows(db)[0].output == '{"fresh": true}'


def test_an_executor_that_raises_releases_its_claim(db: Database) -> None:
    def boom() -> tuple[str, bool, str | None]:
        raise RuntimeError("tool crashed")

    with pytest.raises(RuntimeError):
        _run(db, boom)
    assert _rows(db) == []
    assert _run(db, Counter('{"second": true}')) == ('{"second": true}', False)


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("create_meeting_link", '{"email": "a@example.com"}'),
        ("log_lead", '{"email": "b@x.example"}'),
    ],
)
def test_a_call_id_reused_for_another_call_is_a_conflict(
    db: Database, name: str, arguments: str
) -> None:
    _run(db, Counter('{"first": true}'))
    second = Counter()
    with pytest.raises(DomainError) as caught:
        run_once(db, company_id="acme", session_id="sess-1", call_id="call-1", name=name,
                 arguments=arguments, execute=second)  # fmt: skip
    assert caught.value.code == "tool_call_conflict" and second.calls == 0


def test_the_same_arguments_serialized_differently_still_replay(db: Database) -> None:
    _run(db, Counter('{"first": true}'))
    output = run_once(db, company_id="acme", session_id="sess-1", call_id="call-1",
                      name="log_lead", arguments='{ "email":"a@example.com" }',
                      execute=Counter())  # fmt: skip
    assert output == ('{"first": true}', True)
