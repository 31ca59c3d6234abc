"""The latency report: time to first audio and to first text, p50/p95 per day."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import update

from tests.reports.seed import at
from widget_api.crm.db import Database
from widget_api.crm.latency import record_turn_latency, session_turn_latencies
from widget_api.crm.latency_models import TurnLatency
from widget_api.reports.latency import latency
from widget_api.reports.window import ReportQuery


def _turn(db: Database, sid: str, day: int, channel: str, audio: float | None,
          text: float | None) -> None:  # fmt: skip
    record_turn_latency(db, company_id="acme", session_id=sid, channel=channel,
                        first_audio_ms=audio, first_text_ms=text)  # fmt: skip
    with db.session() as session:  # back-date the row just written to its day
        session.execute(
            update(TurnLatency)
            .where(TurnLatency.session_id == sid, TurnLatency.created_at > at(day))
            .values(created_at=at(day))
        )


def test_a_text_turn_is_stored_without_audio(db: Database) -> None:
    record_turn_latency(db, company_id="acme", session_id="t1", channel="text",
                        first_text_ms=180.0)  # fmt: skip
    record_turn_latency(db, company_id="acme", session_id="t1", channel="text",
                        first_text_ms=150.0)  # fmt: skip
    assert session_turn_latencies(db, "t1") == [("text", 1, None, 180.0), ("text", 2, None, 150.0)]


def test_report_shows_audio_and_text_percentiles_per_day(db: Database) -> None:
    _turn(db, "v1", 23, "relay", 400.0, 300.0)
    _turn(db, "v1", 23, "relay", 600.0, 500.0)
    _turn(db, "t1", 23, "text", None, 100.0)
    _turn(db, "t2", 24, "text", None, 200.0)
    rows = latency(db, "acme", ReportQuery(since=date(2026, 11, 23), until=date(2026, 11, 24)))
    by_day = {r.day.isoformat(): r.model_dump(exclude={"day"}) for r in rows}
    assert by_day == {
        "2026-11-23": {"turns": 3, "first_audio_p50_ms": 500.0, "first_audio_p95_ms": 590.0,
                       "first_text_p50_ms": 300.0, "first_text_p95_ms": 480.0},
        "2026-11-24": {"turns": 1, "first_audio_p50_ms": None, "first_audio_p95_ms": None,
                       "first_text_p50_ms": 200.0, "first_text_p95_ms": 200.0},
    }  # fmt: skip


@pytest.mark.parametrize("channel", ["twilio", "sip"])
def test_phone_turns_report_time_to_first_text_beside_first_audio(
    db: Database, channel: str
) -> None:
    _turn(db, "p1", 23, channel, 700.0, 650.0)
    _turn(db, "p1", 23, channel, 900.0, 850.0)
    [row] = latency(db, "acme", ReportQuery(since=date(2026, 11, 23), until=date(2026, 11, 23)))
    assert (row.turns, row.first_audio_p50_ms, row.first_text_p50_ms) == (2, 800.0, 750.0)
    assert row.first_text_p95_ms == 840.0  # interpolated, as for audio
