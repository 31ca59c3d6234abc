"""`leads`: review the CRM from a terminal (list, show, export, set-status; privacy: forget,
export-person, purge).

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
from widget_api.errors import DomainError
from widget_api.vocabulary import LEAD_STATUSES

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
    _add_privacy_commands(commands)
    return parser


def _add_privacy_commands(commands: Any) -> None:
    forget = commands.add_parser(
        "forget", help="delete everything about one person: lead, conversations, transcripts"
    )
    forget.add_argument("email")
    forget.add_argument("--company", help="only this company's records")
    person = commands.add_parser("export-person", help="everything held about one person, JSON")
    person.add_argument("email")
    person.add_argument("--company", help="only this company's records")
    person.add_argument("--output", type=Path, help="file to write (default: stdout)")
    purge = commands.add_parser("purge", help="delete conversations and leads past retention")
    purge.add_argument(
        "--days", type=int, help="retention in days (default: WIDGET_RETENTION_DAYS)"
    )
    purge.add_argument("--company", help="only this company's records")


def _show_record(db: Database, lead_id: int, as_json: bool, out: Console) -> None:
    """The lead, its claims with the visitor's words, and each conversation's transcript."""
    from widget_api.crm.record import lead_record

    record = lead_record(db, get_lead(db, None, lead_id).company_id, lead_id)
    if as_json:
        data = record.as_json()
        # The lead's fields stay at the top level (as before the record existed).
        body = {**data.pop("lead"), **data}
        sys.stdout.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table(show_header=False)
    for key, value in record.lead.model_dump().items():
        quote = record.evidence.get(key)
        table.add_row(Text(key), _plain(value if not quote else f'{value}  <- "{quote}"'))
    out.print(table)
    for claim in (c for c in record.claims if c.conflict):
        out.print(_plain(f"conflict: {claim.field} = {claim.value!r} from {claim.session_id}"
                         f" ({claim.evidence or claim.source})"))  # fmt: skip
    for conv in record.conversations:
        out.print(_plain(
            f"\nconversation {conv.session_id}: {conv.started_at:%Y-%m-%d %H:%M} UTC, "
            f"{' -> '.join(conv.transports)}, {conv.turns} turn(s), outcome {conv.outcome}, "
            f"page {conv.page_url or '-'}, referrer {conv.referrer or '-'}"
        ))  # fmt: skip
        if conv.summary:
            out.print(_plain(f"summary: {conv.summary}"))
        for line in conv.transcript:
            who = line.tool_name if line.role == "tool" else line.role
            out.print(_plain(f"  {line.created_at:%H:%M:%S} {who}: {line.text}"))


def _run_privacy(args: argparse.Namespace, db: Database, out: Console) -> int:
    from widget_api.crm import privacy

    if args.command == "forget":
        counts = privacy.forget_person(db, args.company, args.email)
        out.print(_plain("deleted " + ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))))
        return EXIT_OK if counts.get("leads") or any(counts.values()) else EXIT_FAILED
    if args.command == "export-person":
        body = json.dumps(privacy.export_person(db, args.company, args.email), indent=2,
                          ensure_ascii=False) + "\n"  # fmt: skip
        if args.output is None:
            sys.stdout.write(body)
        else:
            args.output.write_text(body, encoding="utf-8")
        return EXIT_OK
    from widget_api.settings import Settings

    days = args.days or Settings().retention_days
    if not days or days < 1:
        print("leads: error: give --days or set WIDGET_RETENTION_DAYS", file=sys.stderr)
        return EXIT_USAGE
    counts = privacy.purge_older_than(db, days, company_id=args.company)
    out.print(_plain(f"purged (older than {days} days): "
                     + ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))))  # fmt: skip
    return EXIT_OK


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
    if args.command in ("forget", "export-person", "purge"):
        return _run_privacy(args, db, out)
    if args.command == "list":
        leads = list_leads(db, **_filters(args), limit=args.limit)
        if args.json:
            sys.stdout.write(leads_to_json(leads) + "\n")
        else:
            out.print(_table(leads))
            out.print(f"{len(leads)} lead(s)")
    elif args.command == "show":
        _show_record(db, args.id, args.json, out)
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
    except DomainError as err:
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
