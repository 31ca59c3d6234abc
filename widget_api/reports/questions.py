"""Top questions, and the unanswered ones grouped by meaning for the FAQ a marketer writes.

Unanswered: the search's best passage scored below the company's relevance threshold, or the
rep then said it did not know. Distinct texts are embedded with the same model as the
knowledge base (cached per text in `report_question_vectors`, so a report embeds only texts it
has not seen) and grouped greedily: most-asked first, each joins the closest group whose
centroid is within `GROUP_SIMILARITY` cosine, or starts its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from pydantic import BaseModel
from sqlalchemy import Integer, cast, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from widget_api.crm.db import Database
from widget_api.crm.report_models import Question, QuestionVector
from widget_api.reports.daycache import per_day
from widget_api.reports.funnel import _as_date, _day
from widget_api.reports.recorder import vector_key
from widget_api.reports.window import ReportQuery

GROUP_SIMILARITY = 0.55  # MiniLM: paraphrases ~0.6-0.9, unrelated questions < 0.3
MAX_DISTINCT = 2000  # texts grouped per report (the most asked); the rest are rare one-offs
MAX_EXAMPLES = 3


class TopQuestion(BaseModel):
    question: str
    count: int
    answered_share: float


class ClosestDocument(BaseModel):
    title: str | None
    source: str | None


class UnansweredGroup(BaseModel):
    question: str  # the most asked wording
    count: int
    examples: list[str]
    closest_document: ClosestDocument | None
    best_score: float | None


class UnansweredReport(BaseModel):
    since: str
    until: str
    groups: list[UnansweredGroup]


def _top_per_day(session: Session, company_id: str, q: ReportQuery) -> dict[date, Any]:
    day = _day(Question.asked_at, session.get_bind().dialect.name)
    stmt = (
        select(day, Question.normalized, func.count(), func.sum(cast(Question.answered, Integer)))
        .where(
            Question.company_id == company_id,
            Question.asked_at >= q.start,
            Question.asked_at < q.end,
        )
        .group_by(day, Question.normalized)
    )
    out: dict[date, dict[str, list[int]]] = {}
    for d, norm, n, answered in session.execute(stmt).all():
        out.setdefault(_as_date(d), {})[norm] = [int(n), int(answered or 0)]
    return out


def top_questions(db: Database, company_id: str, q: ReportQuery) -> list[TopQuestion]:
    """The most asked questions (same wording after normalization) in the window.

    Per-day counts per wording are cached for settled days (covering index otherwise), so a
    window of months merges a few hundred small maps instead of rescanning every question.
    """
    days = per_day(db, company_id, "top_questions", q,
                   lambda s, span: _top_per_day(s, company_id, span))  # fmt: skip
    totals: dict[str, list[int]] = {}
    for counts in days.values():
        for norm, (n, answered) in counts.items():
            total = totals.setdefault(norm, [0, 0])
            total[0] += n
            total[1] += answered
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1][0], kv[0]))[: q.limit]
    return [
        TopQuestion(question=_sentence(norm), count=n, answered_share=round(answered / n, 3))
        for norm, (n, answered) in ranked
    ]


@dataclass
class _Text:
    normalized: str
    example: str
    count: int
    best_score: float | None
    documents: Counter[tuple[str | None, str | None]] = field(default_factory=Counter)


def _unanswered_per_day(session: Session, company_id: str, q: ReportQuery) -> dict[date, Any]:
    """Per day and wording: [count, an example, best score, [[title, source, n], ...]]."""
    day = _day(Question.asked_at, session.get_bind().dialect.name)
    # `NOT answered`, the partial index's own predicate, so the planner reads that index only.
    stmt = (
        select(day, Question.normalized, Question.closest_title, Question.closest_source,
               func.count(), func.min(Question.text), func.max(Question.best_score))
        .where(Question.company_id == company_id, ~Question.answered,
               Question.asked_at >= q.start, Question.asked_at < q.end)
        .group_by(day, Question.normalized, Question.closest_title, Question.closest_source)
    )  # fmt: skip
    out: dict[date, dict[str, list[Any]]] = {}
    for d, norm, title, source, n, text, best in session.execute(stmt).all():
        entry = out.setdefault(_as_date(d), {}).setdefault(norm, [0, text, None, []])
        entry[0] += int(n)
        entry[1] = min(entry[1], text)
        if best is not None:
            entry[2] = best if entry[2] is None else max(entry[2], best)
        entry[3].append([title, source, int(n)])
    return out


def _unanswered_texts(db: Database, company_id: str, q: ReportQuery) -> list[_Text]:
    days = per_day(db, company_id, "unanswered", q,
                   lambda s, span: _unanswered_per_day(s, company_id, span))  # fmt: skip
    by_text: dict[str, _Text] = {}
    for entries in days.values():
        for norm, (n, example, best, documents) in entries.items():
            item = by_text.setdefault(norm, _Text(norm, example, 0, None))
            item.count += n
            item.example = min(item.example, example)
            if best is not None:
                item.best_score = best if item.best_score is None else max(item.best_score, best)
            for title, source, m in documents:
                item.documents[(title, source)] += m
    ranked = sorted(by_text.values(), key=lambda t: (-t.count, t.normalized))
    return ranked[:MAX_DISTINCT]


def _vectors(db: Database, embedder: Any, texts: Sequence[str]) -> np.ndarray:
    """Unit vectors of `texts`: cached ones from the table, the rest embedded and stored."""
    keys = [vector_key(t) for t in texts]
    stmt = select(QuestionVector.key, QuestionVector.vector).where(QuestionVector.key.in_(keys))
    cached = dict(db.run(lambda s: s.execute(stmt).all(), readonly=True))
    missing = [i for i, k in enumerate(keys) if k not in cached]
    if missing:
        fresh = np.asarray(embedder.encode([texts[i] for i in missing]), dtype=np.float32)
        rows = [{"key": keys[i], "vector": fresh[j].tobytes()} for j, i in enumerate(missing)]
        insert = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
        db.run(lambda s: s.execute(insert(QuestionVector).values(rows).on_conflict_do_nothing()),
               durable=False)  # fmt: skip
        cached.update({r["key"]: r["vector"] for r in rows})
    if not keys:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([np.frombuffer(cached[k], dtype=np.float32) for k in keys])


def group_by_meaning(vectors: np.ndarray, weights: Sequence[int]) -> list[list[int]]:
    """Indices grouped greedily (input order, so most asked first) by centroid similarity."""
    groups: list[list[int]] = []
    sums: list[np.ndarray] = []
    centroids = np.zeros((0, vectors.shape[1] if vectors.size else 0), dtype=np.float32)
    for i, vector in enumerate(vectors):
        if len(groups):
            sims = centroids @ vector
            best = int(np.argmax(sims))
            if sims[best] >= GROUP_SIMILARITY:
                groups[best].append(i)
                sums[best] = sums[best] + weights[i] * vector
                centroids[best] = sums[best] / np.linalg.norm(sums[best])
                continue
        groups.append([i])
        sums.append(weights[i] * vector)
        centroids = np.vstack([centroids, vector[None, :]])
    return groups


def unanswered(db: Database, embedder: Any, company_id: str, q: ReportQuery) -> UnansweredReport:
    """Unanswered questions grouped by meaning: count, examples and the closest document."""
    texts = _unanswered_texts(db, company_id, q)
    vectors = _vectors(db, embedder, [t.normalized for t in texts])
    groups = []
    for members in group_by_meaning(vectors, [t.count for t in texts]) if texts else []:
        items = [texts[i] for i in members]
        documents: Counter[tuple[str | None, str | None]] = Counter()
        for item in items:
            documents.update(item.documents)
        (title, source), _n = documents.most_common(1)[0] if documents else ((None, None), 0)
        scores = [t.best_score for t in items if t.best_score is not None]
        groups.append(UnansweredGroup(
            question=items[0].example,
            count=sum(t.count for t in items),
            examples=[t.example for t in items[:MAX_EXAMPLES]],
            closest_document=ClosestDocument(title=title, source=source)
            if title or source else None,
            best_score=round(max(scores), 4) if scores else None,
        ))  # fmt: skip
    groups.sort(key=lambda g: (-g.count, g.question))
    return UnansweredReport(since=q.first_day.isoformat(), until=q.last_day.isoformat(),
                            groups=groups[: q.limit])  # fmt: skip


def faq_draft(report: UnansweredReport, company_name: str) -> str:
    """A Markdown FAQ skeleton: one heading per group, answers left for the marketer.

    Ingestible as is (`knowledge ingest`), once the answers are written.
    """
    lines = [
        f"# {company_name}: frequently asked questions (draft)",
        "",
        f"<!-- Unanswered questions {report.since} to {report.until}, grouped by meaning. "
        "Write each answer, delete what should stay unanswered, then ingest this file. -->",
        "",
    ]
    for group in report.groups:
        lines += [f"## {_sentence(group.question)}", ""]
        others = [e for e in group.examples if e != group.question]
        if others:
            lines += ["<!-- Also asked as: " + "; ".join(_sentence(e) for e in others) + " -->"]
        where = group.closest_document
        if where is not None:
            lines += [f"<!-- Closest document now: {where.title or where.source} -->"]
        lines += [f"<!-- Asked {group.count} times. -->", "", "TODO: answer.", ""]
    return "\n".join(lines).rstrip() + "\n"


def _sentence(text: str) -> str:
    text = " ".join(text.split()).replace("-->", "->")
    text = text[:1].upper() + text[1:]
    return text if text.endswith(("?", ".", "!")) else text + "?"
