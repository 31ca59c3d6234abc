"""PostgreSQL restarted in the middle of a `log_lead` load through the tool endpoint.

By default each call is sent once, so the server's own retry (a unit of work run again when
the connection drops) is what must carry it over the restart; with `client_retries`, a call
answered 503 (or not answered) is sent again with the same call id, as the widget would.
Afterwards every lead whose call got a success answer must be in the database exactly once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select

from scripts.bench_api import tool_call
from widget_api.crm.db import Database
from widget_api.crm.models import Lead


def _call_with_retries(port: int, session: dict[str, str], args: dict[str, Any],
                       call_id: str, retries: int) -> tuple[bool, int, str]:  # fmt: skip
    """(success, attempts, last outcome) of one lead, retried like the widget would."""
    outcome = ""
    for attempt in range(1, retries + 2):
        try:
            status, body, _ms, _tool_ms = tool_call(port, session, "log_lead", args, call_id)
        except OSError as exc:
            outcome = type(exc).__name__
        else:
            output = body.get("output", "") if isinstance(body, dict) else ""
            if status == 200:
                return '"error"' not in output, attempt, output[:120]
            outcome = f"HTTP {status}"
            if status not in (409, 503):
                return False, attempt, outcome
        if attempt <= retries:
            time.sleep(0.2 * attempt)
    return False, retries + 1, outcome


def run_pg_restart(
    base_url: str, database_url: str, session_factory: Callable[[str], dict[str, str]],
    restart: Callable[[], None], *, calls: int = 300, concurrency: int = 16,
    restart_at: float = 0.3, client_retries: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """`calls` unique leads at `concurrency`; `restart()` once `restart_at` of them are done.

    With `client_retries=0` (the default) every lead rests on the server's own retry: one
    request per call, and it must succeed.
    """
    port = int(base_url.rsplit(":", 1)[1])
    run = uuid.uuid4().hex[:8]
    done = 0
    done_lock = threading.Lock()
    reached = threading.Event()
    restart_info: dict[str, Any] = {}

    def one(i: int) -> tuple[str, bool, int, str]:
        nonlocal done
        email = f"pgr{i}.{run}@example.com"
        args = {"name": f"Restart Visitor {i}", "email": email, "interest": "Growth plan"}
        # One conversation per lead, as on a real site: log_lead calls are capped per
        # conversation (lead_update_limit), and the cap is not what this load measures.
        session = session_factory(f"ws_pgr_{run}_{i}")
        ok, attempts, last = _call_with_retries(port, session, args, f"pgr_{run}_{i}",
                                                client_retries)  # fmt: skip
        with done_lock:
            done += 1
            if done >= calls * restart_at:
                reached.set()
        return email, ok, attempts, last

    def restarter() -> None:
        if not reached.wait(timeout=120):
            return
        restart_info["calls_done_before"] = done
        started = time.perf_counter()
        restart()
        restart_info["seconds"] = round(time.perf_counter() - started, 2)
        restart_info["calls_done_after"] = done

    thread = threading.Thread(target=restarter, name="pg-restarter", daemon=True)
    thread.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(calls)))
    wall = time.perf_counter() - started
    thread.join(timeout=120)
    succeeded = {email for email, ok, _a, _l in results if ok}
    stored = _stored_counts(database_url, run)
    return {
        "calls": calls,
        "concurrency": concurrency,
        "restart": restart_info,
        "restarted_mid_load": bool(restart_info) and restart_info["calls_done_after"] < calls,
        "success_answers": len(succeeded),
        "failed_calls": [(e, last) for e, ok, _a, last in results if not ok][:10],
        "client_retries": sum(a - 1 for _e, _ok, a, _l in results),
        "leads_expected": len(succeeded),
        "leads_stored": sum(stored.values()),
        "successes_stored_exactly_once": all(stored.get(e) == 1 for e in succeeded),
        "duplicates": sum(1 for n in stored.values() if n > 1),
        "wall_s": round(wall, 2),
    }


def _stored_counts(database_url: str, run: str) -> dict[str, int]:
    db = Database(database_url)
    try:
        stmt = (
            select(Lead.email_normalized, func.count())
            .where(Lead.email_normalized.like(f"%.{run}@example.com"))
            .group_by(Lead.email_normalized)
        )
        with db.session(readonly=True) as session:
            return {email: int(n) for email, n in session.execute(stmt)}
    finally:
        db.dispose()
