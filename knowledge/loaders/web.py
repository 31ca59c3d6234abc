"""Web pages and sitemaps, fetched politely and safely.

httpx with connect/read timeouts, a response size cap, a clear User-Agent and redirects followed
by hand (bounded, each hop re-checked). Every host is resolved and refused when any address is
private, loopback, link-local or reserved, unless `allow_private_hosts` (an ingest must not be
a way to probe the intranet). URLs found in a sitemap must be on the sitemap's site, and
redirects must stay on the site they started from.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx

from knowledge.errors import LoadError
from knowledge.loaders import DEFAULT_MAX_TEXT_BYTES, binary_reason, check_size
from knowledge.models import Document, DocumentPlan

log = logging.getLogger(__name__)

USER_AGENT = "SalesWidgetKnowledgeBot/0.1 (+knowledge ingest; contact: site owner)"
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
MAX_SITEMAP_DEPTH = 3
MAX_SITEMAP_URLS = 10_000


@dataclass(frozen=True)
class Fetched:
    url: str
    content_type: str
    body: bytes


def normalize_url(url: str) -> str:
    """The document identity of a URL: no fragment, lowercase scheme and host."""
    url = urldefrag(url.strip())[0]
    parts = urlsplit(url)
    return parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()


def site_of(url: str) -> str:
    """Host without a leading `www.`: the unit of the same-site rule."""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def check_host(url: str, allow_private: bool) -> str | None:
    """Refuse non-HTTP URLs and hosts resolving to non-public addresses.

    Returns the vetted address to connect to (None when private hosts are allowed): connecting
    to the name again would resolve it again, and a rebinding DNS server could answer with a
    private address the second time.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoadError(f"{url}: not an http(s) URL")
    if allow_private:
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise LoadError(f"{url}: cannot resolve host ({exc.strerror or exc})") from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if not address.is_global or address.is_multicast:
            raise LoadError(
                f"{url}: refusing private or local address {address}"
                " (pass --allow-private-hosts for an intranet or test server)"
            )
    if not addresses:
        raise LoadError(f"{url}: cannot resolve host")
    return str(addresses[0])


def pinned_request(url: str, address: str | None) -> tuple[str, dict[str, Any]]:
    """The URL and request options that reach `address` while naming the original host
    (Host header, TLS SNI and certificate check)."""
    if address is None:
        return url, {}
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = host + (f":{parts.port}" if parts.port else "")
    original = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    options = {"headers": {"Host": original}, "extensions": {"sni_hostname": parts.hostname}}
    return parts._replace(netloc=netloc).geturl(), options


class Fetcher:
    """One HTTP client for a whole ingest (connection reuse across pages)."""

    def __init__(self, allow_private_hosts: bool = False) -> None:
        self.allow_private = allow_private_hosts
        self.client = httpx.Client(
            timeout=TIMEOUT, follow_redirects=False, headers={"User-Agent": USER_AGENT}
        )

    def close(self) -> None:
        self.client.close()

    def get(self, url: str) -> Fetched:
        """GET with same-site, bounded redirects and a size cap; LoadError on any failure."""
        start_site = site_of(url)
        for _ in range(MAX_REDIRECTS + 1):
            target, options = pinned_request(url, check_host(url, self.allow_private))
            try:
                with self.client.stream("GET", target, **options) as response:
                    if response.is_redirect:
                        target = urljoin(url, response.headers.get("location", ""))
                        if site_of(target) != start_site:
                            raise LoadError(f"{url}: redirects off-site to {site_of(target)}")
                        url = target
                        continue
                    if response.status_code >= 400:
                        raise LoadError(f"{url}: HTTP {response.status_code}")
                    body = self._read_capped(url, response)
                    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    return Fetched(url, ctype, body)
            except httpx.HTTPError as exc:
                raise LoadError(f"{url}: {type(exc).__name__} ({exc})") from exc
        raise LoadError(f"{url}: more than {MAX_REDIRECTS} redirects")

    @staticmethod
    def _read_capped(url: str, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BYTES:
            raise LoadError(f"{url}: larger than {MAX_BYTES // (1024 * 1024)} MB")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_BYTES:
                raise LoadError(f"{url}: larger than {MAX_BYTES // (1024 * 1024)} MB")
            chunks.append(chunk)
        return b"".join(chunks)


def document_from_response(
    source: str, fetched: Fetched, max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES
) -> Document:
    """Parse by content type (falling back to the URL suffix); binary and oversized text is
    refused like a file's."""
    path = urlsplit(fetched.url).path.lower()
    fallback = path.rstrip("/").rsplit("/", 1)[-1] or site_of(fetched.url)
    ctype = fetched.content_type
    if ctype == "application/pdf" or path.endswith(".pdf"):
        from knowledge.loaders.pdf import parse_pdf

        doc = parse_pdf(fetched.body, source, fallback, url=source)
        check_size(source, sum(len(b.text.encode()) for b in doc.blocks), max_text_bytes)
        return doc
    reason = binary_reason(fetched.body)
    if reason:
        raise LoadError(f"{source}: {reason}")
    check_size(source, len(fetched.body), max_text_bytes)
    text = fetched.body.decode("utf-8", errors="replace")
    if ctype in ("text/markdown", "text/x-markdown") or path.endswith(".md"):
        from knowledge.loaders.markdown import parse_markdown

        doc = parse_markdown(text, source, fallback)
    elif ctype == "text/plain":
        from knowledge.loaders.markdown import parse_text

        doc = parse_text(text, source, fallback)
    elif ctype in ("text/html", "application/xhtml+xml", ""):
        from knowledge.loaders.html import parse_html

        return parse_html(fetched.body, source, fallback, url=source)
    else:
        raise LoadError(f"{source}: unsupported content type {ctype}")
    doc.url = source
    return doc


def sitemap_urls(fetcher: Fetcher, sitemap: str, depth: int = 0) -> list[str]:
    """Page URLs of a sitemap, following nested sitemap indexes (same site only)."""
    from lxml import etree

    fetched = fetcher.get(sitemap)
    body = fetched.body
    if body[:2] == b"\x1f\x8b":
        # Inflate at most the cap: a small .gz can expand to gigabytes (a "zip bomb").
        try:
            body = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, MAX_BYTES + 1)
        except zlib.error as exc:
            raise LoadError(f"{sitemap}: not a valid gzip file ({exc})") from exc
        if len(body) > MAX_BYTES:
            raise LoadError(f"{sitemap}: sitemap larger than {MAX_BYTES // (1024 * 1024)} MB")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise LoadError(f"{sitemap}: not a valid sitemap ({exc})") from exc
    site = site_of(sitemap)
    locs = [str(el.text).strip() for el in root.iter("{*}loc") if el.text and el.text.strip()]
    locs = [u for u in locs if site_of(u) == site]
    if etree.QName(root).localname != "sitemapindex":
        return locs[:MAX_SITEMAP_URLS]
    if depth >= MAX_SITEMAP_DEPTH:
        raise LoadError(f"{sitemap}: sitemap indexes nested deeper than {MAX_SITEMAP_DEPTH}")
    urls: list[str] = []
    for child in locs:
        urls += sitemap_urls(fetcher, child, depth + 1)
        if len(urls) >= MAX_SITEMAP_URLS:
            break
    return urls[:MAX_SITEMAP_URLS]


def load_web(
    urls: Sequence[str],
    sitemaps: Sequence[str],
    *,
    allow_private_hosts: bool = False,
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES,
    source_sets: dict[str, str] | None = None,
) -> Iterator[Document | DocumentPlan]:
    """Documents for the URLs and every page listed in the sitemaps; failures as failed plans.

    `source_sets` maps a URL or sitemap (as given) to its source-set name; a sitemap's pages
    belong to the sitemap's set.
    """
    names = {normalize_url(k): v for k, v in (source_sets or {}).items()}
    fetcher = Fetcher(allow_private_hosts)
    try:
        pages = {normalize_url(u): names.get(normalize_url(u), "") for u in urls}
        for sitemap in sitemaps:
            key = normalize_url(sitemap)
            try:
                for u in sitemap_urls(fetcher, sitemap):
                    pages.setdefault(normalize_url(u), names.get(key, ""))
            except LoadError as exc:
                yield DocumentPlan(key, "failed", error=str(exc), source_set=names.get(key, ""))
        for url, source_set in pages.items():
            try:
                doc = document_from_response(url, fetcher.get(url), max_text_bytes)
                if not doc.blocks:
                    raise LoadError(f"{url}: no text found")
                doc.source_set = source_set
                yield doc
            except LoadError as exc:
                yield DocumentPlan(url, "failed", error=str(exc), source_set=source_set)
            except Exception as exc:  # a malformed page must not stop the rest
                error = f"{url}: {type(exc).__name__} ({exc})"
                yield DocumentPlan(url, "failed", error=error, source_set=source_set)
    finally:
        fetcher.close()
