"""`/ws/realtime/<companyId>`: one visitor conversation, relayed to OpenAI or answered locally.

A thin adapter on the worker's loop: check the company and the page's origin (403 JSON before
the handshake otherwise), spend the voice budget before a paid upstream is opened, build the
conversation from the app's services and hand the accepted socket to the relay.
"""

from __future__ import annotations

import logging

from widget_api.admission import (
    Admission,
    admit,
    continue_in_text,
    max_conversation_seconds,
    take_over_call,
)
from widget_api.companies.models import CompanyConfig
from widget_api.continuity import resume
from widget_api.conversation import relay_setup, wire_conversation
from widget_api.errors import ApiError, DomainError
from widget_api.origins import is_origin_allowed
from widget_api.proxy import client_address
from widget_api.relay.hub import RelayHub
from widget_api.relay.serve import Mode, serve_conversation
from widget_api.routes.documented import Answer, documented
from widget_api.services import Services
from widget_api.serving.websocket import WebSocketRequest

log = logging.getLogger(__name__)


@documented(
    "Realtime WebSocket (upgrade only).",
    ok={101: Answer(None, description="Switching to WebSocket.")},
    errors=("unknown_company", "not_found", "origin_not_allowed", "validation_failed"),
    tags=("widget",),
)
async def handle(
    request: WebSocketRequest, services: Services, hub: RelayHub, *, company_id: str
) -> None:
    """Refuse or accept the handshake, then run the conversation until it ends."""
    try:
        company = services.companies.get(company_id)
        if not _origin_ok(request.origin, company, services):
            raise ApiError("origin_not_allowed")
    except DomainError as err:
        await request.deny(err.status, err.to_dict())
        return
    page = await request.accept()
    if page is None:
        return  # the page left during the handshake: nothing spent
    mode: Mode = "text" if request.query.get("mode") == "text" else "voice"
    # A resume token from this page's earlier connection continues that conversation.
    resumed = await hub.run_blocking(lambda: resume(
        services.db, services.signing_key, request.query.get("resume_token"), company.id,
        window_seconds=services.settings.resume_window_seconds,
    ))  # fmt: skip
    admission, refusal = await hub.run_blocking(
        admit_relay,
        services,
        company,
        mode,
        client_address(request.client_host, request.headers, services.settings.proxy_hops),
        resumed.session_id if resumed else None,
    )
    parts = wire_conversation(services, company, channel=mode, resumed=resumed)
    setup = relay_setup(services, company, parts, admission=admission, refusal=refusal)
    await serve_conversation(page, setup, mode, hub)


def _origin_ok(origin: str | None, company: CompanyConfig, services: Services) -> bool:
    # The configured public origin, never the request's Host header: a rebound DNS name
    # (`Host: evil.example`, `Origin: http://evil.example`) must not pass as "same origin".
    return is_origin_allowed(origin, company, services.settings.server_origin)


def admit_relay(
    services: Services,
    company: CompanyConfig,
    mode: Mode,
    client: str,
    resumed_session: str | None = None,
) -> tuple[Admission | None, str | None]:
    """Spend the session route's budget before the relay opens its (paid) upstream.

    Refused → (None, code): the conversation goes on in text with the local engine, and its
    `widget.notice` carries the code. No key → nothing to spend. A resumed voice conversation
    whose WebRTC call never connected (the `auto` fallback) continues on that call's
    reservation, and if the relay fails in turn, once more in text: one conversation, one
    start. Blocking (Redis): pool only.
    """
    if not services.settings.realtime_enabled:
        return None, None
    if resumed_session is not None:
        store = services.rate_limiter.store
        taken = (
            take_over_call(store, company.id, resumed_session)
            if mode == "voice"
            else continue_in_text(
                store, resumed_session, max_conversation_seconds(company, services.settings)
            )
        )
        if taken is not None:
            return taken, None
    try:
        return admit(services, company, client, voice=mode == "voice"), None
    except DomainError as refused:
        log.info("relay upstream refused for %s: %s", company.id, refused.code)
        return None, refused.code
