"""Admin tokens and the page's session cookie, without HTTP."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import SecretStr

from widget_api.crm import admin_auth
from widget_api.errors import DomainError

KEY = b"s" * 48


def _company(cid: str, token: str | None) -> SimpleNamespace:
    return SimpleNamespace(id=cid, admin_token=SecretStr(token) if token else None)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        (None, None),
    ],
)
def test_bearer_parsing(header: str | None, token: str | None) -> None:
    assert admin_auth.bearer_token(header) == token


def test_unconfigured_token_never_matches() -> None:
    assert not admin_auth.token_matches("", None)
    assert not admin_auth.token_matches("x", "")
    assert admin_auth.token_matches("same", "same")


@pytest.mark.parametrize("candidate", ["t-globex", "t-nope", "", None])
def test_authorize_answers_every_token_but_this_companys_alike(candidate: str | None) -> None:
    admin_auth.authorize("t-acme", _company("acme", "t-acme"))
    with pytest.raises(DomainError) as refused:
        admin_auth.authorize(candidate, _company("acme", "t-acme"))
    assert refused.value.code == "admin_token_invalid"


def test_generated_token_file_is_the_fallback(tmp_path: Path) -> None:
    from widget_api.companies import admin_token_path

    path = admin_token_path(tmp_path, "acme")
    path.parent.mkdir(parents=True)
    path.write_text("from-file\n")
    settings = SimpleNamespace(data_dir=tmp_path)
    assert admin_auth.resolve_admin_token(_company("acme", None), settings) == "from-file"
    assert admin_auth.resolve_admin_token(_company("acme", "env"), settings) == "env"
    assert admin_auth.resolve_admin_token(_company("globex", None), settings) is None


def test_session_cookie_round_trip_and_scope() -> None:
    cookie = admin_auth.issue_session_cookie(KEY, "acme", "t-acme")
    session = admin_auth.read_session_cookie(KEY, cookie, company_id="acme", token="t-acme")
    assert session is not None and session.company_id == "acme" and len(session.csrf_token) >= 24
    assert admin_auth.csrf_matches(session, session.csrf_token)
    assert not admin_auth.csrf_matches(session, "") and not admin_auth.csrf_matches(session, None)
    # another company, a rotated token, another server key, a tampered value: all rejected
    assert admin_auth.read_session_cookie(KEY, cookie, company_id="globex", token="t-acme") is None
    assert admin_auth.read_session_cookie(KEY, cookie, company_id="acme", token="rotated") is None
    assert (
        admin_auth.read_session_cookie(b"x" * 48, cookie, company_id="acme", token="t-acme") is None
    )
    assert (
        admin_auth.read_session_cookie(KEY, cookie[:-2] + "xx", company_id="acme", token="t-acme")
        is None
    )
    assert admin_auth.read_session_cookie(KEY, None, company_id="acme", token="t-acme") is None


def test_session_cookie_expires() -> None:
    cookie = admin_auth.issue_session_cookie(KEY, "acme", "t-acme")
    assert (
        admin_auth.read_session_cookie(KEY, cookie, company_id="acme", token="t-acme", max_age=-1)
        is None
    )
