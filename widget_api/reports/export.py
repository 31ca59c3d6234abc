"""CSV exports of the reports (spreadsheet-safe: no cell starts a formula)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from widget_api.reports.funnel import STAGES, FunnelReport
from widget_api.reports.latency import LatencyRow
from widget_api.reports.questions import TopQuestion, UnansweredReport

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    # Question texts come from visitors: a leading "=" would run as a formula in a spreadsheet.
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue()


def funnel_csv(report: FunnelReport) -> str:
    return to_csv(
        ["period_start", *STAGES],
        ([r.period_start.isoformat(), *(getattr(r, s) for s in STAGES)] for r in report.rows),
    )


def top_csv(rows: list[TopQuestion]) -> str:
    return to_csv(["question", "count", "answered_share"],
                  ([r.question, r.count, r.answered_share] for r in rows))  # fmt: skip


def unanswered_csv(report: UnansweredReport) -> str:
    return to_csv(
        ["question", "count", "examples", "closest_title", "closest_source", "best_score"],
        (
            [g.question, g.count, " | ".join(g.examples),
             g.closest_document.title if g.closest_document else None,
             g.closest_document.source if g.closest_document else None, g.best_score]
            for g in report.groups
        ),
    )  # fmt: skip


def latency_csv(rows: list[LatencyRow]) -> str:
    return to_csv(["day", "turns", "first_audio_p50_ms", "first_audio_p95_ms",
                   "first_text_p50_ms", "first_text_p95_ms"],
                  ([r.day.isoformat(), r.turns, r.first_audio_p50_ms, r.first_audio_p95_ms,
                    r.first_text_p50_ms, r.first_text_p95_ms]
                   for r in rows))  # fmt: skip
