"""XSS and CSRF in the real browser (Debian's Chromium through Playwright).

The `xss` company's display name, greeting, launcher label and clip title are payloads, and so
are a lead's fields; none may run on the demo host page, the widget (including the clip card
the local engine shows) or the admin page. Admin state changes must refuse cross-site and
cross-origin requests even when the browser holds the admin cookie.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fuzz.api_fuzz import serve
from tests.security.conftest import XSS, XSS_ATTR, XSS_SCRIPT, admin_token
from widget_api.app import create_app
from widget_api.rate_limit import SessionRateLimiter
from widget_api.services import Services
from widget_api.tools.base import ToolContext

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip
MARKER_JS = "() => [window.__xss, document.title]"


@pytest.fixture(scope="module")
def text_server(sec_stack: Services) -> Iterator[str]:
    """The stack without an OpenAI key: the widget runs the local text engine."""
    settings = sec_stack.settings.model_copy(update={"openai_api_key": None})
    services = dataclasses.replace(sec_stack, settings=settings, minter=None,
                                   rate_limiter=SessionRateLimiter(1000, 1000, 1000))  # fmt: skip
    with serve(create_app(services=services)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path("/usr/bin/chromium").exists():
        pytest.fail("Debian's chromium is required at /usr/bin/chromium")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Watch:
    """Dialogs (alert/confirm/prompt) and page errors seen anywhere in a browser context."""

    def __init__(self, context: Any) -> None:
        self.dialogs: list[str] = []
        context.on("page", self._page)

    def _page(self, page: Any) -> None:
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def markers(self, page: Any) -> list[Any]:
        return [frame.evaluate("() => window.__xss") for frame in page.frames]


def _xss_lead(sec_stack: Services) -> str:
    email = f"mallory.{uuid.uuid4().hex[:6]}@xss.example"
    args = {"name": XSS, "email": email, "company": XSS_SCRIPT, "role": XSS_ATTR[:150],
            "interest": "<svg onload=\"window.__xss=4\">", "notes": "javascript:window.__xss=5",
            "timeline": "{{constructor.constructor('window.__xss=6')()}}"}  # fmt: skip
    ctx = ToolContext(company=sec_stack.companies.get("xss"), session_id="ws_xss")
    outcome = sec_stack.tools.run(ctx, uuid.uuid4().hex, "log_lead", json.dumps(args))
    assert outcome.ok, outcome.output
    return email


def test_company_config_payloads_never_run_on_the_host_page_or_widget(
    browser: Any, text_server: str
) -> None:
    context = browser.new_context()
    watch = Watch(context)
    page = context.new_page()
    page.goto(f"{text_server}/?company=xss")
    launcher = page.get_by_role("button").first
    launcher.wait_for()
    launcher.click()
    frame = page.frame_locator("iframe")
    frame.locator("#w-input").wait_for()
    # The display name is shown, as text.
    assert XSS in frame.locator("#w-title").inner_text()
    # The local engine shows the clip card whose title is a payload.
    frame.locator("#w-input").fill("Can I watch a video of the product tour?")
    frame.locator("#w-input").press("Enter")
    frame.locator(".w-card.clip").wait_for(timeout=20_000)
    assert XSS in frame.locator(".w-card.clip strong").inner_text()
    page.wait_for_timeout(300)
    assert watch.dialogs == []
    assert all(m is None for m in watch.markers(page))
    # The widget page on its own, too.
    page.goto(f"{text_server}/widget/xss")
    page.locator("#w-title").wait_for()
    assert watch.dialogs == [] and all(m is None for m in watch.markers(page))
    context.close()


def _login(page: Any, base: str, company: str) -> None:
    page.goto(f"{base}/admin/{company}/leads")
    page.locator("input[name=token]").fill(admin_token(company))
    with page.expect_navigation():
        page.locator("button[type=submit]").click()
    page.get_by_role("button", name="Sign out").wait_for(timeout=10_000)


def test_lead_field_payloads_never_run_on_the_admin_page(
    browser: Any, sec_shared_server: str, sec_stack: Services
) -> None:
    email = _xss_lead(sec_stack)
    context = browser.new_context()
    watch = Watch(context)
    page = context.new_page()
    _login(page, sec_shared_server, "xss")
    page.goto(f"{sec_shared_server}/admin/xss/leads?search={email}")
    row = page.locator("tr", has_text=email)
    row.wait_for()
    assert XSS in row.inner_text() and "<svg onload" in row.inner_text()
    page.wait_for_timeout(300)
    assert watch.dialogs == [] and all(m is None for m in watch.markers(page))
    context.close()


ATTACK_PAGE = """<!doctype html><html><body>
<form id="f" method="post" action="{target}/admin/xss/leads/{lead}/status">
<input name="status" value="disqualified"><input name="csrf_token" value="guess">
<input name="back" value="/admin/xss/leads?x=1"></form>
<script>
fetch("{target}/admin/xss/leads/{lead}/status", {{method: "POST", credentials: "include",
  mode: "no-cors", headers: {{"Content-Type": "application/x-www-form-urlencoded"}},
  body: "status=qualified"}}).finally(() => {{
fetch("{target}/api/admin/xss/leads/{lead}", {{method: "PATCH", credentials: "include",
  mode: "no-cors", body: JSON.stringify({{status: "contacted"}})}}).finally(() => {{
  document.title = "sent"; document.getElementById("f").submit(); }}); }});
</script></body></html>"""


@pytest.fixture
def attacker() -> Iterator[dict[str, str]]:
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = pages.get("page", "").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pages["port"] = str(server.server_address[1])
    yield pages
    server.shutdown()
    server.server_close()


def _status(base: str, lead_id: int) -> str:
    headers = {"Authorization": f"Bearer {admin_token('xss')}"}
    lead = requests.get(f"{base}/api/admin/xss/leads/{lead_id}", headers=headers, timeout=10)
    return str(lead.json()["status"])


@pytest.mark.parametrize("attacker_host", ["127.0.0.1", "localhost"])  # same-site, cross-site
def test_admin_state_changes_refuse_cross_origin_requests(
    browser: Any, sec_shared_server: str, sec_stack: Services, attacker: dict[str, str],
    attacker_host: str,
) -> None:  # fmt: skip
    email = _xss_lead(sec_stack)
    headers = {"Authorization": f"Bearer {admin_token('xss')}"}
    listing = requests.get(f"{sec_shared_server}/api/admin/xss/leads", params={"search": email},
                           headers=headers, timeout=10).json()  # fmt: skip
    lead_id = listing["leads"][0]["id"]
    context = browser.new_context()
    page = context.new_page()
    _login(page, sec_shared_server, "xss")  # the browser now holds the admin cookie
    attacker["page"] = ATTACK_PAGE.format(target=sec_shared_server, lead=lead_id)
    answers: list[tuple[str, int]] = []
    page.on("response", lambda r: answers.append((r.request.method, r.status))
            if f"/leads/{lead_id}" in r.url else None)  # fmt: skip
    page.goto(f"http://{attacker_host}:{attacker['port']}/")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)
    assert _status(sec_shared_server, lead_id) == "new"
    # The forged requests did reach the server and were refused: CSRF/Origin check (403) when
    # the browser sent the cookie (same site, other port), no session (401) when it did not.
    assert answers and all(status in (401, 403) for _method, status in answers), answers
    if attacker_host == "127.0.0.1":
        assert (("POST", 403)) in answers
    # Control: the same change from the admin page itself (same origin, CSRF token) works.
    page.goto(f"{sec_shared_server}/admin/xss/leads?search={email}")
    row = page.locator("tr", has_text=email)
    row.locator("select[name=status]").select_option("qualified")
    row.locator("select[name=status]").evaluate("s => s.form.requestSubmit()")
    page.wait_for_load_state("networkidle")
    assert _status(sec_shared_server, lead_id) == "qualified"
    context.close()
