"""One conversation on `/ws/realtime/<companyId>`: relayed to OpenAI, or served locally.

With an OpenAI key the page is relayed to the Realtime API (voice, or text output when the page
asks for text). Without a key, or when OpenAI cannot be reached, the local text engine answers
on the same socket with the same events, after a `widget.notice` telling the page why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from widget_api.local_engine import LocalEngine
from widget_api.local_engine.answers import Encoder
from widget_api.relay.channel import ClientChannel
from widget_api.relay.contracts import ConversationLog, RelayLimits, RunTool, SafeConversationLog
from widget_api.relay.local import LocalSession
from widget_api.relay.session import RelaySession
from widget_api.relay.upstream import UpstreamUnavailable, open_upstream

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


def serve_conversation(channel: ClientChannel, setup: ConversationSetup, mode: Mode) -> None:
    """Run one conversation to its end; never raises for upstream trouble."""
    conversation = SafeConversationLog(setup.conversation)
    reason = "realtime_unavailable"
    if setup.api_key:
        try:
            upstream = open_upstream(
                setup.base_url, setup.api_key, setup.model, timeout=setup.connect_timeout
            )
        except UpstreamUnavailable:
            reason = "upstream_error"
        else:
            conversation.started(f"relay-{mode}")
            try:
                RelaySession(
                    channel, upstream, session=session_for(setup.session, mode),
                    run_tool=setup.run_tool, conversation=conversation, limits=setup.limits,
                ).run()  # fmt: skip
            finally:
                conversation.ended()
            return
    conversation.started("local-text")
    engine = LocalEngine(
        display_name=setup.display_name, run_tool=setup.run_tool, encoder=setup.encoder
    )
    try:
        LocalSession(
            channel, engine, conversation=conversation, limits=setup.limits, reason=reason
        ).run()
    finally:
        conversation.ended()


def session_for(session: dict[str, Any], mode: Mode) -> dict[str, Any]:
    """The session for this mode: text output for typed conversations, else as configured."""
    if mode == "text":
        return {**session, "output_modalities": ["text"]}
    return session
