"""Alembic migrations, shipped in the package so an installed server can migrate its database."""
