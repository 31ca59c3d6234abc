"""Time to first audio per day (p50, p95), from the per-turn latency table when it exists."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from widget_api.crm.db import Database
from widget_api.reports.daycache import per_day
from widget_api.reports.funnel import _as_date, _day
from widget_api.reports.window import ReportQuery


class LatencyRow(BaseModel):
    day: date
    turns: int
    first_audio_p50_ms: float
    first_audio_p95_ms: float


def _table() -> Any:
    try:
        from widget_api.crm.latency_models import TurnLatency
    except ImportError:  # a build without per-turn latency recording
        return None
    return TurnLatency


def _figures(session: Session, model: Any, company_id: str, q: ReportQuery) -> dict[date, Any]:
    dialect = session.get_bind().dialect.name
    day = _day(model.created_at, dialect)
    where = (model.company_id == company_id, model.created_at >= q.start,
             model.created_at < q.end)  # fmt: skip
    if dialect == "postgresql":
        stmt = (
            select(day, func.count(),
                   func.percentile_cont(0.5).within_group(model.first_audio_ms),
                   func.percentile_cont(0.95).within_group(model.first_audio_ms))
            .where(*where).group_by(day)
        )  # fmt: skip
        return {_as_date(d): {"turns": int(n), "p50": round(p50, 1), "p95": round(p95, 1)}
                for d, n, p50, p95 in session.execute(stmt).all()}  # fmt: skip
    values: dict[date, list[float]] = {}
    for d, ms in session.execute(select(day, model.first_audio_ms).where(*where)).all():
        values.setdefault(_as_date(d), []).append(float(ms))
    out = {}
    for d, found in values.items():
        p50, p95 = np.percentile(np.asarray(found), [50, 95])
        out[d] = {"turns": len(found), "p50": round(float(p50), 1), "p95": round(float(p95), 1)}
    return out


def latency(db: Database, company_id: str, q: ReportQuery) -> list[LatencyRow]:
    """Days of the window with recorded turns; empty when nothing measures latency."""
    model = _table()
    if model is None:
        return []
    days = per_day(db, company_id, "latency", q,
                   lambda s, span: _figures(s, model, company_id, span))  # fmt: skip
    return [
        LatencyRow(day=d, turns=f["turns"], first_audio_p50_ms=f["p50"],
                   first_audio_p95_ms=f["p95"])
        for d, f in sorted(days.items()) if f
    ]  # fmt: skip
