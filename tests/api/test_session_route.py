"""POST /api/realtime/session against the loopback fake of OpenAI's client_secrets endpoint."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.conftest import SERVER_ORIGIN, SITE_ORIGIN
from tests.fake_openai import FakeOpenAI
from widget_api.instructions import build_instructions
from widget_api.services import get_services
from widget_api.tokens import verify_tool_token

URL = "/api/realtime/session"


def post(client: FlaskClient, body: Any = None, *, origin: str | None = SITE_ORIGIN, **kw: Any):  # type: ignore[no-untyped-def]
    headers = {"Origin": origin} if origin else {}
    if body is not None and "data" not in kw:
        kw["json"] = body
    return client.post(URL, headers=headers, **kw)


def test_session_answer_shape_and_tool_token(
    client: FlaskClient, app: Flask, fake_openai: FakeOpenAI
) -> None:
    response = post(client, {"companyId": "acme"})
    assert response.status_code == 200, response.json
    body = response.json
    assert set(body) == {
        "client_secret", "expires_at", "model", "session_id", "tool_token", "tools",
        "transports", "calls_url", "relay_path", "max_duration_seconds", "resume_token",
    }  # fmt: skip
    assert body["client_secret"].startswith("ek_")
    assert body["client_secret"] in fake_openai.issued_secrets
    assert body["model"] == "gpt-realtime-2"
    assert body["transports"] == ["webrtc", "relay", "text"]
    assert body["calls_url"] == fake_openai.base_url + "/realtime/calls"
    assert [t["name"] for t in body["tools"]] == [
        "search_knowledge", "get_demo_clip", "create_meeting_link", "log_lead",
    ]  # fmt: skip
    services = get_services(app)
    claims = verify_tool_token(
        services.signing_key, body["tool_token"], company_id="acme", session_id=body["session_id"]
    )
    assert claims.session_id == body["session_id"]
    assert response.headers["Cache-Control"] == "no-store"


def test_exact_ga_request_body(client: FlaskClient, app: Flask, fake_openai: FakeOpenAI) -> None:
    before = len(fake_openai.client_secret_requests)
    assert post(client, {"companyId": "acme"}).status_code == 200
    sent = fake_openai.client_secret_requests[before]
    services = get_services(app)
    acme = services.companies.get("acme")
    pcm = {"type": "audio/pcm", "rate": 24000}
    assert sent == {
        "expires_after": {"anchor": "created_at", "seconds": 600},
        "session": {
            "type": "realtime",
            "model": "gpt-realtime-2",
            "instructions": build_instructions(acme),
            "output_modalities": ["audio"],
            "audio": {
                "input": {
                    "format": pcm,
                    "transcription": {
                        "model": "gpt-live-transcribe",
                        "languages": ["en"],
                        "keywords": ["Acme Relay", "Starter", "Growth", "Enterprise"],
                    },
                    "noise_reduction": {"type": "near_field"},
                    "turn_detection": {
                        "type": "semantic_vad",
                        "eagerness": "auto",
                        "create_response": True,
                        "interrupt_response": True,
                    },
                },
                "output": {"format": pcm, "voice": "marin"},
            },
            "tools": services.tools.declarations(acme),
            "tool_choice": "auto",
            "reasoning": {"effort": "low"},
        },
    }
    headers = {k.lower(): v for k, v in fake_openai.client_secret_headers[before].items()}
    # The fake answers 401 unless the standard key is the bearer; it records it redacted.
    assert headers["authorization"].startswith("Bearer ")
    assert not any(k.startswith("openai-beta") for k in headers)


def test_conversation_start_is_recorded(client: FlaskClient, app: Flask) -> None:
    from sqlalchemy import select

    from widget_api.crm.models import Conversation

    session_id = post(client, {"companyId": "acme"}).json["session_id"]
    with get_services(app).db.session() as session:
        row = session.scalars(
            select(Conversation).where(Conversation.session_id == session_id)
        ).one()
    assert (row.company_id, row.transport) == ("acme", "webrtc")


@pytest.mark.parametrize(
    ("kind", "seconds", "status", "code"),
    [
        ("http_500", 0.0, 502, "upstream_error"),
        ("malformed_json", 0.0, 502, "upstream_error"),
        ("close_mid_response", 0.0, 502, "upstream_error"),
        ("refuse", 0.0, 502, "upstream_error"),
        ("slow", 3.0, 504, "upstream_timeout"),
        ("never_answer", 0.0, 504, "upstream_timeout"),
    ],
)
def test_upstream_faults_map_to_stable_codes(
    client: FlaskClient, fake_openai: FakeOpenAI, kind: str, seconds: float, status: int, code: str
) -> None:
    fake_openai.set_fault(kind, endpoint="client_secrets", seconds=seconds)  # type: ignore[arg-type]
    response = post(client, {"companyId": "acme"})
    assert (response.status_code, response.json["error"]["code"]) == (status, code)


def test_upstream_unreachable_is_502(make_app: Callable[..., Flask]) -> None:
    app = make_app(openai_base_url="http://127.0.0.1:9/v1")
    response = post(app.test_client(), {"companyId": "acme"})
    assert (response.status_code, response.json["error"]["code"]) == (502, "upstream_error")


def test_no_key_answers_realtime_unavailable_with_text_fallback(
    make_app: Callable[..., Flask], fake_openai: FakeOpenAI
) -> None:
    before = len(fake_openai.client_secret_requests)
    app = make_app(openai_api_key=None)
    response = post(app.test_client(), {"companyId": "acme"})
    assert response.status_code == 503
    error = response.json["error"]
    assert error["code"] == "realtime_unavailable"
    assert error["details"] == [{"transports": ["text"], "relay_path": "/ws/realtime/acme"}]
    assert len(fake_openai.client_secret_requests) == before


def test_api_key_never_appears_in_answers_or_logs(
    client: FlaskClient, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bodies = [post(client, {"companyId": "acme"}).get_data(as_text=True)]
    for kind in ("http_500", "malformed_json"):
        fake_openai.set_fault(kind, endpoint="client_secrets")  # type: ignore[arg-type]
        bodies.append(post(client, {"companyId": "acme"}).get_data(as_text=True))
    fake_openai.clear_faults()
    bodies.append(client.get("/readyz").get_data(as_text=True))
    key = fake_openai.api_key
    assert all(key not in b for b in bodies)
    assert all(key not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        (SITE_ORIGIN, 200),
        ("https://app.acme-relay.example", 200),
        (SERVER_ORIGIN, 200),
        ("https://acme-relay.example.evil.com", 403),
        ("https://evilacme-relay.example", 403),
        ("null", 403),
        (None, 403),
    ],
)
def test_origin_is_checked(client: FlaskClient, origin: str | None, status: int) -> None:
    response = post(client, {"companyId": "acme"}, origin=origin)
    assert response.status_code == status
    if status == 403:
        assert response.json["error"]["code"] == "origin_not_allowed"


def test_rate_limit_per_client_with_retry_after(make_app: Callable[..., Flask]) -> None:
    client = make_app(session_rate_per_minute_per_client=2).test_client()
    assert [post(client, {"companyId": "acme"}).status_code for _ in range(2)] == [200, 200]
    response = post(client, {"companyId": "acme"})
    assert (response.status_code, response.json["error"]["code"]) == (429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1


def test_daily_cap_per_company(make_app: Callable[..., Flask]) -> None:
    client = make_app(session_daily_cap_per_company=1).test_client()
    assert post(client, {"companyId": "acme"}).status_code == 200
    response = post(client, {"companyId": "acme"})
    assert (response.status_code, response.json["error"]["code"]) == (429, "daily_cap_reached")


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"body": {"companyId": "nope"}}, 404, "unknown_company"),
        ({"body": {}}, 422, "validation_failed"),
        ({"body": {"companyId": 7}}, 422, "validation_failed"),
        ({"body": {"companyId": ""}}, 422, "validation_failed"),
        ({"body": {"companyId": "acme", "extra": 1}}, 422, "validation_failed"),
        ({"body": ["acme"]}, 422, "validation_failed"),
        ({"data": "{not json", "content_type": "application/json"}, 400, "invalid_json"),
        ({"data": b"\xff\xfe", "content_type": "application/json"}, 400, "invalid_json"),
        (
            {"data": "companyId=acme", "content_type": "application/x-www-form-urlencoded"},
            415,
            "unsupported_media_type",
        ),
        ({"data": "", "content_type": "text/plain"}, 415, "unsupported_media_type"),
        (
            {
                "data": json.dumps({"companyId": "acme", "pad": "x" * 70_000}),
                "content_type": "application/json",
            },
            413,
            "payload_too_large",
        ),
    ],
)
def test_bad_requests_get_json_errors(
    client: FlaskClient, kwargs: dict[str, Any], status: int, code: str
) -> None:
    response = post(client, kwargs.pop("body", None), **kwargs)
    assert response.status_code == status
    assert response.is_json and response.json["error"]["code"] == code


def test_validation_errors_never_echo_input(client: FlaskClient) -> None:
    marker = "<script>alert(1)</script>"
    response = post(client, {"companyId": {"nested": marker}})
    assert response.status_code == 422
    assert marker not in response.get_data(as_text=True)
    assert response.json["error"]["details"][0]["field"] == "companyId"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_method_is_405_json(client: FlaskClient, method: str) -> None:
    response = client.open(URL, method=method)
    assert (response.status_code, response.json["error"]["code"]) == (405, "method_not_allowed")


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [(SITE_ORIGIN, True), ("https://acme-relay.example.evil.com", False)],
)
def test_cors_preflight_only_for_allowed_origins(
    client: FlaskClient, origin: str, allowed: bool
) -> None:
    response = client.options(
        URL,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 200
    assert (response.headers.get("Access-Control-Allow-Origin") == origin) is allowed
    assert "*" not in response.headers.get("Access-Control-Allow-Origin", "")


def test_a_resume_token_continues_the_same_conversation(client: FlaskClient) -> None:
    first = client.post(
        "/api/realtime/session",
        json={"companyId": "acme", "page_url": "https://acme-relay.example/pricing",
              "privacy_accepted": True},
        headers={"Origin": "https://acme-relay.example"},
    ).json
    again = client.post(
        "/api/realtime/session",
        json={"companyId": "acme", "resume_token": first["resume_token"]},
        headers={"Origin": "https://acme-relay.example"},
    ).json
    assert again["session_id"] == first["session_id"]
    forged = client.post(
        "/api/realtime/session",
        json={"companyId": "acme", "resume_token": first["resume_token"][:-2] + "xx"},
        headers={"Origin": "https://acme-relay.example"},
    ).json
    assert forged["session_id"] != first["session_id"]
