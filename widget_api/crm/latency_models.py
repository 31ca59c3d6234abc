"""Per-turn latency: time to first audio, stored per turn for reports and regressions.

Measured where the audio leaves for the listener: the relay and the phone bridge time it
themselves (VAD `speech_stopped`, or the phone's last inbound media frame, to the first audio
delta); on WebRTC the widget reports it (`speech_stopped` to `output_audio_buffer.started`).
No personal data: a session id, the channel and a number.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from widget_api.crm.models import Base, _in, utcnow

LATENCY_CHANNELS = ("relay", "webrtc", "twilio", "sip")


class TurnLatency(Base):
    """One answered turn: how long the listener waited for the first audio."""

    __tablename__ = "turn_latencies"
    __table_args__ = (
        Index("ix_turn_latencies_company_created", "company_id", "created_at"),
        Index("ix_turn_latencies_session", "session_id"),
        CheckConstraint(_in("channel", LATENCY_CHANNELS), name="channel"),
        CheckConstraint("first_audio_ms >= 0", name="first_audio_ms"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    turn: Mapped[int] = mapped_column(Integer)
    first_audio_ms: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
