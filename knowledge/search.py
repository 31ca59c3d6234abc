"""Hybrid search: dense (Chroma) + BM25, fused; the hot path of every spoken answer.

Kept lean: the collection handle and the BM25 index are cached per company; the collection's
version marker is re-read at most every `VERSION_TTL` seconds so another process's ingest is
noticed quickly without a round trip on every query.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.embedding import Embedder
from knowledge.fusion import fuse
from knowledge.lexical import LexicalIndex
from knowledge.models import SearchHit
from knowledge.records import hit_from_record, indexed_text, matches, where_filter
from knowledge.store import ChromaStore

log = logging.getLogger(__name__)

VERSION_TTL = 1.0
CANDIDATES = 100
GET_PAGE = 5000


class Searcher:
    """Per-process search state for all companies."""

    def __init__(self, store: ChromaStore, embedder: Embedder, index_dir: Path) -> None:
        self.store = store
        self.embedder = embedder
        self.index_dir = index_dir
        self._indexes: dict[str, LexicalIndex] = {}
        self._checked: dict[str, float] = {}
        self._lock = threading.Lock()

    def invalidate(self, collection: str) -> None:
        """Forget cached state after this process changed the collection."""
        with self._lock:
            self._indexes.pop(collection, None)
            self._checked.pop(collection, None)

    def lexical(self, collection: str) -> LexicalIndex | None:
        """The BM25 view of `collection`, rebuilt or reloaded when its version changed."""
        now = time.monotonic()
        cached = self._indexes.get(collection)
        if cached is not None and now - self._checked.get(collection, 0.0) < VERSION_TTL:
            return cached
        with self._lock:
            version = self.store.version(collection)
            self._checked[collection] = time.monotonic()
            if version is None:
                self._indexes.pop(collection, None)
                return None
            cached = self._indexes.get(collection)
            if cached is not None and cached.version == version:
                return cached
            folder = self.index_dir / collection
            index = LexicalIndex.load(folder, version) or self._rebuild(collection, version, folder)
            self._indexes[collection] = index
            return index

    def _rebuild(self, collection: str, version: str, folder: Path) -> LexicalIndex:
        coll = self.store.collection(collection, create=False)
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        offset = 0
        while coll is not None:
            page = coll.get(include=["documents", "metadatas"], limit=GET_PAGE, offset=offset)
            ids += page["ids"]
            texts += [d or "" for d in page["documents"] or []]
            metas += [dict(m or {}) for m in page["metadatas"] or []]
            if len(page["ids"]) < GET_PAGE:
                break
            offset += GET_PAGE
        indexed = [indexed_text(t, m) for t, m in zip(texts, metas, strict=True)]
        index = LexicalIndex.build(version, ids, texts, metas, indexed)
        try:
            index.save(folder)
        except OSError as exc:  # a read-only index dir only costs a rebuild per process
            log.warning("cannot save BM25 index to %s: %s", folder, exc)
        log.info("BM25 index for %s rebuilt: %d chunks", collection, len(ids))
        return index

    def search(
        self,
        collection: str,
        query: str,
        top_k: int,
        *,
        tags: Sequence[str] | None,
        sources: Sequence[str] | None,
        mode: str = "hybrid",
        candidates: int = CANDIDATES,
    ) -> list[SearchHit]:
        """Best `top_k` hits; `mode` is hybrid, dense or bm25 (the latter two for evaluation)."""
        if not query.strip() or top_k <= 0:
            return []
        index = self.lexical(collection)
        if index is None or not index.ids:
            return []
        n = max(candidates, top_k)
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        if mode in ("hybrid", "dense"):
            dense = self._dense(collection, index, query, n, tags, sources)
        if mode in ("hybrid", "bm25"):
            mask = None
            if tags or sources:
                mask = np.array([matches(m, tags, sources) for m in index.metadatas], dtype=bool)
            lexical = index.top(query, n, mask)
        ranked = fuse(dense, lexical) if mode == "hybrid" else (dense or lexical)
        return [
            hit_from_record(index.ids[pos], index.texts[pos], index.metadatas[pos], score)
            for pos, score in ranked[:top_k]
        ]

    def _dense(
        self,
        collection: str,
        index: LexicalIndex,
        query: str,
        n: int,
        tags: Sequence[str] | None,
        sources: Sequence[str] | None,
    ) -> list[tuple[int, float]]:
        coll = self.store.collection(collection, create=False)
        if coll is None:
            return []
        vector = self.embedder.encode([query])
        result = coll.query(
            query_embeddings=vector,
            n_results=min(n, len(index.ids)),
            where=where_filter(tags, sources),
            include=["distances"],
        )
        out: list[tuple[int, float]] = []
        for cid, dist in zip(result["ids"][0], (result["distances"] or [[]])[0], strict=True):
            pos = index.position.get(cid)
            if pos is not None:  # a chunk newer than our BM25 view appears after the next refresh
                out.append((pos, 1.0 - float(dist)))
        return out
