"""The reports page in Debian's Chromium: charts render under the strict CSP, the retry
button re-queues a dead letter. Screenshots go to test-artifacts/reports/."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from werkzeug.serving import make_server

from tests.reports import seed
from tests.reports.conftest import ACME_TOKEN
from tests.reports.seed import at
from widget_api.crm.db import Database
from widget_api.delivery import outbox
from widget_api.services import get_services

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"
WINDOW = "since=2026-11-16&until=2026-11-29"


@pytest.fixture
def db(_sqlite_db: Database) -> Database:  # one backend is enough for the page itself
    from tests.crm.db_fixtures import TABLES

    with _sqlite_db.session() as session:
        for table in TABLES:
            session.execute(text(f"DELETE FROM {table}"))
    return _sqlite_db


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # As `serve --port` does: the admin page's same-origin check compares with this origin.
    settings = get_services(app).settings
    settings.host, settings.port = "127.0.0.1", server.server_port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def page() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is required for the browser tests")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(20000)
        yield tab
        browser.close()


def _seed(db: Database) -> None:
    for day in range(16, 30):
        seed.opens(db, at(day), 4 + day % 5)
        for n in range(2 + day % 3):
            sid = f"s{day}-{n}"
            seed.conversation(db, sid, at(day))
            seed.question(db, sid, "What does the Growth plan cost?", at(day), answered=True)
            if n == 0:
                seed.lead(db, sid, f"{sid}@example.com", at(day))
        seed.question(db, f"s{day}-0", "Can I pay by invoice?", at(day), answered=False,
                      title="Pricing", score=0.2)  # fmt: skip
    seed.question(db, "s20-1", "Do you accept payment by invoice?", at(20), answered=False)
    seed.click(db, "s20-0", at(20), "tok1")
    seed.booking(db, "s20-0", at(21), "calendly:b1")
    db.run(lambda s: outbox.enqueue(s, company_id="acme", type="lead.created", data={}))
    outbox.fan_out(db, lambda *_: ["https://crm.example/hooks"])
    (item,) = outbox.claim(db, limit=1, lease_seconds=60)
    outbox.mark_failed(db, item, status=500, error="http_500", retry_in=None)


def test_reports_page_in_chromium(page: Any, base_url: str, db: Database) -> None:
    _seed(db)
    violations: list[str] = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    page.goto(f"{base_url}/admin/acme/reports")
    page.fill("input[name=token]", ACME_TOKEN)
    page.click("button[type=submit]")
    page.goto(f"{base_url}/admin/acme/reports?{WINDOW}")
    assert page.locator("#funnel svg").count() == 2
    assert page.locator("#funnel svg rect").first.bounding_box()["width"] > 0
    assert "Can I pay by invoice?" in page.inner_text("#unanswered")
    page.screenshot(path=str(ARTIFACTS / "reports-page.png"), full_page=True)

    page.select_option("select[name=period]", "week")
    page.click("form.window button[type=submit]")
    assert "Week of" in page.inner_text("#funnel table")
    page.locator("#funnel").screenshot(path=str(ARTIFACTS / "reports-funnel-weekly.png"))

    assert "http_500" in page.inner_text("#webhooks")
    page.click("#webhooks button:has-text('Retry')")
    assert "No dead letters." in page.inner_text("#webhooks")
    page.locator("#webhooks").screenshot(path=str(ARTIFACTS / "reports-dead-letter-retried.png"))
    assert outbox.count_by_state(db, "acme") == {"pending": 1}
    assert violations == []
