"""The CRM's bounded retry of a unit of work when the database connection drops.

Real disconnects: the test's own PostgreSQL backend is terminated mid-transaction with
`pg_terminate_backend` (only that connection; the shared server keeps running). A lost commit
acknowledgement is simulated at the one seam it can be: a unit of work that commits and then
reports a dropped connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.crm.db_fixtures import _plain_pg_url, drop_pg_schema, pg_schema_url
from widget_api.crm.db import Database
from widget_api.crm.models import ToolCall
from widget_api.crm.tool_calls import run_once

SCHEMA = "faults_retry"


@pytest.fixture(scope="module")
def pg_db(postgres_database_url: str) -> Iterator[Database]:
    db = Database(pg_schema_url(postgres_database_url, SCHEMA))
    db.upgrade()
    yield db
    db.dispose()
    drop_pg_schema(postgres_database_url, SCHEMA)


@pytest.fixture
def sqlite_db(tmp_path) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'retry.db'}")
    db.upgrade()
    yield db
    db.dispose()


@pytest.mark.postgres
def test_a_unit_of_work_whose_connection_is_killed_runs_again(
    pg_db: Database, postgres_database_url: str
) -> None:
    attempts: list[int] = []

    def work(session: Session) -> int:
        pid = int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
        attempts.append(pid)
        if len(attempts) == 1:
            with psycopg.connect(_plain_pg_url(postgres_database_url), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        return int(session.execute(text("SELECT 41 + 1")).scalar_one())

    assert pg_db.run(work) == 42
    assert len(attempts) == 2
    assert attempts[0] != attempts[1]  # a fresh connection, not the dead one


def test_sqlite_errors_that_are_not_disconnects_are_raised_at_once(sqlite_db: Database) -> None:
    attempts = 0

    def work(session: Session) -> None:
        nonlocal attempts
        attempts += 1
        session.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(OperationalError):
        sqlite_db.run(work)
    assert attempts == 1


@pytest.mark.postgres
def test_the_retry_is_bounded(pg_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    import widget_api.crm.db as db_module

    monkeypatch.setattr(db_module, "RETRY_FIRST_DELAY", 0.001)
    monkeypatch.setattr(db_module, "RETRY_MAX_DELAY", 0.001)
    attempts = 0

    def work(session: Session) -> None:
        nonlocal attempts
        attempts += 1
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    with pytest.raises(OperationalError):
        pg_db.run(work)
    assert attempts == db_module.RETRY_ATTEMPTS


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_claim_whose_commit_acknowledgement_was_lost_is_recognised_as_ours(
    backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    db: Database = request.getfixturevalue("sqlite_db" if backend == "sqlite" else "pg_db")
    real_session = db.session
    lost = {"done": False}

    @contextmanager
    def lossy_session(*, readonly: bool = False) -> Iterator[Session]:
        with real_session(readonly=readonly) as session:
            yield session
        if not readonly and not lost["done"]:  # committed, but the answer never arrived
            lost["done"] = True
            raise OperationalError(
                "COMMIT", {}, Exception("server closed the connection"), connection_invalidated=True
            )

    monkeypatch.setattr(db, "session", lossy_session)
    if db.dialect == "postgresql":  # bookkeeping statements run on autocommit connections
        real_connection = db.autocommit_connection

        @contextmanager
        def lossy_connection() -> Iterator[Connection]:
            with real_connection() as conn:
                yield conn
            if not lost["done"]:  # the statement committed, but the answer never arrived
                lost["done"] = True
                raise OperationalError(
                    "INSERT", {}, Exception("server closed the connection"),
                    connection_invalidated=True,
                )  # fmt: skip

        monkeypatch.setattr(db, "autocommit_connection", lossy_connection)
    runs = 0

    def execute() -> tuple[str, bool, str | None]:
        nonlocal runs
        runs += 1
        return json.dumps({"saved": True}), True, None

    session_id = f"ws_lost_ack_{backend}"
    output, replayed = run_once(
        db, company_id="acme", session_id=session_id, call_id="call_1", name="log_lead",
        arguments="{}", execute=execute, wait_timeout=0.5,
    )  # fmt: skip
    assert (json.loads(output), replayed, runs) == ({"saved": True}, False, 1)
    with real_session(readonly=True) as session:
        rows = session.scalar(
            select(func.count()).select_from(ToolCall).where(ToolCall.session_id == session_id)
        )
        state = session.scalar(select(ToolCall.state).where(ToolCall.session_id == session_id))
    assert (rows, state, lost["done"]) == (1, "done", True)
