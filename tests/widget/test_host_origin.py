"""The server trusts its configured public origin, never a request's Host header.

DNS rebinding: a page on evil.example whose name is re-pointed at this server makes requests
with `Host: evil.example` and `Origin: http://evil.example`. Over a real socket, such a
WebSocket handshake is refused and `frame-ancestors` never names the forged host.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.widget.conftest import recv_until, serve

PUBLIC = "https://widget.example.com"


@pytest.fixture
def server(make_app: Callable[..., Any]) -> Iterator[tuple[str, int]]:
    with serve(make_app()) as base:
        yield base, int(base.rsplit(":", 1)[1])


def _handshake(port: int, host: str, origin: str) -> int:
    """Status of a WebSocket handshake sent to this server with the given Host and Origin."""
    url = f"ws://{host}/ws/realtime/acme?mode=text"
    try:
        with connect(url, origin=origin, open_timeout=10, address=("127.0.0.1", port)) as ws:  # type: ignore[arg-type]
            recv_until(ws, lambda e: e["type"] == "widget.notice")
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


def test_a_forged_host_does_not_make_its_origin_ours(server: tuple[str, int]) -> None:
    base, port = server
    assert _handshake(port, f"127.0.0.1:{port}", base) == 101  # the configured origin
    forged = f"evil.example:{port}"
    assert _handshake(port, forged, f"http://{forged}") == 403


def test_frame_ancestors_never_name_the_requests_host(server: tuple[str, int]) -> None:
    base, port = server
    r = requests.get(base + "/widget/acme", headers={"Host": f"evil.example:{port}"}, timeout=10)
    csp = r.headers["Content-Security-Policy"]
    assert "evil.example" not in csp
    ancestors = next(p for p in csp.split("; ") if p.startswith("frame-ancestors"))
    assert f"http://127.0.0.1:{port}" in ancestors
    blocked = requests.get(
        base + "/widget/acme", params={"host": f"http://evil.example:{port}"},
        headers={"Host": f"evil.example:{port}"}, timeout=10,
    )  # fmt: skip
    assert blocked.status_code == 403


def test_the_configured_public_origin_is_the_one_trusted(make_app: Callable[..., Any]) -> None:
    """Behind a proxy: the public origin is allowed whatever Host the proxy forwards."""
    with serve(make_app(public_origin=PUBLIC)) as base:
        port = int(base.rsplit(":", 1)[1])
        assert _handshake(port, "widget.example.com", PUBLIC) == 101
        assert _handshake(port, f"127.0.0.1:{port}", base) == 403  # no longer our origin
        csp = requests.get(base + "/widget/acme", timeout=10).headers["Content-Security-Policy"]
        assert f"frame-ancestors 'self' {PUBLIC}" in csp
        assert "wss://widget.example.com" in csp  # the widget's socket, on the public origin
