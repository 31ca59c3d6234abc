"""URL ingest safety against a real loopback web server: private and loopback addresses are
refused unless allowed (names that resolve to loopback too), redirects are bounded and stay on
the site, bodies and gzipped sitemaps are size-capped."""

from __future__ import annotations

import gzip
import threading
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from knowledge.errors import LoadError
from knowledge.loaders import web
from knowledge.loaders.web import Fetcher, sitemap_urls

PAGE = b"<html><head><title>Docs</title></head><body><h1>Docs</h1><p>Hello.</p></body></html>"


class Site(ThreadingHTTPServer):
    hits: list[str]


class Handler(BaseHTTPRequestHandler):
    server: Site

    def log_message(self, *args: object) -> None:  # keep test output quiet
        return

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              length: bool = True) -> None:  # fmt: skip
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.hits.append(self.path)
        port = self.server.server_address[1]
        if self.path == "/page":
            self._send(200, PAGE, {"Content-Type": "text/html"})
        elif self.path == "/loop":
            self._send(302, headers={"Location": "/loop"})
        elif self.path == "/off-site":
            self._send(302, headers={"Location": f"http://localhost:{port}/page"})
        elif self.path == "/big":
            self._send(200, b"x" * 5000, {"Content-Type": "text/plain"})
        elif self.path == "/big-unannounced":  # no Content-Length: read until close
            self.close_connection = True
            self._send(200, b"x" * 5000, {"Content-Type": "text/plain"}, length=False)
        elif self.path == "/sitemap.xml.gz":
            self._send(200, self.server.bomb, {"Content-Type": "application/gzip"})  # type: ignore[attr-defined]
        else:
            self._send(404)


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[str, Site]]:
    server = Site(("127.0.0.1", 0), Handler)
    server.hits = []
    # 64 MB of zeros gzip to ~64 KB: a bomb against an unbounded gunzip.
    server.bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), 9)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", server
    server.shutdown()
    server.server_close()


def _port(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "[::1]", "2130706433", "0x7f000001", "127.1", "0.0.0.0",
     "[::ffff:127.0.0.1]", "10.0.0.1", "192.168.1.10", "172.16.0.1", "169.254.169.254",
     "[fe80::1]", "100.64.0.1"],
)  # fmt: skip
def test_private_and_loopback_hosts_are_refused_unless_allowed(
    site: tuple[str, Site], host: str
) -> None:
    base, server = site
    before = len(server.hits)
    fetcher = Fetcher(allow_private_hosts=False)
    try:
        with pytest.raises(LoadError):
            fetcher.get(f"http://{host}:{_port(base)}/page")
    finally:
        fetcher.close()
    assert len(server.hits) == before  # refused before any connection


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1:70/", "http:///page",
            "javascript:alert(1)", "//127.0.0.1/page"],
)  # fmt: skip
def test_non_http_urls_are_refused(url: str) -> None:
    fetcher = Fetcher(allow_private_hosts=True)
    try:
        with pytest.raises(LoadError):
            fetcher.get(url)
    finally:
        fetcher.close()


def test_explicitly_allowed_private_hosts_are_fetched(site: tuple[str, Site]) -> None:
    base, _server = site
    fetcher = Fetcher(allow_private_hosts=True)
    try:
        assert fetcher.get(f"{base}/page").body == PAGE
    finally:
        fetcher.close()


def test_redirects_are_bounded(site: tuple[str, Site]) -> None:
    base, server = site
    fetcher = Fetcher(allow_private_hosts=True)
    before = server.hits.count("/loop")
    try:
        with pytest.raises(LoadError, match="redirects"):
            fetcher.get(f"{base}/loop")
    finally:
        fetcher.close()
    assert server.hits.count("/loop") - before == web.MAX_REDIRECTS + 1


def test_redirects_may_not_leave_the_site(site: tuple[str, Site]) -> None:
    base, server = site
    fetcher = Fetcher(allow_private_hosts=True)
    before = len(server.hits)
    try:
        with pytest.raises(LoadError, match="off-site"):
            fetcher.get(f"{base}/off-site")
    finally:
        fetcher.close()
    assert server.hits[before:] == ["/off-site"]  # the target was never requested


@pytest.mark.parametrize("path", ["/big", "/big-unannounced"])
def test_bodies_are_size_capped(
    site: tuple[str, Site], path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, _server = site
    monkeypatch.setattr(web, "MAX_BYTES", 1000)
    fetcher = Fetcher(allow_private_hosts=True)
    try:
        with pytest.raises(LoadError, match="larger than"):
            fetcher.get(base + path)
    finally:
        fetcher.close()


def test_gzipped_sitemaps_inflate_only_up_to_the_cap(
    site: tuple[str, Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: the sitemap was gunzipped whole (64 MB here) before the size check."""
    base, _server = site
    monkeypatch.setattr(web, "MAX_BYTES", 1024 * 1024)
    fetcher = Fetcher(allow_private_hosts=True)
    tracemalloc.start()
    try:
        with pytest.raises(LoadError, match="larger than"):
            sitemap_urls(fetcher, f"{base}/sitemap.xml.gz")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        fetcher.close()
    assert peak < 16 * 1024 * 1024


def test_a_rebinding_dns_answer_cannot_swap_in_loopback_after_the_check(
    site: tuple[str, Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The vetted address is the one connected to; resolving the name again is not trusted.

    A resolver stands in for a rebinding DNS server (no public DNS here): the first answer for
    `docs.rebind.test` is a public address, every later one is loopback, where our site listens.
    """
    import socket

    import httpx

    base, server = site
    real = socket.getaddrinfo
    answers: list[str] = []

    def rebinding(host: str, port: object, *args: object, **kwargs: object) -> object:
        if host != "docs.rebind.test":
            return real(host, port, *args, **kwargs)  # type: ignore[arg-type]
        address = "93.184.215.14" if not answers else "127.0.0.1"
        answers.append(address)
        return real(address, port, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(web, "TIMEOUT", httpx.Timeout(2.0, connect=1.0))
    before = len(server.hits)
    fetcher = Fetcher(allow_private_hosts=False)
    try:
        with pytest.raises(LoadError):  # the public address is unreachable from here
            fetcher.get(f"http://docs.rebind.test:{_port(base)}/page")
    finally:
        fetcher.close()
    assert answers[0] == "93.184.215.14"
    assert len(server.hits) == before  # loopback was never reached
