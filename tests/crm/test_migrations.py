"""Migrations make the schema: from empty to head and back, and they agree with the models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from widget_api.crm.db import Database
from widget_api.crm.models import Base

REPO = Path(__file__).resolve().parents[2]
CRM_TABLES = {
    "leads", "conversations", "tool_calls", "lead_claims", "transcript_entries", "privacy_audit",
    # webhook outbox and reports (issue 10)
    "outbox_events", "webhook_deliveries", "report_questions", "report_question_vectors",
    "report_meeting_links", "report_bookings", "report_daily_counters", "report_day_cache",
    # per-turn latency (issue 12)
    "turn_latencies",
}  # fmt: skip


def _tables(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def _diffs(db: Database) -> list[object]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_upgrade_from_empty_creates_the_schema_that_matches_the_models(
    fresh_database_url: str,
) -> None:
    db = Database(fresh_database_url)
    try:
        assert _tables(db) == set()
        db.upgrade()
        assert _tables(db) == CRM_TABLES | {"alembic_version"}
        assert _diffs(db) == []
        db.upgrade()  # idempotent: a second start is a no-op
        assert _diffs(db) == []
    finally:
        db.dispose()


def test_downgrade_removes_everything_and_upgrade_works_again(fresh_database_url: str) -> None:
    db = Database(fresh_database_url)
    try:
        db.upgrade()
        db.downgrade("base")
        assert _tables(db) - {"alembic_version"} == set()
        db.upgrade()
        assert _tables(db) == CRM_TABLES | {"alembic_version"}
    finally:
        db.dispose()


def test_alembic_cli_upgrades_and_checks_from_the_repo_root(
    fresh_database_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "DATABASE_URL": fresh_database_url, "WIDGET_DATA_DIR": str(tmp_path)}
    # The same entry point as the `alembic` console script, twice in one interpreter.
    script = "from alembic.config import main; main(argv=['upgrade', 'head']); main(argv=['check'])"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "No new upgrade operations detected" in result.stdout + result.stderr
    db = Database(fresh_database_url)
    try:
        assert _tables(db) >= CRM_TABLES
    finally:
        db.dispose()
