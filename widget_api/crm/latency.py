"""Storing and reading time to first audio per turn (the `turn_latencies` table)."""

from __future__ import annotations

from sqlalchemy import func, insert, select

from widget_api.crm.db import Database
from widget_api.crm.latency_models import LATENCY_CHANNELS, TurnLatency

MAX_FIRST_AUDIO_MS = 120_000.0  # a reported figure beyond two minutes is a broken clock


def record_turn_latency(
    db: Database, *, company_id: str, session_id: str, channel: str, first_audio_ms: float
) -> None:
    """Store one turn's time to first audio; its turn number follows the session's count."""
    if channel not in LATENCY_CHANNELS:
        raise ValueError(f"unknown latency channel {channel!r}")
    value = min(max(0.0, float(first_audio_ms)), MAX_FIRST_AUDIO_MS)
    turn = (
        select(func.count(TurnLatency.id) + 1)
        .where(TurnLatency.session_id == session_id)
        .scalar_subquery()
    )
    stmt = insert(TurnLatency).values(
        company_id=company_id, session_id=session_id, channel=channel, turn=turn,
        first_audio_ms=value,
    )  # fmt: skip
    db.run(lambda session: session.execute(stmt), durable=False)


def session_latencies(db: Database, session_id: str) -> list[tuple[str, int, float]]:
    """(channel, turn, first_audio_ms) of one session's turns, in order."""
    with db.session(readonly=True) as session:
        rows = session.execute(
            select(TurnLatency.channel, TurnLatency.turn, TurnLatency.first_audio_ms)
            .where(TurnLatency.session_id == session_id)
            .order_by(TurnLatency.id)
        ).all()
    return [(c, t, ms) for c, t, ms in rows]
