"""Signed tool tokens: scoped to company and session, expiring, tamper-evident."""

from __future__ import annotations

import pytest

from widget_api.errors import DomainError
from widget_api.tokens import issue_tool_token, verify_tool_token

KEY = b"k" * 32


def test_round_trip_returns_claims() -> None:
    token = issue_tool_token(KEY, "acme", "ws_1", 60, now=1000)
    claims = verify_tool_token(KEY, token, company_id="acme", session_id="ws_1", now=1001)
    assert (claims.company_id, claims.session_id, claims.expires_at) == ("acme", "ws_1", 1060)


def _flip_last(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


@pytest.mark.parametrize(
    ("mutate", "kwargs", "code"),
    [
        (lambda t: t, {"now": 2000}, "token_expired"),
        (lambda t: t, {"company_id": "globex"}, "token_wrong_scope"),
        (lambda t: t, {"session_id": "ws_2"}, "token_wrong_scope"),
        (_flip_last, {}, "token_invalid"),
        (lambda t: "x" + t, {}, "token_invalid"),
        (lambda t: t.replace(".", ""), {}, "token_invalid"),
        (lambda t: t + ".x", {}, "token_invalid"),
        (lambda t: "", {}, "token_invalid"),
        (lambda t: "é." + t.split(".")[1], {}, "token_invalid"),
        (lambda t: t * 50, {}, "token_invalid"),
    ],
)
def test_bad_tokens_raise_stable_codes(mutate, kwargs, code) -> None:  # type: ignore[no-untyped-def]
    token = mutate(issue_tool_token(KEY, "acme", "ws_1", 60, now=1000))
    args = {"company_id": "acme", "session_id": "ws_1", "now": 1001, **kwargs}
    with pytest.raises(DomainError) as info:
        verify_tool_token(KEY, token, **args)
    assert info.value.code == code


def test_token_signed_with_another_key_is_invalid() -> None:
    token = issue_tool_token(b"other" * 8, "acme", "ws_1", 60)
    with pytest.raises(DomainError) as info:
        verify_tool_token(KEY, token, company_id="acme")
    assert info.value.code == "token_invalid"
