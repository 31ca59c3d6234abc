"""Start-up preparation: a PostgreSQL schema behind the migrations stops the server."""

from __future__ import annotations

import uuid

import pytest

from tests.crm.db_fixtures import drop_pg_schema, pg_schema_url
from widget_api.crm.db import Database
from widget_api.services import SchemaNotCurrent, check_schema_current


@pytest.mark.postgres
def test_unmigrated_postgres_is_refused_until_migrated(postgres_database_url: str) -> None:
    schema = f"api_schema_{uuid.uuid4().hex[:8]}"
    db = Database(pg_schema_url(postgres_database_url, schema))
    try:
        with pytest.raises(SchemaNotCurrent):
            check_schema_current(db)
        db.upgrade()
        check_schema_current(db)
    finally:
        db.dispose()
        drop_pg_schema(postgres_database_url, schema)
