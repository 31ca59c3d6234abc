"""Time to first audio and to first text per day (p50, p95), from the per-turn latency table."""

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

MEASURES = ("first_audio", "first_text")


class LatencyRow(BaseModel):
    """One day's turns; a figure is None when no turn that day measured it (text has no audio)."""

    day: date
    turns: int
    first_audio_p50_ms: float | None
    first_audio_p95_ms: float | None
    first_text_p50_ms: float | None = None
    first_text_p95_ms: float | None = None


def _table() -> Any:
    try:
        from widget_api.crm.latency_models import TurnLatency
    except ImportError:  # a build without per-turn latency recording
        return None
    return TurnLatency


def _rounded(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def _figures(session: Session, model: Any, company_id: str, q: ReportQuery) -> dict[date, Any]:
    dialect = session.get_bind().dialect.name
    day = _day(model.created_at, dialect)
    where = (model.company_id == company_id, model.created_at >= q.start,
             model.created_at < q.end)  # fmt: skip
    columns = [getattr(model, f"{m}_ms") for m in MEASURES]
    if dialect == "postgresql":
        # percentile_cont ignores NULLs: each measure over the turns that measured it.
        stmt = select(day, func.count(), *(
            func.percentile_cont(p).within_group(c) for c in columns for p in (0.5, 0.95)
        )).where(*where).group_by(day)  # fmt: skip
        return {
            _as_date(d): {"turns": int(n), **{
                f"{m}_{name}": _rounded(v)
                for (m, name), v in zip(
                    [(m, n) for m in MEASURES for n in ("p50", "p95")], figures, strict=True
                )
            }}
            for d, n, *figures in session.execute(stmt).all()
        }  # fmt: skip
    values: dict[date, list[tuple[Any, ...]]] = {}
    for d, *measured in session.execute(select(day, *columns).where(*where)).all():
        values.setdefault(_as_date(d), []).append(tuple(measured))
    out: dict[date, Any] = {}
    for d, turns in values.items():
        out[d] = {"turns": len(turns)}
        for i, m in enumerate(MEASURES):
            found = [float(t[i]) for t in turns if t[i] is not None]
            p50, p95 = np.percentile(np.asarray(found), [50, 95]) if found else (None, None)
            out[d].update({f"{m}_p50": _rounded(p50), f"{m}_p95": _rounded(p95)})
    return out


def latency(db: Database, company_id: str, q: ReportQuery) -> list[LatencyRow]:
    """Days of the window with recorded turns; empty when nothing measures latency."""
    model = _table()
    if model is None:
        return []
    days = per_day(db, company_id, "latency.v2", q,
                   lambda s, span: _figures(s, model, company_id, span))  # fmt: skip
    return [
        LatencyRow(day=d, turns=f["turns"], **{
            f"{m}_{p}_ms": f.get(f"{m}_{p}") for m in MEASURES for p in ("p50", "p95")
        })
        for d, f in sorted(days.items()) if f
    ]  # fmt: skip
