"""Storing and reading time to first audio and first text per turn (`turn_latencies`)."""

from __future__ import annotations

from sqlalchemy import func, insert, select

from widget_api.crm.db import Database
from widget_api.crm.latency_models import LATENCY_CHANNELS, TurnLatency

MAX_LATENCY_MS = 120_000.0  # a reported figure beyond two minutes is a broken clock


def _clamp(millis: float | None) -> float | None:
    return None if millis is None else min(max(0.0, float(millis)), MAX_LATENCY_MS)


def record_turn_latency(
    db: Database, *, company_id: str, session_id: str, channel: str,
    first_audio_ms: float | None = None, first_text_ms: float | None = None,
) -> None:  # fmt: skip
    """Store one turn's time to first audio and/or first text (at least one); its turn number
    follows the session's count."""
    if channel not in LATENCY_CHANNELS:
        raise ValueError(f"unknown latency channel {channel!r}")
    if first_audio_ms is None and first_text_ms is None:
        raise ValueError("a turn's latency needs first_audio_ms or first_text_ms")
    turn = (
        select(func.count(TurnLatency.id) + 1)
        .where(TurnLatency.session_id == session_id)
        .scalar_subquery()
    )
    stmt = insert(TurnLatency).values(
        company_id=company_id, session_id=session_id, channel=channel, turn=turn,
        first_audio_ms=_clamp(first_audio_ms), first_text_ms=_clamp(first_text_ms),
    )  # fmt: skip
    db.run(lambda session: session.execute(stmt), durable=False)


def session_latencies(db: Database, session_id: str) -> list[tuple[str, int, float | None]]:
    """(channel, turn, first_audio_ms) of one session's turns, in order."""
    return [(c, t, audio) for c, t, audio, _ in session_turn_latencies(db, session_id)]


def session_turn_latencies(
    db: Database, session_id: str
) -> list[tuple[str, int, float | None, float | None]]:
    """(channel, turn, first_audio_ms, first_text_ms) of one session's turns, in order."""
    with db.session(readonly=True) as session:
        rows = session.execute(
            select(TurnLatency.channel, TurnLatency.turn, TurnLatency.first_audio_ms,
                   TurnLatency.first_text_ms)
            .where(TurnLatency.session_id == session_id)
            .order_by(TurnLatency.id)
        ).all()  # fmt: skip
    return [(c, t, audio, text) for c, t, audio, text in rows]
