"""Hybrid search: dense (Chroma) + BM25, fused; the hot path of every spoken answer.

Kept lean: the collection handle and the BM25 index are cached per company; the collection's
version marker is re-read at most every `VERSION_TTL` seconds so another process's ingest is
noticed quickly without a round trip on every query.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.embedding import Embedder
from knowledge.fusion import fuse
from knowledge.lexical import LexicalIndex, coverage
from knowledge.models import SearchHit
from knowledge.records import hit_from_record, indexed_text, where_filter
from knowledge.store import ChromaStore
from knowledge.store import _unavailable as unavailable

log = logging.getLogger(__name__)

VERSION_TTL = 1.0
CANDIDATES = 100
GET_PAGE = 5000
# Up to this many chunks the dense candidates come from one matrix-vector product over the
# in-memory embeddings (exact, and ~1 ms for 10k chunks); beyond it Chroma's HNSW index is
# cheaper than the scan.
EXACT_SCAN_LIMIT = 50_000
# Query vectors kept per process: visitors ask the same few questions (and the widget's
# suggested ones) over and over, and embedding is the largest cost of a search.
QUERY_CACHE = 1024


@functools.cache
def _single_threaded_blas() -> None:
    """Give the process one BLAS thread (once; process-wide, which is the point).

    The only BLAS work on the search path is one matrix-vector product per query, memory-bound
    (~0.25 ms over 11,499 passages). With OpenBLAS's default of a thread per core, its workers
    spin after each product and take a core from the ONNX Runtime threads that encode the next
    query: SciFact `search()` p99 was 14.0-16.8 ms with the default and 11.3-13.9 ms with one
    BLAS thread (six runs each, alternating, same store). Nothing else in a widget process
    leans on numpy's BLAS; torch keeps its own thread pool.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


class Searcher:
    """Per-process search state for all companies."""

    def __init__(self, store: ChromaStore, embedder: Embedder, index_dir: Path) -> None:
        _single_threaded_blas()
        self.store = store
        self.embedder = embedder
        self.index_dir = index_dir
        self._indexes: dict[str, LexicalIndex] = {}
        self._checked: dict[str, float] = {}
        self._lock = threading.Lock()
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._vectors_lock = threading.Lock()  # apart from `_lock`, held during rebuilds

    def query_vector(self, query: str) -> np.ndarray:
        """The query's embedding, from a small LRU cache (the model is deterministic)."""
        vector = self._vectors.get(query)
        if vector is None:
            vector = self.embedder.encode([query])[0]
            vector.setflags(write=False)
            with self._vectors_lock:
                self._vectors[query] = vector
                if len(self._vectors) > QUERY_CACHE:
                    self._vectors.popitem(last=False)
        else:
            with self._vectors_lock:
                if query in self._vectors:
                    self._vectors.move_to_end(query)
        return vector

    def clear_query_cache(self) -> None:
        """Forget cached query vectors (benchmarks measure the uncached path)."""
        with self._vectors_lock:
            self._vectors.clear()

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
        vectors: list[np.ndarray] = []
        offset = 0
        while coll is not None:
            page = coll.get(
                include=["documents", "metadatas", "embeddings"], limit=GET_PAGE, offset=offset
            )
            ids += page["ids"]
            texts += [d or "" for d in page["documents"] or []]
            metas += [dict(m or {}) for m in page["metadatas"] or []]
            if len(page["ids"]):
                vectors.append(np.asarray(page["embeddings"], dtype=np.float32))
            if len(page["ids"]) < GET_PAGE:
                break
            offset += GET_PAGE
        dim = self.embedder.dimension
        matrix = np.concatenate(vectors) if vectors else np.zeros((0, dim), dtype=np.float32)
        indexed = [indexed_text(t, m) for t, m in zip(texts, metas, strict=True)]
        index = LexicalIndex.build(version, ids, texts, metas, indexed, matrix)
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
        """Best `top_k` hits; `mode` is hybrid, dense or bm25 (the latter two for evaluation).

        Candidates are the dense top-n plus BM25's top-n; every candidate is then scored by
        both retrievers (the dense score from the in-memory copy of the embeddings), so the
        fusion never has to guess a missing score. The dense top-n is an exact scan of that
        copy up to `EXACT_SCAN_LIMIT` chunks and Chroma's HNSW index beyond.
        """
        if not query.strip() or top_k <= 0:
            return []
        index = self.lexical(collection)
        if index is None or not index.ids:
            return []
        n = max(candidates, top_k)
        vector = self.query_vector(query)
        similarity, dense_pos = self._nearest(collection, index, vector, n, tags, sources)
        lexical, terms = index.scores(query)
        if lexical is not None and (tags or sources):
            lexical = np.where(index.mask(tags, sources), lexical, 0.0)
        lexical_pos = index.top(lexical, n) if lexical is not None else np.zeros(0, dtype=int)
        pool = {"dense": dense_pos, "bm25": lexical_pos}.get(mode)
        if pool is None:
            pool = np.union1d(dense_pos, lexical_pos)
        if len(pool) == 0:
            return []
        dense_scores = (
            similarity[pool] if similarity is not None else index.embeddings[pool] @ vector
        )
        lexical_scores = lexical[pool] if lexical is not None else np.zeros(len(pool), np.float32)
        if mode == "dense":
            scores = dense_scores
        elif mode == "bm25":
            scores = lexical_scores
        else:
            best = int(np.argmax(lexical_scores))
            explained = coverage(index.contributions(terms, int(pool[best])), terms.ceilings)
            scores = fuse(dense_scores, lexical_scores, explained)
        order = np.argsort(-scores, kind="stable")[:top_k]
        return [
            hit_from_record(
                index.ids[pool[i]], index.texts[pool[i]], index.metadatas[pool[i]], scores[i]
            )
            for i in order
        ]

    def _nearest(
        self,
        collection: str,
        index: LexicalIndex,
        vector: np.ndarray,
        n: int,
        tags: Sequence[str] | None,
        sources: Sequence[str] | None,
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """(cosine of every chunk or None, positions of the n nearest chunks the filter allows).

        An exact scan of the in-memory embeddings up to `EXACT_SCAN_LIMIT` chunks: no Chroma
        round trip on the hot path, and no approximation. Beyond it, Chroma's HNSW index.
        """
        if len(index.ids) > EXACT_SCAN_LIMIT:
            return None, self._dense(collection, index, vector, n, tags, sources)
        similarity = index.embeddings @ vector
        return similarity, index.top(similarity, n, index.mask(tags, sources))

    def _dense(
        self,
        collection: str,
        index: LexicalIndex,
        vector: np.ndarray,
        n: int,
        tags: Sequence[str] | None,
        sources: Sequence[str] | None,
    ) -> np.ndarray:
        """Positions of Chroma's nearest chunks (ids unknown to our view are skipped)."""
        coll = self.store.collection(collection, create=False)
        if coll is None:
            return np.zeros(0, dtype=int)
        try:
            result = coll.query(
                query_embeddings=vector[None, :],
                n_results=min(n, len(index.ids)),
                where=where_filter(tags, sources),
                include=[],
            )
        except Exception as exc:  # the cached handle outlives a Chroma server that went away
            raise unavailable(exc) from exc
        # A chunk newer than our view appears after the next version check.
        positions = [index.position.get(cid) for cid in result["ids"][0]]
        return np.array([p for p in positions if p is not None], dtype=int)
