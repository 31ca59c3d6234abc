"""The reports' JSON API and page, the meeting-link redirect and booking notifications."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from flask.testing import FlaskClient

from tests.reports import seed
from tests.reports.conftest import ACME_TOKEN, AUTH, BOOKING_SECRET, GLOBEX_TOKEN
from tests.reports.seed import at
from widget_api.crm.db import Database
from widget_api.crm.report_models import Booking, MeetingLink
from widget_api.delivery import outbox
from widget_api.reports.recorder import tracked_link

WINDOW = "since=2026-11-20&until=2026-11-29"


def _login(client: FlaskClient) -> str:
    client.post("/admin/acme/login", data={"token": ACME_TOKEN})
    page = client.get(f"/admin/acme/reports?{WINDOW}").get_data(as_text=True)
    return page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0] if "csrf" in page else ""


@pytest.mark.parametrize(
    "path",
    ["funnel", "top-questions", "unanswered", "latency", "funnel.csv", "unanswered.md"],
)
def test_report_api_needs_the_company_admin_token(client: FlaskClient, path: str) -> None:
    url = f"/api/admin/acme/reports/{path}"
    assert client.get(url).get_json()["error"]["code"] == "admin_token_invalid"
    other = {"Authorization": f"Bearer {GLOBEX_TOKEN}"}
    assert client.get(url, headers=other).status_code in (401, 403)


def test_funnel_json_and_csv(client: FlaskClient, db: Database) -> None:
    seed.conversation(db, "a", at(24))
    body = client.get(f"/api/admin/acme/reports/funnel?{WINDOW}", headers=AUTH).get_json()
    assert body["period"] == "day" and len(body["rows"]) == 10
    assert body["totals"]["conversation_started"] == 1
    csv = client.get(f"/api/admin/acme/reports/funnel.csv?{WINDOW}", headers=AUTH)
    assert csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).splitlines()[0].startswith("period_start,widget_opened")


def test_a_bad_window_is_a_validation_error(client: FlaskClient) -> None:
    url = "/api/admin/acme/reports/funnel?since=2026-11-29&until=2026-11-01"
    assert client.get(url, headers=AUTH).get_json()["error"]["code"] == "validation_failed"


def test_unanswered_json_and_faq_draft(client: FlaskClient, db: Database) -> None:
    seed.question(db, "a", "Can I pay by invoice?", at(24), answered=False, title="Pricing")
    body = client.get(f"/api/admin/acme/reports/unanswered?{WINDOW}", headers=AUTH).get_json()
    (group,) = body["groups"]
    assert group["count"] == 1 and group["closest_document"]["title"] == "Pricing"
    md = client.get(f"/api/admin/acme/reports/unanswered.md?{WINDOW}", headers=AUTH)
    assert md.mimetype == "text/markdown" and "## Can I pay by invoice?" in md.get_data(
        as_text=True
    )


def test_csv_cells_never_start_a_formula(client: FlaskClient, db: Database) -> None:
    seed.question(db, "a", '=HYPERLINK("http://x")', at(24), answered=False)
    text = client.get(f"/api/admin/acme/reports/unanswered.csv?{WINDOW}", headers=AUTH)
    assert "\n'=HYPERLINK" in text.get_data(as_text=True).replace('"', "")


def _dead_letter(db: Database) -> int:
    db.run(lambda s: outbox.enqueue(s, company_id="acme", type="lead.created", data={}))
    outbox.fan_out(db, lambda *_: ["https://hooks.example/in"])
    (item,) = outbox.claim(db, limit=1, lease_seconds=60)
    outbox.mark_failed(db, item, status=500, error="http_500", retry_in=None)
    return item.id


def test_dead_letters_listed_and_retried_through_the_api(client: FlaskClient, db: Database) -> None:
    delivery_id = _dead_letter(db)
    body = client.get("/api/admin/acme/webhooks/dead-letters", headers=AUTH).get_json()
    assert [d["id"] for d in body["dead_letters"]] == [delivery_id]
    assert body["counts"] == {"dead": 1}
    url = f"/api/admin/acme/webhooks/dead-letters/{delivery_id}/retry"
    assert client.post(url, headers=AUTH).status_code == 200
    assert client.post(url, headers=AUTH).get_json()["error"]["code"] == "delivery_not_found"


def test_page_shows_reports_and_its_retry_button_works(client: FlaskClient, db: Database) -> None:
    delivery_id = _dead_letter(db)
    seed.conversation(db, "a", at(24))
    csrf = _login(client)
    page = client.get(f"/admin/acme/reports?{WINDOW}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in html and "http_500" in html
    assert "script" not in page.headers["Content-Security-Policy"]
    answer = client.post(f"/admin/acme/webhooks/dead-letters/{delivery_id}/retry",
                         data={"csrf_token": csrf})  # fmt: skip
    assert answer.status_code == 303
    assert outbox.list_deliveries(db, "acme", state="dead") == []


def test_retry_form_needs_the_csrf_token(client: FlaskClient, db: Database) -> None:
    delivery_id = _dead_letter(db)
    _login(client)
    answer = client.post(f"/admin/acme/webhooks/dead-letters/{delivery_id}/retry", data={})
    assert answer.get_json()["error"]["code"] == "csrf_failed"


def test_meeting_link_redirect_counts_the_click(client: FlaskClient, db: Database) -> None:
    token = tracked_link(db, company_id="acme", session_id="s1",
                         url="https://calendly.com/acme/demo?email=a%40b.c")  # fmt: skip
    answer = client.get(f"/go/{token}")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "https://calendly.com/acme/demo?email=a%40b.c"
    link = db.run(lambda s: s.get(MeetingLink, token))
    assert link is not None and link.clicked_at is not None
    assert client.get("/go/unknown").get_json()["error"]["code"] == "link_not_found"
    assert client.get("/go/%00x").get_json()["error"]["code"] == "link_not_found"


def _calendly(body: bytes, secret: str = BOOKING_SECRET) -> dict[str, str]:
    stamp = str(int(time.time()))
    sig = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"Calendly-Webhook-Signature": f"t={stamp},v1={sig}",
            "Content-Type": "application/json"}  # fmt: skip


def test_calendly_booking_is_counted_once_for_the_lead(client: FlaskClient, db: Database) -> None:
    seed.lead(db, "s1", "ada@example.com", at(24))
    body = json.dumps({"event": "invitee.created", "payload": {
        "uri": "https://api.calendly.com/scheduled_events/E1/invitees/I1",
        "email": "Ada@Example.com"}}).encode()  # fmt: skip
    url = "/api/hooks/acme/bookings/calendly"
    assert client.post(url, data=body, headers=_calendly(body)).get_json() == {"counted": True}
    assert client.post(url, data=body, headers=_calendly(body)).get_json() == {"counted": False}
    booking = db.run(lambda s: s.query(Booking).one())
    assert booking.session_id == "s1"


def test_booking_with_a_wrong_signature_is_refused(client: FlaskClient) -> None:
    body = b'{"event": "invitee.created", "payload": {"uri": "x"}}'
    answer = client.post("/api/hooks/acme/bookings/calendly", data=body,
                         headers=_calendly(body, "wrong"))  # fmt: skip
    assert answer.get_json()["error"]["code"] == "signature_invalid"


def test_bookings_are_refused_where_not_configured(client: FlaskClient) -> None:
    answer = client.post("/api/hooks/globex/bookings/calendly", data=b"{}")
    assert answer.get_json()["error"]["code"] == "bookings_not_configured"


@pytest.mark.parametrize(
    "query",
    ["until=9999-12-31", "since=0001-01-01", "period=month", "limit=0", "since=2026-13-01"],
)
def test_out_of_range_windows_are_validation_errors(client: FlaskClient, query: str) -> None:
    answer = client.get(f"/api/admin/acme/reports/funnel?{query}", headers=AUTH)
    assert answer.get_json()["error"]["code"] == "validation_failed"
