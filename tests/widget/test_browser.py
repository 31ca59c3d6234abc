"""End to end in a real headless Chromium: the embed snippet on a customer site opens the widget.

(a) voice over the relay against the fake Realtime API with a fake microphone fed by espeak-ng;
(b) text mode with the local engine (no key), including lead capture; (c) a foreign origin is
refused. Screenshots of each state land in test-artifacts/browser/.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from tests.fake_openai import FakeOpenAI, FunctionCall, OnSpeech, Say, Turn
from tests.widget.browser_fixtures import shot
from tests.widget.conftest import free_port, serve
from widget_api.crm.leads import list_leads

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def voice_app(make_app: Any, fake: FakeOpenAI) -> Iterator[str]:
    # The session route checks Origin against the server's own origin, so it must be known.
    port = free_port()
    app = make_app(
        openai_api_key=SecretStr(fake.api_key),
        openai_base_url=fake.base_url,
        public_origin=f"http://127.0.0.1:{port}",
    )
    with serve(app, port) as base:
        yield base


@pytest.fixture(scope="module")
def text_app(make_app: Any) -> Iterator[str]:
    with serve(make_app()) as base:
        yield base


def open_widget(page: Any, site: str, app: str, transport: str) -> Any:
    """Load the customer site, click the launcher, return the widget frame."""
    page.goto(f"{site}/?app={app}&transport={transport}")
    page.locator(".sales-widget-launcher").click()  # label and colour from the company config
    frame = page.frame_locator("iframe")
    frame.locator("#w-input").wait_for()
    return frame


def test_voice_over_the_relay_with_a_fake_microphone(
    page: Any, fake: FakeOpenAI, voice_app: str, customer_site: int
) -> None:
    fake.script([
        Turn(OnSpeech(transcript="How much does the Growth plan cost?", min_audio_ms=800), [
            FunctionCall("search_knowledge", {"query": "Growth plan price per agent"}),
            Say("The Growth plan is our most popular plan; here are the details.", chunks=8),
        ]),
    ])  # fmt: skip
    before = len(fake.ws_sessions)
    frame = open_widget(page, f"http://127.0.0.1:{customer_site}", voice_app, "relay")
    shot(page, "01-idle")
    frame.locator("#w-mic").click()
    frame.locator(".w-msg.user", has_text="Growth plan cost").wait_for()
    frame.locator(".w-card.sources", has_text="Acme Relay pricing").wait_for()
    frame.locator(".w-msg.agent", has_text="most popular plan").wait_for()
    shot(page, "02-voice-answer-with-sources")
    record = fake.wait_for(lambda f: len(f.ws_sessions) > before and f.ws_sessions[-1])
    assert record.auth == "api_key" and record.audio_frames > 20  # 20 ms frames from the mic
    outputs = [e["item"] for e in record.received("conversation.item.create")]
    output = next(i for i in outputs if i["type"] == "function_call_output")
    assert json.loads(output["output"])["found"] is True
    frame.locator("#w-end").click()
    frame.locator("#w-status[data-state=idle]").wait_for()


def test_voice_over_webrtc_with_tools_answered_by_the_server(
    page: Any, fake: FakeOpenAI, voice_app: str, customer_site: int
) -> None:
    fake.script([
        Turn(OnSpeech(transcript="Is my data encrypted?", min_audio_ms=800), [
            FunctionCall("search_knowledge", {"query": "encryption of customer data"}),
            Say("Yes, your data is encrypted at rest and in transit.", chunks=8),
        ]),
    ])  # fmt: skip
    calls_before = len(fake.call_requests)
    frame = open_widget(page, f"http://127.0.0.1:{customer_site}", voice_app, "webrtc")
    frame.locator("#w-mic").click()
    frame.locator(".w-msg.user", has_text="encrypted").wait_for()
    frame.locator(".w-card.sources", has_text="Security").wait_for()
    frame.locator(".w-msg.agent", has_text="encrypted at rest").wait_for()
    shot(page, "07-webrtc-answer-with-sources")
    call = fake.call_requests[calls_before]
    assert call["auth"] == "ephemeral" and call["content_type"] == "application/sdp"
    # The server joined the call (sideband) and answered the tool; the call's record has it.
    record = fake.wait_for(lambda f: next(r for r in f.ws_sessions if r.transport == "webrtc"))
    assert record.rtp_audio_packets > 0
    assert any(r.transport == "sideband" for r in fake.ws_sessions)
    outputs = [e["item"] for e in record.received("conversation.item.create")]
    output = next(i for i in outputs if i["type"] == "function_call_output")
    assert json.loads(output["output"])["found"] is True
    frame.locator("#w-end").click()


def test_text_mode_with_the_local_engine(
    page: Any, text_app: str, customer_site: int, widget_services: Any
) -> None:
    frame = open_widget(page, f"http://127.0.0.1:{customer_site}", text_app, "auto")
    assert frame.locator("#w-mic").is_hidden()  # no key: the widget offers text only
    frame.locator("#w-input").fill("Do you integrate with Salesforce?")
    frame.locator("#w-input").press("Enter")
    # Greeted once, as the text assistant (not the voice persona and then a text assistant).
    frame.locator(".w-msg.agent", has_text="text assistant").wait_for()
    assert frame.locator(".w-msg.agent", has_text="Maya").count() == 0
    frame.locator(".w-card.sources", has_text="Integrations").wait_for()
    answer = frame.locator(".w-msg.agent").last
    assert "salesforce" in answer.inner_text().lower()
    shot(page, "03-text-answer-with-sources")
    email = f"jane.{uuid.uuid4().hex[:6]}@globex.example"
    frame.locator("#w-input").fill(f"My name is Jane Roe, email {email}")
    frame.locator("#w-input").press("Enter")
    frame.locator(".w-card.lead").wait_for()
    shot(page, "04-text-lead-saved")
    leads = list_leads(widget_services.db, company_id="acme", search=email)
    assert [(lead.name, lead.channel) for lead in leads] == [("Jane Roe", "text")]
    # The close button asks the host page (checked origin) to hide the widget.
    frame.locator("#w-close").click()
    page.locator("iframe").wait_for(state="hidden")


def test_phone_width_layout(browser: Any, text_app: str, customer_site: int) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 700}, is_mobile=True)
    page = context.new_page()
    try:
        frame = open_widget(page, f"http://127.0.0.1:{customer_site}", text_app, "text")
        box = page.locator("iframe").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
        assert frame.locator("#w-input").is_visible()
        shot(page, "05-phone-width")
    finally:
        context.close()


def test_foreign_origin_is_refused(page: Any, text_app: str, customer_site: int) -> None:
    page.goto(f"http://localhost:{customer_site}/?app={text_app}&transport=text")
    # The loader asks the server first: no launcher, no frame on a disallowed origin.
    page.wait_for_function("window.SalesWidget && window.SalesWidget.ready")
    assert page.locator(".sales-widget-launcher").count() == 0 and len(page.frames) == 1
    # And the server itself refuses to hand this host a working widget (CSP frame-ancestors
    # also stops a hand-made iframe from rendering it).
    site = f"http://localhost:{customer_site}"
    refused = page.request.get(f"{text_app}/widget/acme?host={site}")
    assert refused.status == 403 and '"blocked": true' in refused.text()
    shot(page, "06-foreign-origin-refused")
