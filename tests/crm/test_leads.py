"""Lead validation, the upsert's semantics, listing and review actions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy import update

from widget_api.crm.db import Database
from widget_api.crm.leads import (
    InvalidEmail,
    InvalidPhone,
    LeadFields,
    count_leads,
    get_lead,
    lead_error_code,
    list_leads,
    normalize_email,
    normalize_phone,
    record_meeting_link,
    set_status,
    upsert_lead,
    validate_lead_fields,
)
from widget_api.crm.models import Lead
from widget_api.errors import DomainError


def _lead(db: Database, email: str, company_id: str = "acme", **fields: str):  # type: ignore[no-untyped-def]
    data = {"name": fields.pop("name", "Visitor"), "email": email, **fields}
    return upsert_lead(db, company_id, LeadFields(**data), session_id="s-1", channel="voice")


def _set_created(db: Database, lead_id: int, when: datetime) -> None:
    with db.session() as session:
        session.execute(update(Lead).where(Lead.id == lead_id).values(created_at=when))


# --- validation (no database) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("SALES@acme-relay.example", "sales@acme-relay.example"),
        ("a+tag@sub.example.org", "a+tag@sub.example.org"),
    ],
)
def test_email_is_stripped_and_lower_cased(raw: str, normalized: str) -> None:
    assert normalize_email(raw) == normalized


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "jane",
        "jane@",
        "@example.com",
        "jane doe@example.com",
        "jane@@example.com",
        "a" * 330 + "@x.com",
    ],
)
def test_bad_emails_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidEmail):
        normalize_email(raw)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("+1 (415) 555-0123", "+14155550123"),
        ("0049 30 1234567", "+49301234567"),
        ("+44 20 7946 0958 ext. 12", "+442079460958"),
        ("030-1234567", "0301234567"),
        ("   ", None),
        (None, None),
    ],
)
def test_phone_is_normalized(raw: str | None, normalized: str | None) -> None:
    assert normalize_phone(raw) == normalized


@pytest.mark.parametrize(
    "raw",
    ["call me", "12345", "+123456", "+1 415 555 01234567890", "555-CALL-NOW", "+1-415-٥٥٥-0123"],
)
def test_bad_phones_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"name": "A", "email": "nope"}, "lead_email_invalid"),
        ({"name": "A", "email": "a@example.com", "phone": "call me"}, "lead_phone_invalid"),
        ({"email": "a@example.com"}, "tool_arguments_invalid"),
        ({"name": "", "email": "a@example.com"}, "tool_arguments_invalid"),
    ],
)
def test_validation_errors_map_to_catalogue_codes_without_echoing_input(
    data: dict, code: str
) -> None:
    with pytest.raises(DomainError) as caught:
        validate_lead_fields(data)
    assert caught.value.code == code
    assert "nope" not in str(caught.value.to_dict()) and "call me" not in str(
        caught.value.to_dict()
    )
    with pytest.raises(ValidationError) as raw:
        LeadFields.model_validate(data)
    assert lead_error_code(raw.value) == code


def test_blank_optional_fields_become_none() -> None:
    fields = LeadFields(name=" Ann ", email="a@example.com", company="  ", team_size=40)
    assert (fields.name, fields.company, fields.team_size) == ("Ann", None, "40")


# --- upsert -----------------------------------------------------------------------------------


def test_new_lead_is_stored_with_normalized_email_and_defaults(db: Database) -> None:
    lead = _lead(db, " Jane@Example.com ", name="Jane", company="Initech", phone="+1 415 555 0123")
    assert lead.email == "jane@example.com"
    assert (lead.status, lead.channel, lead.session_id) == ("new", "voice", "s-1")
    assert lead.phone == "+14155550123"
    assert lead.created_at.tzinfo is not None and lead.created_at.utcoffset().total_seconds() == 0
    assert get_lead(db, "acme", lead.id) == lead


def test_returning_visitor_updates_their_lead(db: Database) -> None:
    first = _lead(db, "jane@example.com", name="Jane", company="Initech", role="CTO")
    second = upsert_lead(
        db,
        "acme",
        LeadFields(name="Jane Doe", email="JANE@example.com ", company="Initrode", budget="10k"),
        session_id="s-2",
        channel="text",
    )
    assert second.id == first.id
    assert (second.name, second.company, second.budget) == ("Jane Doe", "Initrode", "10k")
    assert (second.channel, second.session_id) == ("text", "s-2")
    assert second.role == "CTO"  # not sent again, not erased
    assert second.created_at == first.created_at and second.updated_at >= first.updated_at
    assert count_leads(db) == 1


def test_empty_fields_do_not_erase_stored_ones(db: Database) -> None:
    _lead(db, "a@example.com", company="Initech", phone="+14155550123", notes="wants SSO")
    again = _lead(db, "a@example.com", company="", phone="  ", notes="")
    assert (again.company, again.phone, again.notes) == ("Initech", "+14155550123", "wants SSO")


def test_status_survives_a_returning_visitor(db: Database) -> None:
    lead = _lead(db, "a@example.com")
    set_status(db, "acme", lead.id, "qualified")
    assert _lead(db, "a@example.com").status == "qualified"


def test_same_email_at_two_companies_is_two_leads(db: Database) -> None:
    a = _lead(db, "a@example.com", company_id="acme")
    b = _lead(db, "a@example.com", company_id="globex")
    assert a.id != b.id and count_leads(db) == 2


def test_meeting_link_is_recorded_on_the_lead(db: Database) -> None:
    lead = _lead(db, "a@example.com")
    assert record_meeting_link(db, "acme", " A@Example.com", "https://cal.example/x?name=A")
    assert get_lead(db, "acme", lead.id).meeting_link == "https://cal.example/x?name=A"
    assert not record_meeting_link(db, "acme", "nobody@example.com", "https://cal.example/y")
    assert not record_meeting_link(db, "globex", "a@example.com", "https://cal.example/z")


# --- review -----------------------------------------------------------------------------------


def test_get_lead_of_another_company_is_not_found(db: Database) -> None:
    lead = _lead(db, "a@example.com", company_id="acme")
    with pytest.raises(DomainError) as caught:
        get_lead(db, "globex", lead.id)
    assert caught.value.code == "lead_not_found"
    with pytest.raises(DomainError):
        get_lead(db, None, lead.id + 1000)


def test_set_status_validates_and_persists(db: Database) -> None:
    lead = _lead(db, "a@example.com")
    assert set_status(db, "acme", lead.id, "contacted").status == "contacted"
    assert get_lead(db, None, lead.id).status == "contacted"
    with pytest.raises(DomainError) as caught:
        set_status(db, "acme", lead.id, "won")
    assert caught.value.code == "lead_status_invalid"
    with pytest.raises(DomainError) as missing:
        set_status(db, "globex", lead.id, "qualified")
    assert missing.value.code == "lead_not_found"


@pytest.fixture
def pipeline(db: Database) -> Database:
    """Five leads at two companies, created on known days."""
    rows = [
        ("acme", "zoe@initech.example", "Zoe", "Initech", "2026-01-05"),
        ("acme", "adam@globex.example", "adam", "Globex Corp", "2026-02-10"),
        ("acme", "mia@hooli.example", "Mia", "Hooli", "2026-03-15"),
        ("acme", "bob_1@club.example", "Bob", "100% Club", "2026-03-20"),
        ("globex", "eve@initech.example", "Eve", "Initech", "2026-02-01"),
    ]
    for company_id, email, name, org, day in rows:
        lead = _lead(db, email, company_id=company_id, name=name, company=org)
        _set_created(db, lead.id, datetime.fromisoformat(day + "T12:00:00").replace(tzinfo=UTC))
    mia = list_leads(db, search="mia@")[0]
    set_status(db, "acme", mia.id, "qualified")
    return db


def _emails(leads) -> list[str]:  # type: ignore[no-untyped-def]
    return [lead.email for lead in leads]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"company_id": "globex"}, ["eve@initech.example"]),
        ({"company_id": "acme", "status": "qualified"}, ["mia@hooli.example"]),
        (
            {"company_id": "acme", "since": date(2026, 2, 10)},
            ["bob_1@club.example", "mia@hooli.example", "adam@globex.example"],
        ),
        (
            {"company_id": "acme", "until": date(2026, 2, 10)},
            ["adam@globex.example", "zoe@initech.example"],
        ),
        (
            {"since": date(2026, 2, 1), "until": date(2026, 2, 28)},
            ["adam@globex.example", "eve@initech.example"],
        ),
        ({"search": "INITECH"}, ["eve@initech.example", "zoe@initech.example"]),
        ({"search": "globex"}, ["adam@globex.example"]),  # email and company name both match once
        ({"search": "100%"}, ["bob_1@club.example"]),  # LIKE wildcards are literal
        ({"search": "_"}, ["bob_1@club.example"]),
        ({"search": "nobody"}, []),
    ],
)
def test_listing_filters(pipeline: Database, filters: dict, expected: list[str]) -> None:
    assert _emails(list_leads(pipeline, **filters)) == expected
    assert count_leads(pipeline, **filters) == len(expected)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("created_at", ["zoe", "adam", "mia", "bob"]),
        ("-created_at", ["bob", "mia", "adam", "zoe"]),
        ("name", ["adam", "bob", "mia", "zoe"]),
        ("-name", ["zoe", "mia", "bob", "adam"]),
        ("email", ["adam", "bob", "mia", "zoe"]),
        ("-status", ["mia", "bob", "adam", "zoe"]),  # "qualified" > "new"; ties newest id first
    ],
)
def test_listing_sorts(pipeline: Database, sort: str, expected: list[str]) -> None:
    leads = list_leads(pipeline, company_id="acme", sort=sort)
    assert [lead.email.split("@")[0].split("_")[0] for lead in leads] == expected


def test_listing_paginates_without_overlap(pipeline: Database) -> None:
    pages = [list_leads(pipeline, sort="email", limit=2, offset=o) for o in (0, 2, 4)]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert len({lead.id for page in pages for lead in page}) == 5


def test_unknown_sort_key_is_a_validation_error(db: Database) -> None:
    with pytest.raises(DomainError) as caught:
        list_leads(db, sort="password")
    assert caught.value.code == "validation_failed"
