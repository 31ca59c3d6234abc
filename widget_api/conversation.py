"""One place that wires a widget conversation from the app's Services.

A conversation needs the same parts however the visitor connects: the model's session
(instructions, with the history when it continues, and the tools), the tool runner bound to
this conversation, and its record in the CRM. `wire_conversation` builds them; the session route
(`sessions.start_realtime_session`, WebRTC) mints a client secret for `parts.session`, and the
relay's WebSocket (`routes.realtime_ws`) runs `relay_setup(...)`. Nothing here touches Flask or
a socket: handlers parse, call these, and answer.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from widget_api.admission import Admission, MeteredConversationLog, max_conversation_seconds
from widget_api.continuity import Resumed, history_instructions
from widget_api.contracts import ConversationLog, Recorder, RunTool, ToolOutcomeLike
from widget_api.crm_conversation import (
    SUMMARY_INSTRUCTIONS,
    CrmConversationLog,
    CrmRecorder,
    SafeRecorder,
)
from widget_api.instructions import build_instructions
from widget_api.realtime.session_config import build_session
from widget_api.relay.contracts import RelayLimits
from widget_api.relay.serve import ConversationSetup
from widget_api.tools.base import ToolContext
from widget_api.vocabulary import Channel

if TYPE_CHECKING:
    from widget_api.companies.models import CompanyConfig
    from widget_api.services import Services


@dataclass(frozen=True)
class ConversationParts:
    """What every transport of one conversation shares."""

    session_id: str
    tools: list[dict[str, Any]]  # the Realtime function declarations
    session: dict[str, Any]  # the GA session object (session.update, client secrets)
    run_tool: RunTool  # bound to this conversation's company, session and channel
    log: ConversationLog  # start / turns / end, as the reports count them
    recorder: Recorder  # transcript, page context, summary; its writes never end a conversation
    resumed: Resumed | None = None


def new_session_id() -> str:
    """A fresh conversation id (the one way they are minted for widget conversations)."""
    return "ws_" + secrets.token_urlsafe(18)


def wire_conversation(
    services: Services, company: CompanyConfig, *, channel: Channel, resumed: Resumed | None = None
) -> ConversationParts:
    """Build one conversation's parts; `resumed` continues an earlier conversation (same id,
    the model told what was said, the record picked up where it was)."""
    session_id = resumed.session_id if resumed is not None else new_session_id()
    tools = services.tools.declarations(company)
    instructions = build_instructions(company)
    if resumed is not None:
        instructions += "\n\n" + history_instructions(resumed)
    ctx = ToolContext(company=company, session_id=session_id, channel=channel)
    runner = services.tools

    def run_tool(call_id: str, name: str, arguments: str) -> ToolOutcomeLike:
        return runner.run(ctx, call_id, name, arguments)

    log = CrmConversationLog(
        services.db, company_id=company.id, session_id=session_id, language=company.language
    )
    recorder = CrmRecorder(
        services.db, company_id=company.id, session_id=session_id,
        signing_key=services.signing_key, resumed=resumed,
    )  # fmt: skip
    return ConversationParts(
        session_id=session_id,
        tools=tools,
        session=build_session(company, tools, instructions=instructions),
        run_tool=run_tool,
        log=log,
        recorder=SafeRecorder(recorder),
        resumed=resumed,
    )


def relay_setup(
    services: Services,
    company: CompanyConfig,
    parts: ConversationParts,
    *,
    admission: Admission | None = None,
    refusal: str | None = None,
) -> ConversationSetup:
    """The relay's view of a wired conversation: the upstream to open (none when voice is not
    configured or the budget refused: `refusal` is then the local engine's notice code), the
    time caps, and a record that settles the admission when the conversation ends."""
    settings = services.settings
    secret = settings.openai_api_key
    usable = secret is not None and settings.realtime_enabled and refusal is None
    longest = admission.max_seconds if admission else max_conversation_seconds(company, settings)
    return ConversationSetup(
        display_name=company.display_name,
        model=company.model,
        session=parts.session,
        run_tool=parts.run_tool,
        conversation=(
            parts.log if admission is None else MeteredConversationLog(parts.log, admission)
        ),
        encoder=services.embedder,
        limits=RelayLimits(
            max_session_seconds=longest,
            idle_timeout_seconds=settings.relay_idle_timeout_seconds,
        ),
        base_url=settings.openai_base_url,
        api_key=secret.get_secret_value() if usable and secret is not None else None,
        connect_timeout=settings.openai_timeout_seconds,
        fallback_reason=refusal or "realtime_unavailable",
        recorder=parts.recorder,
        summary_instructions=SUMMARY_INSTRUCTIONS,
    )
