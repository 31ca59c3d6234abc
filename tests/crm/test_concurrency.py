"""Many threads at once: exactly the unique leads and one ToolCall (and one execution) per id."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from widget_api.crm.db import Database
from widget_api.crm.leads import LeadFields, count_leads, list_leads, upsert_lead
from widget_api.crm.models import ToolCall
from widget_api.crm.tool_calls import run_once

THREADS = 200
UNIQUE = 50


def _hammer(fn, n: int) -> list[object]:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(min(n, THREADS))

    def task(i: int) -> object:
        barrier.wait(30)
        return fn(i)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(task, range(n)))


def test_concurrent_upserts_leave_exactly_the_unique_leads(db: Database) -> None:
    def upsert(i: int) -> int:
        k = i % UNIQUE
        # The same visitor arrives with differently spelled emails and partial details.
        email = f"  Visitor{k}@Example.com" if i % 2 else f"visitor{k}@example.COM "
        fields = LeadFields(name=f"Visitor {k}", email=email,
                            company=f"Org {k}" if i % 3 == 0 else None)  # fmt: skip
        return upsert_lead(db, "acme", fields, session_id=f"s-{i}", channel="voice").id

    ids = _hammer(upsert, THREADS)
    assert count_leads(db) == UNIQUE
    assert len(set(ids)) == UNIQUE
    leads = list_leads(db, limit=None)
    assert {lead.email for lead in leads} == {f"visitor{k}@example.com" for k in range(UNIQUE)}
    assert all(lead.company == f"Org {lead.email[7:].split('@')[0]}" for lead in leads)


def test_concurrent_repeated_tool_calls_execute_once_each(db: Database) -> None:
    executions: Counter[str] = Counter()
    lock = threading.Lock()

    def call(i: int) -> tuple[str, str, bool]:
        call_id = f"call-{i % UNIQUE}"

        def execute() -> tuple[str, bool, str | None]:
            with lock:
                executions[call_id] += 1
            return f'{{"call": "{call_id}", "by": {i}}}', True, None

        output, replayed = run_once(db, company_id="acme", session_id="sess", call_id=call_id,
                                    name="log_lead", arguments="{}", execute=execute)  # fmt: skip
        return call_id, output, replayed

    results = _hammer(call, THREADS)
    assert set(executions.values()) == {1} and len(executions) == UNIQUE
    outputs: dict[str, set[str]] = {}
    for call_id, output, _ in results:  # type: ignore[misc]
        outputs.setdefault(call_id, set()).add(output)
    assert all(len(v) == 1 for v in outputs.values())  # every duplicate saw the first answer
    assert sum(1 for *_, replayed in results if not replayed) == UNIQUE  # type: ignore[misc]
    with db.session(readonly=True) as session:
        rows = session.execute(select(func.count(), func.count(ToolCall.output))).one()
    assert tuple(rows) == (UNIQUE, UNIQUE)
