"""`widget-api`: serve the app, check company configs, migrate the database."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from widget_api.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="widget-api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server (gunicorn + uvicorn workers)")
    serve.add_argument("--host", help="interface to bind (default: settings, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default: settings, 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default 1)")
    serve.add_argument("--threads", type=int, help="HTTP request threads per worker (default 64)")
    commands.add_parser("check-config", help="validate every company config and exit")
    commands.add_parser("migrate", help="apply database migrations (alembic upgrade head)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    updates = {
        key: value
        for key, value in (
            ("host", getattr(args, "host", None)),
            ("port", getattr(args, "port", None)),
            ("server_workers", getattr(args, "workers", None)),
            ("server_threads", getattr(args, "threads", None)),
        )
        if value is not None
    }
    return settings.model_copy(update=updates) if updates else settings


def _load_companies(settings: Settings):  # type: ignore[no-untyped-def]
    from widget_api.companies import CompanyConfigError, CompanyRegistry

    try:
        return CompanyRegistry.load(
            settings.companies_dir, env=os.environ, secrets_dir=settings.data_dir
        )
    except CompanyConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def _check_config(settings: Settings) -> int:
    registry = _load_companies(settings)
    if registry is None:
        return 2
    for company in registry.all():
        print(f"ok: {company.id} ({company.display_name})")
        for warning in model_warnings(company.model, company.transcription_model):
            print(f"warning: {company.id}: {warning}")
    from widget_api.phone.directory import phone_warnings

    for warning in phone_warnings(registry.all(), settings):
        print(f"warning: phone: {warning}")
    return 0


def model_warnings(model: str, transcription_model: str) -> list[str]:
    """A line per model the installed openai SDK marks deprecated, with its shutdown date."""
    from widget_api.realtime.models import deprecation, sdk_version

    out = []
    for name, kind in ((model, "realtime"), (transcription_model, "transcription")):
        notice = deprecation(name, kind)  # type: ignore[arg-type]
        if notice is not None:
            out.append(
                f"{kind} model {name!r} is deprecated in openai {sdk_version()}: "
                f"shutdown announced for {notice.shutdown_date}"
            )
    return out


def _migrate(settings: Settings) -> int:
    from widget_api.crm.db import Database
    from widget_api.files import private_sqlite_file

    private_sqlite_file(settings.effective_database_url)
    db = Database(settings.effective_database_url)
    try:
        db.upgrade()
    finally:
        db.dispose()
    print("database is at the latest migration")
    return 0


def _serve(settings: Settings) -> int:
    from widget_api.companies import admin_token_path
    from widget_api.server import configure_logging, serve

    configure_logging(settings.log_level)
    registry = _load_companies(settings)
    if registry is None:
        return 2
    print(f"Sales widget on http://{settings.host}:{settings.port}/ (demo page at /)")
    for company in registry.all():
        if company.admin_token_env and os.environ.get(company.admin_token_env):
            where = f"${company.admin_token_env}"
        else:
            where = str(admin_token_path(settings.data_dir, company.id).resolve())
        print(f"  {company.id}: leads at /admin/{company.id}/leads, admin token in {where}")
    if not settings.realtime_enabled:
        print("  OPENAI_API_KEY is not set: the widget runs in text mode")
    if settings.public_origin is None:
        # Handshakes and frame-ancestors trust this origin, never a request's Host header.
        print(f"  WIDGET_PUBLIC_ORIGIN is not set: this server is {settings.server_origin}")
    sys.stdout.flush()
    serve(settings)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from widget_api.files import restrict_umask

    args = _parser().parse_args(argv)
    settings = _settings(args)
    # The data folder (leads, secrets, SQLite WAL, Chroma) is ours alone; the previous umask
    # comes back when the command returns (it matters to callers such as tests).
    previous = restrict_umask()
    try:
        if args.command == "check-config":
            return _check_config(settings)
        if args.command == "migrate":
            return _migrate(settings)
        return _serve(settings)
    finally:
        os.umask(previous)


if __name__ == "__main__":
    raise SystemExit(main())
