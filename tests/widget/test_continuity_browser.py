"""Chromium end to end: one complete lead across a reload and a page change, an idle gap,
the launcher themed from the company config on a third-party origin, no bubble elsewhere."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.widget.browser_fixtures import shot
from tests.widget.conftest import serve
from widget_api.crm.claims import lead_claims
from widget_api.crm.leads import list_leads
from widget_api.crm.record import conversations_for_lead


@pytest.fixture(scope="module")
def text_app(make_app: Any) -> Iterator[str]:
    with serve(make_app(relay_idle_timeout_seconds=3)) as base:
        yield base


def _site(customer_site: int, app: str, path: str = "/") -> str:
    return f"http://127.0.0.1:{customer_site}{path}?app={app}&transport=text"


def _send(frame: Any, text: str) -> None:
    frame.locator("#w-input").fill(text)
    frame.locator(".w-send").click()


def test_book_first_then_details_across_a_reload_and_a_page_change(
    page: Any, text_app: str, customer_site: int, widget_services: Any
) -> None:
    email = f"jane.{uuid.uuid4().hex[:6]}@globex.example"
    page.goto(_site(customer_site, text_app, "/pricing"))
    page.locator(".sales-widget-launcher").click()
    frame = page.frame_locator("iframe")
    frame.locator(".w-msg.agent", has_text="text assistant").wait_for()
    _send(frame, "Can I book a demo with your team?")
    frame.locator(".w-card.meeting").wait_for()
    # The card sits under the answer it belongs to.
    last_two = frame.locator(".w-log > *").evaluate_all(
        "nodes => nodes.slice(-2).map(n => n.className)"
    )
    assert "w-msg agent" in last_two[0] and "meeting" in last_two[1]

    page.reload()  # the chat was open: it stays open and shows the conversation so far
    frame = page.frame_locator("iframe")
    frame.locator(".w-msg.user", has_text="book a demo").wait_for()
    page.goto(_site(customer_site, text_app, "/features"))  # another page of the same site
    frame = page.frame_locator("iframe")
    frame.locator(".w-msg.user", has_text="book a demo").wait_for()
    _send(frame, f"I'm Jane Doe, {email}. We have about 60 agents.")
    frame.locator(".w-card.lead", has_text=email).wait_for()
    shot(page, "continuity-lead")
    # No second introduction after the reload and the page change.
    assert frame.locator(".w-msg.agent", has_text="You're chatting with").count() <= 1

    [lead] = list_leads(widget_services.db, company_id="acme", search=email)
    assert lead.meeting_link and lead.team_size == "about 60 agents"
    evidence = {c.field: c.evidence for c in lead_claims(widget_services.db, lead.id)}
    assert "60 agents" in (evidence["team_size"] or "")
    [record] = conversations_for_lead(widget_services.db, lead.id)
    said = [line.text for line in record.transcript if line.role == "user"]
    assert said[0] == "Can I book a demo with your team?" and email in said[1]
    assert record.page_url and record.page_url.startswith(f"http://127.0.0.1:{customer_site}/pricing")


def test_an_idle_gap_is_a_quiet_note_and_the_next_message_carries_on(
    page: Any, text_app: str, customer_site: int
) -> None:
    page.goto(_site(customer_site, text_app))
    page.locator(".sales-widget-launcher").click()
    frame = page.frame_locator("iframe")
    _send(frame, "My name is Ada Lovelace, ada@example.com")
    frame.locator(".w-card.lead").wait_for()
    frame.locator(".w-note", has_text="Paused").wait_for(timeout=15_000)
    assert frame.locator(".w-note.error").count() == 0
    _send(frame, "Can I book a meeting?")
    frame.locator(".w-card.meeting").wait_for()
    answers = frame.locator(".w-msg.agent").all_text_contents()
    assert not any("what's your name" in a.lower() for a in answers)
    assert frame.locator(".w-note.error").count() == 0


def test_launcher_comes_from_the_company_config_on_a_third_party_origin(
    page: Any, text_app: str, customer_site: int
) -> None:
    page.goto(_site(customer_site, text_app))
    launcher = page.locator(".sales-widget-launcher")
    launcher.wait_for()
    assert launcher.text_content() == "Talk to Maya"  # acme.toml theme.launcher_label
    colour = launcher.evaluate("b => getComputedStyle(b).backgroundColor")
    assert colour == "rgb(79, 70, 229)"  # #4f46e5
    assert launcher.evaluate("b => getComputedStyle(b).right") == "20px"
    page.locator(".sales-widget-teaser", has_text="Maya").wait_for()


def test_no_bubble_on_a_disallowed_origin(page: Any, text_app: str, customer_site: int) -> None:
    page.goto(f"http://localhost:{customer_site}/?app={text_app}&transport=text")
    page.wait_for_function("window.SalesWidget && window.SalesWidget.ready")
    time.sleep(0.3)
    assert page.locator(".sales-widget-launcher").count() == 0
    assert page.locator("iframe").count() == 0
    assert page.evaluate("window.SalesWidget.allowed") is False


@pytest.fixture(scope="module")
def private_app(widget_services: Any) -> Iterator[str]:
    """The acme widget with a privacy notice configured."""
    import dataclasses

    from widget_api.app import create_app
    from widget_api.companies import CompanyRegistry
    from widget_api.companies.models import PrivacyNotice

    acme = widget_services.companies.get("acme")
    notice = PrivacyNotice.model_validate({
        "notice": "This chat is recorded and processed by Acme Relay and OpenAI.",
        "policy_url": "https://acme-relay.example/privacy",
    })  # fmt: skip
    settings = widget_services.settings.model_copy()
    services = dataclasses.replace(
        widget_services, settings=settings,
        companies=CompanyRegistry([acme.model_copy(update={"privacy": notice})]),
    )  # fmt: skip
    with serve(create_app(settings, services=services)) as base:
        yield base


def test_privacy_notice_comes_before_the_first_message_and_is_recorded(
    page: Any, private_app: str, customer_site: int, widget_services: Any
) -> None:
    from sqlalchemy import select

    from widget_api.crm.models import Conversation

    page.goto(_site(customer_site, private_app))
    page.locator(".sales-widget-launcher").click()
    frame = page.frame_locator("iframe")
    notice = frame.locator(".w-card.privacy", has_text="recorded and processed")
    notice.wait_for()
    assert notice.locator("a", has_text="Privacy policy").get_attribute("href") == (
        "https://acme-relay.example/privacy"
    )
    _send(frame, "Do you offer a free trial?")
    assert frame.locator(".w-msg.user").count() == 0  # nothing is sent before the notice
    notice.locator("button").click()
    _send(frame, "Do you offer a free trial?")
    frame.locator(".w-card.sources").wait_for()

    def accepted() -> bool:
        with widget_services.db.session(readonly=True) as s:
            rows = s.scalars(select(Conversation).where(Conversation.page_url.is_not(None))).all()
            return any(r.privacy_accepted_at and "127.0.0.1" in (r.page_url or "") for r in rows)

    deadline = time.monotonic() + 10
    while not accepted() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert accepted()
