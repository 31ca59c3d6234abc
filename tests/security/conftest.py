"""A multi-company stack for the security suite: 20 generated companies (each with its own
docs in real Chroma and its own admin token) plus one company whose config is full of XSS
payloads, on real SQLite, the real model and the loopback fake OpenAI with a canary key."""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.fake_openai import FakeOpenAI
from tests.fuzz.api_fuzz import serve
from tests.fuzz.stack import build_stack, stack_settings
from widget_api.app import create_app
from widget_api.rate_limit import SessionRateLimiter
from widget_api.services import Services

N_COMPANIES = 20
# Recognisable values: any of them in a response, page or log line is a leak.
CANARY_OPENAI_KEY = "sk-canary-OPENAI-" + secrets.token_hex(16)
CANARY_SIGNING_KEY = "canary-SIGNING-" + secrets.token_hex(24)
XSS = '<img src=x onerror="window.__xss=1;alert(1)">'
XSS_SCRIPT = "</script><script>window.__xss=2;alert(2)</script>"
XSS_ATTR = '" autofocus onfocus="window.__xss=3" x="'


def company_id(i: int) -> str:
    return f"co{i:02d}"


def admin_token(cid: str) -> str:
    return f"adm-{cid}-canary-" + _TOKENS.setdefault(cid, secrets.token_hex(12))


_TOKENS: dict[str, str] = {}


def marker(cid: str) -> str:
    """A word only this company's documents contain."""
    return f"ZEBRA{cid.upper()}QUOKKA"


def site_origin(cid: str) -> str:
    return f"https://{cid}.example"


def _toml(values: dict[str, Any]) -> str:
    # JSON string and list literals are valid TOML basic strings and arrays.
    lines = [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in values.items()
             if not isinstance(v, dict | list) or k in ("allowed_origins",)]  # fmt: skip
    for table in ("theme", "meetings"):
        if table in values:
            lines.append(f"[{table}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in values[table].items()]
    for clip in values.get("clips", []):
        lines.append("[[clips]]")
        lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in clip.items()]
    return "\n".join(lines) + "\n"


def company_file(cid: str, *, name: str | None = None, greeting: str | None = None,
                 label: str | None = None, clip_title: str | None = None) -> str:  # fmt: skip
    return _toml({
        "display_name": name or f"Company {cid}",
        "summary": f"{cid} sells widgets for testing isolation.",
        "persona": f"You are the sales rep of {cid}.",
        "greeting": greeting or f"Hello from {cid}.",
        "admin_token_env": f"{cid.upper()}_ADMIN_TOKEN",
        "allowed_origins": [site_origin(cid)],
        "theme": {"launcher_label": label or "Talk to sales"},
        "meetings": {"provider": "url", "base_url": f"https://{cid}.example/book"},
        "clips": [{"id": "tour", "title": clip_title or f"{cid} product tour",
                   "description": "A tour of the product.", "tags": ["tour"],
                   "video_url": f"https://media.{cid}.example/tour.mp4",
                   "duration_seconds": 60}],
    })  # fmt: skip


def write_companies(folder: Path) -> dict[str, str]:
    """The companies' files and docs; returns the admin-token environment."""
    env: dict[str, str] = {}
    ids = [company_id(i) for i in range(N_COMPANIES)] + ["xss"]
    for cid in ids:
        if cid == "xss":
            text = company_file(cid, name=XSS[:80], greeting=XSS_SCRIPT, label=XSS_ATTR[:40],
                                clip_title=XSS)  # fmt: skip
        else:
            text = company_file(cid)
        (folder / f"{cid}.toml").write_text(text, encoding="utf-8")
        docs = folder / cid / "docs"
        docs.mkdir(parents=True)
        (docs / "plans.md").write_text(
            f"# {cid} plans\n\nThe {cid} secret plan code is {marker(cid)}. Pricing starts at "
            f"{10 + len(cid)} dollars per seat per month, with a 14-day trial.\n\n"
            f"## Security\n\n{cid} encrypts data at rest. Contact {marker(cid)} support.\n",
            encoding="utf-8",
        )
        env[f"{cid.upper()}_ADMIN_TOKEN"] = admin_token(cid)
    return env


@pytest.fixture(scope="session")
def sec_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=CANARY_OPENAI_KEY) as fake:
        yield fake


@pytest.fixture(scope="session")
def sec_stack(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, sec_openai: FakeOpenAI
) -> Services:
    root = tmp_path_factory.mktemp("security")
    companies = root / "companies"
    companies.mkdir()
    env = write_companies(companies)
    settings = stack_settings(
        root / "data", sec_openai, companies_dir=companies, secret_key=CANARY_SIGNING_KEY
    )
    return build_stack(settings, embedder, env=env)


@pytest.fixture
def make_sec_app(sec_stack: Services) -> Callable[..., Flask]:
    """An app over the shared stack with fresh rate limits (overridable Settings fields)."""

    def _make(**overrides: Any) -> Flask:
        settings = sec_stack.settings.model_copy(update=overrides)
        limiter = SessionRateLimiter(
            settings.session_rate_per_minute_per_client,
            settings.session_rate_per_minute_per_company,
            settings.session_daily_cap_per_company,
        )
        services = dataclasses.replace(sec_stack, settings=settings, rate_limiter=limiter)
        return create_app(services=services)

    return _make


@pytest.fixture
def sec_server(make_sec_app: Callable[..., Flask]) -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    with serve(make_sec_app()) as url:
        yield url


@pytest.fixture(scope="session")
def sec_shared_server(sec_stack: Services) -> Iterator[str]:
    """One server for read-mostly tests (generous rate limits so they never interfere)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    services = dataclasses.replace(sec_stack, rate_limiter=SessionRateLimiter(10**6, 10**6, 10**6))
    with serve(create_app(services=services)) as url:
        yield url
