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
from typing import Any

from widget_api.local_engine import LocalEngine
from widget_api.local_engine.answers import Encoder
from widget_api.relay.contracts import (
    NULL_RECORDER,
    ConversationLog,
    Recorder,
    RelayLimits,
    RunTool,
    SafeConversationLog,
)
from widget_api.relay.hub import RelayHub
from widget_api.relay.local import LocalSession
from widget_api.relay.page_link import CLOSE_TIMEOUT, PageLink
from widget_api.relay.session import RelaySession
from widget_api.relay.upstream import UpstreamLink, UpstreamUnavailable, open_upstream
from widget_api.vocabulary import Channel

log = logging.getLogger(__name__)

Mode = Channel  # the conversation's channel (glossary: vocabulary.py)


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
    # The conversation record (transcript, page, resume token, end) and the voice summary prompt.
    recorder: Recorder = NULL_RECORDER
    summary_instructions: str | None = None
    # The notice code when the local engine answers instead: no key, or the budget refused.
    fallback_reason: str = "realtime_unavailable"


async def serve_conversation(
    page: PageLink, setup: ConversationSetup, mode: Mode, hub: RelayHub
) -> None:
    """Run one conversation to its end on the loop; never raises for upstream trouble.

    `page` is accepted but not yet attached: it is read only once a session is wired to it.
    """
    conversation = SafeConversationLog(setup.conversation)
    reason = setup.fallback_reason
    if setup.api_key:
        try:
            upstream = await open_upstream(
                setup.base_url, setup.api_key, setup.model, timeout=setup.connect_timeout
            )
        except UpstreamUnavailable:
            reason = "upstream_error"
        else:
            await hub.run_blocking(conversation.started, f"relay-{mode}")
            try:
                await _relay(page, upstream, setup, conversation, mode, hub)
            finally:
                await hub.run_blocking(conversation.ended)
            return
    await hub.run_blocking(conversation.started, "local-text")
    engine = LocalEngine(
        display_name=setup.display_name, run_tool=setup.run_tool, encoder=setup.encoder
    )
    session = LocalSession(
        page, engine, conversation=conversation, limits=setup.limits, reason=reason,
        offload=hub.offload, recorder=setup.recorder,
    )  # fmt: skip
    try:
        await _run(session, page)
    finally:
        await hub.run_blocking(conversation.ended)


async def _relay(
    page: PageLink,
    upstream: UpstreamLink,
    setup: ConversationSetup,
    conversation: ConversationLog,
    mode: Mode,
    hub: RelayHub,
) -> None:
    """Wire both sockets to a RelaySession and wait until both are closed."""
    session = RelaySession(
        page, upstream, session=session_for(setup.session, mode), run_tool=setup.run_tool,
        conversation=conversation, limits=setup.limits, offload=hub.offload,
        recorder=setup.recorder, summary_instructions=setup.summary_instructions,
    )  # fmt: skip
    await _run(session, page, upstream)


async def _run(
    session: RelaySession | LocalSession, page: PageLink, upstream: UpstreamLink | None = None
) -> None:
    """Start the session, wire its sockets to it, and wait until it ends and they close."""
    session.start()
    page.attach(session.on_page_frame, session.on_page_closed)
    if isinstance(session, RelaySession) and upstream is not None:
        upstream.attach(session.on_upstream_frame, session.on_upstream_closed)
    await session.done
    # The closes are already under way; each is bounded by its own close timeout.
    if upstream is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(upstream.wait_closed(), CLOSE_TIMEOUT + 1)
    # Wait for the page's close handshake; drop the connection if it never answers.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(page.lost), CLOSE_TIMEOUT + 1)
    page.abort()  # no-op once closed


def session_for(session: dict[str, Any], mode: Mode) -> dict[str, Any]:
    """The session for this mode: text output for typed conversations, else as configured."""
    if mode == "text":
        return {**session, "output_modalities": ["text"]}
    return session
