"""The validated shape of one company's widget configuration.

Every field the widget, the session builder, the tools and the admin page read lives here, so a
typo in a company file stops start-up with the file, the field and the reason instead of
surfacing as a broken conversation later.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    field_validator,
    model_validator,
)

from widget_api.delivery.events import WebhookEventType
from widget_api.origins import parse_origin_pattern
from widget_api.realtime.models import (
    DEFAULT_MODEL,
    DEFAULT_TRANSCRIPTION_MODEL,
    ReasoningEffort,
)
from widget_api.vocabulary import COMPANY_ID_PATTERN, LEAD_FIELDS, Transport

# GA voices (protocol reference §5.3); marin and cedar are OpenAI's recommended ones.
Voice = Literal[
    "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"
]
# Lead fields a company may make mandatory for `log_lead` (name and email always are).
LeadField = Literal[tuple(s.name for s in LEAD_FIELDS if s.requirable)]  # type: ignore[valid-type]

_HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_CLIP_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class _Strict(BaseModel):
    """Unknown keys are errors: a misspelt option must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerVad(_Strict):
    """Voice-activity detection on loudness and silence (fast, may cut slow speakers off)."""

    type: Literal["server_vad"] = "server_vad"
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    prefix_padding_ms: int = Field(300, ge=0, le=2000)
    silence_duration_ms: int = Field(500, ge=100, le=5000)
    idle_timeout_ms: int | None = Field(None, ge=5000, le=30000)


class SemanticVad(_Strict):
    """Turn detection on meaning: waits while the visitor is still forming a thought."""

    type: Literal["semantic_vad"] = "semantic_vad"
    eagerness: Literal["low", "medium", "high", "auto"] = "auto"


TurnDetection = Annotated[ServerVad | SemanticVad, Field(discriminator="type")]


class Theme(_Strict):
    """Colours and placement of the widget on the host page."""

    primary_color: str = "#2563eb"
    accent_color: str = "#f59e0b"
    text_color: str = "#111827"
    background_color: str = "#ffffff"
    position: Literal["bottom-right", "bottom-left"] = "bottom-right"
    launcher_label: str = Field("Talk to sales", min_length=1, max_length=40)

    @field_validator("primary_color", "accent_color", "text_color", "background_color")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _HEX_COLOR.match(value):
            raise ValueError("must be a hex colour like #1a2b3c")
        return value.lower()


class PrivacyNotice(_Strict):
    """Shown before the visitor's first message; the acceptance is stored on the conversation."""

    notice: str | None = Field(
        None,
        max_length=600,
        description=(
            "What happens to the conversation (recorded, processed by whom); none = no notice."
        ),
    )
    policy_url: HttpUrl | None = Field(None, description="The company's privacy policy.")


class DemoClip(_Strict):
    """A short product video the rep can show when the visitor asks about its topic."""

    id: str = Field(pattern=_CLIP_ID)
    title: str = Field(min_length=1, max_length=120)
    description: str = Field(min_length=1, max_length=600)
    tags: list[str] = Field(default_factory=list, max_length=20)
    video_url: HttpUrl
    thumbnail_url: HttpUrl | None = None
    duration_seconds: int = Field(gt=0, le=3600)

    def search_text(self) -> str:
        """What the clip is about, as one string to embed for matching by meaning."""
        tags = ", ".join(self.tags)
        return f"{self.title}. {self.description} Topics: {tags}".strip()


class MeetingConfig(_Strict):
    """Where visitors book a call; the tool prefills the booking page with their details."""

    provider: Literal["calendly", "cal.com", "url"]
    base_url: HttpUrl
    durations: list[int] = Field(default_factory=lambda: [30], min_length=1, max_length=6)
    default_duration: int | None = None
    # Calendly's webhook signing key or Cal.com's webhook secret, by environment variable name:
    # bookings then reach the funnel report ("meeting booked").
    booking_secret_env: str | None = Field(None, pattern=r"^[A-Z][A-Z0-9_]{0,63}$")

    @field_validator("durations")
    @classmethod
    def _durations(cls, value: list[int]) -> list[int]:
        if any(d < 5 or d > 240 for d in value):
            raise ValueError("durations are minutes between 5 and 240")
        if len(set(value)) != len(value):
            raise ValueError("durations must not repeat")
        return sorted(value)

    @model_validator(mode="after")
    def _default_in_durations(self) -> MeetingConfig:
        if self.default_duration is not None and self.default_duration not in self.durations:
            raise ValueError("default_duration must be one of durations")
        return self

    @property
    def effective_default_duration(self) -> int:
        return self.default_duration or self.durations[0]


class WebhookConfig(_Strict):
    """One receiver of the company's events, signed per Standard Webhooks with its secret."""

    url: HttpUrl
    # The environment variable holding the `whsec_<base64>` secret (never the secret itself).
    secret_env: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")
    events: list[WebhookEventType] = Field(
        default_factory=lambda: list(get_args(WebhookEventType)),
        min_length=1,
    )

    @field_validator("url")
    @classmethod
    def _no_credentials(cls, value: HttpUrl) -> HttpUrl:
        if value.username or value.password:
            raise ValueError("put no credentials in the URL; requests are signed")
        return value


class CompanyConfig(_Strict):
    """One company's widget: who the rep is, how it sounds, where it may run, what it sells."""

    id: str = Field(pattern=COMPANY_ID_PATTERN)
    display_name: str = Field(min_length=1, max_length=80)
    summary: str = Field(
        min_length=1, max_length=1200, description="What the company sells, in a few sentences."
    )
    persona: str = Field(min_length=1, max_length=2000)
    greeting: str = Field(min_length=1, max_length=400)
    language: str = Field("en", pattern=r"^[a-z]{2}(?:-[A-Z]{2})?$")
    model: str = Field(DEFAULT_MODEL, min_length=1, max_length=80)
    # Low effort keeps the first audio quick; only sent to reasoning models (gpt-realtime-2...).
    reasoning_effort: ReasoningEffort | None = "low"
    voice: Voice = "marin"
    turn_detection: TurnDetection = Field(default_factory=SemanticVad)
    transcription_model: str = Field(DEFAULT_TRANSCRIPTION_MODEL, min_length=1, max_length=80)
    # A glossary (product and plan names) and the visitors' likely languages (ISO-639-1);
    # sent to transcription models that take them (gpt-transcribe, gpt-live-transcribe).
    transcription_keywords: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(
        default_factory=list, max_length=100
    )
    transcription_languages: list[Annotated[str, Field(pattern=r"^[a-z]{2}$")]] = Field(
        default_factory=list, max_length=10
    )
    # E.164 numbers that ring this company's rep (OpenAI SIP and Twilio); caller numbers
    # are personal data, these are the company's own.
    phone_numbers: list[Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$")]] = Field(
        default_factory=list, max_length=20
    )
    # Embeds from before the sideband ran WebRTC tool calls in the browser and POST them to
    # /api/chat/<id>/tool. Current embeds report their call and the server runs the tools;
    # turn this off once no old embed is cached anywhere.
    browser_tool_calls: bool = True
    allowed_origins: list[str] = Field(default_factory=list, max_length=50)
    transport: Transport = "auto"
    theme: Theme = Field(default_factory=lambda: Theme.model_validate({}))
    privacy: PrivacyNotice = Field(default_factory=lambda: PrivacyNotice.model_validate({}))
    clips: list[DemoClip] = Field(default_factory=list, max_length=100)
    meetings: MeetingConfig
    qualification_questions: list[str] = Field(default_factory=list, max_length=8)
    required_lead_fields: list[LeadField] = Field(default_factory=lambda: ["name", "email"])  # type: ignore[valid-type]
    knowledge_collection: str | None = Field(None, pattern=COMPANY_ID_PATTERN)
    clip_match_threshold: float = Field(0.35, ge=0.0, le=1.0)
    admin_token_env: str | None = Field(None, pattern=r"^[A-Z][A-Z0-9_]{0,63}$")
    webhooks: list[WebhookConfig] = Field(default_factory=list, max_length=10)
    # A search whose best passage scores below this did not answer the question (reports).
    relevance_threshold: float = Field(0.3, ge=0.0, le=2.0)
    # Cost control: the longest conversation (the server's relay_max_session_seconds when
    # unset, never more) and the voice minutes all visitors together may use per UTC day.
    max_conversation_minutes: int | None = Field(None, ge=1, le=60)
    voice_minutes_per_day: int | None = Field(None, ge=0)
    # Resolved from `admin_token_env` (or a generated file) by the loader, never read from the file.
    admin_token: SecretStr | None = Field(None, exclude=True)

    @field_validator("summary", "persona", "greeting")
    @classmethod
    def _squash_whitespace(cls, value: str) -> str:
        # Multi-line TOML strings read nicely in the file; the prompt wants single spaces.
        return " ".join(value.split())

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        out = []
        for i, origin in enumerate(value):
            try:
                out.append(parse_origin_pattern(origin).serialize())
            except ValueError as exc:
                raise ValueError(f"entry {i}: {exc}") from None
        return out

    @field_validator("required_lead_fields")
    @classmethod
    def _name_email_always(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(["name", "email", *value]))

    @model_validator(mode="after")
    def _unique_clip_ids(self) -> CompanyConfig:
        ids = [c.id for c in self.clips]
        if len(set(ids)) != len(ids):
            raise ValueError("clip ids must be unique")
        return self

    @property
    def collection(self) -> str:
        """The knowledge-base company id the tools search (defaults to the company id)."""
        return self.knowledge_collection or self.id
