"""POST /api/chat/<companyId>/tool: token-scoped, validated, idempotent per (session, call_id)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.crm.db_fixtures import drop_pg_schema, pg_schema_url
from widget_api.crm.db import Database
from widget_api.crm.models import Lead, ToolCall
from widget_api.services import Services, get_services
from widget_api.tools.registry import ToolRunner

URL = "/api/chat/acme/tool"


def body(
    name: str = "get_demo_clip",
    arguments: Any = None,
    *,
    call_id: str | None = None,
    session_id: str = "ws_test",
) -> dict[str, Any]:
    args = arguments if arguments is not None else {"topic": "the AI agent"}
    return {
        "name": name,
        "arguments": args if isinstance(args, str) else json.dumps(args),
        "call_id": call_id or "call_" + uuid.uuid4().hex,
        "session_id": session_id,
    }


def post(client: FlaskClient, payload: Any, token: str | None, url: str = URL, **kw: Any):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if "data" not in kw:
        kw["json"] = payload
    return client.post(url, headers=headers, **kw)


def test_tool_call_answers_output_string(
    client: FlaskClient, tool_token: Callable[..., str]
) -> None:
    response = post(client, body(), tool_token())
    assert response.status_code == 200, response.json
    output = json.loads(response.json["output"])
    assert output["clip"]["id"] == "ai-agent"
    assert response.json["replayed"] is False
    assert response.headers["Server-Timing"].startswith("tool;dur=")


def test_tool_errors_are_outputs_not_http_errors(
    client: FlaskClient, tool_token: Callable[..., str]
) -> None:
    response = post(
        client, body("log_lead", {"name": "A", "email": "nope", "interest": "x"}), tool_token()
    )
    assert response.status_code == 200
    assert json.loads(response.json["output"])["error"]["code"] == "lead_email_invalid"


@pytest.mark.parametrize(
    "second",
    [
        body("get_demo_clip", {"topic": "pricing"}, call_id="call_reused"),
        body("create_meeting_link", {"name": "Ida"}, call_id="call_reused"),
    ],
)
def test_a_call_id_reused_for_another_call_is_409(
    client: FlaskClient, tool_token: Callable[..., str], second: dict[str, Any]
) -> None:
    session_id = "ws_" + uuid.uuid4().hex
    token = tool_token(session_id=session_id)
    first = post(client, body(call_id="call_reused", session_id=session_id), token)
    again = post(client, {**second, "session_id": session_id}, token)
    assert (first.status_code, again.status_code) == (200, 409)
    assert again.json["error"]["code"] == "tool_call_conflict"


def test_retried_call_id_returns_first_output_and_one_lead(
    app: Flask, client: FlaskClient, tool_token: Callable[..., str]
) -> None:
    email = f"idem-{uuid.uuid4().hex[:8]}@example.com"
    payload = body("log_lead", {"name": "Ida", "email": email, "interest": "Growth"})
    first = post(client, payload, tool_token())
    again = post(client, payload, tool_token())
    assert first.json["output"] == again.json["output"]
    assert (first.json["replayed"], again.json["replayed"]) == (False, True)
    with get_services(app).db.session() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Lead).where(Lead.email_normalized == email)
            )
            == 1
        )
        calls = session.scalar(
            select(func.count()).select_from(ToolCall).where(ToolCall.call_id == payload["call_id"])
        )
    assert calls == 1


@pytest.mark.parametrize(
    ("token_args", "status", "code"),
    [
        ({"company_id": "globex"}, 403, "token_wrong_scope"),
        ({"session_id": "ws_other"}, 403, "token_wrong_scope"),
        ({"ttl": -5}, 401, "token_expired"),
    ],
)
def test_token_scope_and_expiry(
    client: FlaskClient, tool_token: Callable[..., str], token_args: dict, status: int, code: str
) -> None:
    response = post(client, body(), tool_token(**token_args))
    assert (response.status_code, response.json["error"]["code"]) == (status, code)


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "token_missing"),
        ("Basic abc", "token_missing"),
        ("Bearer ", "token_missing"),
        ("Bearer not.a-token", "token_invalid"),
        ("Bearer " + "a" * 2000, "token_invalid"),
    ],
)
def test_missing_or_forged_tokens(client: FlaskClient, header: str | None, code: str) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.post(URL, json=body(), headers=headers)
    assert (response.status_code, response.json["error"]["code"]) == (401, code)


@pytest.mark.parametrize(
    ("payload", "kw", "status", "code"),
    [
        ({k: v for k, v in body().items() if k != "call_id"}, {}, 422, "validation_failed"),
        ({k: v for k, v in body().items() if k != "name"}, {}, 422, "validation_failed"),
        ({**body(), "arguments": {"topic": "x"}}, {}, 422, "validation_failed"),
        ({**body(), "call_id": 5}, {}, 422, "validation_failed"),
        ({**body(), "call_id": "c" * 129}, {}, 422, "validation_failed"),
        ({**body(), "call_id": "call\x00nul"}, {}, 422, "validation_failed"),
        ({**body(), "name": "Log Lead!"}, {}, 422, "validation_failed"),
        ({**body(), "surprise": True}, {}, 422, "validation_failed"),
        (None, {"data": "{nope", "content_type": "application/json"}, 400, "invalid_json"),
        (None, {"data": "name=x", "content_type": "text/plain"}, 415, "unsupported_media_type"),
        (
            None,
            {
                "data": json.dumps({**body(), "arguments": "x" * 70_000}),
                "content_type": "application/json",
            },
            413,
            "payload_too_large",
        ),
    ],
)
def test_bad_bodies_get_json_errors(
    client: FlaskClient,
    tool_token: Callable[..., str],
    payload: Any,
    kw: dict,
    status: int,
    code: str,
) -> None:
    response = post(client, payload, tool_token(), **kw)
    assert (response.status_code, response.json["error"]["code"]) == (status, code)


def test_unknown_company_is_404_before_anything_else(
    client: FlaskClient, tool_token: Callable[..., str]
) -> None:
    response = post(client, body(), tool_token(), url="/api/chat/nope/tool")
    assert (response.status_code, response.json["error"]["code"]) == (404, "unknown_company")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_wrong_method_is_405_json(client: FlaskClient, method: str) -> None:
    response = client.open(URL, method=method)
    assert (response.status_code, response.json["error"]["code"]) == (405, "method_not_allowed")


def test_unknown_route_is_404_json(client: FlaskClient) -> None:
    response = client.post("/api/chat/acme/tools")
    assert (response.status_code, response.json["error"]["code"]) == (404, "not_found")


# --- PostgreSQL: the log_lead path through the endpoint, concurrent retries included ----------


@pytest.fixture
def pg_services(base_services: Services, postgres_database_url: str) -> Iterator[Services]:
    schema = f"api_{uuid.uuid4().hex[:8]}"
    db = Database(pg_schema_url(postgres_database_url, schema))
    db.upgrade()
    tools = ToolRunner(db=db, knowledge=base_services.knowledge, embedder=base_services.embedder)
    yield dataclasses.replace(base_services, db=db, tools=tools)
    db.dispose()
    drop_pg_schema(postgres_database_url, schema)


@pytest.mark.postgres
def test_log_lead_on_postgres_is_idempotent_under_concurrent_retries(
    make_app: Callable[..., Flask], pg_services: Services, tool_token: Callable[..., str]
) -> None:
    app = make_app(pg_services)
    token = tool_token()
    # Under the per-conversation cap of log_lead calls (crm.claims.DEFAULT_MAX_LEAD_UPDATES).
    emails = [f"pg{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(8)]
    payloads = [
        body("log_lead", {"name": f"P{i}", "email": e, "interest": "Enterprise"})
        for i, e in enumerate(emails)
    ]
    # Every call is sent twice at once (a retry racing the original), plus one more later.
    attempts = payloads * 2

    def send(payload: dict[str, Any]) -> dict[str, Any]:
        return post(app.test_client(), payload, token).json

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(send, attempts))
    answers.append(send(payloads[0]))
    by_call: dict[str, set[str]] = {}
    for payload, answer in zip(attempts + [payloads[0]], answers, strict=True):
        by_call.setdefault(payload["call_id"], set()).add(answer["output"])
    assert all(len(outputs) == 1 for outputs in by_call.values())
    with pg_services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Lead)) == len(emails)
        assert session.scalar(select(func.count()).select_from(ToolCall)) == len(emails)


def test_cors_allows_the_companys_origin_with_authorization(client: FlaskClient) -> None:
    headers = {"Origin": "https://app.acme-relay.example", "Access-Control-Request-Method": "POST"}
    response = client.options(URL, headers=headers)
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.acme-relay.example"
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    other = client.options(URL, headers={**headers, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
