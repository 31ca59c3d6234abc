"""Top questions, and unanswered questions grouped by meaning with the real model."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.reports import seed
from tests.reports.seed import at
from widget_api.crm.db import Database
from widget_api.reports.questions import faq_draft, top_questions, unanswered
from widget_api.reports.recorder import forget_sessions, says_it_does_not_know
from widget_api.reports.window import ReportQuery

WINDOW = ReportQuery(since=date(2026, 11, 20), until=date(2026, 11, 29))

SSO = ["Do you support SAML single sign-on?", "Is SSO with SAML supported?",
       "can we log in with single sign-on (SAML)"]  # fmt: skip
INVOICE = ["Can I pay by invoice?", "Do you accept payment by invoice?"]


def _unanswered(db: Database) -> None:
    for i, text in enumerate(SSO * 2):
        seed.question(db, f"s{i}", text, at(24), answered=False, title="Security", score=0.21)
    for i, text in enumerate(INVOICE):
        seed.question(db, f"i{i}", text, at(25), answered=False, title="Pricing", score=0.18)
    seed.question(db, "x", "What does the Growth plan cost?", at(25), answered=True, score=0.8)
    seed.question(db, "old", "Do you support SAML single sign-on?", at(2), answered=False)


def test_unanswered_questions_are_grouped_by_meaning(db: Database, embedder: Any) -> None:
    _unanswered(db)
    report = unanswered(db, embedder, "acme", WINDOW)
    assert [(g.count, g.closest_document.title) for g in report.groups] == [
        (6, "Security"), (2, "Pricing")
    ]  # fmt: skip
    sso, invoice = report.groups
    assert set(sso.examples) <= set(SSO) and len(sso.examples) == 3
    assert set(invoice.examples) == set(INVOICE)
    assert sso.best_score == 0.21


def test_grouping_reuses_cached_vectors(db: Database, embedder: Any) -> None:
    _unanswered(db)
    unanswered(db, embedder, "acme", WINDOW)

    class NoModel:
        def encode(self, texts: list[str]) -> Any:
            raise AssertionError(f"embedded again: {texts}")

    assert len(unanswered(db, NoModel(), "acme", WINDOW).groups) == 2


def test_faq_draft_has_one_heading_per_group(db: Database, embedder: Any) -> None:
    _unanswered(db)
    text = faq_draft(unanswered(db, embedder, "acme", WINDOW), "Acme Relay")
    assert text.startswith("# Acme Relay: frequently asked questions (draft)")
    assert text.count("\n## ") == 2 and "TODO: answer." in text


def test_top_questions_count_same_wording_once(db: Database) -> None:
    for sid in ("a", "b", "c"):
        seed.question(db, sid, "What does Growth cost?", at(24), answered=True)
    seed.question(db, "d", "  what does growth cost ", at(24), answered=False)
    seed.question(db, "e", "Is there an API?", at(24), answered=True)
    rows = top_questions(db, "acme", WINDOW)
    assert [(r.count, r.answered_share) for r in rows] == [(4, 0.75), (1, 1.0)]


def test_forgetting_a_session_removes_its_questions(db: Database, embedder: Any) -> None:
    _unanswered(db)
    unanswered(db, embedder, "acme", WINDOW)
    db.run(lambda s: forget_sessions(s, ["i0", "i1"]))
    assert [g.count for g in unanswered(db, embedder, "acme", WINDOW).groups] == [6]


def test_an_answer_that_admits_not_knowing_is_recognised() -> None:
    assert says_it_does_not_know("Sorry, I don't know whether we support that.")
    assert says_it_does_not_know("I couldn't find that in our documentation.")
    assert not says_it_does_not_know("Yes, SAML single sign-on is in the Enterprise plan.")


def test_an_answer_admitting_it_does_not_know_marks_the_question(db: Database) -> None:
    from sqlalchemy import select

    from widget_api.crm.record import Line, append_lines
    from widget_api.crm.report_models import Question

    seed.conversation(db, "s1", at(24))
    seed.question(db, "s1", "Do you have a HIPAA BAA?", at(24), answered=True, score=0.4)
    append_lines(db, "acme", "s1", [Line("assistant", "Our plans start at 49 dollars.")])
    answered = select(Question.answered).where(Question.session_id == "s1")
    assert db.run(lambda s: s.scalar(answered)) is True
    append_lines(db, "acme", "s1", [Line("assistant", "I'm not sure, I couldn't find that.")])
    assert db.run(lambda s: s.scalar(answered)) is False
