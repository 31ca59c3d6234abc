"""Which web pages may start a conversation for a company, and may frame its widget.

Origins are compared after parsing, as (scheme, host, port) triples, never as strings with
`startswith` or `in`: `https://acme.com.evil.com`, `https://evilacme.com`, userinfo tricks
(`https://acme.com@evil.com`) and trailing dots must never pass. A request's Origin header must
already be in the canonical form browsers send (lower case, no path, no default port), so a
hand-made variant of an allowed origin is refused rather than normalised into a match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from widget_api.companies.models import CompanyConfig

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}


@dataclass(frozen=True)
class OriginPattern:
    """An exact origin, or `scheme://*.domain[:port]` matching any subdomain of `domain`."""

    scheme: str
    host: str
    port: int
    wildcard: bool = False

    def serialize(self) -> str:
        host = f"*.{self.host}" if self.wildcard else self.host
        port = "" if _DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}"
        return f"{self.scheme}://{host}{port}"

    def matches(self, origin: OriginPattern) -> bool:
        if origin.wildcard or (origin.scheme, origin.port) != (self.scheme, self.port):
            return False
        if self.wildcard:
            return origin.host.endswith("." + self.host)
        return origin.host == self.host


def _valid_host(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):  # IPv6 literal
        return bool(re.fullmatch(r"\[[0-9a-f:.]+\]", host))
    return len(host) <= 253 and all(_LABEL.match(label) for label in host.split("."))


def _split_port(netloc: str, default_port: int) -> tuple[str, int]:
    """`host[:port]` into its host and port (the scheme's default when absent)."""
    match = re.fullmatch(r"(.*?)(?::(\d{1,5}))?", netloc)
    if not match or match.group(2) is None:
        return netloc, default_port
    port = int(match.group(2))
    if not 0 < port < 65536:
        raise ValueError("port out of range")
    return match.group(1), port


def _parse(value: str, *, allow_wildcard: bool) -> OriginPattern:
    if not value or value != value.strip() or any(ord(c) < 33 for c in value):
        raise ValueError("must be scheme://host[:port] without spaces")
    parts = urlsplit(value)
    scheme = parts.scheme
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("scheme must be http or https")
    netloc = parts.netloc
    if not netloc or "@" in netloc:
        raise ValueError("must be scheme://host[:port] (no user info)")
    if parts.path not in ("",) or parts.query or parts.fragment or value.endswith("?"):
        raise ValueError("must not have a path, query or fragment")
    host_part, port = _split_port(netloc, _DEFAULT_PORTS[scheme])
    wildcard = False
    if host_part.startswith("*."):
        if not allow_wildcard:
            raise ValueError("wildcards are not allowed here")
        wildcard, host_part = True, host_part[2:]
        if "." not in host_part:
            raise ValueError("a wildcard needs a registrable domain, e.g. https://*.example.com")
    if not _valid_host(host_part):
        raise ValueError("host is not a valid lower-case host name")
    return OriginPattern(scheme, host_part, port, wildcard)


def parse_origin_pattern(value: str) -> OriginPattern:
    """Parse a configured allowed origin (case-insensitive); raises ValueError with the reason."""
    lowered = value.lower() if isinstance(value, str) else value
    return _parse(lowered, allow_wildcard=True)


def parse_request_origin(value: str) -> OriginPattern | None:
    """Parse an Origin header; None unless it is exactly the canonical form a browser sends."""
    try:
        origin = _parse(value, allow_wildcard=False)
    except ValueError:
        return None
    return origin if origin.serialize() == value else None


def _server_patterns(server_origin: str) -> list[OriginPattern]:
    """The server's own origin; on loopback, every loopback spelling of it (same port)."""
    server = parse_origin_pattern(server_origin)
    if server.host in _LOOPBACK or server.host == "0.0.0.0":
        return [OriginPattern(server.scheme, h, server.port) for h in sorted(_LOOPBACK)]
    return [server]


def is_origin_allowed(origin: str | None, company: CompanyConfig, server_origin: str) -> bool:
    """True when `origin` is the server's own origin or one of the company's allowed origins."""
    if not origin:
        return False
    parsed = parse_request_origin(origin)
    if parsed is None:
        return False
    patterns = _server_patterns(server_origin) + [
        parse_origin_pattern(o) for o in company.allowed_origins
    ]
    return any(p.matches(parsed) for p in patterns)


def frame_ancestors(company: CompanyConfig, server_origin: str) -> str:
    """A CSP `frame-ancestors` source list: the server itself and the company's sites."""
    sources = ["'self'"] + [p.serialize() for p in _server_patterns(server_origin)]
    sources += [parse_origin_pattern(o).serialize() for o in company.allowed_origins]
    return " ".join(dict.fromkeys(sources))
