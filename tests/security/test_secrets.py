"""Secrets never leave the server: with a recognisable OpenAI key, signing key and admin tokens,
every route is exercised (successes, error paths, the admin page flow, the relay in text and
voice mode, upstream failures) and every response, page, WebSocket frame and log line is scanned.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from websockets.sync.client import connect

from tests.fake_openai import FakeOpenAI
from tests.fuzz.api_fuzz import serve
from tests.security.conftest import (
    CANARY_OPENAI_KEY,
    CANARY_SIGNING_KEY,
    admin_token,
    company_id,
    site_origin,
)
from widget_api.services import Services

C, OTHER = company_id(6), company_id(7)


class Capture:
    """Everything a client (or an operator reading logs) could see."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.seen: list[str] = []
        self.statuses: list[int] = []

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 15)
        kwargs.setdefault("allow_redirects", False)
        r = self.http.request(method, self.base + path, **kwargs)
        self.statuses.append(r.status_code)
        self.seen.append(f"{method} {path} {r.status_code} {dict(r.headers)}\n{r.text}")
        return r

    def ws(self, path: str, origin: str, frames: list[dict[str, Any]], until: str) -> None:
        url = self.base.replace("http://", "ws://") + path
        with connect(url, origin=origin, open_timeout=10) as ws:  # type: ignore[arg-type]
            for frame in frames:
                ws.send(json.dumps(frame))
            for _ in range(200):
                try:
                    message = ws.recv(timeout=10)
                except TimeoutError:
                    break
                text = message if isinstance(message, str) else message.decode("latin-1")
                self.seen.append(f"WS {path} {text}")
                if until in text:
                    break


def _user(text: str) -> list[dict[str, Any]]:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return [{"type": "conversation.item.create", "item": item}, {"type": "response.create"}]


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token"\s+value="([^"]+)"', page)
    assert found, "the leads page has a CSRF field"
    return found.group(1)


@pytest.fixture
def everything(
    make_sec_app: Callable[..., Flask], sec_stack: Services, sec_openai: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
) -> Iterator[tuple[Capture, str]]:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    # Wrong admin tokens are part of the tour; the guess limit (tested elsewhere) stays out of it.
    with serve(make_sec_app(admin_failed_attempts_per_address=10**6)) as base:
        capture = Capture(base)
        yield capture, caplog.text
    sec_openai.clear_faults()


def _exercise(cap: Capture, fake: FakeOpenAI) -> None:
    origin = {"Origin": site_origin(C)}
    for path in ("/", f"/?company={C}", "/?company=nope", "/healthz", "/readyz",
                 "/api/openapi.json", "/embed.js", "/widget-assets/widget.js",
                 "/widget-assets/nope.js", f"/widget/{C}", f"/widget/{C}?host=https://evil.example",
                 "/widget/nope", "/no/such/route"):  # fmt: skip
        cap("GET", path)
    # Session route: success, foreign origin, bad bodies, upstream failure.
    session = cap("POST", "/api/realtime/session", json={"companyId": C}, headers=origin).json()
    assert "tool_token" in session
    cap("POST", "/api/realtime/session", json={"companyId": C},
        headers={"Origin": "https://evil.example"})  # fmt: skip
    cap("POST", "/api/realtime/session", data="{nope", headers={**origin,
        "Content-Type": "application/json"})  # fmt: skip
    cap("POST", "/api/realtime/session", json={"companyId": 5}, headers=origin)
    cap("GET", "/api/realtime/session")
    fake.set_fault("http_500", endpoint="client_secrets")
    cap("POST", "/api/realtime/session", json={"companyId": C}, headers=origin)
    fake.set_fault("malformed_json", endpoint="client_secrets")
    cap("POST", "/api/realtime/session", json={"companyId": C}, headers=origin)
    fake.clear_faults()
    # Tool endpoint: success, bad token, bad arguments, replay.
    bearer = {"Authorization": f"Bearer {session['tool_token']}"}
    for name, args in (("search_knowledge", {"query": "pricing"}),
                       ("log_lead", {"name": "Lee Leak", "email": "lee@leak.example",
                                     "interest": "api key"}),
                       ("create_meeting_link", {"email": "lee@leak.example"}),
                       ("get_demo_clip", {"topic": "tour"}),
                       ("log_lead", {"email": "x"})):  # fmt: skip
        body = {"name": name, "arguments": json.dumps(args), "call_id": f"c-{name}-{len(args)}",
                "session_id": session["session_id"]}  # fmt: skip
        cap("POST", f"/api/chat/{C}/tool", json=body, headers=bearer)
        cap("POST", f"/api/chat/{C}/tool", json=body, headers=bearer)
        cap("POST", f"/api/chat/{OTHER}/tool", json=body, headers=bearer)
        cap("POST", f"/api/chat/{C}/tool", json=body, headers={"Authorization": "Bearer x.y"})
    # Admin API with the right, a wrong and another company's token.
    for token in (admin_token(C), "wrong", admin_token(OTHER)):
        auth = {"Authorization": f"Bearer {token}"}
        for path in (f"/api/admin/{C}/leads", f"/api/admin/{C}/leads.csv",
                     f"/api/admin/{C}/leads.json", f"/api/admin/{C}/leads/1",
                     f"/api/admin/{C}/leads?sort=bogus"):  # fmt: skip
            cap("GET", path, headers=auth)
        cap("PATCH", f"/api/admin/{C}/leads/1", json={"status": "contacted"}, headers=auth)
        cap("POST", f"/api/admin/{C}/leads/1/status", json={"status": "nope"}, headers=auth)
    # Admin page: wrong token, login, page, exports, status form, logout.
    cap("GET", f"/admin/{C}/leads")
    cap("POST", f"/admin/{C}/login", data={"token": "wrong"})
    cap("POST", f"/admin/{C}/login", data={"token": admin_token(C)})
    page = cap("GET", f"/admin/{C}/leads?search=leak").text
    cap("GET", f"/admin/{C}/leads.csv")
    cap("GET", f"/admin/{C}/leads.json")
    lead_ids = re.findall(rf"/admin/{C}/leads/(\d+)/status", page)
    assert lead_ids
    csrf = _csrf(page)
    form = {"status": "qualified", "csrf_token": csrf, "back": f"/admin/{C}/leads?x=1"}
    cap("POST", f"/admin/{C}/leads/{lead_ids[0]}/status", data=form)
    cap("POST", f"/admin/{C}/leads/{lead_ids[0]}/status", data={"status": "qualified"})
    cap("POST", f"/admin/{C}/logout", data={"csrf_token": csrf})
    # The relay: text mode (local engine), voice mode (upstream with the key), upstream refusal.
    cap.ws(f"/ws/realtime/{C}?mode=text", cap.base, _user("How much does it cost?"),
           "response.done")  # fmt: skip
    cap.ws(f"/ws/realtime/{C}", cap.base, _user("Hello"), "response.done")
    fake.set_fault("http_500", endpoint="realtime")
    cap.ws(f"/ws/realtime/{C}", cap.base, _user("Hello"), "error")
    fake.clear_faults()


def test_no_secret_appears_in_any_response_page_frame_or_log_line(
    everything: tuple[Capture, str], sec_openai: FakeOpenAI,
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    cap, _ = everything
    _exercise(cap, sec_openai)
    # At DEBUG (everything logged) the run covered successes and failures, and the relay
    # really reached upstream with the key.
    assert {200, 303, 401, 403, 404, 422, 502}.issubset(set(cap.statuses))
    assert sec_openai.ws_sessions, "voice relay connected upstream with the server key"
    logs = caplog.text + "\n".join(
        (r.exc_text or "") + str(r.args) for r in caplog.records
    )  # fmt: skip
    out, err = capsys.readouterr()
    corpus = "\n".join(cap.seen) + logs + out + err
    assert len(cap.seen) > 80 and logs
    secrets = {"openai key": CANARY_OPENAI_KEY, "signing key": CANARY_SIGNING_KEY,
               "admin token": admin_token(C), "other admin token": admin_token(OTHER)}  # fmt: skip
    for label, secret in secrets.items():
        for fragment in (secret, secret[-12:]):  # whole, or the tail a "masked" form would keep
            assert fragment not in corpus, f"{label} leaked"


def test_search_results_do_not_reveal_server_paths(sec_stack: Services) -> None:
    """Regression: file sources were the absolute server path (the data and config layout)."""
    from widget_api.tools.base import ToolContext

    ctx = ToolContext(company=sec_stack.companies.get(C), session_id="ws_paths")
    outcome = sec_stack.tools.run(ctx, "c-paths", "search_knowledge", '{"query": "pricing"}')
    passages = json.loads(outcome.output)["passages"]
    assert passages and all(p["source"] == "plans.md" for p in passages)
    assert str(sec_stack.settings.companies_dir) not in outcome.output
