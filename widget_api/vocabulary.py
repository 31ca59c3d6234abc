"""One name and one definition per domain concept; everything else derives from these.

The ORM's check constraints, request and tool models, the OpenAPI document, the CLI choices,
exports and the widget's generated constants (`embed_widget/protocol.js`) all read from here.
Glossary (README, "Glossary"):

- conversation: one visitor talking to the assistant, from first message to end; it is what
  the CRM records (`conversations` table) and what a resume token continues.
- session: the server's id for a conversation's connection (`session_id`, minted once per
  conversation start); a tool call is idempotent per (session_id, call_id).
- channel: how the visitor talks in a conversation, by voice or by text.
- transport: how the page reaches the model: WebRTC straight to OpenAI, our WebSocket relay,
  or text only (the local engine); `auto` lets the widget pick.
"""

from __future__ import annotations

from typing import Literal, get_args

LeadStatus = Literal["new", "contacted", "qualified", "disqualified"]
LEAD_STATUSES: tuple[LeadStatus, ...] = get_args(LeadStatus)

Channel = Literal["voice", "text"]
CHANNELS: tuple[Channel, ...] = get_args(Channel)

Transport = Literal["auto", "webrtc", "relay", "text"]
TRANSPORTS: tuple[Transport, ...] = get_args(Transport)
# The transports that carry voice, in the order `auto` tries them.
VoiceTransport = Literal["webrtc", "relay"]
VOICE_TRANSPORTS: tuple[VoiceTransport, ...] = get_args(VoiceTransport)

ToolName = Literal["search_knowledge", "get_demo_clip", "create_meeting_link", "log_lead"]
TOOL_NAMES: tuple[ToolName, ...] = get_args(ToolName)
