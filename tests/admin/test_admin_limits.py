"""Guessing admin tokens: wrong attempts are limited per address, over real sockets.

Linux routes all of 127.0.0.0/8 to loopback, so binding the client to 127.0.0.2 is a second
visitor address for the same server.
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.admin.conftest import ACME_TOKEN, GLOBEX_TOKEN

ATTACKER, COLLEAGUE = "127.0.0.1", "127.0.0.2"
ALLOWED = 10  # settings.admin_failed_attempts_per_address (the default)


@pytest.fixture
def server(app: Flask) -> Iterator[int]:
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_port
    srv.shutdown()
    thread.join(5)


def _get(port: int, source: str, token: str) -> tuple[int, str | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", "/api/admin/acme/leads", headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Retry-After")
    finally:
        conn.close()


def _sign_in(port: int, source: str, token: str) -> tuple[int, str | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        body = urllib.parse.urlencode({"token": token})
        conn.request("POST", "/admin/acme/login", body=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Retry-After")
    finally:
        conn.close()


def test_wrong_bearer_tokens_are_limited_per_address(server: int) -> None:
    wrong = [_get(server, ATTACKER, f"guess-{i:04d}-{'x' * 30}")[0] for i in range(ALLOWED)]
    assert wrong == [401] * ALLOWED
    status, retry = _get(server, ATTACKER, "one-more-guess-" + "x" * 30)
    assert status == 429 and retry is not None and int(retry) >= 1
    # Blocked before the comparison: even the right token waits at this address.
    assert _get(server, ATTACKER, ACME_TOKEN)[0] == 429
    assert _get(server, COLLEAGUE, ACME_TOKEN)[0] == 200


def test_another_companys_token_counts_as_a_wrong_one(server: int) -> None:
    answers = {_get(server, ATTACKER, GLOBEX_TOKEN)[0] for _ in range(ALLOWED)}
    assert answers == {401}
    assert _get(server, ATTACKER, GLOBEX_TOKEN)[0] == 429


def test_requests_without_a_token_are_not_guesses(server: int) -> None:
    for _ in range(ALLOWED + 2):
        conn = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
        conn.request("GET", "/api/admin/acme/leads")
        assert conn.getresponse().status == 401
        conn.close()
    assert _get(server, ATTACKER, ACME_TOKEN)[0] == 200


def test_wrong_sign_ins_are_limited_per_address(server: int) -> None:
    assert [_sign_in(server, ATTACKER, "nope")[0] for _ in range(ALLOWED)] == [401] * ALLOWED
    status, retry = _sign_in(server, ATTACKER, ACME_TOKEN)
    assert status == 429 and retry is not None and int(retry) >= 1
    assert _sign_in(server, COLLEAGUE, ACME_TOKEN)[0] == 303
