"""`leads`: review the CRM from a terminal (list, show, export, set-status).

Reads the database URL from the Settings (DATABASE_URL, or SQLite under WIDGET_DATA_DIR) and
applies pending migrations first, so it works on a fresh install. Exit codes: 0 success,
1 not found or database unreachable, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from widget_api.crm.db import Database
from widget_api.crm.export import leads_to_csv, leads_to_json
from widget_api.crm.leads import SORT_KEYS, LeadView, get_lead, list_leads, set_status
from widget_api.crm.models import LEAD_STATUSES
from widget_api.errors import ApiError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage dump: the message says what to fix.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("dates look like 2026-01-31") from None


def _lead_id(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError("lead ids are positive integers")
    return int(value)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--company", help="company id, e.g. acme")
    parser.add_argument("--status", choices=LEAD_STATUSES)
    parser.add_argument("--since", type=_date, help="created on or after DATE (YYYY-MM-DD, UTC)")
    parser.add_argument("--until", type=_date, help="created on or before DATE (YYYY-MM-DD, UTC)")
    parser.add_argument("--search", help="substring of the email or the lead's company name")
    sorts = [*SORT_KEYS, *(f"-{k}" for k in SORT_KEYS)]
    parser.add_argument("--sort", default="-created_at", choices=sorts, metavar="[-]KEY")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="leads", description="Review the leads the sales widget collected.")
    parser.add_argument("--database-url", help="overrides DATABASE_URL / the Settings")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    listing = commands.add_parser("list", help="list leads, newest first")
    _add_filters(listing)
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")

    show = commands.add_parser("show", help="show one lead")
    show.add_argument("id", type=_lead_id)
    show.add_argument("--json", action="store_true")

    export = commands.add_parser("export", help="export leads as CSV or JSON")
    export.add_argument("--format", choices=("csv", "json"), required=True)
    export.add_argument("--output", type=Path, help="file to write (default: stdout)")
    _add_filters(export)

    status = commands.add_parser("set-status", help="move a lead through the pipeline")
    status.add_argument("id", type=_lead_id)
    status.add_argument("status", choices=LEAD_STATUSES)
    return parser


def _plain(value: Any) -> Text:
    """Lead fields are visitor input: show control characters and markup literally."""
    if value is None:
        return Text("")
    text = value.isoformat(timespec="seconds") if isinstance(value, datetime) else str(value)
    cleaned = "".join(f"\\x{ord(c):02x}" if unicodedata.category(c) == "Cc" else c for c in text)
    return Text(cleaned)


def _table(leads: list[LeadView]) -> Table:
    table = Table(show_lines=False)
    for column in ("id", "company_id", "name", "email", "company", "status", "channel", "created"):
        table.add_column(column, overflow="fold")
    for lead in leads:
        row = (lead.id, lead.company_id, lead.name, lead.email, lead.company, lead.status,
               lead.channel, lead.created_at)  # fmt: skip
        table.add_row(*(_plain(v) for v in row))
    return table


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "company_id": args.company, "status": args.status, "since": args.since,
        "until": args.until, "search": args.search, "sort": args.sort,
    }  # fmt: skip


def _run(args: argparse.Namespace, db: Database, out: Console) -> int:
    if args.command == "list":
        leads = list_leads(db, **_filters(args), limit=args.limit)
        if args.json:
            sys.stdout.write(leads_to_json(leads) + "\n")
        else:
            out.print(_table(leads))
            out.print(f"{len(leads)} lead(s)")
    elif args.command == "show":
        lead = get_lead(db, None, args.id)
        if args.json:
            sys.stdout.write(json.dumps(lead.model_dump(mode="json"), indent=2) + "\n")
        else:
            table = Table(show_header=False)
            for key, value in lead.model_dump().items():
                table.add_row(Text(key), _plain(value))
            out.print(table)
    elif args.command == "export":
        leads = list_leads(db, **_filters(args), limit=None)
        body = leads_to_csv(leads) if args.format == "csv" else leads_to_json(leads) + "\n"
        if args.output is None:
            sys.stdout.write(body)
        else:
            args.output.write_text(body, encoding="utf-8", newline="")
            print(f"wrote {len(leads)} lead(s) to {args.output}", file=sys.stderr)
    elif args.command == "set-status":
        lead = set_status(db, None, args.id, args.status)
        out.print(_plain(f"lead {lead.id} ({lead.email}) is now {lead.status}"))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on bad input
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE

    from widget_api.settings import Settings

    url = args.database_url or Settings().effective_database_url
    db = Database(url, pool_size=1, max_overflow=1)
    try:
        db.upgrade()
        return _run(args, db, Console(soft_wrap=False))
    except ApiError as err:
        print(f"leads: error: {err.message}", file=sys.stderr)
        return EXIT_FAILED if err.status == 404 else EXIT_USAGE
    except SQLAlchemyError as exc:
        print(f"leads: error: database unavailable ({type(exc).__name__})", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"leads: error: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        db.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
