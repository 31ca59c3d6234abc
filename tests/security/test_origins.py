"""Origin checks and frame-ancestors against look-alike hosts, over real HTTP and WebSocket."""

from __future__ import annotations

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.security.conftest import company_id, site_origin

C = company_id(8)
ALLOWED = site_origin(C)  # https://co08.example
LOOK_ALIKES = [
    "https://co08.example.evil.com",
    "https://evilco08.example",
    "https://evil-co08.example",
    "https://co08.example@evil.com",
    "https://evil.com@co08.example",
    "https://co08.example.",
    "HTTPS://CO08.EXAMPLE",
    "https://CO08.example",
    "http://co08.example",
    "https://co08.example:8443",
    "https://co08.example%2eevil.com",
    "https://co08.example\\@evil.com",
    "https://co08.example/",
    "https://co08.example, https://evil.com",
    "https://co08.example https://evil.com",
    "https://xco08.example",
    "wss://co08.example",
    "null",
    "",
]


@pytest.mark.parametrize("origin", LOOK_ALIKES)
def test_session_route_refuses_look_alike_origins(sec_shared_server: str, origin: str) -> None:
    r = requests.post(f"{sec_shared_server}/api/realtime/session", json={"companyId": C},
                      headers={"Origin": origin}, timeout=10)  # fmt: skip
    assert (r.status_code, r.json()["error"]["code"]) == (403, "origin_not_allowed")
    assert "Access-Control-Allow-Origin" not in r.headers


def test_session_route_refuses_a_missing_origin_and_allows_the_real_one(
    sec_shared_server: str,
) -> None:
    missing = requests.post(f"{sec_shared_server}/api/realtime/session", json={"companyId": C},
                            timeout=10)  # fmt: skip
    assert missing.status_code == 403
    ok = requests.post(f"{sec_shared_server}/api/realtime/session", json={"companyId": C},
                       headers={"Origin": ALLOWED}, timeout=10)  # fmt: skip
    assert ok.status_code == 200 and ok.headers["Access-Control-Allow-Origin"] == ALLOWED


@pytest.mark.parametrize("origin", [o for o in LOOK_ALIKES if o.strip()])
def test_relay_websocket_refuses_look_alike_origins(sec_shared_server: str, origin: str) -> None:
    url = sec_shared_server.replace("http://", "ws://") + f"/ws/realtime/{C}?mode=text"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, origin=origin, open_timeout=5)  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403


def test_relay_websocket_refuses_a_missing_origin(sec_shared_server: str) -> None:
    url = sec_shared_server.replace("http://", "ws://") + f"/ws/realtime/{C}?mode=text"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=5)
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("host", [o for o in LOOK_ALIKES if o.strip()])
def test_widget_page_blocks_look_alike_hosts(sec_shared_server: str, host: str) -> None:
    r = requests.get(f"{sec_shared_server}/widget/{C}", params={"host": host}, timeout=10)
    assert r.status_code == 403


def test_frame_ancestors_names_only_the_companys_sites(sec_shared_server: str) -> None:
    r = requests.get(f"{sec_shared_server}/widget/{C}", params={"host": ALLOWED}, timeout=10)
    assert r.status_code == 200
    csp = {d.split()[0]: d.split()[1:] for d in r.headers["Content-Security-Policy"].split("; ")}
    sources = set(csp["frame-ancestors"])
    assert ALLOWED in sources
    assert not any("evil" in s or s in ("*", "https:", "http:") for s in sources)
    others = {site_origin(company_id(i)) for i in range(20)} - {ALLOWED}
    assert not sources & others
