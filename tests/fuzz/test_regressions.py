"""Bugs the fuzzers found, pinned over HTTP: each answered a 500 before its fix."""

from __future__ import annotations

import pytest

from tests.fuzz.stack import ADMIN_TOKEN
from widget_api.app import create_app
from widget_api.relay.frames import parse
from widget_api.services import Services
from widget_api.tokens import issue_tool_token

DEEP = "[" * 20_000 + "]" * 20_000  # 40 KB: under the body limit, deeper than json can go


@pytest.mark.parametrize(
    ("path", "method", "auth"),
    [
        ("/api/realtime/session", "post", None),
        ("/api/chat/acme/tool", "post", "tool"),
        ("/api/admin/acme/leads/1", "patch", "admin"),
        ("/api/admin/acme/leads/1/status", "post", "admin"),
    ],
)
def test_deeply_nested_json_bodies_are_invalid_json(
    fuzz_stack: Services, path: str, method: str, auth: str | None
) -> None:
    client = create_app(services=fuzz_stack).test_client()
    headers = {"Origin": fuzz_stack.settings.server_origin}
    if auth == "tool":
        token = issue_tool_token(fuzz_stack.signing_key, "acme", "ws_deep", 600)
        headers["Authorization"] = f"Bearer {token}"
    elif auth == "admin":
        headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    response = getattr(client, method)(
        path, data=DEEP, headers=headers, content_type="application/json"
    )
    assert (response.status_code, response.get_json()["error"]["code"]) == (400, "invalid_json")


def test_deeply_nested_relay_frames_are_not_events() -> None:
    assert parse(DEEP) is None
    assert parse('{"a":' * 5000) is None


@pytest.mark.parametrize(
    "query",
    [{"until": "9999-12-31"}, {"since": "0001-01-01", "until": "9999-12-31"},
     {"search": "a\x00b"}, {"search": "\x00"}, {"offset": "87873527132454518784"}],
)  # fmt: skip
def test_extreme_listing_filters_are_answers_not_500(
    running_server: tuple[str, Services, str], query: dict[str, str]
) -> None:
    """Regressions: the day after 9999-12-31 overflowed; NUL in a search broke PostgreSQL; an
    offset beyond a BIGINT reached the driver."""
    import requests

    url, _services, _database = running_server
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for path in ("/api/admin/acme/leads", "/api/admin/acme/leads.csv"):
        r = requests.get(url + path, params=query, headers=headers, timeout=10)
        assert r.status_code in (200, 422), (path, query, r.status_code, r.text[:200])
        if "until" in query:
            assert r.status_code == 200
