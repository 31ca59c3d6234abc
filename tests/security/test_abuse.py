"""Abuse: session rate limits (per client, per company), the daily session cap, body size
limits, tool-token expiry and replay.

Replay, for tool tokens, means: a token minted for session A presented with session B (refused,
403 `token_wrong_scope`); a token for another company (refused); an expired or tampered token
(401 `token_expired` / `token_invalid`); and the same `call_id` sent again, which returns the
stored output (`replayed: true`) without running the tool or writing anything a second time.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.fake_openai import FakeOpenAI
from tests.fuzz.api_fuzz import serve
from tests.security.conftest import admin_token, company_id, site_origin
from widget_api.crm.models import Lead, ToolCall
from widget_api.services import Services
from widget_api.settings import Settings
from widget_api.tokens import issue_tool_token

A, B = company_id(4), company_id(5)


def _session(client: FlaskClient, cid: str, addr: str) -> tuple[int, str, str | None]:
    r = client.post("/api/realtime/session", json={"companyId": cid},
                    headers={"Origin": site_origin(cid)},
                    environ_base={"REMOTE_ADDR": addr})  # fmt: skip
    code = "ok" if r.status_code == 200 else r.get_json()["error"]["code"]
    return r.status_code, code, r.headers.get("Retry-After")


def test_session_rate_limit_per_client_address(make_sec_app: Callable[..., Flask]) -> None:
    client = make_sec_app(session_rate_per_minute_per_client=3).test_client()
    assert [_session(client, A, "203.0.113.1")[0] for _ in range(3)] == [200] * 3
    status, code, retry = _session(client, A, "203.0.113.1")
    assert (status, code) == (429, "rate_limited") and retry is not None and 0 < int(retry) <= 60
    assert _session(client, A, "203.0.113.2")[0] == 200  # another visitor is unaffected


def test_session_rate_limit_per_company(make_sec_app: Callable[..., Flask]) -> None:
    client = make_sec_app(session_rate_per_minute_per_company=4).test_client()
    assert [_session(client, A, f"198.51.100.{i}")[0] for i in range(4)] == [200] * 4
    assert _session(client, A, "198.51.100.99")[:2] == (429, "rate_limited")
    assert _session(client, B, "198.51.100.99")[0] == 200  # another company is unaffected


def test_daily_session_cap_per_company_limits_minted_secrets(
    make_sec_app: Callable[..., Flask], sec_openai: FakeOpenAI
) -> None:
    assert "session_daily_cap_per_company" in Settings.model_fields
    client = make_sec_app(session_daily_cap_per_company=3).test_client()
    before = len(sec_openai.client_secret_requests)
    assert [_session(client, A, f"192.0.2.{i}")[0] for i in range(3)] == [200] * 3
    status, code, retry = _session(client, A, "192.0.2.200")
    assert (status, code) == (429, "daily_cap_reached")
    assert retry is not None and 0 < int(retry) <= 86400
    # Cost control: the refused session never reached OpenAI.
    assert len(sec_openai.client_secret_requests) - before == 3
    assert _session(client, B, "192.0.2.201")[0] == 200


@pytest.fixture
def limited_server(make_sec_app: Callable[..., Flask]) -> Iterator[str]:
    with serve(make_sec_app(max_body_bytes=4096)) as url:
        yield url


@pytest.mark.parametrize(
    ("path", "auth"),
    [("/api/realtime/session", None), (f"/api/chat/{A}/tool", "tool"),
     (f"/api/admin/{A}/leads/1", "admin"), (f"/admin/{A}/login", None)],
)  # fmt: skip
def test_oversized_bodies_are_refused_declared_or_streamed(
    limited_server: str, sec_stack: Services, path: str, auth: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if path == "/api/realtime/session":
        headers["Origin"] = site_origin(A)
    if auth == "tool":
        token = issue_tool_token(sec_stack.signing_key, A, "ws_big", 600)
        headers["Authorization"] = f"Bearer {token}"
    elif auth == "admin":
        headers["Authorization"] = f"Bearer {admin_token(A)}"
    method = "PATCH" if path.endswith("/leads/1") else "POST"
    body = json.dumps({"companyId": A, "padding": "x" * 10_000}).encode()

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold for streams too
        for i in range(0, len(body), 1000):
            yield body[i : i + 1000]

    r = requests.request(method, limited_server + path, data=body, headers=headers, timeout=10)
    assert (r.status_code, r.json()["error"]["code"]) == (413, "payload_too_large")
    # Streamed: the server reads at most the limit. The JSON routes refuse the rest with 413;
    # the admin routes see a cut body, which is never valid (400 JSON, 401 form).
    r = requests.request(method, limited_server + path, data=chunks(), headers=headers,
                         timeout=10)  # fmt: skip
    if path.startswith(("/api/realtime", "/api/chat")):
        assert (r.status_code, r.json()["error"]["code"]) == (413, "payload_too_large")
    else:
        assert r.status_code in (400, 401, 413)


def _tool(client: FlaskClient, cid: str, token: str, session_id: str, call_id: str,
          arguments: dict[str, str]) -> tuple[int, dict]:  # fmt: skip
    body = {"name": "log_lead", "arguments": json.dumps(arguments), "call_id": call_id,
            "session_id": session_id}  # fmt: skip
    r = client.post(f"/api/chat/{cid}/tool", json=body,
                    headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    return r.status_code, r.get_json()


def _lead_args() -> dict[str, str]:
    return {"name": "Rita Replay", "email": f"rita.{uuid.uuid4().hex[:8]}@replay.example",
            "interest": "pricing"}  # fmt: skip


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("expired", (401, "token_expired")),
        ("tampered", (401, "token_invalid")),
        ("other_key", (401, "token_invalid")),
        ("other_session", (403, "token_wrong_scope")),
        ("other_company", (403, "token_wrong_scope")),
        ("missing", (401, "token_missing")),
    ],
)
def test_tool_tokens_that_are_not_for_this_call_are_refused(
    make_sec_app: Callable[..., Flask], sec_stack: Services, case: str,
    expected: tuple[int, str],
) -> None:  # fmt: skip
    client = make_sec_app().test_client()
    key, session = sec_stack.signing_key, "ws_session_a"
    token = {
        "expired": issue_tool_token(key, A, session, 60, now=time.time() - 3600),
        "tampered": issue_tool_token(key, A, session, 600)[:-2] + "AA",
        "other_key": issue_tool_token(b"another-deployment-key" * 2, A, session, 600),
        "other_session": issue_tool_token(key, A, "ws_session_b", 600),
        "other_company": issue_tool_token(key, B, session, 600),
        "missing": "",
    }[case]
    args = _lead_args()
    status, body = _tool(client, A, token, session, uuid.uuid4().hex, args)
    assert (status, body["error"]["code"]) == expected
    with sec_stack.db.session(readonly=True) as db:
        stored = db.scalar(
            select(func.count()).select_from(Lead).where(Lead.email == args["email"])
        )
    assert stored == 0


def test_replayed_call_id_returns_the_stored_result_without_a_second_write(
    make_sec_app: Callable[..., Flask], sec_stack: Services
) -> None:
    client = make_sec_app().test_client()
    session, call_id = f"ws_replay_{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    token = issue_tool_token(sec_stack.signing_key, A, session, 600)
    args = _lead_args()
    first = _tool(client, A, token, session, call_id, args)
    # A true retry (same tool, same arguments) replays the stored output; nothing is re-run.
    again = _tool(client, A, token, session, call_id, dict(args))
    assert first[0] == again[0] == 200
    assert (first[1]["replayed"], again[1]["replayed"]) == (False, True)
    assert again[1]["output"] == first[1]["output"]
    # The same call id with other arguments is a conflict, not a silent replay or a rewrite.
    changed = {**args, "name": "Mallory Rewrite", "interest": "changed"}
    conflict = _tool(client, A, token, session, call_id, changed)
    assert conflict[0] == 409
    assert conflict[1]["error"]["code"] == "tool_call_conflict"
    with sec_stack.db.session(readonly=True) as db:
        leads = db.scalars(select(Lead).where(Lead.email == args["email"])).all()
        same_call = (ToolCall.session_id == session, ToolCall.call_id == call_id)
        calls = db.scalar(select(func.count()).select_from(ToolCall).where(*same_call))
    assert [lead.name for lead in leads] == ["Rita Replay"]
    assert calls == 1


def test_relay_closes_on_frames_over_its_size_limit(sec_shared_server: str) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    url = sec_shared_server.replace("http://", "ws://") + f"/ws/realtime/{A}?mode=text"
    with connect(url, origin=site_origin(A), open_timeout=5, max_size=None) as ws:  # type: ignore[arg-type]
        ws.recv(timeout=10)
        ws.send("x" * (2 * 1024 * 1024))  # far over the 256 KB message cap (close 1009)
        with pytest.raises(ConnectionClosed):
            for _ in range(50):
                ws.recv(timeout=10)
    # The server is fine afterwards.
    assert requests.get(f"{sec_shared_server}/healthz", timeout=5).status_code == 200
