from tests.crm.db_fixtures import _postgres_db, _sqlite_db, db, fresh_database_url  # noqa: F401
