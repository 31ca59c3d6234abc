"""`search_knowledge`: the only source of facts the rep may state."""

from __future__ import annotations

import logging
from pathlib import PurePath

from pydantic import BaseModel, ConfigDict, Field

from widget_api.tools.base import RunContext, ToolError
from widget_api.vocabulary import ToolName

log = logging.getLogger(__name__)

NAME: ToolName = "search_knowledge"
DESCRIPTION = (
    "Search the company's documents (product, pricing, security, integrations, FAQ). Call it"
    " before stating any price, plan, feature, limit or policy, and answer only from the"
    " results, naming the source. Returns the most relevant passages."
)
_MAX_PASSAGE_CHARS = 1500
MAX_QUERY_INPUT_CHARS = 4000


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # Long queries are shortened, not refused (the model sometimes passes the visitor's whole
    # message); the cap only stops absurd payloads.
    query: str = Field(
        min_length=2,
        max_length=MAX_QUERY_INPUT_CHARS,
        description="What to look up, as a short self-contained question or phrase, e.g."
        " 'price of the Growth plan' or 'is SSO supported'.",
    )
    top_k: int | None = Field(
        None, ge=1, le=8, description="How many passages to return (1-8, default 4)."
    )


class Passage(BaseModel):
    title: str
    source: str
    url: str | None
    section: str
    text: str
    score: float


class Result(BaseModel):
    found: bool
    passages: list[Passage]


def _public_source(source: str, url: str | None) -> str:
    # A file's server path means nothing to the visitor and maps the server's disk for anyone.
    if url or "://" in source:
        return source
    return PurePath(source).name or source


def run(args: Args, ctx: RunContext) -> Result:
    """Search the company's collection; Chroma down → `knowledge_unavailable`."""
    from knowledge import KnowledgeUnavailable
    from knowledge.query import shorten_query
    from widget_api.reports.recorder import record_question

    query = shorten_query(args.query)
    try:
        hits = ctx.deps.knowledge.search(ctx.company.collection, query, args.top_k or 4)
    except KnowledgeUnavailable:
        log.warning("knowledge base unavailable for %s", ctx.company.id)
        raise ToolError("knowledge_unavailable") from None
    record_question(
        ctx.deps.db,
        company_id=ctx.company.id,
        session_id=ctx.session_id,
        query=args.query,
        hits=hits,
        threshold=ctx.company.relevance_threshold,
    )  # fmt: skip  (the unanswered-questions report; best effort, never raises)
    passages = [
        Passage(
            title=h.title,
            source=h.url or _public_source(h.source, h.url),
            url=h.url,
            section=" > ".join(h.heading_path),
            text=h.text[:_MAX_PASSAGE_CHARS],
            score=round(float(h.score), 4),
        )
        for h in hits
    ]
    return Result(found=bool(passages), passages=passages)
