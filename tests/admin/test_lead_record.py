"""The lead page and its JSON: values with the visitor's words, conflicts, conversations with
transcripts; per-person export and forget from the page and the API (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re

import pytest
from flask.testing import FlaskClient

from tests.admin.conftest import ACME_TOKEN
from widget_api.crm.claims import log_lead_claims, record_meeting_link
from widget_api.crm.db import Database
from widget_api.crm.leads import LeadFields, list_leads
from widget_api.crm.privacy import audit_entries
from widget_api.crm.record import Line, append_lines, end, record_context, start_or_resume

AUTH = {"Authorization": f"Bearer {ACME_TOKEN}"}
XSS = "<script>alert(1)</script>"


@pytest.fixture
def lead_id(db: Database) -> int:
    start_or_resume(db, company_id="acme", session_id="s-visitor", transport="local-text")
    record_context(db, "s-visitor", page_url="https://acme-relay.example/pricing",
                   referrer="https://search.example/?q=x", privacy_accepted=True)  # fmt: skip
    record_meeting_link(db, "acme", "s-visitor", None, "https://calendly.com/acme-relay/demo")
    append_lines(db, "acme", "s-visitor", [
        Line("user", "Can I book a demo?"), Line("assistant", "Here's a link to book a meeting."),
        Line("user", f"I'm Jane, jane@initech.example. We have about 60 agents. {XSS}"),
    ])  # fmt: skip
    lead = log_lead_claims(db, "acme", "s-visitor",
                           LeadFields(name="Jane", email="jane@initech.example", company="Initech"),
                           channel="text")  # fmt: skip
    end(db, "s-visitor", reason="page_left")
    # Someone else, knowing her email, claims another company: kept, not applied.
    log_lead_claims(db, "acme", "s-anon",
                    LeadFields(name="Jane", email="jane@initech.example", company="Evil Corp"),
                    channel="text")  # fmt: skip
    return lead.id


def _login(client: FlaskClient) -> str:
    client.post("/admin/acme/login", data={"token": ACME_TOKEN})
    html = client.get("/admin/acme/leads").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_lead_page_shows_evidence_conflicts_and_the_transcript(
    client: FlaskClient, lead_id: int
) -> None:
    _login(client)
    html = client.get(f"/admin/acme/leads/{lead_id}").get_data(as_text=True)
    assert "about 60 agents" in html and "We have about 60 agents." in html  # value + quote
    assert "Evil Corp" in html and "1 conflicting value" in html
    assert "https://acme-relay.example/pricing" in html and "search.example" in html
    assert "Can I book a demo?" in html and "meeting link" in html
    assert XSS not in html and "&lt;script&gt;" in html


def test_lead_page_needs_a_session(client: FlaskClient, lead_id: int) -> None:
    response = client.get(f"/admin/acme/leads/{lead_id}")
    assert response.status_code == 401 and "Can I book" not in response.get_data(as_text=True)


def test_record_api_has_the_conversation_and_conflicts(client: FlaskClient, lead_id: int) -> None:
    body = client.get(f"/api/admin/acme/leads/{lead_id}/record", headers=AUTH).get_json()
    assert body["lead"]["team_size"] == "about 60 agents" and body["conflicts"] == 1
    # Both conversations that claimed this lead are on it, the anonymous one included.
    by_session = {c["session_id"]: c for c in body["conversations"]}
    assert set(by_session) == {"s-visitor", "s-anon"}
    conversation = by_session["s-visitor"]
    assert conversation["outcome"] == "meeting_link" and conversation["page_url"]
    assert [line["role"] for line in conversation["transcript"]] == ["user", "assistant", "user"]
    other = client.get(f"/api/admin/globex/leads/{lead_id}/record",
                       headers={"Authorization": "Bearer nope"})  # fmt: skip
    assert other.status_code == 401


def test_export_and_forget_from_the_page(client: FlaskClient, lead_id: int, db: Database) -> None:
    csrf = _login(client)
    exported = client.get("/admin/acme/people/export?email=jane@initech.example")
    data = json.loads(exported.get_data(as_text=True))
    assert data["leads"][0]["email"] == "jane@initech.example" and data["conversations"]
    response = client.post("/admin/acme/people/forget",
                           data={"email": "jane@initech.example", "csrf_token": csrf})  # fmt: skip
    assert response.status_code == 303
    assert list_leads(db, company_id="acme", search="jane@initech.example") == []
    assert "jane" not in json.dumps(audit_entries(db))


def test_forget_needs_the_csrf_token(client: FlaskClient, lead_id: int, db: Database) -> None:
    _login(client)
    response = client.post("/admin/acme/people/forget", data={"email": "jane@initech.example"})
    assert response.status_code == 403
    assert list_leads(db, company_id="acme", search="jane@initech.example")


def test_forget_through_the_api(client: FlaskClient, lead_id: int, db: Database) -> None:
    response = client.post("/api/admin/acme/people/forget", headers=AUTH,
                           json={"email": "JANE@initech.example"})  # fmt: skip
    assert response.status_code == 200 and response.get_json()["deleted"]["leads"] == 1
    exported = client.get("/api/admin/acme/people/export?email=jane@initech.example", headers=AUTH)
    assert json.loads(exported.get_data(as_text=True))["leads"] == []
