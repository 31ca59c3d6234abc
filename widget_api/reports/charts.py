"""Plain inline SVG charts: drawn on the server, no script and no third-party asset, so the
admin page's strict Content-Security-Policy stays as it is."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from widget_api.reports.funnel import STAGES, FunnelReport

LABELS = {
    "widget_opened": "Widget opened",
    "conversation_started": "Conversation started",
    "question_answered": "Question answered",
    "lead": "Lead",
    "meeting_clicked": "Meeting link clicked",
    "meeting_booked": "Meeting booked",
}
COLORS = ("#2563eb", "#0891b2", "#059669", "#ca8a04", "#ea580c", "#dc2626")


def _svg_open(label: str, width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{label}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" class="chart">'
    )


def funnel_svg(report: FunnelReport, width: int = 640) -> Markup:
    """Horizontal bars per stage (window totals), with the share kept from the stage before."""
    totals = [getattr(report.totals, s) for s in STAGES]
    top = max(totals) or 1
    bar_h, gap, label_w = 26, 8, 170
    height = len(STAGES) * (bar_h + gap)
    parts = [_svg_open("Funnel", width, height)]
    for i, (stage, value) in enumerate(zip(STAGES, totals, strict=True)):
        y = i * (bar_h + gap)
        w = round((width - label_w - 110) * value / top)
        share = ""
        if i and totals[i - 1]:
            share = f" ({100 * value / totals[i - 1]:.0f}%)"
        parts += [
            f'<text x="0" y="{y + 18}" font-size="13">{escape(LABELS[stage])}</text>',
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="{COLORS[i]}">'
            f"<title>{escape(LABELS[stage])}: {value}</title></rect>",
            f'<text x="{label_w + w + 6}" y="{y + 18}" font-size="13">{value}{share}</text>',
        ]
    parts.append("</svg>")
    return Markup("".join(parts))


def series_svg(
    report: FunnelReport,
    stages: Sequence[str] = ("conversation_started", "lead", "meeting_booked"),
    width: int = 640,
    height: int = 180,
) -> Markup:
    """One line per stage over the window's days or weeks, with a legend."""
    rows = report.rows
    pad_l, pad_b, legend_h = 36, 20, 18
    plot_w, plot_h = width - pad_l - 8, height - pad_b - legend_h
    top = max([getattr(r, s) for r in rows for s in stages] + [1])
    step = plot_w / max(len(rows) - 1, 1)
    parts = [_svg_open("Per period", width, height),
             f'<text x="0" y="{legend_h + 10}" font-size="11">{top}</text>',
             f'<line x1="{pad_l}" y1="{legend_h + plot_h}" x2="{width - 8}" '
             f'y2="{legend_h + plot_h}" stroke="#9ca3af"/>']  # fmt: skip
    for n, stage in enumerate(stages):
        color = COLORS[STAGES.index(stage)]
        points = " ".join(
            f"{pad_l + i * step:.1f},{legend_h + plot_h - plot_h * getattr(r, stage) / top:.1f}"
            for i, r in enumerate(rows)
        )
        parts += [
            f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>',
            f'<rect x="{pad_l + n * 170}" y="2" width="10" height="10" fill="{color}"/>',
            f'<text x="{pad_l + n * 170 + 14}" y="11" font-size="11">'
            f"{escape(LABELS[stage])}</text>",
        ]
    if rows:
        first, last = rows[0].period_start.isoformat(), rows[-1].period_start.isoformat()
        parts += [
            f'<text x="{pad_l}" y="{height - 4}" font-size="11">{first}</text>',
            f'<text x="{width - 8}" y="{height - 4}" font-size="11" text-anchor="end">'
            f"{last}</text>",
        ]
    parts.append("</svg>")
    return Markup("".join(parts))
