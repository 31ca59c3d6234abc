"""The admin JSON API: per-company bearer tokens, listing, status changes, exports."""

from __future__ import annotations

import csv
import io

import pytest
from flask.testing import FlaskClient

from tests.admin.conftest import ACME_TOKEN, GLOBEX_TOKEN
from widget_api.crm.db import Database
from widget_api.crm.leads import LeadFields, get_lead, upsert_lead

XSS = "<script>alert(1)</script>"


def _auth(token: str = ACME_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def leads(db: Database) -> Database:
    for company_id, name, email, org in [
        ("acme", XSS, "xss@evil.example", "=HYPERLINK(1)"),
        ("acme", "Ann", "ann@initech.example", "Initech"),
        ("acme", "Zed", "zed@hooli.example", "Hooli"),
        ("globex", "Gus", "gus@globex.example", "Globex"),
    ]:
        upsert_lead(db, company_id, LeadFields(name=name, email=email, company=org),
                    session_id="s", channel="text")  # fmt: skip
    return db


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "admin_token_invalid"),
        ({"Authorization": "Bearer "}, 401, "admin_token_invalid"),
        ({"Authorization": "Bearer wrong-token"}, 401, "admin_token_invalid"),
        ({"Authorization": f"Basic {ACME_TOKEN}"}, 401, "admin_token_invalid"),
        ({"Authorization": f"Bearer {GLOBEX_TOKEN}"}, 401, "admin_token_invalid"),
    ],
)
@pytest.mark.parametrize(
    "path", ["/api/admin/acme/leads", "/api/admin/acme/leads/1", "/api/admin/acme/leads.csv"]
)
def test_api_rejects_missing_wrong_and_foreign_tokens(
    client: FlaskClient, leads: Database, headers: dict, status: int, code: str, path: str
) -> None:
    response = client.get(path, headers=headers)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_unknown_company_is_404(client: FlaskClient) -> None:
    response = client.get("/api/admin/nope/leads", headers=_auth())
    assert (response.status_code, response.get_json()["error"]["code"]) == (404, "unknown_company")


def test_list_returns_only_this_company_with_total(client: FlaskClient, leads: Database) -> None:
    body = client.get("/api/admin/acme/leads?sort=email&limit=2", headers=_auth()).get_json()
    assert body["total"] == 3 and body["limit"] == 2
    assert [lead["email"] for lead in body["leads"]] == ["ann@initech.example", "xss@evil.example"]
    other = client.get("/api/admin/globex/leads", headers=_auth(GLOBEX_TOKEN)).get_json()
    assert [lead["email"] for lead in other["leads"]] == ["gus@globex.example"]


@pytest.mark.parametrize(
    ("query", "emails"),
    [
        ("search=hooli", ["zed@hooli.example"]),
        ("q=INITECH", ["ann@initech.example"]),
        ("sort=-name", ["zed@hooli.example", "ann@initech.example", "xss@evil.example"]),
        ("status=qualified", []),
        ("sort=email&offset=2", ["zed@hooli.example"]),
    ],
)
def test_list_search_sort_filter(
    client: FlaskClient, leads: Database, query: str, emails: list[str]
) -> None:
    body = client.get(f"/api/admin/acme/leads?{query}", headers=_auth()).get_json()
    assert [lead["email"] for lead in body["leads"]] == emails


@pytest.mark.parametrize(
    "query", ["sort=password", "limit=0", "limit=abc", "since=yesterday", "status=hot", "offset=-1"]
)
def test_bad_listing_parameters_are_422_without_echo(
    client: FlaskClient, leads: Database, query: str
) -> None:
    response = client.get(f"/api/admin/acme/leads?{query}", headers=_auth())
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] in ("validation_failed", "lead_status_invalid")
    assert query.split("=")[1] not in response.get_data(as_text=True) or query.endswith("=0")


def test_show_lead_and_other_companies_lead_is_404(client: FlaskClient, leads: Database) -> None:
    assert client.get("/api/admin/acme/leads/2", headers=_auth()).get_json()["name"] == "Ann"
    foreign = client.get("/api/admin/acme/leads/4", headers=_auth())
    assert (foreign.status_code, foreign.get_json()["error"]["code"]) == (404, "lead_not_found")


@pytest.mark.parametrize("method", ["PATCH", "POST"])
def test_status_change(client: FlaskClient, leads: Database, method: str) -> None:
    path = "/api/admin/acme/leads/2" + ("/status" if method == "POST" else "")
    response = client.open(path, method=method, json={"status": "qualified"}, headers=_auth())
    assert response.status_code == 200 and response.get_json()["status"] == "qualified"
    assert get_lead(leads, "acme", 2).status == "qualified"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"json": {"status": "won"}}, 422, "lead_status_invalid"),
        ({"json": {}}, 422, "lead_status_invalid"),
        ({"json": {"status": "new", "extra": 1}}, 422, "validation_failed"),
        ({"data": "{not json", "content_type": "application/json"}, 400, "invalid_json"),
        ({"json": ["qualified"]}, 422, "validation_failed"),
    ],
)
def test_bad_status_changes(
    client: FlaskClient, leads: Database, kwargs: dict, status: int, code: str
) -> None:
    response = client.patch("/api/admin/acme/leads/2", headers=_auth(), **kwargs)
    assert (response.status_code, response.get_json()["error"]["code"]) == (status, code)
    assert get_lead(leads, "acme", 2).status == "new"


def test_status_change_of_another_companys_lead_is_404(
    client: FlaskClient, leads: Database
) -> None:
    response = client.patch(
        "/api/admin/acme/leads/4", json={"status": "qualified"}, headers=_auth()
    )
    assert response.status_code == 404
    assert get_lead(leads, "globex", 4).status == "new"


def test_wrong_method_is_405_json(client: FlaskClient, leads: Database) -> None:
    response = client.delete("/api/admin/acme/leads/2", headers=_auth())
    assert (response.status_code, response.get_json()["error"]["code"]) == (
        405,
        "method_not_allowed",
    )


def test_csv_export_is_this_companys_and_injection_safe(
    client: FlaskClient, leads: Database
) -> None:
    response = client.get("/api/admin/acme/leads.csv?sort=email", headers=_auth())
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["email"] for r in rows] == [
        "ann@initech.example",
        "xss@evil.example",
        "zed@hooli.example",
    ]
    assert rows[1]["company"] == "'=HYPERLINK(1)"


def test_json_export(client: FlaskClient, leads: Database) -> None:
    response = client.get("/api/admin/acme/leads.json?search=hooli", headers=_auth())
    assert response.mimetype == "application/json"
    assert [d["email"] for d in response.get_json()] == ["zed@hooli.example"]
