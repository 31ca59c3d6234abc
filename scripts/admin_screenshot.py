"""Take the README's screenshot of the admin lead page (Playwright + Debian Chromium).

Builds a throwaway demo database with one visitor's conversation (booked first, details later,
a qualification fact, an anonymous conflicting claim), serves the app on loopback, signs in as
sales and saves the lead page to docs/admin-lead-page.png.

    python scripts/admin_screenshot.py [--output docs/admin-lead-page.png]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOKEN = "screenshot-admin-token-0123456789abcdef"


def seed(db: object) -> int:
    from widget_api.crm.claims import log_lead_claims, record_meeting_link
    from widget_api.crm.leads import LeadFields
    from widget_api.crm.record import (
        Line,
        append_lines,
        end,
        record_context,
        set_summary,
        start_or_resume,
        tool_line,
    )

    sid = "ws_demo_visitor"
    start_or_resume(db, company_id="acme", session_id=sid, transport="local-text", language="en")  # type: ignore[arg-type]
    record_context(db, sid, page_url="https://acme-relay.example/pricing?plan=growth",  # type: ignore[arg-type]
                   referrer="https://www.google.com/", privacy_accepted=True)  # fmt: skip
    append_lines(db, "acme", sid, [  # type: ignore[arg-type]
        Line("user", "Can I book a demo with your team?"),
        tool_line("call_1", "create_meeting_link", "{}",
                  '{"url": "https://calendly.com/acme-relay/demo/30min"}', True),
        Line("assistant", "Here's a link to book a meeting with our team. If you tell me your"
                          " name and email, I'll pass them on to the team as well."),
    ])  # fmt: skip
    record_meeting_link(db, "acme", sid, None, "https://calendly.com/acme-relay/demo/30min")  # type: ignore[arg-type]
    start_or_resume(db, company_id="acme", session_id=sid, transport="relay-voice")  # type: ignore[arg-type]
    said = ("I'm Jane Doe from Initech, jane@initech.example. We have about 60 agents on"
            " Zendesk and want to go live by next quarter.")
    append_lines(db, "acme", sid, [  # type: ignore[arg-type]
        Line("user", said),
        tool_line("call_2", "log_lead", '{"name": "Jane Doe", "email": "jane@initech.example"}',
                  '{"saved": true, "lead_id": 1}', True),
        Line("assistant", "Thanks, Jane! I've passed your details on; our team will reach you"
                          " at jane@initech.example."),
    ])  # fmt: skip
    lead = log_lead_claims(db, "acme", sid, LeadFields(  # type: ignore[arg-type]
        name="Jane Doe", email="jane@initech.example", company="Initech",
        interest="Growth plan for a 60-agent support team moving off Zendesk",
    ), channel="voice", evidence={"name": said, "email": said, "company": said})  # fmt: skip
    end(db, sid, reason="page_left")  # type: ignore[arg-type]
    set_summary(db, sid, "Jane Doe (Initech) runs a 60-agent support team on Zendesk and wants"  # type: ignore[arg-type]
                " to go live next quarter; asked for a demo first, then gave her details. Next"
                " step: the booked demo, focus on the Zendesk migration.")  # fmt: skip
    log_lead_claims(db, "acme", "ws_anonymous", LeadFields(  # type: ignore[arg-type]
        name="Jane Doe", email="jane@initech.example", company="Initrode"), channel="text")
    return lead.id


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "admin-lead-page.png")
    args = parser.parse_args(argv)
    os.environ["ACME_ADMIN_TOKEN"] = TOKEN
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from playwright.sync_api import sync_playwright

    from widget_api.app import create_app
    from widget_api.server import serve_in_thread
    from widget_api.services import get_services, prepare_storage
    from widget_api.settings import Settings

    with tempfile.TemporaryDirectory(prefix="admin-shot-") as tmp:
        settings = Settings(data_dir=Path(tmp), ingest_demo_on_start=False, OPENAI_API_KEY=None,
                            DATABASE_URL=None)  # fmt: skip
        app = create_app(settings)
        services = get_services(app)
        prepare_storage(services)
        lead_id = seed(services.db)
        with serve_in_thread(app) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(f"{base}/admin/acme/leads")
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            page.goto(f"{base}/admin/acme/leads/{lead_id}")
            args.output.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.output), full_page=True)
            browser.close()
    print(args.output, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
