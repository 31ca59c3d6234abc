"""Fusing dense and BM25 rankings into one.

Placeholder RRF; replaced by the measured fusion below once tuned.
"""

from __future__ import annotations


def fuse(
    dense: list[tuple[int, float]], lexical: list[tuple[int, float]], k: int = 60
) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of two best-first (position, score) lists."""
    scores: dict[int, float] = {}
    for ranking in (dense, lexical):
        for rank, (pos, _) in enumerate(ranking):
            scores[pos] = scores.get(pos, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores.items(), key=lambda kv: -kv[1])
