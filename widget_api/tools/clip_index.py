"""Clip vectors per company, embedded once with the knowledge base's model."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from widget_api.companies.models import CompanyConfig, DemoClip

if TYPE_CHECKING:
    from knowledge.embedding import Embedder


class ClipIndex:
    """Finds the clip closest in meaning to a topic (cosine similarity of unit vectors)."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._vectors: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}
        self._lock = threading.Lock()

    def _clip_vectors(self, company: CompanyConfig) -> np.ndarray:
        """(clips, views, dim): each clip seen whole and as title, description and tags alone."""
        texts = tuple(text for c in company.clips for text in _views(c))
        key = (company.id, texts)
        with self._lock:
            vectors = self._vectors.get(key)
        if vectors is None:
            flat = self._embedder.encode(list(texts))
            vectors = flat.reshape(len(company.clips), _VIEWS, flat.shape[1])
            with self._lock:
                self._vectors[key] = vectors
        return vectors

    def best(self, company: CompanyConfig, topic: str) -> tuple[DemoClip, float] | None:
        """The best clip and its similarity, or None when the company has no clips."""
        if not company.clips:
            return None
        query = self._embedder.encode([topic])[0]
        # A short topic ("hubspot") matches a tag list better than a paragraph, and a question
        # matches the description better: score each clip by its closest view.
        scores = (self._clip_vectors(company) @ query).max(axis=1)
        index = int(np.argmax(scores))
        return company.clips[index], float(scores[index])


_VIEWS = 4


def _views(clip: DemoClip) -> tuple[str, str, str, str]:
    return (clip.search_text(), clip.title, clip.description, ", ".join(clip.tags) or clip.title)
