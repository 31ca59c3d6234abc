"""What the reports count is recorded on the real paths: the search tool records the question
(answered or not against the company's threshold), the meeting tool hands out a tracked link,
and loading the widget page counts an open."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from widget_api.crm.report_models import DailyCounter, MeetingLink, Question
from widget_api.services import Services
from widget_api.tools.registry import ToolContext


def _ctx(services: Services) -> ToolContext:
    company = services.companies.get("acme")
    return ToolContext(company=company, session_id=f"rec-{uuid.uuid4().hex[:8]}", channel="text")


def _run(services: Services, ctx: ToolContext, name: str, args: dict[str, Any]) -> Any:
    return services.tools.run(ctx, uuid.uuid4().hex, name, json.dumps(args))


def test_search_records_answered_and_unanswered_questions(base_services: Services) -> None:
    ctx = _ctx(base_services)
    _run(base_services, ctx, "search_knowledge", {"query": "What does the Growth plan cost?"})
    _run(base_services, ctx, "search_knowledge", {"query": "Do you sell garden furniture?"})
    stmt = select(Question.text, Question.answered).where(Question.session_id == ctx.session_id)
    rows = dict(base_services.db.run(lambda s: s.execute(stmt).all()))
    assert rows == {"What does the Growth plan cost?": True, "Do you sell garden furniture?": False}


def test_meeting_link_comes_with_a_tracked_click_url(
    base_services: Services, client: FlaskClient
) -> None:
    ctx = _ctx(base_services)
    outcome = _run(base_services, ctx, "create_meeting_link", {"name": "Ada"})
    click = outcome.result["click_url"]
    assert click.startswith("/go/")
    answer = client.get(click)
    assert answer.status_code == 302 and answer.headers["Location"] == outcome.result["url"]
    link = base_services.db.run(lambda s: s.get(MeetingLink, click.removeprefix("/go/")))
    assert link is not None and link.clicked_at is not None


def test_loading_the_widget_page_counts_an_open(
    base_services: Services, client: FlaskClient
) -> None:
    stmt = select(DailyCounter.count).where(DailyCounter.company_id == "acme",
                                            DailyCounter.name == "widget_opened")  # fmt: skip

    def opens() -> int:
        return sum(base_services.db.run(lambda s: s.execute(stmt).scalars().all()))

    before = opens()
    assert client.get("/widget/acme").status_code == 200
    assert opens() == before + 1
