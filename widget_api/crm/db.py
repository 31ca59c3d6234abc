"""One engine per database URL, units of work, and the schema through Alembic."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from widget_api.crm.gate import FairGate

log = logging.getLogger(__name__)

# Package data (widget_api/migrations), so a plain `pip install .` can migrate its database.
MIGRATIONS_DIR = Path(str(resources.files("widget_api") / "migrations"))
# Any constant works; it only has to be the same in every process that migrates this database.
_PG_MIGRATION_LOCK = 72_310_411
SQLITE_BUSY_TIMEOUT_MS = 30_000
# A PostgreSQL restart or failover takes a few seconds; retrying a unit of work with backoff
# (0.05 s doubling to 2 s, ~9 s over 10 attempts) rides it out without holding a caller forever.
RETRY_ATTEMPTS = 10
RETRY_FIRST_DELAY = 0.05
RETRY_MAX_DELAY = 2.0

T = TypeVar("T")
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")


class Database:
    """The CRM database: an engine, a session factory and the migration entry point.

    Connections are only held for short units of work (never across network I/O), so a pool of
    ~30 PostgreSQL connections serves ~64 request threads and leaves room under PostgreSQL's
    default `max_connections=100` for a couple of worker processes.
    """

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 20) -> None:
        self.url = url
        self.engine = _make_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        capacity = _capacity(self.engine)
        if capacity == 1:  # in-memory SQLite: one shared connection, one unit of work at a time
            self._write_gate = self._read_gate = FairGate(1)
        elif self.dialect == "sqlite":
            # SQLite has one writer at a time: queue writers here, in order, not in its
            # sleeping busy handler; readers (WAL) use the remaining connections.
            self._write_gate = FairGate(1, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
            self._read_gate = FairGate(max(1, capacity - 1))
        else:
            self._write_gate = self._read_gate = FairGate(max(1, capacity))
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Reads on SQLite take a deferred (shared) transaction instead of the write lock.
        self._read_engine = self.engine.execution_options(sqlite_begin="DEFERRED")
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)
        self._autocommit_engine = (
            _make_autocommit_engine(url) if self.dialect == "postgresql" else None
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """One unit of work: commits when the block ends, rolls back when it raises."""
        factory = self._read_sessions if readonly else self._sessions
        gate = self._read_gate if readonly else self._write_gate
        with gate.admit(), factory() as session, session.begin():
            yield session

    def run(
        self, work: Callable[[Session], T], *, readonly: bool = False, durable: bool = True
    ) -> T:
        """`work(session)` in one unit of work, run again when the connection drops.

        A dropped or refused connection, or a transaction the server aborted (restart,
        failover, serialization failure), is retried a bounded number of times with backoff;
        other errors, and SQLite's "database is locked" (its busy timeout already waited), are
        raised at once. `work` must be safe to repeat: its first attempt may have committed
        before the connection dropped (the statements here are upserts, conditional updates
        and claims that recognise their own row).

        `durable=False` lets PostgreSQL acknowledge the commit before its WAL reaches disk
        (`synchronous_commit = off` for this transaction only). Only bookkeeping whose loss
        after a server crash is harmless may use it: a lost tool-call claim just lets a retry
        run the (idempotent) tool again. Leads are always written durably.
        """

        def attempt() -> T:
            with self.session(readonly=readonly) as session:
                if not durable and self.dialect == "postgresql":
                    session.execute(_ASYNC_COMMIT)
                return work(session)

        return self._retrying(attempt)

    def run_statement(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)` issuing ONE statement that commits on its own, retried like `run`.

        For bookkeeping on the hot path (tool-call claims and outcomes): on PostgreSQL the
        statement runs on an autocommit connection with `synchronous_commit = off`, so it costs
        a single round trip (no BEGIN, no SET, no COMMIT) and no WAL flush wait. The same
        durability rule as `run(durable=False)` applies: losing it after a crash is harmless.
        On SQLite it is an ordinary unit of work (the write gate still orders writers).
        """

        def attempt() -> T:
            if self._autocommit_engine is None:
                with self.session() as session:
                    return work(session.connection())
            with self.autocommit_connection() as conn:
                return work(conn)

        return self._retrying(attempt)

    @contextmanager
    def autocommit_connection(self) -> Iterator[Connection]:
        """A PostgreSQL connection where each statement is its own lazily-committed transaction."""
        assert self._autocommit_engine is not None, "autocommit connections are PostgreSQL-only"
        with self._autocommit_engine.connect() as conn:
            yield conn

    def _retrying(self, attempt_once: Callable[[], T]) -> T:
        delay = RETRY_FIRST_DELAY
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                return attempt_once()
            except (OperationalError, InterfaceError) as exc:
                if attempt == RETRY_ATTEMPTS or not self._transient(exc):
                    raise
                log.warning(
                    "database: %s, retrying (attempt %d of %d)",
                    type(exc.orig).__name__, attempt, RETRY_ATTEMPTS,
                )  # fmt: skip
            time.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_DELAY)
        raise AssertionError("unreachable")  # pragma: no cover

    def _transient(self, exc: DBAPIError) -> bool:
        return exc.connection_invalidated or self.dialect != "sqlite"

    def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to `revision`; safe when several processes start at once."""
        from alembic import command

        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            command.upgrade(alembic_config(conn), revision)

    def downgrade(self, revision: str = "base") -> None:
        from alembic import command

        with self.engine.begin() as conn:
            command.downgrade(alembic_config(conn), revision)

    def ping(self) -> None:
        """Raises a SQLAlchemy error when the database is unreachable (for /readyz)."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
        if self._autocommit_engine is not None:
            self._autocommit_engine.dispose()


def alembic_config(connection: Any | None = None) -> Any:
    """An Alembic Config for widget_api/migrations, optionally bound to an open connection."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _capacity(engine: Engine) -> int:
    pool = engine.pool
    if isinstance(pool, StaticPool):
        return 1
    return int(pool.size()) + max(0, int(getattr(pool, "_max_overflow", 0)))  # type: ignore[attr-defined]


def _make_autocommit_engine(url: str) -> Engine:
    # A small pool of its own: these connections carry session-level settings (autocommit,
    # synchronous_commit off) that must never leak into durable units of work such as leads.
    engine = create_engine(
        url, pool_size=4, max_overflow=8, pool_timeout=30, pool_recycle=1800,
        isolation_level="AUTOCOMMIT",
    )  # fmt: skip

    @event.listens_for(engine, "connect")
    def _lazy_commits(dbapi_conn: Any, _record: Any) -> None:
        # A session setting, not connect_args' `options`: the URL may carry its own options
        # (a search_path), which connect_args would replace.
        cursor = dbapi_conn.cursor()
        cursor.execute("SET synchronous_commit TO OFF")
        cursor.close()
        dbapi_conn.commit()

    return engine


def _make_engine(url: str, *, pool_size: int, max_overflow: int) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No pool_pre_ping: it costs a round trip on every checkout, and every unit of work
        # goes through Database.run, whose retry replaces a connection a restart has killed.
        return create_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=30,
            pool_recycle=1800,
        )
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or "mode=memory" in str(parsed)
    if not in_memory:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    }
    if in_memory:
        kwargs["poolclass"] = StaticPool  # one shared connection, or every thread sees a new db
    else:
        # Writers are serialized by SQLite anyway; a small pool queues threads in Python
        # (fair, no busy-wait back-off) instead of in SQLite's busy handler.
        kwargs.update(pool_size=5, max_overflow=5, pool_timeout=60)
    engine = create_engine(url, **kwargs)
    _configure_sqlite(engine, wal=not in_memory)
    return engine


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN itself (pysqlite's implicit,
        # deferred BEGIN makes read-then-write transactions fail with SQLITE_BUSY).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front, so they wait in busy_timeout instead of
        # failing on a lock upgrade; readers stay deferred and never block writers (WAL).
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")
