"""Extractive answers: the few sentences of the retrieved chunks that best answer a question.

Chunks are a few hundred words; reading one out would bury the answer. Each chunk is cut into
units (sentences, bullets, headings), each unit is scored by meaning against the question with
the same embedding model the knowledge base uses, and the best few are returned in document
order together with the documents they came from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_BULLET = re.compile(r"(?:^|\s)(?:[-*+\u2022]|\d+[.)])\s+(?=[A-Z0-9$])")
_MARKUP = re.compile(r"^[#>*\-\s|]+|[*_`]+")
MIN_SCORE = 0.30  # below this, a unit is not about the question at all
MARGIN = 0.12  # keep units nearly as good as the best one


class Encoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Source:
    title: str
    url: str | None
    source: str


@dataclass
class Answer:
    sentences: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


@dataclass(frozen=True)
class _Unit:
    text: str  # shown to the visitor
    context: str  # scored: the unit with its heading, so "Up to 10 agents" keeps its plan
    hit_index: int
    position: int


def hits_from_result(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The list of hits inside a `search_knowledge` result, whatever its key is called."""
    for key in ("passages", "results", "hits", "chunks"):
        value = result.get(key)
        if isinstance(value, list):
            return [h for h in value if isinstance(h, dict) and isinstance(h.get("text"), str)]
    return []


def split_units(text: str, section: str = "") -> list[tuple[str, str]]:
    """(unit, context) pairs of one chunk: its heading, its sentences and its bullets.

    Chunks arrive flattened (bullets as " - " runs), and the heading lives in `section`
    ("Doc > Heading"); a heading such as "Growth: $69 per agent per month" is itself an answer.
    """
    heading = _clean(section.rsplit(" > ", 1)[-1]) if " > " in section else ""
    # A heading is shown only when it states something ("Growth: $69 per agent per month"),
    # not when it is a topic label or the FAQ's question.
    informative = bool(heading) and not heading.endswith("?") and bool(re.search(r"[:\d]", heading))
    units: list[tuple[str, str]] = [(heading, heading)] if informative else []
    pieces = _BULLET.split(text)
    for sentence in _SENTENCE_END.split(" ".join(pieces[0].split())):
        sentence = _clean(sentence)
        if sentence:
            units.append((sentence, f"{heading}. {sentence}" if heading else sentence))
    for bullet in pieces[1:]:
        bullet = _clean(bullet)
        if bullet:
            units.append((f"{heading}: {bullet}" if heading else bullet, f"{heading}. {bullet}"))
    return [(u, c) for u, c in units if 3 <= len(u.split()) <= 80 and not u.endswith("?")]


def _clean(text: str) -> str:
    return " ".join(_MARKUP.sub("", text).split()).strip()


def extract_answer(
    question: str, hits: list[dict[str, Any]], encoder: Encoder, *, max_sentences: int = 3
) -> Answer:
    """The best sentences for `question` from the top hits, with their sources."""
    units = [
        _Unit(text=u, context=c, hit_index=i, position=p)
        for i, hit in enumerate(hits[:4])
        for p, (u, c) in enumerate(split_units(hit["text"], str(hit.get("section") or "")))
    ]
    if not units:
        return Answer()
    vectors = encoder.encode([question, *[u.context for u in units]])
    scores = vectors[1:] @ vectors[0]
    # Earlier hits were ranked higher by the hybrid search; a small nudge keeps that order.
    scores = scores - np.array([0.02 * u.hit_index for u in units])
    best = float(scores.max())
    if best < MIN_SCORE:
        return Answer()
    order = np.argsort(-scores)
    chosen: list[_Unit] = []
    for idx in order[: max_sentences * 3]:
        unit = units[int(idx)]
        if float(scores[idx]) < max(MIN_SCORE, best - MARGIN) or len(chosen) >= max_sentences:
            break
        if all(unit.text != c.text for c in chosen):
            chosen.append(unit)
    chosen.sort(key=lambda u: (u.hit_index, u.position))
    return Answer(
        sentences=[_sentence(u.text) for u in chosen],
        sources=_sources([hits[i] for i in dict.fromkeys(u.hit_index for u in chosen)]),
    )


def _sentence(text: str) -> str:
    return text if text[-1] in ".!?" else text + "."


def _sources(hits: list[dict[str, Any]]) -> list[Source]:
    seen: dict[tuple[str, str | None], Source] = {}
    for hit in hits:
        title = str(hit.get("title") or hit.get("source") or "Document")
        url = hit.get("url") if isinstance(hit.get("url"), str) else None
        seen.setdefault(
            (title, url), Source(title=title, url=url, source=str(hit.get("source", "")))
        )
    return list(seen.values())
