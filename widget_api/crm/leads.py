"""Leads: validation, a race-safe upsert, listing and review actions.

The lead models (`LeadFields`, `LeadView`) are built from `vocabulary.LEAD_FIELDS` in
`crm.lead_models`; they are re-exported here, where callers have always found them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from widget_api.crm.db import Database
from widget_api.crm.lead_models import (
    UPDATABLE_FIELDS,
    InvalidEmail,
    InvalidPhone,
    LeadFields,
    LeadView,
    normalize_email,
    normalize_phone,
)
from widget_api.crm.models import Lead, utcnow
from widget_api.delivery import hooks
from widget_api.errors import DomainError
from widget_api.vocabulary import CHANNELS, LEAD_STATUSES, LeadStatus

Status = LeadStatus  # the name this module has always used
# The lead models are re-exported: callers have always imported them from here.
__all__ = [
    "MAX_LEAD_ID",
    "MAX_PAGE",
    "SORT_KEYS",
    "UPDATABLE_FIELDS",
    "InvalidEmail",
    "InvalidPhone",
    "LeadFields",
    "LeadView",
    "Status",
    "check_status",
    "count_leads",
    "get_lead",
    "lead_error_code",
    "list_leads",
    "normalize_email",
    "normalize_phone",
    "parse_sort",
    "record_meeting_link",
    "set_status",
    "upsert_lead",
    "validate_lead_fields",
]

SORT_KEYS = ("created_at", "updated_at", "name", "email", "status", "company")
MAX_PAGE = 1000
MAX_LEAD_ID = 2**31 - 1  # leads.id is an INTEGER (int4 on PostgreSQL)


def lead_error_code(exc: ValidationError) -> str:
    """The catalogue code for a LeadFields validation failure (email, phone or other)."""
    fields = {err["loc"][0] for err in exc.errors() if err.get("loc")}
    if "email" in fields:
        return InvalidEmail.code
    if "phone" in fields:
        return InvalidPhone.code
    return "tool_arguments_invalid"


def validate_lead_fields(data: Mapping[str, Any]) -> LeadFields:
    """LeadFields from raw input, or a DomainError whose code the model can act on.

    The error details name the failing fields only; raw input is never echoed back.
    """
    try:
        return LeadFields.model_validate(dict(data))
    except ValidationError as exc:
        fields = sorted({str(err["loc"][0]) for err in exc.errors() if err.get("loc")})
        raise DomainError(lead_error_code(exc), details=[{"fields": fields}]) from None


def _insert_for(db: Database) -> Any:
    return postgresql.insert if db.dialect == "postgresql" else sqlite.insert


def upsert_lead(
    db: Database,
    company_id: str,
    fields: LeadFields,
    *,
    session_id: str | None,
    channel: str,
) -> LeadView:
    """Create the lead, or update the one with the same (company, normalized email).

    One `INSERT ... ON CONFLICT DO UPDATE` statement, so concurrent calls for the same visitor
    never race into a duplicate or an IntegrityError, on SQLite and PostgreSQL alike.
    """
    if channel not in CHANNELS:
        raise DomainError("validation_failed", details=[{"fields": ["channel"]}])
    now = utcnow()
    values: dict[str, Any] = {
        "company_id": company_id,
        "name": fields.name,
        "email": fields.email,
        "email_normalized": fields.email,
        "channel": channel,
        "session_id": session_id,
        "status": "new",
        "created_at": now,
        "updated_at": now,
        **{name: getattr(fields, name) for name in UPDATABLE_FIELDS},
    }
    stmt = _insert_for(db)(Lead).values(**values)
    new = stmt.excluded
    set_: dict[str, Any] = {
        "name": new.name,
        "email": new.email,
        "channel": new.channel,
        "session_id": func.coalesce(new.session_id, Lead.session_id),
        "updated_at": new.updated_at,
        **{name: func.coalesce(new[name], Lead.__table__.c[name]) for name in UPDATABLE_FIELDS},
    }
    stmt = stmt.on_conflict_do_update(
        index_elements=["company_id", "email_normalized"], set_=set_
    ).returning(*Lead.__table__.c)

    def work(session: Session) -> LeadView:
        # Core rows carry raw values; the column types (UTCDateTime) already made them aware.
        lead = LeadView.model_validate(session.execute(stmt).one()._asdict())
        # Only an insert keeps our `now` as created_at; the webhook event commits with the lead.
        hooks.lead_saved(session, lead, created=lead.created_at == now)
        return lead

    # Re-running the upsert after a dropped connection writes the same values again.
    return db.run(work)


def record_meeting_link(db: Database, company_id: str, email: str, url: str) -> bool:
    """Store the booking link on the visitor's lead; False when no lead has that email yet."""
    try:
        normalized = normalize_email(email)
    except InvalidEmail:
        return False
    stmt = (
        update(Lead)
        .where(Lead.company_id == company_id, Lead.email_normalized == normalized)
        .values(meeting_link=url, updated_at=utcnow())
        .returning(*Lead.__table__.c)
    )

    def work(session: Session) -> bool:
        row = session.execute(stmt).first()
        lead = LeadView.model_validate(row._asdict()) if row is not None else None
        hooks.meeting_requested(
            session, company_id=company_id, session_id=lead.session_id if lead else None,
            lead=lead, url=url,
        )  # fmt: skip
        return lead is not None

    return db.run(work)


def _as_bound(value: date | datetime, *, end: bool) -> datetime:
    """A date filter covers the whole UTC day; datetimes are taken as given (naive = UTC)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    start = datetime.combine(value, time.min, tzinfo=UTC)
    if end and value == date.max:  # the day after 9999-12-31 does not exist
        return datetime.max.replace(tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filters(
    company_id: str | None,
    status: str | None,
    since: date | datetime | None,
    until: date | datetime | None,
    search: str | None,
) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if company_id is not None:
        clauses.append(Lead.company_id == company_id)
    if status is not None:
        clauses.append(Lead.status == check_status(status))
    if since is not None:
        clauses.append(Lead.created_at >= _as_bound(since, end=False))
    if until is not None:
        bound = _as_bound(until, end=True)
        inclusive = isinstance(until, datetime)
        clauses.append(Lead.created_at <= bound if inclusive else Lead.created_at < bound)
    if search and search.strip():
        pattern = f"%{_escape_like(search.strip().lower())}%"
        clauses.append(
            or_(
                Lead.email_normalized.like(pattern, escape="\\"),
                func.lower(func.coalesce(Lead.company, "")).like(pattern, escape="\\"),
            )
        )
    return clauses


def parse_sort(sort: str) -> tuple[str, bool]:
    """`"-created_at"` → ("created_at", descending); unknown keys are a validation error."""
    descending = sort.startswith("-")
    key = sort.lstrip("-+")
    if key not in SORT_KEYS:
        details = [{"fields": ["sort"], "allowed": list(SORT_KEYS)}]
        raise DomainError("validation_failed", details=details)
    return key, descending


def _ordered(stmt: Select[Any], sort: str) -> Select[Any]:
    key, descending = parse_sort(sort)
    column: Any = Lead.email_normalized if key == "email" else Lead.__table__.c[key]
    if key in ("name", "company"):
        column = func.lower(column)  # sales expects "acme" next to "Acme"
    order = column.desc() if descending else column.asc()
    tie = Lead.id.desc() if descending else Lead.id.asc()
    return stmt.order_by(order, tie)


def list_leads(
    db: Database,
    *,
    company_id: str | None = None,
    status: str | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    search: str | None = None,
    sort: str = "-created_at",
    limit: int | None = 50,
    offset: int = 0,
) -> list[LeadView]:
    """Leads matching every given filter; `limit=None` returns all (exports)."""
    stmt = _ordered(select(Lead).where(*_filters(company_id, status, since, until, search)), sort)
    if limit is not None:
        stmt = stmt.limit(max(0, min(limit, MAX_PAGE)))
    if offset:
        stmt = stmt.offset(max(0, offset))
    return db.run(
        lambda session: [LeadView.model_validate(row) for row in session.scalars(stmt)],
        readonly=True,
    )


def count_leads(
    db: Database,
    *,
    company_id: str | None = None,
    status: str | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    search: str | None = None,
) -> int:
    stmt = (
        select(func.count())
        .select_from(Lead)
        .where(*_filters(company_id, status, since, until, search))
    )
    return db.run(lambda session: int(session.execute(stmt).scalar_one()), readonly=True)


def _check_lead_id(lead_id: int) -> None:
    # Ids come from URLs: one beyond the column's range would fail in the driver, as a 500.
    if not 0 < lead_id <= MAX_LEAD_ID:
        raise DomainError("lead_not_found")


def get_lead(db: Database, company_id: str | None, lead_id: int) -> LeadView:
    """One lead; `lead_not_found` when missing or owned by another company."""
    _check_lead_id(lead_id)

    def read(session: Session) -> LeadView:
        lead = session.get(Lead, lead_id)
        if lead is None or (company_id is not None and lead.company_id != company_id):
            raise DomainError("lead_not_found")
        return LeadView.model_validate(lead)

    return db.run(read, readonly=True)


def check_status(status: str) -> str:
    if status not in LEAD_STATUSES:
        raise DomainError("lead_status_invalid", details=[{"allowed": list(LEAD_STATUSES)}])
    return status


def set_status(db: Database, company_id: str | None, lead_id: int, status: str) -> LeadView:
    """Move a lead through the sales pipeline (new → contacted → qualified / disqualified)."""
    check_status(status)
    _check_lead_id(lead_id)

    def update_status(session: Session) -> LeadView:
        lead = session.get(Lead, lead_id)
        if lead is None or (company_id is not None and lead.company_id != company_id):
            raise DomainError("lead_not_found")
        if lead.status != status:
            lead.status = status
            lead.updated_at = utcnow()
        session.flush()
        return LeadView.model_validate(lead)

    return db.run(update_status)
