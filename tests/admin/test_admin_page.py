"""The admin page: token login → signed cookie, escaping, sort/search, CSRF-protected forms."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from tests.admin.conftest import ACME_TOKEN, GLOBEX_TOKEN, PUBLIC_ORIGIN
from widget_api.crm.db import Database
from widget_api.crm.leads import LeadFields, get_lead, record_meeting_link, upsert_lead
from widget_api.routes.admin import COOKIE_NAME

XSS = "<script>alert(1)</script>"
PAGE = "/admin/acme/leads"


@pytest.fixture
def leads(db: Database) -> Database:
    for name, email, org in [
        (XSS, "xss@evil.example", '"><img src=x onerror=alert(2)>'),
        ("Ann", "ann@initech.example", "Initech"),
        ("Zed", "zed@hooli.example", "Hooli"),
    ]:
        upsert_lead(db, "acme", LeadFields(name=name, email=email, company=org, notes=XSS),
                    session_id="s", channel="voice")  # fmt: skip
    record_meeting_link(db, "acme", "xss@evil.example", "javascript:alert(3)")
    upsert_lead(db, "globex", LeadFields(name="Gus", email="gus@globex.example"),
                session_id="s", channel="text")  # fmt: skip
    return db


def _login(client: FlaskClient, token: str = ACME_TOKEN, company: str = "acme"):  # type: ignore[no-untyped-def]
    return client.post(f"/admin/{company}/login", data={"token": token})


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def _emails_in(html: str) -> list[str]:
    return re.findall(r"<td>([a-z]+@[a-z.]+)</td>", html)


def test_page_without_session_shows_the_login_form_only(
    client: FlaskClient, leads: Database
) -> None:
    response = client.get(PAGE)
    html = response.get_data(as_text=True)
    assert response.status_code == 401 and 'name="token"' in html
    assert "ann@initech.example" not in html


def test_token_in_the_url_is_not_accepted(client: FlaskClient, leads: Database) -> None:
    response = client.get(f"{PAGE}?token={ACME_TOKEN}")
    assert response.status_code == 401 and "ann@initech.example" not in response.get_data(
        as_text=True
    )


@pytest.mark.parametrize("token", ["", "wrong", GLOBEX_TOKEN])
def test_login_with_a_wrong_token_fails(client: FlaskClient, leads: Database, token: str) -> None:
    response = _login(client, token)
    assert response.status_code == 401 and "Set-Cookie" not in response.headers
    assert client.get(PAGE).status_code == 401


def test_login_sets_a_strict_httponly_cookie_scoped_to_the_company(
    client: FlaskClient, leads: Database
) -> None:
    response = _login(client)
    assert response.status_code == 303 and response.headers["Location"].endswith(PAGE)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin/acme/" in cookie
    assert ACME_TOKEN not in cookie
    assert client.get(PAGE).status_code == 200


def test_cross_site_login_is_refused(client: FlaskClient, leads: Database) -> None:
    response = client.post("/admin/acme/login", data={"token": ACME_TOKEN},
                           headers={"Origin": "https://evil.example"})  # fmt: skip
    assert (response.status_code, response.get_json()["error"]["code"]) == (403, "csrf_failed")


def test_one_companys_session_does_not_open_another(client: FlaskClient, leads: Database) -> None:
    login = _login(client)
    value = login.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    client.set_cookie("widget_admin", value, path="/admin/globex/")
    assert client.get("/admin/globex/leads").status_code == 401


def test_lead_fields_are_escaped_everywhere(client: FlaskClient, leads: Database) -> None:
    _login(client)
    html = client.get(PAGE).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert XSS not in html and "<img src=x" not in html
    assert 'href="javascript:' not in html  # a stored non-http link is shown as text only


def test_page_is_not_framable_and_not_cached(client: FlaskClient, leads: Database) -> None:
    _login(client)
    response = client.get(PAGE)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'none'
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("query", "emails"),
    [
        ("sort=email", ["ann@initech.example", "xss@evil.example", "zed@hooli.example"]),
        ("sort=-email", ["zed@hooli.example", "xss@evil.example", "ann@initech.example"]),
        ("search=hooli", ["zed@hooli.example"]),
        ("search=initech&sort=email", ["ann@initech.example"]),
        ("status=qualified", []),
    ],
)
def test_page_sorts_and_searches(
    client: FlaskClient, leads: Database, query: str, emails: list[str]
) -> None:
    _login(client)
    assert _emails_in(client.get(f"{PAGE}?{query}").get_data(as_text=True)) == emails


def test_page_export_links_use_the_session(client: FlaskClient, leads: Database) -> None:
    assert client.get("/admin/acme/leads.csv").status_code == 401
    _login(client)
    html = client.get(f"{PAGE}?search=hooli").get_data(as_text=True)
    assert 'href="/admin/acme/leads.csv?search=hooli"' in html
    response = client.get("/admin/acme/leads.csv?search=hooli")
    assert response.status_code == 200 and "zed@hooli.example" in response.get_data(as_text=True)


def _status_form(client: FlaskClient, **overrides: str):  # type: ignore[no-untyped-def]
    csrf = _csrf(client.get(PAGE).get_data(as_text=True))
    data = {"status": "contacted", "csrf_token": csrf, "back": f"{PAGE}?sort=email"}
    headers = {"Origin": PUBLIC_ORIGIN}
    for key, value in overrides.items():
        (headers if key == "Origin" else data)[key] = value
    return client.post(f"{PAGE}/2/status", data={k: v for k, v in data.items() if v is not None},
                       headers={k: v for k, v in headers.items() if v})  # fmt: skip


def test_status_change_with_csrf_token_and_same_origin(
    client: FlaskClient, leads: Database
) -> None:
    _login(client)
    response = _status_form(client)
    assert response.status_code == 303 and response.headers["Location"].endswith(
        f"{PAGE}?sort=email"
    )
    assert get_lead(leads, "acme", 2).status == "contacted"


@pytest.mark.parametrize(
    "overrides",
    [
        {"csrf_token": ""},
        {"csrf_token": "forged"},
        {"Origin": "https://evil.example"},
    ],
)
def test_status_change_without_csrf_protection_is_refused(
    client: FlaskClient, leads: Database, overrides: dict[str, str]
) -> None:
    _login(client)
    response = _status_form(client, **overrides)
    assert (response.status_code, response.get_json()["error"]["code"]) == (403, "csrf_failed")
    assert get_lead(leads, "acme", 2).status == "new"


def test_a_forged_host_does_not_make_its_origin_ours(client: FlaskClient, leads: Database) -> None:
    # DNS rebinding: evil.example re-pointed at this server sends its own name as Host and
    # Origin. Same-origin means the configured public origin, never the request's Host.
    _login(client)
    csrf = _csrf(client.get(PAGE).get_data(as_text=True))
    form = {"status": "contacted", "csrf_token": csrf}
    # The worst case: the browser sends the admin cookie to the rebound name as well.
    cookie = client.get_cookie(COOKIE_NAME, path="/admin/acme/")
    assert cookie is not None
    client.set_cookie(COOKIE_NAME, cookie.value, domain="evil.example", path="/admin/acme/")
    rebound = {"Host": "evil.example", "Origin": "http://evil.example"}
    forged = client.post(f"{PAGE}/2/status", data=form, headers=rebound)
    assert (forged.status_code, forged.get_json()["error"]["code"]) == (403, "csrf_failed")
    assert get_lead(leads, "acme", 2).status == "new"
    ours = client.post(f"{PAGE}/2/status", data=form,
                       headers={"Host": "evil.example", "Origin": PUBLIC_ORIGIN})  # fmt: skip
    assert ours.status_code == 303 and get_lead(leads, "acme", 2).status == "contacted"


def test_login_from_the_requests_own_host_is_not_same_origin(
    client: FlaskClient, leads: Database
) -> None:
    response = client.post("/admin/acme/login", data={"token": ACME_TOKEN},
                           headers={"Origin": "http://localhost"})  # fmt: skip
    assert (response.status_code, response.get_json()["error"]["code"]) == (403, "csrf_failed")


def test_status_change_without_session_is_401(client: FlaskClient, leads: Database) -> None:
    response = client.post(f"{PAGE}/2/status", data={"status": "qualified", "csrf_token": "x"})
    assert (response.status_code, response.get_json()["error"]["code"]) == (
        401,
        "admin_token_invalid",
    )
    assert get_lead(leads, "acme", 2).status == "new"


def test_status_form_never_redirects_off_site(client: FlaskClient, leads: Database) -> None:
    _login(client)
    response = _status_form(client, back="https://evil.example/")
    assert response.headers["Location"].endswith(PAGE)


def test_bad_status_in_form_is_422(client: FlaskClient, leads: Database) -> None:
    _login(client)
    response = _status_form(client, status="won")
    assert (response.status_code, response.get_json()["error"]["code"]) == (
        422,
        "lead_status_invalid",
    )


def test_logout_needs_csrf_and_ends_the_session(client: FlaskClient, leads: Database) -> None:
    _login(client)
    csrf = _csrf(client.get(PAGE).get_data(as_text=True))
    assert client.post("/admin/acme/logout").status_code == 403
    assert client.post("/admin/acme/logout", data={"csrf_token": csrf}).status_code == 303
    assert client.get(PAGE).status_code == 401
