"""Extractive answers: the few sentences of the retrieved chunks that best answer a question.

Chunks are a few hundred words; reading one out would bury the answer. Each chunk is cut into
units (lines, table rows, bullets, sentences, an informative heading), markup is removed and
units that are code or markup are dropped. Each unit is scored against the question by meaning
(the knowledge base's own embedding model) plus term overlap, so a short decisive sentence with
the question's words ("We're not able to accept wire transfers") is not outranked by a
longer, vaguer one. Negations and exceptions are kept: a unit saying "not", "except" or
"only" gets a wider margin, and an exception right after a chosen unit ("However, ...") comes
with it. Near-duplicates are dropped, and every sentence carries its source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_BULLET = re.compile(r"(?:^|\s)(?:[-*+\u2022]|\d+[.)])\s+(?=[A-Z0-9$])")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_MARKUP = re.compile(r"^[#>*\-\s|]+|[*_`]+|:{3,}\w*|\{#[^}]*\}")
_CODE_HINT = re.compile(
    r"^\s*(?:import|export|const|let|var|function|def|class|return)\b|=>|\);|[{}]|</|/>|\$\(|&&"
)
_WORD = re.compile(r"[a-z0-9$€£%]+(?:'[a-z]+)?")
_NEGATION = re.compile(
    r"\b(?:not|no|never|cannot|none|without|except|unless|only|excluding)\b|n't\b", re.I
)
_EXCEPTION_START = re.compile(r"^(?:however|except|but|unless|note|only|excluding)\b", re.I)
_STOP = frozenset(
    re.split(
        r"\s+",
        """a an the and or of to in on for with by at from is are was were be been being do does did
    can could would should will shall may might must i you we they it he she our your their my me
    us what which who whom how when where why there here this that these those any some if so as
    about into than then too very just also have has had""".strip(),
    )
)
MIN_SCORE = 0.30  # meaning alone below this: the unit is not about the question at all
MARGIN = 0.12  # keep units nearly as good as the best one
NEGATION_MARGIN = 0.20  # negations and exceptions decide answers: keep them a little wider
OVERLAP_WEIGHT = 0.35
DUPLICATE_SIMILARITY = 0.92


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
    citations: list[int] = field(default_factory=list)  # per sentence: index into sources

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    def lines(self) -> list[str]:
        """The sentences with their sources: one source named at the end, or a marker per
        sentence ("[2]") and a numbered source list when several documents answered."""
        if not self.sentences:
            return []
        if len(self.sources) <= 1:
            title = self.sources[0].title if self.sources else "our documentation"
            return [*self.sentences, f"(Source: {title}.)"]
        marked = [f"{s} [{c + 1}]" for s, c in zip(self.sentences, self.citations, strict=True)]
        names = "; ".join(f"[{i}] {s.title}" for i, s in enumerate(self.sources, start=1))
        return [*marked, f"(Sources: {names}.)"]


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
    """(unit, context) pairs of one chunk: its heading, lines, bullets and sentences.

    The heading lives in `section` ("Doc > Heading"); a heading such as "Growth: $69 per
    agent per month" is itself an answer. Lines (table rows, list items, paragraphs) are
    split first, then bullets flattened into a line, then sentences.
    """
    heading = _clean(section.rsplit(" > ", 1)[-1]) if " > " in section else ""
    # A heading is shown only when it states something, not when it is a topic label or the
    # FAQ's question.
    informative = bool(heading) and not heading.endswith("?") and bool(re.search(r"[:\d]", heading))
    units: list[tuple[str, str]] = [(heading, heading)] if informative else []
    for line in text.splitlines():
        if line.startswith(("    ", "\t")):  # a code line (the chunker indents code)
            continue
        pieces = _BULLET.split(" " + line.strip())
        for sentence in _SENTENCE_END.split(" ".join(pieces[0].split())):
            units.append(_with_heading(_clean(sentence), heading, bullet=False))
        for bullet in pieces[1:]:
            units.append(_with_heading(_clean(bullet), heading, bullet=True))
    return [
        (u, c)
        for u, c in units
        if 3 <= len(u.split()) <= 80 and not u.endswith("?") and not _looks_like_code(u)
    ]


def _with_heading(unit: str, heading: str, *, bullet: bool) -> tuple[str, str]:
    if not heading or not unit:
        return unit, unit
    shown = f"{heading}: {unit}" if bullet else unit
    return shown, f"{heading}. {unit}"


def _clean(text: str) -> str:
    """Visitor-facing text: tags, fences, anchors and Markdown emphasis removed."""
    text = _TAG.sub(" ", text)
    return " ".join(_MARKUP.sub("", text).split()).strip()


def _looks_like_code(text: str) -> bool:
    if _CODE_HINT.search(text):
        return True
    symbols = sum(
        1 for ch in text if not (ch.isalnum() or ch.isspace() or ch in ".,;:'\"!?$%€£()-/&+")
    )
    return symbols > 0.15 * len(text)


def _terms(text: str) -> set[str]:
    """Crude stems (6-letter prefixes) of the content words: enough to match plan/plans,
    transfer/transfers without a stemmer."""
    return {w[:6] for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


def _score(question: str, units: list[_Unit], vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(meaning, combined) scores of the units: cosine, plus term overlap, minus a nudge
    for lower-ranked hits (the hybrid search ranked them lower).

    Overlap weighs each question term by how rare it is among the candidate units, so the
    product's name (in every unit) counts little and "Shopify" (in one) counts a lot.
    """
    meaning = vectors[1:] @ vectors[0]
    wanted = _terms(question)
    unit_terms = [_terms(u.context) for u in units]
    n = len(units)
    weight = {t: float(np.log1p(n / max(1, sum(t in ts for ts in unit_terms)))) for t in wanted}
    total = sum(weight.values()) or 1.0
    overlap = np.array([sum(weight[t] for t in wanted & ts) / total for ts in unit_terms])
    rank = np.array([0.02 * u.hit_index for u in units])
    return meaning, meaning + OVERLAP_WEIGHT * overlap - rank


def extract_answer(
    question: str, hits: list[dict[str, Any]], encoder: Encoder, *, max_sentences: int = 3
) -> Answer:
    """The best sentences for `question` from the top hits, each with its source."""
    units = [
        _Unit(text=u, context=c, hit_index=i, position=p)
        for i, hit in enumerate(hits[:4])
        for p, (u, c) in enumerate(split_units(hit["text"], str(hit.get("section") or "")))
    ]
    if not units:
        return Answer()
    vectors = encoder.encode([question, *[u.context for u in units]])
    meaning, scores = _score(question, units, vectors)
    if float(meaning.max()) < MIN_SCORE:
        return Answer()
    chosen = _choose(units, scores, meaning, vectors[1:], max_sentences)
    chosen.sort(key=lambda i: (units[i].hit_index, units[i].position))
    sources, cite = _sources(hits, [units[i].hit_index for i in chosen])
    return Answer(
        sentences=[_sentence(units[i].text) for i in chosen],
        sources=sources,
        citations=[cite[units[i].hit_index] for i in chosen],
    )


def _choose(
    units: list[_Unit],
    scores: np.ndarray,
    meaning: np.ndarray,
    vectors: np.ndarray,
    max_sentences: int,
) -> list[int]:
    """Indices of the units to say: the best ones, negations within a wider margin, an
    exception following a chosen unit, never a near-duplicate."""
    best = float(scores.max())
    chosen: list[int] = []

    def duplicate(i: int) -> bool:
        text = units[i].text.lower()
        return any(
            float(vectors[i] @ vectors[j]) > DUPLICATE_SIMILARITY
            or text in units[j].text.lower()
            or units[j].text.lower() in text
            for j in chosen
        )

    for idx in np.argsort(-scores, kind="stable"):
        i = int(idx)
        if len(chosen) >= max_sentences:
            break
        margin = NEGATION_MARGIN if _NEGATION.search(units[i].text) else MARGIN
        if float(scores[i]) < best - margin or float(meaning[i]) < MIN_SCORE * 0.8:
            continue
        if duplicate(i):
            continue
        chosen.append(i)
        follower = _exception_after(units, i)
        if follower is not None and len(chosen) < max_sentences and not duplicate(follower):
            chosen.append(follower)
    return chosen


def _exception_after(units: list[_Unit], i: int) -> int | None:
    """The next unit of the same hit when it qualifies the chosen one ("However, ...")."""
    j = i + 1
    same_hit = j < len(units) and units[j].hit_index == units[i].hit_index
    return j if same_hit and _EXCEPTION_START.match(units[j].text) else None


def _sentence(text: str) -> str:
    return text if text[-1] in ".!?" else text + "."


def _sources(hits: list[dict[str, Any]], used: list[int]) -> tuple[list[Source], dict[int, int]]:
    """The distinct documents of the hits used, and each hit's index among them."""
    sources: list[Source] = []
    keys: dict[tuple[str, str | None], int] = {}
    cite: dict[int, int] = {}
    for h in dict.fromkeys(used):
        hit = hits[h]
        title = str(hit.get("title") or hit.get("source") or "Document")
        url = hit.get("url") if isinstance(hit.get("url"), str) else None
        key = (title, url)
        if key not in keys:
            keys[key] = len(sources)
            sources.append(Source(title=title, url=url, source=str(hit.get("source", ""))))
        cite[h] = keys[key]
    return sources, cite
