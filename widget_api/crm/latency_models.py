"""Per-turn latency: time to first audio and to first text, stored per turn for reports.

Measured where the answer leaves for the listener: the relay and the phone bridge time it
themselves (VAD `speech_stopped`, or the phone's last inbound media frame, to the first audio
delta; `speech_stopped` or the visitor's typed line to the first text or transcript delta); on
WebRTC the widget reports it (`speech_stopped` to `output_audio_buffer.started`); the local
text engine times the question to the first answer text it sends (channel `text`).
No personal data: a session id, the channel and numbers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from widget_api.crm.models import Base, _in, utcnow

LATENCY_CHANNELS = ("relay", "webrtc", "twilio", "sip", "text")


class TurnLatency(Base):
    """One answered turn: how long the listener waited for the first audio and the first text
    (either may be missing: a text turn has no audio, an audio-only phone turn no text)."""

    __tablename__ = "turn_latencies"
    __table_args__ = (
        Index("ix_turn_latencies_company_created", "company_id", "created_at"),
        Index("ix_turn_latencies_session", "session_id"),
        CheckConstraint(_in("channel", LATENCY_CHANNELS), name="channel"),
        CheckConstraint("first_audio_ms >= 0", name="first_audio_ms"),
        CheckConstraint("first_text_ms >= 0", name="first_text_ms"),
        CheckConstraint("first_audio_ms IS NOT NULL OR first_text_ms IS NOT NULL", name="measured"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    turn: Mapped[int] = mapped_column(Integer)
    first_audio_ms: Mapped[float | None] = mapped_column(Float)
    first_text_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
