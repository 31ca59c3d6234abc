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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_STEMMER: Any = None
# Single characters count: "plan 4", "tier B" and version digits are what people type.
TOKEN_PATTERN = r"(?u)\b\w+\b"


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

    def scores(self, query: str) -> tuple[np.ndarray | None, float]:
        """BM25 score of every chunk for `query`, and the query's score ceiling.

        The ceiling sums, over the query's distinct terms, the best score each term reaches in
        the corpus; a term the corpus never uses counts as the rarest term. A document's score
        divided by it says how much of the query the document explains, which is comparable
        across queries (raw BM25 is not).
        """
        if self.retriever is None:
            return None, 0.0
        terms = list(dict.fromkeys(tokenize([query])[0]))
        token_ids = self.retriever.get_tokens_ids(terms)
        rarest = float(self.token_max.max()) if len(self.token_max) else 0.0
        ceiling = float(self.token_max[token_ids].sum()) + (len(terms) - len(token_ids)) * rarest
        if not token_ids:
            return None, ceiling
        return np.asarray(self.retriever.get_scores(token_ids), dtype=np.float32), ceiling

    def top(self, scores: np.ndarray, k: int) -> np.ndarray:
        """Positions of the k best positive scores, best first."""
        k = min(k, len(scores))
        cand = np.argpartition(-scores, k - 1)[:k]
        cand = cand[np.argsort(-scores[cand], kind="stable")]
        return cand[scores[cand] > 0]

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
