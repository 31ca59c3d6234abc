"""Structure-aware chunking budgeted in the embedding model's own word pieces.

The model silently truncates input past `max_tokens` (256 for MiniLM), so every chunk, with its
title/heading prefix and the special tokens, must fit. Sections (heading paths) and pages are
never mixed in one chunk; paragraphs are packed greedily; an oversized paragraph is split at
sentence, then word boundaries, and a single over-long token (a bookmarklet URL, a base64
image, minified code) at word-piece boundaries. Consecutive chunks of one section share a
small overlap so a fact spanning a boundary stays findable. Code and table blocks keep their
line structure: each line is a unit and lines are joined with newlines; code lines are indented
four spaces (Markdown's indented code), so answer extraction never reads them out as prose.

BERT word-piece counts are additive over whitespace-joined pieces (the pre-tokenizer splits on
whitespace and punctuation first), so each unit is counted once and the sums are nearly exact;
a final pass verifies every chunk and re-splits the rare one the estimate got wrong. Every
step strictly shrinks what it splits, so chunking terminates on any input and never raises.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

from knowledge.embedding import Embedder, count_tokens_many
from knowledge.models import Block, Chunk, Document

# Room left under the model limit for tokenizer edge cases ([UNK] merges, odd unicode).
SAFETY_MARGIN = 8
# Aim below the hard limit: smaller chunks retrieve more precisely.
TARGET_TOKENS = 200
# Carry at most this many tokens of the previous chunk's tail into the next one.
OVERLAP_TOKENS = 40
SPECIAL_TOKENS = 2
# A title or heading longer than this (in word pieces) is cut: the prefix goes into every
# chunk of its section and must leave room for the text.
MAX_HEADING_TOKENS = 32
MAX_PREFIX_HEADINGS = 3
MIN_BUDGET = 32
# WordPiece turns a "word" longer than this into one [UNK]: the model would see nothing of a
# 20 kB base64 blob while the chunk grew without bound. Longer runs are cut to this size.
MAX_WORD_CHARS = 100
LINE_KINDS = ("code", "table")
CODE_INDENT = "    "

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=\S)")
# Lone surrogates cannot be encoded for the tokenizer; NULs and other C0 controls carry nothing.
_LONG_WORD = re.compile(rf"\S{{{MAX_WORD_CHARS + 1},}}")
_UNENCODABLE = re.compile(r"[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def context_prefix(title: str, heading_path: Sequence[str]) -> str:
    """Title and headings prepended to the chunk for embedding and BM25: they carry the topic."""
    parts = [title] if title else []
    parts += [h for h in heading_path if h and h != title]
    return " > ".join(parts)


def embed_text(title: str, heading_path: Sequence[str], text: str) -> str:
    """The exact string the model embeds and BM25 indexes for a chunk."""
    prefix = context_prefix(title, heading_path)
    return f"{prefix}\n{text}" if prefix else text


def clean_text(text: str) -> str:
    """Text the tokenizer accepts: lone surrogates become U+FFFD, control characters go."""
    return _UNENCODABLE.sub(lambda m: "\ufffd" if m.group() >= "\ud800" else " ", text)


@dataclass
class _Unit:
    text: str
    tokens: int  # without special tokens
    joiner: str = " "  # how it attaches to the previous unit of the same chunk


def _tokenizer(embedder: Embedder) -> Any:
    """The embedder's Hugging Face tokenizer when it exposes one (for word-piece offsets)."""
    for name in ("tokenizer", "_tokenizer"):
        tok = getattr(embedder, name, None)
        if callable(tok):
            return tok
    return None


def split_token(word: str, embedder: Embedder, limit: int) -> list[str]:
    """Cut one over-long whitespace-free token into pieces of at most `limit` word pieces.

    Cuts fall on the tokenizer's word-piece boundaries when its offsets are available;
    otherwise the longest fitting prefix is found by bisection on characters.
    """
    limit = max(1, limit)
    tok = _tokenizer(embedder)
    if tok is not None:
        try:
            enc = tok(word, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
            starts = [start for start, _ in enc["offset_mapping"]]
        except Exception:  # a slow tokenizer without offsets: fall back to bisection
            starts = []
        if len(starts) > limit:
            cuts = [0, *(starts[i] for i in range(limit, len(starts), limit)), len(word)]
            pieces = [word[a:b] for a, b in pairwise(cuts) if word[a:b]]
            if len(pieces) > 1:
                return pieces
    return _bisect_split(word, embedder, limit)


def _bisect_split(word: str, embedder: Embedder, limit: int) -> list[str]:
    pieces: list[str] = []
    rest = word
    while rest:
        lo, hi = 1, len(rest)
        while lo < hi:  # longest prefix that fits (one character always does)
            mid = (lo + hi + 1) // 2
            if embedder.count_tokens(rest[:mid]) - SPECIAL_TOKENS <= limit:
                lo = mid
            else:
                hi = mid - 1
        pieces.append(rest[:lo])
        rest = rest[lo:]
    return pieces


def _split_words(text: str, embedder: Embedder, limit: int) -> list[_Unit]:
    """Last resort for a sentence longer than the budget: cut between words (and inside
    a single word that alone exceeds the budget)."""
    words = text.split()
    counts = count_tokens_many(embedder, words)
    units: list[_Unit] = []
    current: list[str] = []
    used = 0
    for word, n in zip(words, counts, strict=True):
        n -= SPECIAL_TOKENS
        if n > limit:
            if current:
                units.append(_Unit(" ".join(current), used))
                current, used = [], 0
            pieces = split_token(word, embedder, limit)
            piece_counts = count_tokens_many(embedder, pieces)
            units += [
                _Unit(p, c - SPECIAL_TOKENS) for p, c in zip(pieces, piece_counts, strict=True)
            ]
            continue
        if current and used + n > limit:
            units.append(_Unit(" ".join(current), used))
            current, used = [], 0
        current.append(word)
        used += n
    if current:
        units.append(_Unit(" ".join(current), used))
    return units


def _break_long_words(text: str) -> str:
    return _LONG_WORD.sub(
        lambda m: " ".join(
            m.group()[i : i + MAX_WORD_CHARS] for i in range(0, len(m.group()), MAX_WORD_CHARS)
        ),
        text,
    )


def _units(texts: list[str], embedder: Embedder, limit: int) -> list[_Unit]:
    """Each of `texts` as a unit, or split into units of at most `limit` tokens."""
    texts = [_break_long_words(t) for t in texts]
    counts = count_tokens_many(embedder, texts)
    units: list[_Unit] = []
    for text, n in zip(texts, counts, strict=True):
        n -= SPECIAL_TOKENS
        if n <= limit:
            units.append(_Unit(text, n))
        else:
            units += _split_words(text, embedder, limit)
    return units


def _block_units(block: Block, embedder: Embedder, limit: int) -> list[_Unit]:
    """Units of one block: sentences of prose, lines of code and tables."""
    if block.kind in LINE_KINDS:
        lines = [ln.rstrip() for ln in block.text.splitlines() if ln.strip()]
        units = _units(lines, embedder, limit)
        for unit in units:
            unit.joiner = "\n"
            if block.kind == "code":  # indented as Markdown writes code (whitespace costs no
                unit.text = CODE_INDENT + unit.text  # tokens): answers never read it as prose
        return units
    flat = " ".join(block.text.split())
    sentences = [s for s in _SENTENCE_END.split(flat) if s.strip()]
    return _units(sentences, embedder, limit)


def _pack(units: list[_Unit], budget: int, target: int) -> list[str]:
    """Greedy packing of units with a small unit-level overlap."""
    chunks: list[str] = []
    current: list[_Unit] = []
    used = 0
    for unit in units:
        if current and used + unit.tokens > target:
            chunks.append(_join(current))
            tail = current[-1]
            keep = tail.tokens <= OVERLAP_TOKENS and tail.tokens + unit.tokens <= budget
            current, used = ([tail], tail.tokens) if keep else ([], 0)
        current.append(unit)
        used += unit.tokens
    if current:
        chunks.append(_join(current))
    return chunks


def _join(units: list[_Unit]) -> str:
    text = units[0].text
    for unit in units[1:]:
        text += unit.joiner + unit.text
    return text


def _sections(blocks: Sequence[Block]) -> list[tuple[tuple[str, ...], int | None, list[Block]]]:
    """Consecutive non-empty blocks grouped by (heading path, page)."""
    groups: list[tuple[tuple[str, ...], int | None, list[Block]]] = []
    for block in blocks:
        if not block.text.strip():
            continue
        if groups and groups[-1][0] == block.heading_path and groups[-1][1] == block.page:
            groups[-1][2].append(block)
        else:
            groups.append((block.heading_path, block.page, [block]))
    return groups


def _short(text: str, embedder: Embedder, limit: int) -> str:
    """`text` cut to its first `limit` word pieces (headings and titles)."""
    text = " ".join(clean_text(text).split())
    if len(text) <= limit:  # a character is at most one word piece
        return text
    if embedder.count_tokens(text) - SPECIAL_TOKENS <= limit:
        return text
    units = _split_words(text, embedder, limit)
    return units[0].text if units else ""


def fit_document(doc: Document, embedder: Embedder) -> Document:
    """`doc` with tokenizer-safe text and a title and headings short enough that every
    chunk's prefix leaves room for text. Chunk ids and the indexed text use this form."""
    title = _short(doc.title, embedder, MAX_HEADING_TOKENS)
    cache: dict[tuple[str, ...], tuple[str, ...]] = {}
    blocks: list[Block] = []
    for block in doc.blocks:
        path = cache.get(block.heading_path)
        if path is None:
            kept = block.heading_path[-MAX_PREFIX_HEADINGS:]
            path = tuple(_short(h, embedder, MAX_HEADING_TOKENS) for h in kept)
            cache[block.heading_path] = path
        blocks.append(replace(block, text=clean_text(block.text), heading_path=path))
    return replace(doc, title=title, blocks=blocks)


def chunk_document(doc: Document, embedder: Embedder, target: int = TARGET_TOKENS) -> list[Chunk]:
    """Split `doc` into chunks whose embedded form fits the model's window.

    Call with a document passed through `fit_document` (sync does) so the chunk prefixes
    match the title used for the ids; it is applied here too, which is a no-op then.
    """
    doc = fit_document(doc, embedder)
    groups = _sections(doc.blocks)
    prefixes = [context_prefix(doc.title, path) for path, _, _ in groups]
    prefix_counts = count_tokens_many(embedder, prefixes)
    chunks: list[Chunk] = []
    for (path, page, blocks), prefix_n in zip(groups, prefix_counts, strict=True):
        prefix_tokens = prefix_n - SPECIAL_TOKENS
        budget = embedder.max_tokens - SPECIAL_TOKENS - SAFETY_MARGIN - prefix_tokens
        budget = max(budget, MIN_BUDGET)
        units: list[_Unit] = []
        for block in blocks:
            block_units = _block_units(block, embedder, budget)
            if units and block_units and block_units[0].joiner == " ":
                block_units[0].joiner = "\n"  # blocks stay apart: lists, paragraphs
            units += block_units
        for text in _pack(units, budget, min(target, budget)):
            chunks.append(Chunk(text=text, heading_path=path, page=page, position=len(chunks)))
    return _enforce_limit(doc.title, chunks, embedder)


def _enforce_limit(title: str, chunks: list[Chunk], embedder: Embedder) -> list[Chunk]:
    """Verify the final strings; re-split any that the additive estimate got wrong.

    Iterative, and every split strictly shortens the text, so this always ends: a chunk of
    one character fits because the prefix is bounded by `fit_document`.
    """
    limit = embedder.max_tokens
    current = list(chunks)
    verified = [False] * len(current)
    while not all(verified):
        todo = [i for i, ok in enumerate(verified) if not ok]
        texts = [embed_text(title, current[i].heading_path, current[i].text) for i in todo]
        counts = count_tokens_many(embedder, texts)
        over = {i for i, n in zip(todo, counts, strict=True) if n > limit}
        over = {i for i in over if len(current[i].text) > 1}
        nxt: list[Chunk] = []
        flags: list[bool] = []
        for i, chunk in enumerate(current):
            if i in over:
                parts = _halves(chunk.text)
                nxt += [replace(chunk, text=p) for p in parts]
                flags += [False] * len(parts)
            else:
                nxt.append(chunk)
                flags.append(True)
        current, verified = nxt, flags
    return [replace(c, position=i) for i, c in enumerate(current)]


def _halves(text: str) -> list[str]:
    """Two strictly shorter parts: at the middle space when there is one, else mid-string."""
    words = text.split()
    if len(words) > 1:
        half = len(words) // 2
        return [" ".join(words[:half]), " ".join(words[half:])]
    middle = max(1, len(text) // 2)
    return [text[:middle], text[middle:]]
