"""One conversation on `/ws/realtime/<companyId>`: relayed to OpenAI, or served locally.

With an OpenAI key the page is relayed to the Realtime API (voice, or text output when the page
asks for text). Without a key, or when OpenAI cannot be reached, the local text engine answers
on the same socket with the same events, after a `widget.notice` telling the page why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, Literal

from widget_api.local_engine import LocalEngine
from widget_api.local_engine.answers import Encoder
from widget_api.relay.contracts import ConversationLog, RelayLimits, RunTool, SafeConversationLog
from widget_api.relay.hub import RelayHub
from widget_api.relay.local import LocalSession
from widget_api.relay.page_link import CLOSE_TIMEOUT, PageSocket, open_page_link
from widget_api.relay.session import RelaySession
from widget_api.relay.upstream import UpstreamLink, UpstreamUnavailable, open_upstream

log = logging.getLogger(__name__)

Mode = Literal["voice", "text"]


@dataclass(frozen=True)
class ConversationSetup:
    """Everything one conversation needs, built by the WebSocket handler."""

    display_name: str
    model: str
    session: dict[str, Any]  # the GA session object for session.update
    run_tool: RunTool
    conversation: ConversationLog
    encoder: Encoder
    limits: RelayLimits
    base_url: str
    api_key: str | None
    connect_timeout: float = 10.0


def serve_conversation(
    page: PageSocket, setup: ConversationSetup, mode: Mode, hub: RelayHub
) -> None:
    """Run one conversation to its end in the calling (handler) thread; never raises for
    upstream trouble. A relayed conversation runs on the hub's loop while this thread waits."""
    conversation = SafeConversationLog(setup.conversation)
    reason = "realtime_unavailable"
    if setup.api_key:
        try:
            upstream = hub.call(open_upstream(
                setup.base_url, setup.api_key, setup.model, timeout=setup.connect_timeout
            ))  # fmt: skip
        except UpstreamUnavailable:
            reason = "upstream_error"
        else:
            conversation.started(f"relay-{mode}")
            try:
                hub.call(_relay(page, upstream, setup, conversation, mode, hub))
            finally:
                conversation.ended()
            return
    conversation.started("local-text")
    engine = LocalEngine(
        display_name=setup.display_name, run_tool=setup.run_tool, encoder=setup.encoder
    )
    try:
        LocalSession(
            page.channel(), engine, conversation=conversation, limits=setup.limits, reason=reason
        ).run()
    finally:
        conversation.ended()


async def _relay(
    page_socket: PageSocket,
    upstream: UpstreamLink,
    setup: ConversationSetup,
    conversation: ConversationLog,
    mode: Mode,
    hub: RelayHub,
) -> None:
    """Wire both sockets to a RelaySession on the loop and wait until both are closed."""
    try:
        page = await open_page_link(*page_socket.take_over())
    except OSError:  # the page left during the upstream handshake
        upstream.close()
        await upstream.wait_closed()
        return
    session = RelaySession(
        page, upstream, session=session_for(setup.session, mode), run_tool=setup.run_tool,
        conversation=conversation, limits=setup.limits, offload=hub.offload,
    )  # fmt: skip
    session.start()
    page.attach(session.on_page_frame, session.on_page_closed)
    upstream.attach(session.on_upstream_frame, session.on_upstream_closed)
    await session.done
    # Both closes are already under way; each is bounded by its own close timeout.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(page.lost, upstream.wait_closed()), CLOSE_TIMEOUT + 1)
    page.abort()  # no-op once closed; frees the descriptor if the page never answered


def session_for(session: dict[str, Any], mode: Mode) -> dict[str, Any]:
    """The session for this mode: text output for typed conversations, else as configured."""
    if mode == "text":
        return {**session, "output_modalities": ["text"]}
    return session
