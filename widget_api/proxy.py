"""The visitor's address behind trusted reverse proxies.

Limits are per client address. Behind a TLS-terminating proxy every connection comes from the
proxy, so the address is read from `X-Forwarded-For`, but only as many hops as the operator
declared (`WIDGET_PROXY_HOPS`): the right-most entries are written by our own proxies, anything
to their left is whatever the client sent and is never trusted. HTTP requests get the same
treatment from werkzeug's ProxyFix (`create_app`); WebSocket handshakes, served beside Flask,
use `client_address`.
"""

from __future__ import annotations

from collections.abc import Mapping


def client_address(peer: str, headers: Mapping[str, str], hops: int) -> str:
    """The visitor's address: `peer` itself, or the one `hops` proxies forwarded."""
    if hops <= 0:
        return peer
    forwarded = [p.strip() for p in headers.get("x-forwarded-for", "").split(",") if p.strip()]
    if len(forwarded) < hops:
        return peer  # not (fully) proxied: the socket's peer is all we know
    return forwarded[-hops]
