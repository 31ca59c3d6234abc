"""Headless Chromium (the widget's real runtime) completes a WebRTC call with the fake."""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAI, OnSpeech, Say, Turn

pytest.importorskip("aiortc")
playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def page_url() -> Iterator[str]:
    """The test page on its own loopback origin, so the fetch to the fake is cross-origin.

    (Chromium's local-network rules refuse a page that is not itself on loopback.)
    """
    handler = functools.partial(_QuietHandler, directory=str(Path(__file__).parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/chromium_page.html"
    server.shutdown()
    server.server_close()


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")
def test_chromium_call_with_fake_mic(fake: FakeOpenAI, page_url: str) -> None:
    fake.script([Turn(OnSpeech("hello", min_audio_ms=500), Say("Hi from the fake", chunks=10))])
    ek = fake.mint_secret(
        {"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}
    )
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.goto(page_url)
            status = page.evaluate("([b, e]) => run(b, e, false)", [fake.base_url, ek])
            assert status == 201
            assert page.evaluate("window.location_").startswith("/v1/realtime/calls/rtc_")
            deadline = time.monotonic() + 20
            types: list[str] = []
            energy = 0.0
            while time.monotonic() < deadline:
                types = page.evaluate("window.events.map(e => e.type)")
                energy = page.evaluate("inboundEnergy()")
                if "output_audio_buffer.stopped" in types and energy > 0:
                    break
                time.sleep(0.2)
            assert types[:2] == ["session.created", "conversation.created"]
            assert "conversation.item.input_audio_transcription.completed" in types
            assert "response.done" in types
            assert energy > 0  # the model's tone arrived on the remote track
        finally:
            browser.close()
    record = fake.ws_sessions[0]
    assert record.transport == "webrtc" and record.rtp_audio_packets > 0
