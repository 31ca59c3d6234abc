"""Browser fixtures (imported by conftest): Debian's Chromium via Playwright, a "customer site".

The customer site is another loopback server whose page carries the embed snippet. Reached as
`http://127.0.0.1:<port>` it is an allowed origin of the test company; reached as
`http://localhost:<port>` it is a foreign one.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    # Loopback ICE candidates as plain IPs, so Chromium can reach the fake's aiortc peer.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]  # fmt: skip

SITE_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Globex Support Tools</title>
<style>body{{font:16px system-ui;margin:0;background:#f1f5f9}}
header{{background:#0f172a;color:#fff;padding:40px}}</style>
</head><body><header><h1>Globex: a customer site</h1>
<p>This page embeds the sales widget.</p></header>
<script src="{app}/embed.js" data-company="acme" data-transport="{transport}" async></script>
</body></html>"""


class _SiteHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        query = parse_qs(urlsplit(self.path).query)
        app = query.get("app", [""])[0]
        transport = query.get("transport", ["auto"])[0]
        body = SITE_PAGE.format(app=app, transport=transport).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture(scope="session")
def customer_site(customer_port: int) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", customer_port), _SiteHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield customer_port
    server.shutdown()


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A spoken question (espeak-ng), 48 kHz mono PCM16 with trailing silence, for the fake mic."""
    folder = tmp_path_factory.mktemp("audio")
    raw, wav = folder / "raw.wav", folder / "question.wav"
    subprocess.run(["espeak-ng", "-w", str(raw), "How much does the Growth plan cost?"], check=True)
    subprocess.run(
        ["sox", str(raw), "-r", "48000", "-c", "1", "-b", "16", str(wav), "pad", "0", "2"],
        check=True,
    )
    return wav


@pytest.fixture(scope="session")
def browser(speech_wav: Path) -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which("espeak-ng") is None:
        pytest.fail("Debian chromium and espeak-ng are required for the browser tests")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={speech_wav}"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    page = context.new_page()
    page.set_default_timeout(20000)
    yield page
    context.close()


def shot(target: Any, name: str) -> None:
    """Save a screenshot artifact (test-artifacts/browser/<name>.png)."""
    target.screenshot(path=str(ARTIFACTS / f"{name}.png"))
