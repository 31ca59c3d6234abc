"""POST /v1/realtime/client_secrets: GA request validation, auth, beta refusal, recording."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.fake_openai import FakeOpenAI

GOOD_SESSION: dict[str, Any] = {
    "type": "realtime",
    "model": "gpt-realtime",
    "instructions": "Sell things.",
    "output_modalities": ["audio"],
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "transcription": {"model": "gpt-4o-mini-transcribe", "language": "en"},
            "turn_detection": {
                "type": "server_vad",
                "threshold": 0.5,
                "create_response": True,
                "interrupt_response": True,
            },
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"},
    },
    "tools": [
        {
            "type": "function",
            "name": "search_knowledge",
            "description": "Search docs.",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        }
    ],
    "tool_choice": "auto",
}


def post(fake: FakeOpenAI, body: Any, *, key: str | None = None, **headers: str) -> httpx.Response:
    auth = {"Authorization": f"Bearer {key or fake.api_key}"}
    return httpx.post(
        fake.base_url + "/realtime/client_secrets",
        json=body,
        headers={**auth, **headers},
        timeout=5,
    )


def test_mints_ephemeral_key_with_effective_session(fake: FakeOpenAI) -> None:
    body = {"expires_after": {"anchor": "created_at", "seconds": 300}, "session": GOOD_SESSION}
    before = int(time.time())
    answer = post(fake, body)
    assert answer.status_code == 200
    data = answer.json()
    assert data["value"].startswith("ek_")
    assert before + 300 <= data["expires_at"] <= int(time.time()) + 300
    session = data["session"]
    assert session["object"] == "realtime.session" and session["id"].startswith("sess_")
    assert session["audio"]["output"]["voice"] == "marin"
    assert session["tools"] == GOOD_SESSION["tools"]
    assert session["max_output_tokens"] == "inf"
    assert fake.client_secret_requests == [body]
    assert fake.issued_secrets == {data["value"]: data["expires_at"]}


def test_default_ttl_is_ten_minutes(fake: FakeOpenAI) -> None:
    data = post(fake, {"session": {"type": "realtime"}}).json()
    assert data["expires_at"] - int(time.time()) in range(595, 601)


def test_openai_sdk_can_mint(fake: FakeOpenAI) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(api_key=fake.api_key, base_url=fake.base_url)
    secret = client.realtime.client_secrets.create(
        expires_after={"anchor": "created_at", "seconds": 60}, session=GOOD_SESSION
    )
    assert secret.value.startswith("ek_")
    assert fake.client_secret_requests[-1]["session"] == GOOD_SESSION
    assert "openai-beta" not in fake.client_secret_headers[-1]
    assert fake.api_key not in str(fake.client_secret_headers)


def _with(path: str, value: Any) -> dict[str, Any]:
    """GOOD_SESSION with one nested field replaced ("audio.output.voice") or removed (None)."""
    import copy

    session = copy.deepcopy(GOOD_SESSION)
    *parents, leaf = path.split(".")
    target = session
    for part in parents:
        target = target[part]
    if value is _REMOVE:
        del target[leaf]
    else:
        target[leaf] = value
    return {"session": session}


_REMOVE = object()
BAD_TOOL = {"type": "function", "name": "x", "parameters": {"type": "object"}, "strict": True}


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"session": {"model": "gpt-realtime"}}, "session.type", "missing_required_parameter"),
        (_with("type", "transcription_x"), "session.type", "invalid_value"),
        (
            {"expires_after": {"anchor": "now", "seconds": 60}},
            "expires_after.anchor",
            "invalid_value",
        ),
        (
            {"expires_after": {"anchor": "created_at", "seconds": 5}},
            "expires_after.seconds",
            "integer_below_min_value",
        ),
        (
            {"expires_after": {"anchor": "created_at", "seconds": 7201}},
            "expires_after.seconds",
            "integer_above_max_value",
        ),
        (
            {"expires_after": {"anchor": "created_at", "seconds": "60"}},
            "expires_after.seconds",
            "invalid_type",
        ),
        (
            _with("output_modalities", ["audio", "text"]),
            "session.output_modalities",
            "invalid_value",
        ),
        (
            _with("audio.input.format", {"type": "audio/pcm", "rate": 16000}),
            "session.audio.input.format.rate",
            "invalid_value",
        ),
        (
            _with("audio.output.format", {"type": "pcm16"}),
            "session.audio.output.format.type",
            "invalid_value",
        ),
        (_with("audio.output.voice", "nova"), "session.audio.output.voice", "invalid_value"),
        (_with("audio.output.speed", 2.0), "session.audio.output.speed", "decimal_above_max_value"),
        (_with("tools", [BAD_TOOL]), "session.tools[0].strict", "unknown_parameter"),
        (
            _with("tools", [{"type": "function", "description": "no name"}]),
            "session.tools[0].name",
            "missing_required_parameter",
        ),
        (_with("tools", [{"type": "code_interpreter"}]), "session.tools[0].type", "invalid_value"),
        (_with("tool_choice", "always"), "session.tool_choice", "invalid_value"),
        (_with("tool_choice", {"type": "function"}), "session.tool_choice.name", "invalid_type"),
        (_with("temperature", 0.8), "session.temperature", "unknown_parameter"),
        (_with("modalities", ["text", "audio"]), "session.modalities", "unknown_parameter"),
        (_with("max_output_tokens", 5000), "session.max_output_tokens", "integer_above_max_value"),
        (
            _with("audio.input.turn_detection", {"type": "push_to_talk"}),
            "session.audio.input.turn_detection.type",
            "invalid_value",
        ),
        ({"session": GOOD_SESSION, "model": "gpt-realtime"}, "model", "unknown_parameter"),
    ],
)
def test_rejects_invalid_body(
    fake: FakeOpenAI, body: dict[str, Any], param: str, code: str
) -> None:
    answer = post(fake, body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert set(error) == {"message", "type", "param", "code"}
    assert fake.issued_secrets == {}
    assert fake.client_secret_requests == [body]


def test_rejects_unparseable_json(fake: FakeOpenAI) -> None:
    answer = httpx.post(
        fake.base_url + "/realtime/client_secrets",
        content=b"{not json",
        headers={"Authorization": f"Bearer {fake.api_key}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, None),
        ({"Authorization": "Bearer sk-wrong"}, "invalid_api_key"),
        ({"Authorization": "Basic abc"}, "invalid_api_key"),
    ],
)
def test_requires_the_standard_key(
    fake: FakeOpenAI, headers: dict[str, str], code: str | None
) -> None:
    answer = httpx.post(
        fake.base_url + "/realtime/client_secrets",
        json={"session": {"type": "realtime"}},
        headers=headers,
    )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == code


def test_ephemeral_key_cannot_mint(fake: FakeOpenAI) -> None:
    ek = post(fake, {"session": {"type": "realtime"}}).json()["value"]
    assert post(fake, {"session": {"type": "realtime"}}, key=ek).status_code == 401


def test_beta_header_is_refused(fake: FakeOpenAI) -> None:
    answer = post(fake, {"session": {"type": "realtime"}}, **{"OpenAI-Beta": "realtime=v1"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "beta_api_shape_disabled"
