"""Generated report data for `scripts/bench_delivery.py --only reports`: conversations over a
span of days with their questions, leads, meeting links, bookings, widget opens and per-turn
latency, written as the product writes them and COPYed into PostgreSQL one table at a time."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

QUESTIONS = [
    "What does the {p} plan cost?",
    "Is SSO included in {p}?",
    "Do you integrate with {i}?",
    "How long does onboarding take?",
    "Can we import tickets from {i}?",
    "Is there an API?",
    "Where is our data stored?",
    "Do you offer a free trial?",
    "How many agents can {p} have?",
    "Does {p} include voice support?",
    "Can the AI agent answer in {l}?",
    "What SLA comes with {p}?",
    "Do you support SAML single sign-on?",
]
UNANSWERED = [
    "Do you support {x}?",
    "Can I pay by invoice in {l}?",
    "Is there an on-premise version?",
    "Do you have a HIPAA BAA?",
    "Can we white-label the widget for {i}?",
    "Do you offer a discount for nonprofits?",
    "Is there a {x} mobile app?",
]
FILL = {
    "p": ["Starter", "Growth", "Enterprise"],
    "i": ["Zendesk", "Salesforce", "HubSpot", "Intercom", "Jira"],
    "l": ["German", "French", "Spanish", "Japanese"],
    "x": ["WhatsApp", "Teams", "SCIM", "Android", "iOS", "offline"],
}


def _text(rng: random.Random, templates: list[str]) -> str:
    template = rng.choice(templates)
    return template.format(**{k: rng.choice(v) for k, v in FILL.items()})


COLUMNS = {
    "conversations": "session_id, company_id, transport, started_at, turns, lead_updates",
    "report_questions": "company_id, session_id, text, normalized, answered, best_score,"
    " closest_title, closest_source, asked_at",
    "leads": "company_id, name, email, email_normalized, channel, session_id, status,"
    " created_at, updated_at",
    "report_meeting_links": "token, company_id, session_id, url, created_at, clicked_at",
    "report_bookings": "company_id, provider, external_id, session_id, booked_at",
    "turn_latencies": "company_id, session_id, channel, turn, first_audio_ms, first_text_ms,"
    " created_at",
    "report_daily_counters": "company_id, day, name, count",
}


def _conversation_rows(
    rng: random.Random, n: int, at: datetime, rows: dict[str, list[tuple[Any, ...]]]
) -> None:
    """One generated conversation with its questions, lead, link, booking and latencies."""
    from widget_api.reports.recorder import normalize_question

    sid = f"ws_bench_{n}"
    rows["conversations"].append(
        (sid, "bench", rng.choice(["webrtc", "relay", "text"]), at, rng.randint(1, 12), 0)
    )
    for k in range(rng.choice([0, 1, 2, 2, 3, 4])):
        unanswered = rng.random() < 0.12
        text = _text(rng, UNANSWERED if unanswered else QUESTIONS)
        score = rng.uniform(0.05, 0.28) if unanswered else rng.uniform(0.35, 0.9)
        title = rng.choice(["Pricing", "Security", "Integrations", "FAQ"])
        rows["report_questions"].append(
            ("bench", sid, text, normalize_question(text), not unanswered, score, title,
             f"{title.lower()}.md", at + timedelta(seconds=20 * k))
        )  # fmt: skip
    if rng.random() < 0.15:
        email, later = f"v{n}@example.com", at + timedelta(minutes=3)
        rows["leads"].append(("bench", f"V {n}", email, email, "text", sid, "new", later, later))
        if rng.random() < 0.5:
            clicked = at + timedelta(minutes=5) if rng.random() < 0.7 else None
            rows["report_meeting_links"].append(
                (uuid.uuid4().hex, "bench", sid, "https://calendly.com/bench/demo", at, clicked)
            )
            if clicked and rng.random() < 0.5:
                rows["report_bookings"].append(
                    ("bench", "calendly", f"calendly:{sid}", sid, clicked + timedelta(minutes=4))
                )
    for turn in range(1, rng.randint(2, 6)):
        rows["turn_latencies"].append(
            ("bench", sid, "relay", turn, rng.lognormvariate(6.3, 0.35),
             rng.lognormvariate(6.0, 0.35), at + timedelta(seconds=15 * turn))
        )  # fmt: skip


def generate(url: str, conversations: int, days: int, seed: int = 5) -> dict[str, int]:
    """Rows as the product writes them, generated in memory, then COPYed one table at a time."""
    rng = random.Random(seed)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in COLUMNS}
    opens: dict[date, int] = {}
    for n in range(conversations):
        at = today - timedelta(days=rng.randrange(days), seconds=rng.randrange(86400))
        opens[at.date()] = opens.get(at.date(), 0) + 1 + (rng.random() < 0.5)
        _conversation_rows(rng, n, at, rows)
    rows["report_daily_counters"] = [("bench", d, "widget_opened", c) for d, c in opens.items()]
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn, conn.cursor() as cur:
        for table, columns in COLUMNS.items():
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows[table]:
                    copy.write_row(row)
        conn.commit()
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {table: len(r) for table, r in rows.items()}
