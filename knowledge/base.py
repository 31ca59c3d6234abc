"""`KnowledgeBase`: the one object the server, the CLI and the benchmark talk to."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from knowledge.config import KnowledgeConfig
from knowledge.embedding import Embedder
from knowledge.errors import KnowledgeUnavailable, LoadError
from knowledge.models import Document, DocumentInfo, DocumentPlan, IngestReport, SearchHit
from knowledge.search import Searcher
from knowledge.store import ChromaStore, collection_names, validate_company_id
from knowledge.sync import Progress, Syncer, read_manifest

log = logging.getLogger(__name__)

LoadResult = Document | DocumentPlan  # a loaded document, or a failed one


def is_url(source: str | Path) -> bool:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


class KnowledgeBase:
    """Per-company document store with incremental ingest and hybrid search."""

    def __init__(self, config: KnowledgeConfig, embedder: Embedder) -> None:
        self.config = config
        self.embedder = embedder
        self.store = ChromaStore(config)
        self.searcher = Searcher(self.store, embedder, config.bm25_dir)

    # --- reading ---------------------------------------------------------------------------
    def ping(self) -> None:
        """Raise `KnowledgeUnavailable` unless Chroma answers."""
        self.store.ping()

    def search(
        self,
        company_id: str,
        query: str,
        top_k: int = 5,
        *,
        tags: Sequence[str] | None = None,
        sources: Sequence[str] | None = None,
        mode: str = "hybrid",
    ) -> list[SearchHit]:
        """Ranked passages for `query`; no collection or no match gives `[]`."""
        chunks_name, _ = collection_names(company_id)
        return self.searcher.search(
            chunks_name, query, top_k, tags=tags, sources=sources, mode=mode
        )

    def list_documents(self, company_id: str) -> list[DocumentInfo]:
        """Every document of the company with its chunk count, sorted by source."""
        _, manifest_name = collection_names(company_id)
        manifest = read_manifest(self.store.collection(manifest_name, create=False))
        return [
            DocumentInfo(
                source=src,
                title=str(m.get("title", "")),
                url=m.get("url"),
                kind=str(m.get("kind", "")),
                chunks=int(m.get("chunks", 0)),
                tags=[t for t in str(m.get("tags", "")).split(",") if t],
                content_hash=str(m.get("fingerprint", "")),
                updated_at=str(m.get("updated_at", "")),
            )
            for src, m in sorted(manifest.items())
        ]

    def companies(self) -> list[str]:
        """Every company id with a knowledge base in this store."""
        found = self.store.list_metadata("kbdocs-")
        return sorted({str(m["company_id"]) for m in found if m.get("company_id")})

    # --- writing ---------------------------------------------------------------------------
    def ingest(
        self,
        company_id: str,
        sources: Sequence[str | Path],
        *,
        tags: Sequence[str] = (),
        prune: bool = False,
        dry_run: bool = False,
        sitemaps: Sequence[str] = (),
        allow_private_hosts: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Load files, folders, URLs and sitemaps and sync them into the company's store."""
        validate_company_id(company_id)
        loaded = list(self._load_all(sources, sitemaps, allow_private_hosts))
        if prune and any(
            isinstance(d, DocumentPlan) and d.source in _sitemap_keys(sitemaps) for d in loaded
        ):
            # An unreachable sitemap would look like "every page is gone": never prune on that.
            log.warning("a sitemap failed to load; not pruning this run")
            prune = False
        return self.ingest_documents(
            company_id, loaded, tags=tags, prune=prune, dry_run=dry_run, progress=progress
        )

    def ingest_documents(
        self,
        company_id: str,
        documents: Iterable[LoadResult],
        *,
        tags: Sequence[str] = (),
        prune: bool = False,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Sync already-loaded documents (failed loads pass through as failed plans)."""
        chunks_name, manifest_name = collection_names(company_id)
        create = not dry_run
        chunks = self.store.collection(chunks_name, create=create)
        manifest = self.store.collection(
            manifest_name, create=create, metadata={"company_id": company_id}
        )
        syncer = Syncer(
            company_id,
            self.embedder,
            chunks,
            manifest,
            dry_run=dry_run,
            progress=progress,
            on_first_write=lambda: self.store.bump_version(chunks_name),
        )
        report = IngestReport(company_id, dry_run)
        seen: set[str] = set()
        try:
            for item in documents:
                if isinstance(item, DocumentPlan):
                    report.documents.append(item)
                    seen.add(item.source)
                    continue
                if item.source in seen:
                    continue
                seen.add(item.source)
                report.documents.append(syncer.plan_document(item, tags))
                if progress:
                    progress("document", 1, 0)
            syncer.flush()
            if prune:
                for source in syncer.orphan_sources(seen):
                    removed = syncer.remove_source(source)
                    report.documents.append(DocumentPlan(source, "removed", chunks_removed=removed))
        finally:
            if syncer.wrote:
                self._settle(chunks_name)
        return report

    def remove(self, company_id: str, sources: Sequence[str]) -> int:
        """Delete documents (by source, or file path) and their chunks; returns chunks removed."""
        chunks_name, manifest_name = collection_names(company_id)
        chunks = self.store.collection(chunks_name, create=False)
        manifest = self.store.collection(manifest_name, create=False)
        if chunks is None and manifest is None:
            return 0
        syncer = Syncer(
            company_id,
            self.embedder,
            chunks,
            manifest,
            dry_run=False,
            on_first_write=lambda: self.store.bump_version(chunks_name),
        )
        removed = 0
        try:
            for source in sources:
                key = _source_key(source, syncer.known)
                removed += syncer.remove_source(key)
        finally:
            if syncer.wrote:
                self._settle(chunks_name)
        return removed

    def drop_company(self, company_id: str) -> None:
        """Delete everything stored for a company."""
        for name in collection_names(company_id):
            self.store.delete_collection(name)
        self.searcher.invalidate(collection_names(company_id)[0])

    def _settle(self, chunks_name: str) -> None:
        """Final version bump, then rebuild and persist the BM25 view for every process."""
        self.store.bump_version(chunks_name)
        self.searcher.invalidate(chunks_name)
        try:
            self.searcher.lexical(chunks_name)
        except KnowledgeUnavailable:
            raise
        except Exception:  # search rebuilds lazily; the ingest itself succeeded
            log.exception("BM25 rebuild after ingest failed")

    # --- loading ---------------------------------------------------------------------------
    def _load_all(
        self, sources: Sequence[str | Path], sitemaps: Sequence[str], allow_private: bool
    ) -> Iterator[LoadResult]:
        urls: list[str] = []
        for source in sources:
            if is_url(source):
                urls.append(str(source))
            else:
                yield from _load_files(Path(source))
        if urls or sitemaps:
            from knowledge.loaders.web import load_web

            yield from load_web(urls, sitemaps, allow_private_hosts=allow_private)


def _sitemap_keys(sitemaps: Sequence[str]) -> set[str]:
    from knowledge.loaders.web import normalize_url

    return {normalize_url(s) for s in sitemaps}


def _source_key(source: str, known: dict[str, Any]) -> str:
    """The stored identity for what a user typed: a known source, a URL or a file path."""
    if source in known:
        return source
    if is_url(source):
        from knowledge.loaders.web import normalize_url

        return normalize_url(source)
    return _file_key(source)


def _file_key(source: str) -> str:
    from knowledge.loaders import file_source

    return file_source(Path(source))


def _load_files(path: Path) -> Iterator[LoadResult]:
    from knowledge.loaders import expand_paths, file_source, load_path

    if not path.exists():
        yield DocumentPlan(file_source(path), "failed", error=f"{path}: no such file or folder")
        return
    for file in expand_paths(path):
        try:
            yield load_path(file)
        except LoadError as exc:
            yield DocumentPlan(file_source(file), "failed", error=str(exc))


def describe(report: IngestReport) -> dict[str, Any]:
    """Totals for logs and the CLI."""
    return {
        status: report.count(status)
        for status in ("added", "changed", "unchanged", "removed", "failed")
    }
