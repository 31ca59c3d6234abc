"""`widget-api check-config` on the phone setup: the mistakes that leave a number silent."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from widget_api.companies import load_company_file
from widget_api.companies.models import CompanyConfig
from widget_api.phone.directory import phone_warnings
from widget_api.settings import BUNDLED_COMPANIES_DIR, Settings

NUMBER = "+15550001111"


def _company(company_id: str, *numbers: str) -> CompanyConfig:
    acme = load_company_file(BUNDLED_COMPANIES_DIR / "acme.toml")
    return acme.model_copy(update={"id": company_id, "phone_numbers": list(numbers)})


def _settings(**changes: Any) -> Settings:
    key = changes.pop("openai_api_key", None)  # the field is read under its env name
    return Settings(_env_file=None, OPENAI_API_KEY=key, **changes)  # type: ignore[call-arg]


KEY, SECRET, TOKEN = SecretStr("sk-test"), SecretStr("whsec_x"), SecretStr("twilio")


@pytest.mark.parametrize(
    ("companies", "settings", "expected"),
    [
        ([_company("acme", NUMBER)], {}, ["phone_not_configured"]),
        ([_company("acme", NUMBER)], {"openai_webhook_secret": SECRET}, ["OPENAI_API_KEY"]),
        (
            [_company("acme", NUMBER)],
            {"twilio_auth_token": TOKEN, "public_origin": "http://127.0.0.1:8000"},
            ["https://"],
        ),
        (
            [_company("acme", NUMBER), _company("globex", NUMBER)],
            {"openai_webhook_secret": SECRET, "openai_api_key": KEY},
            ["only acme answers"],
        ),
        (
            [_company("acme", NUMBER)],
            {
                "openai_webhook_secret": SECRET,
                "openai_api_key": KEY,
                "twilio_auth_token": TOKEN,
                "public_origin": "https://widget.example.com",
            },
            [],
        ),
        ([_company("acme")], {}, []),  # no phone channel wanted: nothing to say
    ],
)
def test_phone_setup_warnings(
    companies: list[CompanyConfig], settings: dict[str, Any], expected: list[str]
) -> None:
    warnings = phone_warnings(companies, _settings(**settings))
    assert len(warnings) == len(expected)
    for warning, needle in zip(warnings, expected, strict=True):
        assert needle in warning


def test_check_config_prints_the_phone_warnings(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from widget_api.cli import main

    text = (BUNDLED_COMPANIES_DIR / "acme.toml").read_text()
    (tmp_path / "acme.toml").write_text(f'phone_numbers = ["{NUMBER}"]\n' + text)
    monkeypatch.setenv("WIDGET_COMPANIES_DIR", str(tmp_path))
    monkeypatch.setenv("WIDGET_DATA_DIR", str(tmp_path / "data"))
    for name in ("OPENAI_WEBHOOK_SECRET", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["check-config"]) == 0
    assert "warning: phone: " in capsys.readouterr().out
