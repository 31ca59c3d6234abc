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

from dataclasses import dataclass
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

# A company id: the key of a company file, a URL segment and a knowledge-base collection.
COMPANY_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


@dataclass(frozen=True)
class LeadFieldSpec:
    """One thing a visitor tells us about themselves, declared once.

    log_lead's `Args` (what the model sees), the CRM's `LeadFields` (validation) and `LeadView`,
    the exports, the OpenAPI schema and the admin displays are all built from `LEAD_FIELDS`;
    a test holds the `leads` table (a physical schema, made by the migrations) to it.
    """

    name: str
    label: str  # what sales reads (admin page, record page)
    description: str  # what the Realtime model reads in log_lead's schema
    max_length: int
    # VARCHAR length of the `leads` column; None for TEXT.
    column_length: int | None
    required: bool = False  # every lead has it (NOT NULL)
    tool_required: bool = False  # log_lead insists on it (a company may require more)
    min_length: int = 1  # for a required value
    personal: bool = True  # forget/export/retention reach it; never logged
    quotable: bool = True  # the visitor says it in so many words (evidence is searched)
    qualification: bool = False  # a qualification fact on the record page
    requirable: bool = True  # a company may make log_lead require it
    exported: bool = True  # a column of the CSV/JSON exports
    accepts_number: bool = False  # models send a bare number for it ("25" as 25)


LEAD_FIELDS: tuple[LeadFieldSpec, ...] = (
    LeadFieldSpec("name", "Name", "The visitor's full name.", 200, 200, required=True,
                  tool_required=True),
    LeadFieldSpec("email", "Email", "The visitor's email address, as confirmed.", 320, 320,
                  required=True, tool_required=True, min_length=3),
    LeadFieldSpec("company", "Company", "The visitor's company.", 200, 200),
    LeadFieldSpec("role", "Role", "The visitor's job title.", 200, 200, qualification=True),
    # Stored normalized (`+` and at most 15 digits), so the column is shorter than the input.
    LeadFieldSpec("phone", "Phone", "Phone number with country code, if offered.", 40, 32),
    LeadFieldSpec("interest", "Interest", "One or two sentences: what they need and which"
                  " product or plan fits.", 2000, None, tool_required=True, quotable=False),
    LeadFieldSpec("team_size", "Team size", "How many people would use it, e.g. '25 agents'.",
                  100, 100, qualification=True, accepts_number=True),
    LeadFieldSpec("timeline", "Timeline", "When they want to start, e.g. 'next quarter'.", 200,
                  200, qualification=True),
    LeadFieldSpec("budget", "Budget", "Budget, if mentioned.", 200, 200, qualification=True),
    LeadFieldSpec("current_tool", "Current tool", "The helpdesk, CRM or tool they use today,"
                  " if said.", 200, 200, qualification=True),
    LeadFieldSpec("notes", "Notes", "Anything else sales should know.", 4000, None,
                  quotable=False, requirable=False),
)  # fmt: skip


def lead_field_names(specs: tuple[LeadFieldSpec, ...] = LEAD_FIELDS) -> tuple[str, ...]:
    return tuple(spec.name for spec in specs)
