"""BM25 over a company's chunks (bm25s + PyStemmer), persisted beside the Chroma collection.

The index is a derived view of the collection: it is rebuilt whenever the collection's version
marker changes (written by every ingest/remove, in any process) and saved under
`<index_dir>/<collection>/` so a fresh process loads it instead of re-reading Chroma. The index
also carries each chunk's text and metadata, which lets search hydrate hits without another
Chroma round trip.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.records import matches, normalize_tags

log = logging.getLogger(__name__)

_STEMMER: Any = None
# Single characters count: "plan 4", "tier B" and version digits are what people type.
TOKEN_PATTERN = r"(?u)\b\w+\b"
MASK_CACHE = 64


def _stemmer() -> Any:
    global _STEMMER
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("english")
    return _STEMMER


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lowercased, English-stopword-free, Snowball-stemmed terms."""
    import bm25s

    return bm25s.tokenize(
        texts,
        stopwords="en",
        stemmer=_stemmer(),
        return_ids=False,
        show_progress=False,
        token_pattern=TOKEN_PATTERN,
    )


@dataclass
class QueryTerms:
    """A query's distinct terms known to the index, and every term's best score in any chunk
    (its ceiling; unknown terms last, at the rarest term's ceiling)."""

    token_ids: list[int]
    ceilings: np.ndarray


def coverage(contributions: np.ndarray, ceilings: np.ndarray) -> float:
    """How much of the query a chunk explains, given each term's score in it and ceiling.

    Beyond its strongest term when the query has more than one: in "can I use it on my
    phone", a chunk that only says "phone" scores half the ceiling, yet half the chunks of a
    help center say "phone" - one shared word is what chance gives short queries. A rare
    word alone is evidence of another kind (decisiveness, in `knowledge.fusion`).
    """
    ceiling = float(ceilings.sum())
    if ceiling <= 0.0:
        return 0.0
    if len(ceilings) < 2:
        return float(contributions.sum()) / ceiling
    strongest = int(np.argmax(contributions))
    rest = ceiling - float(ceilings[strongest])
    if rest <= 0.0:
        return 0.0
    return (float(contributions.sum()) - float(contributions[strongest])) / rest


@dataclass
class LexicalIndex:
    """BM25 retriever plus the chunk records it was built from, in one order."""

    version: str
    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]
    retriever: Any  # bm25s.BM25 or None when empty
    embeddings: np.ndarray  # (n, dim) unit rows, same order: scores BM25-only candidates densely

    @classmethod
    def build(
        cls,
        version: str,
        ids: list[str],
        texts: list[str],
        metadatas: list[dict[str, Any]],
        indexed_texts: list[str],
        embeddings: np.ndarray,
    ) -> LexicalIndex:
        """Index `indexed_texts` (title/heading prefixed) for the records given."""
        retriever = None
        if ids:
            import bm25s

            retriever = bm25s.BM25()
            retriever.index(tokenize(indexed_texts), show_progress=False)
        return cls(version, ids, texts, metadatas, retriever, embeddings)

    def __post_init__(self) -> None:
        self.position = {cid: i for i, cid in enumerate(self.ids)}
        self.embeddings = np.ascontiguousarray(self.embeddings, dtype=np.float32)
        self.token_max = self._token_max()
        self._postings = self._csc()
        self._masks: dict[tuple[tuple[str, ...], tuple[str, ...]], np.ndarray] = {}

    def _csc(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """BM25's term-by-chunk score matrix: indptr per term, sorted chunk positions, scores."""
        if self.retriever is None:
            empty = np.zeros(0, dtype=np.int64)
            return np.zeros(1, dtype=np.int64), empty, empty.astype(np.float32)
        matrix = self.retriever.scores
        return (
            np.asarray(matrix["indptr"]),
            np.asarray(matrix["indices"]),
            np.asarray(matrix["data"], dtype=np.float32),
        )

    def _token_max(self) -> np.ndarray:
        """Per vocabulary term, its best score in any chunk: the ceiling a query can reach."""
        if self.retriever is None:
            return np.zeros(0, dtype=np.float32)
        indptr = np.asarray(self.retriever.scores["indptr"])
        data = np.asarray(self.retriever.scores["data"], dtype=np.float32)
        out = np.zeros(len(indptr) - 1, dtype=np.float32)
        nonempty = np.flatnonzero(np.diff(indptr) > 0)
        if len(nonempty):
            out[nonempty] = np.maximum.reduceat(data, indptr[nonempty])
        return out

    def scores(self, query: str) -> tuple[np.ndarray | None, QueryTerms]:
        """BM25 score of every chunk for `query`, and the query's terms (for `coverage`)."""
        terms = list(dict.fromkeys(tokenize([query])[0])) if self.retriever is not None else []
        token_ids = self.retriever.get_tokens_ids(terms) if terms else []
        rarest = float(self.token_max.max()) if len(self.token_max) else 0.0
        # A term the corpus never uses counts as its rarest term: the query asked for it.
        ceilings = np.concatenate(
            [self.token_max[token_ids], np.full(len(terms) - len(token_ids), rarest)]
        ).astype(np.float32)
        query_terms = QueryTerms(list(token_ids), ceilings)
        if not token_ids:
            return None, query_terms
        return np.asarray(self.retriever.get_scores(token_ids), dtype=np.float32), query_terms

    def contributions(self, terms: QueryTerms, position: int) -> np.ndarray:
        """Each query term's share of one chunk's BM25 score (0 for terms it lacks)."""
        out = np.zeros(len(terms.ceilings), dtype=np.float32)
        indptr, indices, data = self._postings
        for k, token in enumerate(terms.token_ids):
            lo, hi = int(indptr[token]), int(indptr[token + 1])
            j = lo + int(np.searchsorted(indices[lo:hi], position))
            if j < hi and indices[j] == position:
                out[k] = data[j]
        return out

    def top(self, scores: np.ndarray, k: int, mask: np.ndarray | None = None) -> np.ndarray:
        """Positions of the k best scores, best first: positive BM25 scores, or any
        similarity when `mask` (the chunks a filter allows) is given."""
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        k = min(k, len(scores))
        if k <= 0:
            return np.zeros(0, dtype=int)
        cand = np.argpartition(-scores, k - 1)[:k]
        cand = cand[np.argsort(-scores[cand], kind="stable")]
        return cand[scores[cand] > (-np.inf if mask is not None else 0)]

    def mask(self, tags: Sequence[str] | None, sources: Sequence[str] | None) -> np.ndarray:
        """Which chunks a tag/source filter allows (all of them without a filter); cached,
        since a widget asks with the same filter again and again."""
        key = (tuple(normalize_tags(tags or [])), tuple(sorted(set(sources or []))))
        found = self._masks.get(key)
        if found is None:
            if key == ((), ()):
                found = np.ones(len(self.ids), dtype=bool)
            else:
                found = np.fromiter(
                    (matches(m, key[0], key[1]) for m in self.metadatas),
                    dtype=bool,
                    count=len(self.ids),
                )
            if len(self._masks) >= MASK_CACHE:
                self._masks.pop(next(iter(self._masks)))
            self._masks[key] = found
        return found

    def save(self, folder: Path) -> None:
        """Write atomically: a temp folder renamed over the old one."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
        try:
            if self.retriever is not None:
                self.retriever.save(str(tmp / "bm25"))
            records = {"ids": self.ids, "texts": self.texts, "metadatas": self.metadatas}
            (tmp / "records.json").write_text(json.dumps(records))
            np.save(tmp / "embeddings.npy", self.embeddings)
            (tmp / "version").write_text(self.version)
            old = folder.with_name(folder.name + ".old")
            if folder.exists():
                shutil.rmtree(old, ignore_errors=True)
                os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        except Exception:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def load(cls, folder: Path, version: str) -> LexicalIndex | None:
        """The saved index if it matches `version`, else None (caller rebuilds)."""
        try:
            if (folder / "version").read_text() != version:
                return None
            records = json.loads((folder / "records.json").read_text())
            retriever = None
            if records["ids"]:
                import bm25s

                retriever = bm25s.BM25.load(str(folder / "bm25"))
            embeddings = np.load(folder / "embeddings.npy")
        except (OSError, ValueError, KeyError) as exc:
            log.info("BM25 index at %s unusable (%s); rebuilding", folder, type(exc).__name__)
            return None
        if len(embeddings) != len(records["ids"]):
            return None
        return cls(
            version, records["ids"], records["texts"], records["metadatas"], retriever, embeddings
        )
