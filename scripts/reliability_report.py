"""Reliability report: fuzzing, faults, load and recovery at full counts, as one table and one JSON.

Runs the measurable parts of the reliability and security suite against real servers on
loopback (`widget-api serve` in its own process on SQLite and on PostgreSQL, the fake OpenAI in
this process):

- schemathesis over `/api/openapi.json` (`tests.fuzz.api_fuzz.run_api_fuzz`) on both databases;
- 500 sessions with OpenAI faulted six ways, then the server's threads, descriptors and upstream
  connections against a warm-up baseline;
- 1,000 concurrent `log_lead` calls with 20 % retried call ids on both databases;
- a stepped mixed load (session route, tool calls, widget pages): the highest rate held with
  zero errors;
- a private PostgreSQL restarted in the middle of 1,000 `log_lead` calls;
- a Chroma server killed mid-conversation and brought back.

Prints a table (rich, on stderr) and ONE JSON object on stdout; exits 1 when any part failed.

    .venv/bin/python -m scripts.reliability_report [--quick]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

ADMIN_TOKEN = "report-admin-token-acme-0123456789"


@dataclass(frozen=True)
class Counts:
    fuzz_cases: int  # in total, split over the two databases
    faulted_sessions: int
    lead_calls: int
    restart_calls: int
    mixed_rates: tuple[float, ...]
    mixed_step_seconds: float


FULL = Counts(1200, 500, 1000, 1000, (20, 40, 60, 80, 100, 120, 160, 200, 240, 320), 5.0)
QUICK = Counts(100, 60, 200, 240, (10, 20, 40), 2.0)


@dataclass
class Server:
    """One `widget-api serve` process and what a client needs to call it."""

    label: str
    process: Any  # tests.faults.server_process.ServerProcess
    database_url: str

    def tool_sessions(self, prefix: str, n: int = 16) -> list[dict[str, str]]:
        from widget_api.tokens import issue_tool_token

        key = self.process.secret_key.encode()
        return [
            {"session_id": f"{prefix}_{i}",
             "tool_token": issue_tool_token(key, "acme", f"{prefix}_{i}", 3600)}
            for i in range(n)
        ]  # fmt: skip


@contextmanager
def servers(fake: Any, timeout: float) -> Iterator[dict[str, Server]]:
    """A SQLite and a PostgreSQL server process, both against `fake`, docs ingested."""
    from scripts.api_harness import postgres_database
    from tests.faults.server_process import ServerProcess
    from widget_api.crm.db import Database
    from widget_api.settings import normalize_database_url

    env = {
        "OPENAI_API_KEY": fake.api_key,
        "OPENAI_BASE_URL": fake.base_url,
        "WIDGET_OPENAI_TIMEOUT_SECONDS": str(timeout),
        "ACME_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="reliability-")))
        pg_url = normalize_database_url(stack.enter_context(postgres_database()))
        db = Database(pg_url)
        db.upgrade()  # `widget-api migrate`: PostgreSQL schemas are migrated explicitly
        db.dispose()
        found: dict[str, Server] = {}
        for label, url in (("sqlite", f"sqlite:///{tmp}/widget.db"), ("postgresql", pg_url)):
            process = ServerProcess(tmp / label, url, env)
            stack.enter_context(process)
            found[label] = Server(label, process, url)
        yield found


# --- the parts ---------------------------------------------------------------------------------


def part_fuzz(server: Server, cases: int) -> dict[str, Any]:
    from tests.fuzz.api_fuzz import FuzzAuth, run_api_fuzz

    session = server.tool_sessions("ws_fuzz", 1)[0]
    auth = FuzzAuth(company_id="acme", origin=server.process.origin, admin_token=ADMIN_TOKEN,
                    **session)  # fmt: skip
    result = run_api_fuzz(server.process.base_url, cases, auth=auth)
    result.pop("by_operation", None)
    return result


def part_faults(sessions: int, timeout: float) -> dict[str, Any]:
    """On a server of its own (16 threads, its own fake), so the thread-leak bound is tight."""
    from tests.faults.openai_faults import run_faulted_sessions
    from tests.faults.stack import start_stack

    stack = start_stack(timeout=timeout)
    try:
        process = stack.server
        return run_faulted_sessions(
            process.base_url, process.worker_pid(), stack.fake, sessions=sessions,
            timeout=timeout, thread_budget=process.thread_budget,
        )  # fmt: skip
    finally:
        stack.close()


def part_leads(server: Server, calls: int) -> dict[str, Any]:
    from tests.load.lead_load import run_lead_load

    sessions = server.tool_sessions(f"ws_leads_{server.label}", 50)
    return run_lead_load(server.process.base_url, server.database_url, sessions, total=calls)


def part_mixed(server: Server, counts: Counts) -> dict[str, Any]:
    from tests.load.mixed_load import step_up

    session = server.tool_sessions(f"ws_mixed_{server.label}", 1)[0]
    return step_up(server.process.port, session, rates=list(counts.mixed_rates),
                   seconds=counts.mixed_step_seconds)  # fmt: skip


def part_pg_restart(embedder: Any, calls: int) -> dict[str, Any]:
    from tests.faults import inprocess
    from tests.faults.pg_restart import run_pg_restart
    from tests.faults.private_postgres import PrivatePostgres
    from widget_api.tokens import issue_tool_token

    with PrivatePostgres() as pg, tempfile.TemporaryDirectory(prefix="reliability-pg-") as tmp:
        settings = inprocess.settings_for(Path(tmp), pg.url)
        with inprocess.serve_app(settings, embedder) as (base_url, services):

            def session(session_id: str) -> dict[str, str]:
                token = issue_tool_token(services.signing_key, "acme", session_id, 3600)
                return {"session_id": session_id, "tool_token": token}

            return run_pg_restart(base_url, pg.url, session, pg.restart, calls=calls)


def part_chroma(embedder: Any) -> dict[str, Any]:
    from tests.faults import inprocess
    from tests.faults.chroma_outage import run_chroma_outage
    from tests.faults.chroma_server import ChromaServer
    from widget_api.tokens import issue_tool_token

    with ChromaServer() as chroma, tempfile.TemporaryDirectory(prefix="reliability-ch-") as tmp:
        settings = inprocess.settings_for(
            Path(tmp), f"sqlite:///{tmp}/widget.db", chroma_host="127.0.0.1",
            chroma_port=chroma.port, ingest_demo_on_start=True,
        )  # fmt: skip
        with inprocess.serve_app(settings, embedder) as (base_url, services):

            def session(session_id: str) -> dict[str, str]:
                token = issue_tool_token(services.signing_key, "acme", session_id, 3600)
                return {"session_id": session_id, "tool_token": token}

            return run_chroma_outage(base_url, session, chroma)


def timed(parts: dict[str, Any], name: str, run: Callable[[], dict[str, Any]]) -> None:
    """Run one part; a crash is recorded as that part's failure, not the report's end."""
    started = time.perf_counter()
    try:
        parts[name] = run()
    except Exception as exc:  # the report must still print what the other parts measured
        parts[name] = {"crashed": f"{type(exc).__name__}: {exc}"[:300]}
    parts[name]["seconds"] = round(time.perf_counter() - started, 1)
    print(f"[reliability] {name}: {parts[name]['seconds']} s", file=sys.stderr, flush=True)


def run_all(counts: Counts, timeout: float) -> dict[str, Any]:
    from knowledge import load_embedder
    from tests.fake_openai import FakeOpenAI

    parts: dict[str, Any] = {}
    with FakeOpenAI() as fake, servers(fake, timeout) as by_db:
        for label, server in by_db.items():
            timed(parts, f"fuzz_{label}", partial(part_fuzz, server, counts.fuzz_cases // 2))
        for label, server in by_db.items():
            timed(parts, f"log_lead_{label}", partial(part_leads, server, counts.lead_calls))
        for label, server in by_db.items():
            time.sleep(3)  # the previous part ended by overloading a server: let it drain
            timed(parts, f"mixed_load_{label}", partial(part_mixed, server, counts))
    timed(parts, "openai_faults", partial(part_faults, counts.faulted_sessions, timeout))
    embedder = load_embedder()
    timed(parts, "postgres_restart", lambda: part_pg_restart(embedder, counts.restart_calls))
    timed(parts, "chroma_outage", lambda: part_chroma(embedder))
    return parts


# --- verdicts, table, JSON ----------------------------------------------------------------------


def rows(parts: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per part: what was tried, what failed, the headline figure, and the verdict."""
    out: list[dict[str, Any]] = []
    for name, p in parts.items():
        if "crashed" in p:
            out.append({"part": name, "tried": 0, "failures": 1, "figure": p["crashed"],
                        "ok": False})  # fmt: skip
            continue
        out.append(_row(name, p))
    return out


def _row(name: str, p: dict[str, Any]) -> dict[str, Any]:
    if name.startswith("fuzz_"):
        return {"part": name, "tried": p["cases"], "failures": p["failures"],
                "figure": f"{p['operations']} operations", "ok": p["failures"] == 0}  # fmt: skip
    if name == "openai_faults":
        growth, after, limits = p["growth"], p["after"], p["limits"]
        figure = (f"survived {p['survived']}/{p['faulted_sessions']}; after: threads "
                  f"{after['threads']} (bound {limits['threads']}), fds {growth['fds']:+d}, "
                  f"upstream conns {growth['upstream_connections']}")  # fmt: skip
        failures = p["faulted_sessions"] - p["survived"] + (0 if p["leak_free"] else 1)
        return {"part": name, "tried": p["faulted_sessions"], "failures": failures,
                "figure": figure, "ok": failures == 0}  # fmt: skip
    if name.startswith("log_lead_"):
        ok = p["none_lost"] and p["none_doubled"] and p["calls_with_differing_outputs"] == 0
        figure = (f"leads expected {p['leads_expected']} / stored {p['leads_stored']}; "
                  f"{p['throughput_rps']} req/s")  # fmt: skip
        return {"part": name, "tried": p["requests"], "failures": p["failed_requests"],
                "figure": figure, "ok": ok}  # fmt: skip
    if name.startswith("mixed_load_"):
        tried = sum(s["requests"] for s in p["steps"])
        held_errors = sum(s["errors"] for s in p["steps"] if s["held"])
        figure = f"held {p['highest_held_rps']} req/s with 0 errors"
        last = p["steps"][-1] if p["steps"] else {"held": True}
        if not last["held"]:  # the step that ended the stepping: why
            figure += (f"; {last['offered_rps']} req/s: {last['errors']} errors, "
                       f"p99 {last['p99_ms']} ms")  # fmt: skip
        return {"part": name, "tried": tried, "failures": held_errors, "figure": figure,
                "ok": p["highest_held_rps"] > 0 and held_errors == 0}  # fmt: skip
    if name == "postgres_restart":
        figure = (f"leads expected {p['leads_expected']} / stored {p['leads_stored']}; "
                  f"restart {p['restart'].get('seconds')} s mid-load")  # fmt: skip
        ok = (p["restarted_mid_load"] and p["successes_stored_exactly_once"]
              and p["duplicates"] == 0 and p["success_answers"] == p["calls"])  # fmt: skip
        return {"part": name, "tried": p["calls"], "failures": p["calls"] - p["success_answers"],
                "figure": figure, "ok": ok}  # fmt: skip
    during = p["during_outage"]
    figure = (
        f"search {during['search']}, readyz {during['readyz']}, text {during['text_conversation']}"
    )
    return {"part": name, "tried": 1, "failures": 0 if p["survived"] else 1, "figure": figure,
            "ok": p["survived"]}  # fmt: skip


def summary(parts: dict[str, Any], table: list[dict[str, Any]]) -> dict[str, Any]:
    fuzz = [p for n, p in parts.items() if n.startswith("fuzz_") and "cases" in p]
    leads = [p for n, p in parts.items() if n.startswith("log_lead_") and "leads_stored" in p]
    restart = parts.get("postgres_restart", {})
    faults = parts.get("openai_faults", {})
    mixed = [p for n, p in parts.items() if n.startswith("mixed_load_") and "steps" in p]
    faults_injected = faults.get("faulted_sessions", 0) + 2  # + the PG restart + the Chroma kill
    survived = (faults.get("survived", 0) + int(table_ok(table, "postgres_restart"))
                + int(table_ok(table, "chroma_outage")))  # fmt: skip
    return {
        "fuzz_cases_tried": sum(p["cases"] for p in fuzz),
        "fuzz_failures": sum(p["failures"] for p in fuzz),
        "faults_injected": faults_injected,
        "faults_survived": survived,
        "leak_free": faults.get("leak_free", False),
        "requests_per_second_held": {
            n.removeprefix("mixed_load_"): parts[n]["highest_held_rps"]
            for n in parts
            if n.startswith("mixed_load_") and "steps" in parts[n]
        },  # fmt: skip
        "mixed_load_errors_at_held_rates": sum(
            s["errors"] for p in mixed for s in p["steps"] if s["held"]
        ),
        "leads_expected": sum(p["leads_expected"] for p in leads)
        + restart.get("leads_expected", 0),
        "leads_stored": sum(p["leads_stored"] for p in leads) + restart.get("leads_stored", 0),
        "all_ok": all(r["ok"] for r in table),
    }


def table_ok(table: list[dict[str, Any]], part: str) -> bool:
    return any(r["part"] == part and r["ok"] for r in table)


def print_table(table: list[dict[str, Any]], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Table(title=title)
    for column in ("part", "tried", "failures", "figure", "ok"):
        out.add_column(column, justify="right" if column in ("tried", "failures") else "left")
    for r in table:
        out.add_row(r["part"], str(r["tried"]), str(r["failures"]), r["figure"],
                    "yes" if r["ok"] else "NO")  # fmt: skip
    Console(stderr=True, width=140).print(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="reduced counts (a smoke run)")
    parser.add_argument("--openai-timeout", type=float, default=1.0,
                        help="the server's OpenAI timeout during the run (seconds)")  # fmt: skip
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log lines per request
    counts = QUICK if args.quick else FULL
    started = time.perf_counter()
    with redirect_stdout(sys.stderr):  # stdout carries the one JSON object, nothing else
        parts = run_all(counts, args.openai_timeout)
    table = rows(parts)
    result: dict[str, Any] = {
        "report": "reliability",
        "mode": "quick" if args.quick else "full",
        "machine": {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)},
        "counts": counts.__dict__,
        "summary": summary(parts, table),
        "table": table,
        "parts": parts,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    print_table(table, f"Reliability report ({result['mode']})")
    print(json.dumps(result, default=str))
    return 0 if result["summary"]["all_ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
