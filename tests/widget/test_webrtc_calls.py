"""WebRTC in Chromium with the server on the call, and every failure path the widget handles.

Each test injects one failure through the fake (a failed or cut-off response, a failed
transcription, a call whose media never connects, a call the server ends) and checks what the
visitor sees; the happy path checks that the server, not the browser, answers the tools.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from tests.fake_openai import Fail, FakeOpenAI, FunctionCall, OnResponseCreate, OnSpeech, Say, Turn
from tests.widget.conftest import free_port, serve
from widget_api.crm.latency import session_turn_latencies
from widget_api.crm.models import Conversation

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeOpenAI) -> None:
    fake.reset()


@pytest.fixture(scope="module")
def voice_app(make_app: Any, fake: FakeOpenAI, widget_services: Any) -> Iterator[str]:
    port = free_port()
    app = make_app(
        openai_api_key=SecretStr(fake.api_key),
        openai_base_url=fake.base_url,
        public_origin=f"http://127.0.0.1:{port}",
    )
    with serve(app, port) as base:
        yield base


def open_call(page: Any, site: int, app: str, transport: str = "webrtc") -> Any:
    page.goto(f"http://127.0.0.1:{site}/?app={app}&transport={transport}")
    page.locator(".sales-widget-launcher").click()  # its label comes from the company's config
    frame = page.frame_locator("iframe")
    frame.locator("#w-input").wait_for()
    frame.locator("#w-mic").click()
    return frame


def webrtc_record(fake: FakeOpenAI) -> Any:
    return fake.wait_for(
        lambda f: next((r for r in f.ws_sessions if r.transport == "webrtc"), None), timeout=15
    )


def conversation(services: Any, **where: Any) -> Conversation:
    with services.db.session() as session:
        query = select(Conversation).order_by(Conversation.id.desc())
        for key, value in where.items():
            query = query.where(getattr(Conversation, key) == value)
        return session.scalars(query).first()  # type: ignore[return-value]


def test_server_runs_tools_over_the_sideband_and_summarizes_on_end(
    page: Any, fake: FakeOpenAI, voice_app: str, customer_site: int, widget_services: Any
) -> None:
    fake.script(
        [
            Turn(OnSpeech(transcript="Is my data encrypted?", min_audio_ms=800), [
                FunctionCall("search_knowledge", {"query": "encryption of customer data"}),
                Say("Yes, your data is encrypted at rest and in transit.", chunks=8),
            ]),
        ],
        fallback=Say("Visitor asked about encryption.", chunks=1),
    )  # fmt: skip
    frame = open_call(page, customer_site, voice_app)
    frame.locator(".w-msg.user", has_text="encrypted").wait_for()
    frame.locator(".w-card.sources", has_text="Security").wait_for()
    frame.locator(".w-msg.agent", has_text="encrypted at rest").wait_for()
    call = webrtc_record(fake)
    sideband = next(r for r in fake.ws_sessions if r.transport == "sideband")
    assert sideband.auth == "api_key"  # the standard key, from the server
    call = next(r for r in fake.ws_sessions if r.id == call.id)
    outputs = [e["item"] for e in call.received("conversation.item.create")]
    assert json.loads(outputs[0]["output"])["found"] is True
    frame.locator("#w-end").click()
    frame.locator(".w-note", has_text="Conversation ended").wait_for()
    actions = fake.wait_for(lambda f: [a for a in f.call_actions if a["action"] == "hangup"])
    assert actions[0]["call_id"] == call.call_id
    row = fake.wait_for(
        lambda f: (c := conversation(widget_services, end_reason="ended_by_visitor")) and c
    )
    assert row.summary == "Visitor asked about encryption."


@pytest.mark.parametrize(("status", "shown"), [("failed", "couldn't answer"),
                                                 ("incomplete", "cut short")])  # fmt: skip
def test_failed_or_incomplete_answer_offers_a_retry(
    page: Any, fake: FakeOpenAI, voice_app: str, customer_site: int, status: str, shown: str
) -> None:
    fake.script([
        Turn(OnSpeech(transcript="What does it cost?", min_audio_ms=800), Fail(status)),
        Turn(OnResponseCreate(), Say("Growth is 49 dollars per agent.", chunks=4)),
    ])  # fmt: skip
    frame = open_call(page, customer_site, voice_app)
    note = frame.locator(".w-note.retry", has_text=shown)
    note.wait_for()
    note.get_by_role("button", name="Try again").click()
    frame.locator(".w-msg.agent", has_text="49 dollars").wait_for()
    assert frame.locator(".w-note.retry").count() == 0


def test_failed_transcription_marks_the_bubble(
    page: Any, fake: FakeOpenAI, voice_app: str, customer_site: int
) -> None:
    fake.script([
        Turn(OnSpeech(transcript="mumble", min_audio_ms=800, transcription_fails=True),
             Say("Could you say that again?", chunks=4)),
    ])  # fmt: skip
    frame = open_call(page, customer_site, voice_app)
    frame.locator(".w-msg.user.failed").wait_for()
    assert frame.locator(".w-msg.user.pending").count() == 0
    frame.locator(".w-msg.agent", has_text="say that again").wait_for()


@pytest.fixture
def one_start_app(make_app: Any, fake: FakeOpenAI) -> Iterator[str]:
    """A server whose budget allows one conversation start and one conversation's voice minutes.

    A relay fallback that spent a second start, or reserved a second conversation's minutes,
    would be refused here (and go on in text) instead of carrying the voice.
    """
    port = free_port()
    app = make_app(
        openai_api_key=SecretStr(fake.api_key),
        openai_base_url=fake.base_url,
        public_origin=f"http://127.0.0.1:{port}",
        session_rate_per_minute_per_client=1,
        session_rate_per_minute_per_company=1,
        session_daily_cap_per_company=1,
        relay_max_session_seconds=120,
        voice_minutes_per_day_per_company=2,
    )
    with serve(app, port) as base:
        yield base


def test_connect_timeout_falls_back_to_the_relay_in_the_same_conversation(
    page: Any, fake: FakeOpenAI, one_start_app: str, customer_site: int, widget_services: Any
) -> None:
    before = conversation(widget_services)
    fake.set_fault("no_media", endpoint="calls", times=1)
    frame = open_call(page, customer_site, one_start_app, transport="auto")
    # ~8 s connect timeout, then the relay (a WebSocket to the fake) carries the voice on the
    # WebRTC session's start and reservation: the one start this server allows.
    fake.wait_for(lambda f: any(r.transport == "websocket" for r in f.ws_sessions), timeout=25)
    frame.locator("#w-status[data-state=listening]").wait_for(timeout=25000)
    assert frame.locator(".w-note", has_text="Voice isn't available").count() == 0
    row = fake.wait_for(
        lambda f: next(
            (c for c in [conversation(widget_services)]
             if c is not None and "relay:webrtc_timeout" in (c.transports or "")), None,
        ),
        timeout=10,
    )  # fmt: skip
    # One conversation record carries both transports and the fallback between them.
    assert before is None or row.id == before.id + 1
    used = row.transports.split(",")
    assert used[0] == "webrtc" and "relay:webrtc_timeout" in used
    assert any(t.startswith("relay-") for t in used)
    frame.locator("#w-end").click()


def test_a_relay_that_fails_too_goes_on_in_text_in_the_same_conversation(
    page: Any, fake: FakeOpenAI, one_start_app: str, customer_site: int, widget_services: Any
) -> None:
    fake.set_fault("no_media", endpoint="calls", times=1)
    # The relay's audio cannot start in this browser (its worklet does not load), so after
    # WebRTC the relay fails too: the widget goes on in text, still on the one start.
    page.add_init_script(
        "AudioWorklet.prototype.addModule = () => Promise.reject(new Error('blocked'));"
    )
    frame = open_call(page, customer_site, one_start_app, transport="auto")
    frame.locator(".w-note", has_text="let's type").wait_for(timeout=30000)
    row = fake.wait_for(
        lambda f: next(
            (c for c in [conversation(widget_services)]
             if c is not None and "relay-text" in (c.transports or "")), None,
        ),
        timeout=15,
    )  # fmt: skip
    used = row.transports.split(",")
    assert used[0] == "webrtc" and "relay:webrtc_timeout" in used
    fake.wait_for(
        lambda f: (
            "text:relay_failed" in (conversation(widget_services, id=row.id).transports or "")
        ),
        timeout=10,
    )
    assert "local-text" not in used  # relayed in text, not refused to the local engine


# Chromium takes tens of seconds to report a failed ICE check; the page's own peer connection
# reports `failed` shortly after the answer instead, as Chromium would.
ICE_FAILS = """
(() => {
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    get connectionState() { return this._failed ? "failed" : super.connectionState; }
    async setRemoteDescription(description) {
      await super.setRemoteDescription(description);
      setTimeout(() => {
        this._failed = true;
        this.dispatchEvent(new Event("connectionstatechange"));
      }, 300);
    }
  };
})();
"""


def test_a_failed_connection_falls_back_without_waiting_for_the_timeout(
    page: Any, fake: FakeOpenAI, voice_app: str, customer_site: int, widget_services: Any
) -> None:
    fake.set_fault("no_media", endpoint="calls", times=1)
    page.add_init_script(ICE_FAILS)
    frame = open_call(page, customer_site, voice_app, transport="auto")
    frame.locator("#w-status[data-state=listening]").wait_for(timeout=25000)
    row = fake.wait_for(
        lambda f: next(
            (c for c in [conversation(widget_services)]
             if c is not None and "relay:webrtc_failed" in (c.transports or "")), None,
        ),
        timeout=10,
    )  # fmt: skip
    assert "relay:webrtc_timeout" not in row.transports  # the state change, not the timer
    frame.locator("#w-end").click()


def test_a_call_the_server_ends_is_noticed(
    page: Any, fake: FakeOpenAI, voice_app: str, customer_site: int
) -> None:
    frame = open_call(page, customer_site, voice_app)
    frame.locator("#w-status[data-state=listening]").wait_for()
    call = webrtc_record(fake)
    fake.end_call(call.call_id)
    frame.locator(".w-note", has_text="call has ended").wait_for()
    frame.locator("#w-status-text", has_text="Call ended").wait_for()
    assert frame.locator("#w-end").is_disabled()


def test_status_follows_the_output_audio_buffer_and_latency_is_reported(
    page: Any, fake: FakeOpenAI, voice_app: str, customer_site: int, widget_services: Any
) -> None:
    # 3 s of audio generated at once after a 0.4 s "thinking" delay: response.done arrives long
    # before the audio has played, and only output_audio_buffer.stopped means "listening".
    fake.script([
        Turn(OnSpeech(transcript="Tell me more", min_audio_ms=800),
             Say("Here is a longer answer.", chunks=30, ms_per_chunk=100, delay_s=0.4)),
    ])  # fmt: skip
    frame = open_call(page, customer_site, voice_app)
    frame.locator(".w-msg.agent", has_text="longer answer").wait_for()
    call = webrtc_record(fake)
    fake.wait_for(lambda f: next(r for r in f.ws_sessions if r.id == call.id).responses)
    assert frame.locator("#w-status").get_attribute("data-state") == "speaking"
    frame.locator("#w-status[data-state=listening]").wait_for(timeout=10000)
    # The widget reported the turn's time to first audio and to first text; the fake held the
    # answer 0.4 s.
    session_id = conversation(widget_services, transport="webrtc").session_id
    figures = fake.wait_for(lambda f: session_turn_latencies(widget_services.db, session_id))
    channel, turn, audio_ms, text_ms = figures[0]
    assert (channel, turn) == ("webrtc", 1) and audio_ms is not None and audio_ms >= 400
    assert text_ms is not None and text_ms >= 400
    frame.locator("#w-end").click()


def test_webrtc_latency_report_is_stored(
    fake: FakeOpenAI, voice_app: str, widget_services: Any
) -> None:
    """The widget's report route stores the figure it measured (as the browser posts it)."""
    import urllib.request

    from widget_api.tokens import issue_tool_token

    token = issue_tool_token(widget_services.signing_key, "acme", "ws_latency_test", 600)
    request = urllib.request.Request(
        voice_app + "/api/realtime/reports/acme",
        data=json.dumps(
            {"session_id": "ws_latency_test", "kind": "latency", "first_audio_ms": 412,
             "first_text_ms": 388}
        ).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
    assert session_turn_latencies(widget_services.db, "ws_latency_test") == [
        ("webrtc", 1, 412.0, 388.0)
    ]
