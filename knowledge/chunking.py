"""Structure-aware chunking budgeted in the embedding model's own word pieces.

The model silently truncates input past `max_tokens` (256 for MiniLM), so every chunk, with its
title/heading prefix and the special tokens, must fit. Sections (heading paths) and pages are
never mixed in one chunk; paragraphs are packed greedily; an oversized paragraph is split at
sentence, then word boundaries. Consecutive chunks of one section share a small overlap so a
fact spanning a boundary stays findable.

BERT word-piece counts are additive over whitespace-joined pieces (the pre-tokenizer splits on
whitespace and punctuation first), so each unit is counted once and the sums are exact.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from knowledge.embedding import Embedder, count_tokens_many
from knowledge.models import Block, Chunk, Document

# Room left under the model limit for tokenizer edge cases ([UNK] merges, odd unicode).
SAFETY_MARGIN = 8
# Aim below the hard limit: smaller chunks retrieve more precisely.
TARGET_TOKENS = 200
# Carry at most this many tokens of the previous chunk's tail into the next one.
OVERLAP_TOKENS = 40
SPECIAL_TOKENS = 2

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=\S)")


def context_prefix(title: str, heading_path: Sequence[str]) -> str:
    """Title and headings prepended to the chunk for embedding and BM25: they carry the topic."""
    parts = [title] if title else []
    parts += [h for h in heading_path if h and h != title]
    return " > ".join(parts)


def embed_text(title: str, heading_path: Sequence[str], text: str) -> str:
    """The exact string the model embeds and BM25 indexes for a chunk."""
    prefix = context_prefix(title, heading_path)
    return f"{prefix}\n{text}" if prefix else text


@dataclass
class _Unit:
    text: str
    tokens: int  # without special tokens


def _split_words(text: str, embedder: Embedder, limit: int) -> list[str]:
    """Last resort for a sentence longer than the budget: cut between words."""
    words = text.split()
    counts = count_tokens_many(embedder, words)
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for word, n in zip(words, counts, strict=True):
        n -= SPECIAL_TOKENS
        if current and used + n > limit:
            pieces.append(" ".join(current))
            current, used = [], 0
        current.append(word)
        used += n
    if current:
        pieces.append(" ".join(current))
    return pieces


def _units(text: str, embedder: Embedder, limit: int) -> list[_Unit]:
    """Sentences of a paragraph, each no longer than `limit` tokens."""
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    counts = count_tokens_many(embedder, sentences)
    units: list[_Unit] = []
    for sentence, n in zip(sentences, counts, strict=True):
        n -= SPECIAL_TOKENS
        if n <= limit:
            units.append(_Unit(sentence, n))
            continue
        pieces = _split_words(sentence, embedder, limit)
        units += [
            _Unit(p, c - SPECIAL_TOKENS)
            for p, c in zip(pieces, count_tokens_many(embedder, pieces), strict=True)
        ]
    return units


def _pack(units: list[_Unit], budget: int, target: int) -> list[str]:
    """Greedy packing of sentence units with a small sentence-level overlap."""
    chunks: list[str] = []
    current: list[_Unit] = []
    used = 0
    for unit in units:
        if current and used + unit.tokens > target:
            chunks.append(" ".join(u.text for u in current))
            tail = current[-1]
            keep = tail.tokens <= OVERLAP_TOKENS and tail.tokens + unit.tokens <= budget
            current, used = ([tail], tail.tokens) if keep else ([], 0)
        current.append(unit)
        used += unit.tokens
    if current:
        chunks.append(" ".join(u.text for u in current))
    return chunks


def _sections(blocks: Sequence[Block]) -> list[tuple[tuple[str, ...], int | None, list[str]]]:
    """Consecutive blocks grouped by (heading path, page)."""
    groups: list[tuple[tuple[str, ...], int | None, list[str]]] = []
    for block in blocks:
        text = " ".join(block.text.split()) if "\n" not in block.text else block.text.strip()
        if not text:
            continue
        if groups and groups[-1][0] == block.heading_path and groups[-1][1] == block.page:
            groups[-1][2].append(text)
        else:
            groups.append((block.heading_path, block.page, [text]))
    return groups


def chunk_document(doc: Document, embedder: Embedder, target: int = TARGET_TOKENS) -> list[Chunk]:
    """Split `doc` into chunks whose embedded form fits the model's window."""
    groups = _sections(doc.blocks)
    prefixes = [context_prefix(doc.title, path) for path, _, _ in groups]
    prefix_counts = count_tokens_many(embedder, prefixes)
    chunks: list[Chunk] = []
    for (path, page, paragraphs), prefix_n in zip(groups, prefix_counts, strict=True):
        prefix_tokens = (prefix_n - SPECIAL_TOKENS) if prefixes else 0
        budget = embedder.max_tokens - SPECIAL_TOKENS - SAFETY_MARGIN - prefix_tokens
        if budget < 32:  # absurdly long headings: drop them from the budgeted prefix's weight
            budget = 32
        units: list[_Unit] = []
        for paragraph in paragraphs:
            units += _units(" ".join(paragraph.split()), embedder, budget)
        for text in _pack(units, budget, min(target, budget)):
            chunks.append(Chunk(text=text, heading_path=path, page=page, position=len(chunks)))
    return _enforce_limit(doc.title, chunks, embedder)


def _enforce_limit(title: str, chunks: list[Chunk], embedder: Embedder) -> list[Chunk]:
    """Verify the final strings; re-split any that the additive estimate got wrong."""
    texts = [embed_text(title, c.heading_path, c.text) for c in chunks]
    counts = count_tokens_many(embedder, texts)
    limit = embedder.max_tokens
    if all(n <= limit for n in counts):
        return chunks
    fixed: list[Chunk] = []
    for chunk, n in zip(chunks, counts, strict=True):
        if n <= limit:
            fixed.append(chunk)
            continue
        words = chunk.text.split()
        half = max(1, len(words) // 2)
        for part in (" ".join(words[:half]), " ".join(words[half:])):
            if part:
                fixed.append(Chunk(part, chunk.heading_path, chunk.page, 0))
    renumbered = [Chunk(c.text, c.heading_path, c.page, i) for i, c in enumerate(fixed)]
    return _enforce_limit(title, renumbered, embedder)
