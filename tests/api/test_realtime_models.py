"""Current models per company, SDK-typed session bodies, and deprecation warnings from the SDK."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.fake_openai import FakeOpenAI
from tests.fake_openai.sdk_types import (
    check_accept,
    check_client_event,
    check_client_secret_request,
    check_session,
)
from widget_api.cli import model_warnings
from widget_api.companies.models import CompanyConfig
from widget_api.realtime import models
from widget_api.realtime.session_config import PCMU, build_session
from widget_api.services import get_services

BASE: dict[str, Any] = {
    "id": "beta",
    "display_name": "Beta",
    "summary": "Sells things.",
    "persona": "You are Bo.",
    "greeting": "Hi.",
    "meetings": {"provider": "url", "base_url": "https://example.com/book"},
}
TOOLS = [{"type": "function", "name": "t", "description": "d", "parameters": {"type": "object"}}]


def company(**fields: Any) -> CompanyConfig:
    return CompanyConfig.model_validate({**BASE, **fields})


def test_defaults_are_current_models_the_sdk_does_not_deprecate() -> None:
    config = company()
    assert (config.model, config.transcription_model) == (
        models.DEFAULT_MODEL,
        models.DEFAULT_TRANSCRIPTION_MODEL,
    )
    assert config.reasoning_effort == "low"
    assert models.deprecation(config.model, "realtime") is None
    assert models.deprecation(config.transcription_model, "transcription") is None
    assert model_warnings(config.model, config.transcription_model) == []


def test_reasoning_efforts_match_the_sdk() -> None:
    from openai.types.realtime.realtime_reasoning_effort import RealtimeReasoningEffort

    assert set(get_args(models.ReasoningEffort)) == set(get_args(RealtimeReasoningEffort))


@pytest.mark.parametrize(
    ("fields", "reasoning", "transcription"),
    [
        ({}, {"effort": "low"}, {"model": "gpt-live-transcribe", "languages": ["en"]}),
        (
            {
                "model": "gpt-realtime-2.1-mini",
                "reasoning_effort": "minimal",
                "language": "de-DE",
                "transcription_model": "gpt-transcribe",
                "transcription_keywords": ["Beta Cloud", "Pro plan"],
                "transcription_languages": ["de", "en"],
            },
            {"effort": "minimal"},
            {
                "model": "gpt-transcribe",
                "languages": ["de", "en"],
                "keywords": ["Beta Cloud", "Pro plan"],
            },
        ),
        (
            {"model": "gpt-realtime", "transcription_model": "whisper-1", "language": "fr"},
            None,
            {"model": "whisper-1", "language": "fr"},
        ),
        ({"reasoning_effort": None}, None, {"model": "gpt-live-transcribe", "languages": ["en"]}),
    ],
)
def test_session_is_sdk_typed_for_each_model_choice(
    fields: dict[str, Any], reasoning: dict[str, str] | None, transcription: dict[str, Any]
) -> None:
    session = build_session(company(**fields), TOOLS, instructions="Be brief.")
    check_session(session)
    check_client_event({"type": "session.update", "session": session})
    check_client_secret_request(
        {"expires_after": {"anchor": "created_at", "seconds": 600}, "session": session}
    )
    assert session.get("reasoning") == reasoning
    assert session["audio"]["input"]["transcription"] == transcription


def test_phone_session_is_pcmu_both_ways_and_a_valid_accept_body() -> None:
    session = build_session(company(), TOOLS, instructions="Be brief.", audio_format=PCMU)
    assert session["audio"]["input"]["format"] == session["audio"]["output"]["format"] == PCMU
    check_accept(session)


def test_session_route_body_is_sdk_typed(
    client: FlaskClient, app: Flask, fake_openai: FakeOpenAI
) -> None:
    before = len(fake_openai.client_secret_requests)
    response = client.post(
        "/api/realtime/session",
        json={"companyId": "acme"},
        headers={"Origin": "https://acme-relay.example"},
    )
    assert response.status_code == 200, response.json
    check_client_secret_request(fake_openai.client_secret_requests[before])
    assert get_services(app).companies.get("acme").model == "gpt-realtime-2"


def test_deprecations_are_read_from_the_installed_sdk() -> None:
    legacy = models.deprecation("gpt-realtime", "realtime")
    transcribe = models.deprecation("gpt-4o-mini-transcribe", "transcription")
    assert legacy is not None and transcribe is not None
    # The dates the SDK 3.57 docstrings announce; a newer SDK may add or move them.
    assert legacy.shutdown_date == "2027-01-20" and transcribe.shutdown_date == "2027-02-26"
    assert models.deprecation("gpt-realtime-2", "realtime") is None


def test_parser_reads_wrapped_bullets() -> None:
    source = '''
    model: str
    """The model.

    Deprecated values:

    - "old-a", "old-b":
      Announced shutdown date: 2030-01-02. See https://example.com
    - "old-c": Announced shutdown date: 2031-03-04.
    """
    '''
    found = models.parse_deprecations(source, "realtime")
    assert {k: v.shutdown_date for k, v in found.items()} == {
        "old-a": "2030-01-02",
        "old-b": "2030-01-02",
        "old-c": "2031-03-04",
    }


def test_check_config_warns_about_deprecated_models(
    tmp_path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    from widget_api.cli import main

    (tmp_path / "old.toml").write_text(
        'display_name = "Old"\nsummary = "s"\npersona = "p"\ngreeting = "g"\n'
        'model = "gpt-realtime"\ntranscription_model = "gpt-4o-mini-transcribe"\n'
        '[meetings]\nprovider = "url"\nbase_url = "https://example.com/b"\n'
    )
    monkeypatch.setenv("WIDGET_COMPANIES_DIR", str(tmp_path))
    monkeypatch.setenv("WIDGET_DATA_DIR", str(tmp_path / "data"))
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "warning: old: realtime model 'gpt-realtime'" in out and "2027-01-20" in out
    assert "warning: old: transcription model 'gpt-4o-mini-transcribe'" in out
    assert "2027-02-26" in out
