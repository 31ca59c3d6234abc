"""Incremental sync of documents into a company's collections.

Per document: compare its fingerprint (content + tags) with the manifest; unchanged documents
cost nothing. For the others, chunk, derive stable ids, embed only ids Chroma does not hold yet,
delete the document's ids that are no longer wanted, then write the manifest record. Because
the manifest is written last and the wanted/stale sets are recomputed from Chroma each run, an
ingest killed at any point converges on the next run.

Embedding is batched across documents (large batches keep the encoder saturated) and Chroma
writes go in the same large batches. All documents are planned before anything is embedded,
so the progress bar knows the run's total chunk count (and the time left) from the plan.
A document whose chunking or embedding fails is reported failed; the others go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from knowledge.chunking import chunk_document, embed_text, fit_document
from knowledge.embedding import Embedder
from knowledge.errors import KnowledgeUnavailable
from knowledge.models import Document, DocumentPlan
from knowledge.records import (
    chunk_id,
    chunk_metadata,
    document_fingerprint,
    document_key,
    normalize_tags,
)

log = logging.getLogger(__name__)

EMBED_BATCH = 256
LOOKUP_BATCH = 100
GET_PAGE = 5000
Progress = Callable[[str, int, int], None]  # (phase, advance, total; 0 = unknown)


@dataclass
class _Waiting:
    """A new or changed document, chunked, before its existing chunk ids are looked up."""

    doc: Document
    plan: DocumentPlan
    fingerprint: str
    tags: list[str]
    wanted: dict[str, tuple[str, dict[str, Any], str]]  # id -> (text, metadata, embed text)
    source_tags: list[str] = field(default_factory=list)  # the ingest's own tags (no front matter)


@dataclass
class _Pending:
    """A changed document waiting for its new chunks to be embedded and written."""

    doc: Document
    plan: DocumentPlan
    fingerprint: str
    tags: list[str]
    stale_ids: list[str]
    retag_ids: list[str]
    remaining: int
    new: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    source_tags: list[str] = field(default_factory=list)


def read_manifest(manifest: Any) -> dict[str, dict[str, Any]]:
    """source -> manifest metadata for every document of the company."""
    if manifest is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        page = manifest.get(include=["metadatas"], limit=GET_PAGE, offset=offset)
        for meta in page["metadatas"] or []:
            if meta and "source" in meta:
                out[str(meta["source"])] = dict(meta)
        if len(page["ids"]) < GET_PAGE:
            return out
        offset += GET_PAGE


def ids_for_source(chunks: Any, source: str) -> set[str]:
    """Chunk ids Chroma currently holds for one document (including half-written runs)."""
    if chunks is None:
        return set()
    return set(chunks.get(where={"source": source}, include=[])["ids"])


def ids_for_sources(chunks: Any, sources: list[str]) -> dict[str, set[str]]:
    """Chunk ids per document for many documents in one query."""
    out: dict[str, set[str]] = {}
    if chunks is None or not sources:
        return out
    page = chunks.get(where={"source": {"$in": sources}}, include=["metadatas"])
    for cid, meta in zip(page["ids"], page["metadatas"] or [], strict=True):
        out.setdefault(str(meta["source"]), set()).add(cid)
    return out


class Syncer:
    """One ingest run for one company."""

    def __init__(
        self,
        company_id: str,
        embedder: Embedder,
        chunks: Any,
        manifest: Any,
        *,
        dry_run: bool,
        progress: Progress | None = None,
        on_first_write: Callable[[], object] | None = None,
    ) -> None:
        self.company_id = company_id
        self.embedder = embedder
        self.chunks = chunks
        self.manifest = manifest
        self.dry_run = dry_run
        self.progress = progress or (lambda phase, n, total: None)
        self.known = read_manifest(manifest)
        self.wrote = False
        self._on_first_write = on_first_write or (lambda: None)
        self._queue: list[_Pending] = []
        self._queued_chunks = 0
        self._waiting: list[_Waiting] = []
        self._waiting_chunks = 0

    def plan_document(self, doc: Document, tags: Sequence[str]) -> DocumentPlan:
        """Decide what this document needs; queue the writes unless dry-running.

        The returned plan's chunk counts are filled in once the document's existing chunk ids
        are looked up, which happens in batches (one Chroma query per `LOOKUP_BATCH`
        documents) and at the latest in `flush()`.
        """
        norm = normalize_tags([*tags, *doc.tags])
        fingerprint = document_fingerprint(doc, norm)
        previous = self.known.get(doc.source)
        if previous is not None and previous.get("fingerprint") == fingerprint:
            kept = int(previous.get("chunks", 0))
            return DocumentPlan(
                doc.source, "unchanged", chunks_kept=kept, source_set=doc.source_set
            )
        # Ids and the indexed text use the tokenizer-safe title and headings.
        doc = fit_document(doc, self.embedder)
        wanted: dict[str, tuple[str, dict[str, Any], str]] = {}
        for chunk in chunk_document(doc, self.embedder):
            etext = embed_text(doc.title, chunk.heading_path, chunk.text)
            cid = chunk_id(self.company_id, doc.source, etext)
            if cid not in wanted:
                wanted[cid] = (chunk.text, chunk_metadata(doc, chunk, norm, fingerprint), etext)
        status = "added" if previous is None else "changed"
        plan = DocumentPlan(doc.source, status, source_set=doc.source_set)
        self._waiting.append(_Waiting(doc, plan, fingerprint, norm, wanted, normalize_tags(tags)))
        self._waiting_chunks += len(wanted)
        if len(self._waiting) >= LOOKUP_BATCH or self._waiting_chunks >= EMBED_BATCH:
            self._resolve()
        return plan

    def _resolve(self) -> None:
        """Look up what Chroma already holds for the waiting documents and queue the rest."""
        waiting, self._waiting, self._waiting_chunks = self._waiting, [], 0
        existing = ids_for_sources(self.chunks, [w.doc.source for w in waiting])
        for w in waiting:
            have = existing.get(w.doc.source, set())
            new_ids = [cid for cid in w.wanted if cid not in have]
            stale = sorted(have - w.wanted.keys())
            kept_ids = [cid for cid in w.wanted if cid in have]
            w.plan.chunks_added, w.plan.chunks_removed = len(new_ids), len(stale)
            w.plan.chunks_kept = len(kept_ids)
            if self.dry_run:
                continue
            pending = _Pending(w.doc, w.plan, w.fingerprint, w.tags, stale, kept_ids, len(new_ids))
            pending.source_tags = w.source_tags
            pending.new = [
                (cid, w.wanted[cid][0], w.wanted[cid][2], w.wanted[cid][1]) for cid in new_ids
            ]
            if kept_ids:  # tags or position may have changed; metadata updates need no embedding
                self._touch()
                self.chunks.update(ids=kept_ids, metadatas=[w.wanted[c][1] for c in kept_ids])
            self._queue.append(pending)
            self._queued_chunks += len(new_ids)

    def flush(self) -> None:
        """Resolve, embed and write everything still waiting (call at the end of a run)."""
        if self._waiting:
            self._resolve()
        self._embed_queue()

    def _embed_queue(self) -> None:
        """Embed and write everything queued, then finish the documents that are complete."""
        batch = [(p, item) for p in self._queue for item in p.new]
        self.progress("embed", 0, len(batch))
        failed: set[int] = set()
        for start in range(0, len(batch), EMBED_BATCH * 4):
            window = batch[start : start + EMBED_BATCH * 4]
            part = [(p, item) for p, item in window if id(p) not in failed]
            vectors = self._encode_isolated(part, failed)
            part = [(p, item) for p, item in part if id(p) not in failed]
            if part:
                self._touch()
                self.chunks.add(
                    ids=[item[0] for _, item in part],
                    embeddings=vectors,
                    documents=[item[1] for _, item in part],
                    metadatas=[item[3] for _, item in part],
                )
            self.progress("embed", len(part), len(batch))
        done = [p for p in self._queue if id(p) not in failed]
        if done:
            self._finish(done)
        self._queue.clear()
        self._queued_chunks = 0

    def _encode_isolated(self, part: list[tuple[_Pending, Any]], failed: set[int]) -> Any:
        """Vectors for `part`. If the batch fails, retry per document: documents whose text
        cannot be embedded are marked failed (the caller drops their rows); if every
        document fails, the encoder itself is broken and the first error propagates."""
        try:
            return self.embedder.encode([item[2] for _, item in part])
        except KnowledgeUnavailable:
            raise
        except Exception as exc:
            log.warning("embedding a batch failed; retrying document by document")
            first = exc
        import numpy as np

        rows: list[Any] = []
        by_doc: dict[int, list[tuple[_Pending, Any]]] = {}
        for pending, item in part:
            by_doc.setdefault(id(pending), []).append((pending, item))
        errors: dict[int, Exception] = {}
        for key, items in by_doc.items():
            try:
                rows.append(self.embedder.encode([item[2] for _, item in items]))
            except Exception as exc:
                errors[key] = exc
        if len(errors) == len(by_doc):
            raise first
        for key, error in errors.items():
            failed.add(key)
            plan = by_doc[key][0][0].plan
            plan.status, plan.error = "failed", f"{plan.source}: cannot embed ({error})"
            plan.chunks_added = plan.chunks_removed = plan.chunks_kept = 0
        return np.concatenate(rows)

    def _finish(self, done: list[_Pending]) -> None:
        """Stale chunks out, then the manifest records: these documents are now complete.

        One delete and one upsert for the whole batch: a Chroma write costs tens of
        milliseconds whatever its size, which per document would rival the embedding time.
        """
        self._touch()
        stale = [cid for pending in done for cid in pending.stale_ids]
        if stale:
            self.chunks.delete(ids=stale)
        self.manifest.upsert(
            ids=[document_key(p.doc.source) for p in done],
            embeddings=[[1.0]] * len(done),
            metadatas=[self._manifest_record(p) for p in done],
        )

    @staticmethod
    def _manifest_record(pending: _Pending) -> dict[str, Any]:
        doc = pending.doc
        meta: dict[str, Any] = {
            "source": doc.source,
            "title": doc.title,
            "kind": doc.kind,
            "fingerprint": pending.fingerprint,
            "chunks": pending.plan.chunks_added + pending.plan.chunks_kept,
            "tags": ",".join(pending.tags),
            "source_tags": ",".join(pending.source_tags),
            "source_set": doc.source_set,
            "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if doc.url:
            meta["url"] = doc.url
        return meta

    def _touch(self) -> None:
        """Bump the collection version before the first write, so readers never trust an
        index of a half-written state (the final bump after the run marks it settled)."""
        if not self.wrote:
            self.wrote = True
            self._on_first_write()

    def remove_source(self, source: str) -> int:
        """Delete a document's chunks and manifest record; returns chunks removed."""
        ids = sorted(ids_for_source(self.chunks, source))
        if not self.dry_run:
            self._touch()
            if ids:
                self.chunks.delete(ids=ids)
            if self.manifest is not None:
                self.manifest.delete(ids=[document_key(source)])
        return len(ids)

    def orphan_sources(self, keep: set[str], source_sets: set[str]) -> list[str]:
        """Sources of `source_sets` with chunks or a manifest record that are not in `keep`
        (for --prune): another source set's documents are never candidates."""
        found = {s for s, m in self.known.items() if str(m.get("source_set", "")) in source_sets}
        if self.chunks is not None:
            offset = 0
            while True:
                page = self.chunks.get(include=["metadatas"], limit=GET_PAGE, offset=offset)
                found.update(
                    str(m["source"])
                    for m in page["metadatas"] or []
                    if str(m.get("source_set", "")) in source_sets
                )
                if len(page["ids"]) < GET_PAGE:
                    break
                offset += GET_PAGE
        return sorted(found - keep)
