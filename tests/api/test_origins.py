"""Origin checks: exact (scheme, host, port) matches; look-alikes never pass."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from widget_api.companies import CompanyConfig
from widget_api.origins import frame_ancestors, is_origin_allowed

SERVER = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def company() -> CompanyConfig:
    return CompanyConfig.model_validate(
        {
            "id": "acme",
            "display_name": "Acme",
            "summary": "s",
            "persona": "p",
            "greeting": "g",
            "meetings": {"provider": "url", "base_url": "https://acme.com/book"},
            "allowed_origins": ["https://acme.com", "https://*.acme.io", "http://localhost:3000"],
        }
    )


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://acme.com", True),
        ("https://www.acme.io", True),
        ("https://a.b.acme.io", True),
        ("http://localhost:3000", True),
        (SERVER, True),
        ("http://localhost:8000", True),  # the server's own origin, another loopback spelling
        # look-alikes and tricks
        ("https://acme.com.evil.com", False),
        ("https://evilacme.com", False),
        ("https://acme.com@evil.com", False),
        ("https://evil.com#@acme.com", False),
        ("https://acme.com.", False),
        ("https://ACME.com", False),
        ("https://acme.com:443", False),  # not the canonical form a browser sends
        ("https://acme.com/", False),
        ("https://acme.com:8443", False),
        ("http://acme.com", False),
        ("https://acme.io", False),  # the wildcard covers subdomains only
        ("https://evilacme.io", False),
        ("https://acme.io.evil.com", False),
        ("http://localhost:3001", False),
        ("http://127.0.0.1:8001", False),
        ("null", False),
        ("", False),
        (None, False),
        ("acme.com", False),
        ("https://acme.com\n", False),
        ("https://acme .com", False),
    ],
)
def test_origin_table(company: CompanyConfig, origin: str | None, allowed: bool) -> None:
    assert is_origin_allowed(origin, company, SERVER) is allowed


def test_public_server_origin_is_allowed_without_loopback_aliases(company: CompanyConfig) -> None:
    server = "https://widget.example.net"
    assert is_origin_allowed("https://widget.example.net", company, server)
    assert not is_origin_allowed("http://127.0.0.1:8000", company, server)


def test_frame_ancestors_lists_self_server_and_company_sites(company: CompanyConfig) -> None:
    sources = frame_ancestors(company, "https://widget.example.net").split()
    assert sources == [
        "'self'",
        "https://widget.example.net",
        "https://acme.com",
        "https://*.acme.io",
        "http://localhost:3000",
    ]


_WILDCARD = re.compile(r"https://(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+acme\.io")
_EXACT = {
    "https://acme.com",
    "http://localhost:3000",
    SERVER,
    "http://localhost:8000",
    "http://[::1]:8000",
}
_PIECES = st.sampled_from(
    [
        "",
        ".",
        "-",
        "@",
        ":",
        ":443",
        "/",
        "#",
        "?",
        "%2e",
        "\\",
        "a",
        "evil",
        "com",
        "www.",
        "ACME",
        " ",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    base=st.sampled_from(
        ["https://acme.com", "https://www.acme.io", "http://localhost:3000", SERVER]
    ),
    prefix=st.lists(_PIECES, max_size=3).map("".join),
    infix=st.lists(_PIECES, max_size=3).map("".join),
    suffix=st.lists(_PIECES, max_size=3).map("".join),
)
def test_mutated_origins_pass_only_when_exactly_allowed(
    company: CompanyConfig, base: str, prefix: str, infix: str, suffix: str
) -> None:
    scheme, rest = base.split("://", 1)
    origin = f"{prefix}{scheme}://{infix}{rest}{suffix}"
    expected = origin in _EXACT or bool(_WILDCARD.fullmatch(origin))
    assert is_origin_allowed(origin, company, SERVER) is expected
