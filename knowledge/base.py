"""`KnowledgeBase`: the one object the server, the CLI and the benchmark talk to."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath
from typing import Any

from knowledge.config import KnowledgeConfig
from knowledge.embedding import Embedder
from knowledge.errors import KnowledgeUnavailable
from knowledge.loaders import DEFAULT_MAX_TEXT_BYTES
from knowledge.models import DocumentInfo, DocumentPlan, IngestReport, SearchHit
from knowledge.search import Searcher
from knowledge.sources import LoadRequest, LoadResult, is_url, load_all
from knowledge.store import ChromaStore, collection_names, validate_company_id
from knowledge.sync import Progress, Syncer, read_manifest

log = logging.getLogger(__name__)


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
                source_set=str(m.get("source_set", "")),
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
        tags: Sequence[str] | None = None,
        prune: bool = False,
        dry_run: bool = False,
        sitemaps: Sequence[str] = (),
        allow_private_hosts: bool = False,
        progress: Progress | None = None,
        source_name: str | None = None,
        base_url: str | None = None,
        max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES,
    ) -> IngestReport:
        """Load files, folders, URLs and sitemaps and sync them into the company's store.

        Every document belongs to a source set: `source_name`, or by default one set per
        folder, file, URL or sitemap given. `prune` removes vanished documents of those sets
        only. `base_url` gives files their public docs-site URL. `tags` replace the set's
        tags; `None` keeps the tags the set was last ingested with.
        """
        validate_company_id(company_id)
        request = LoadRequest(
            sources=list(sources),
            sitemaps=list(sitemaps),
            allow_private_hosts=allow_private_hosts,
            source_name=source_name,
            base_url=base_url,
            max_text_bytes=max_text_bytes,
        )
        loaded = list(load_all(request))
        sets = request.source_sets()
        broken = {d.source_set for d in loaded if isinstance(d, DocumentPlan)
                  and d.source in request.roots()}  # fmt: skip
        if prune and broken:
            # An unreachable sitemap or a missing folder would look like "every page is
            # gone": never prune a set on that.
            log.warning("not pruning %s: its sitemap or folder failed to load", sorted(broken))
        return self.ingest_documents(
            company_id,
            loaded,
            tags=tags,
            prune=prune,
            dry_run=dry_run,
            progress=progress,
            prune_sets=sets - broken,
        )

    def ingest_documents(
        self,
        company_id: str,
        documents: Iterable[LoadResult],
        *,
        tags: Sequence[str] | None = None,
        prune: bool = False,
        dry_run: bool = False,
        progress: Progress | None = None,
        prune_sets: set[str] | None = None,
    ) -> IngestReport:
        """Sync already-loaded documents (failed loads pass through as failed plans).

        Each document is isolated: one that cannot be chunked or embedded is reported failed
        and the others are stored. `prune` removes documents of `prune_sets` (default: the
        source sets of `documents`) that were not among them.
        """
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
        items = documents if isinstance(documents, list) else list(documents)
        if progress:
            progress("document", 0, len(items))
        seen: set[str] = set()
        sets: set[str] = set()
        legacy = _LegacyKeys(syncer.known)
        set_tags = _tags_per_set(syncer.known)
        try:
            for item in items:
                if item.source in seen:
                    continue
                seen.add(item.source)
                sets.add(item.source_set)
                own = list(tags) if tags is not None else set_tags.get(item.source_set, [])
                report.documents.append(self._plan(syncer, item, own, legacy))
                if progress:
                    progress("document", 1, len(items))
            syncer.flush()
            for plan, old in legacy.moved:
                if plan.status != "failed":
                    plan.chunks_removed += syncer.remove_source(old)
            if prune:
                keep = seen | {old for _, old in legacy.moved}
                scope = sets if prune_sets is None else prune_sets
                for source in syncer.orphan_sources(keep, scope):
                    removed = syncer.remove_source(source)
                    set_name = str(syncer.known.get(source, {}).get("source_set", ""))
                    report.documents.append(
                        DocumentPlan(source, "removed", chunks_removed=removed, source_set=set_name)
                    )
        finally:
            if syncer.wrote:
                self._settle(chunks_name)
        return report

    @staticmethod
    def _plan(
        syncer: Syncer, item: LoadResult, tags: Sequence[str], legacy: _LegacyKeys
    ) -> DocumentPlan:
        """One document's plan; a failure of this document never stops the run."""
        if isinstance(item, DocumentPlan):
            return item
        try:
            plan = syncer.plan_document(item, tags)
        except KnowledgeUnavailable:
            raise
        except Exception as exc:  # chunking bugs, odd text: report, keep going
            log.warning("document %s failed: %s", item.source, type(exc).__name__)
            return DocumentPlan(
                item.source,
                "failed",
                error=f"{item.source}: {type(exc).__name__} ({exc})",
                source_set=item.source_set,
            )
        old = legacy.match(item.source) if plan.status == "added" else None
        if old is not None:  # the same file under its old absolute-path identity
            plan.status = "changed"
            legacy.moved.append((plan, old))
        return plan

    def remove(self, company_id: str, sources: Sequence[str]) -> int:
        """Delete documents (by source, or file path) and their chunks; returns chunks removed."""
        return sum(self.remove_documents(company_id, sources).values())

    def remove_documents(self, company_id: str, sources: Sequence[str]) -> dict[str, int]:
        """Delete the named documents; returns {stored source: chunks removed} for those that
        existed (a name matching nothing is simply absent from the result)."""
        chunks_name, manifest_name = collection_names(company_id)
        chunks = self.store.collection(chunks_name, create=False)
        manifest = self.store.collection(manifest_name, create=False)
        if chunks is None and manifest is None:
            return {}
        syncer = Syncer(
            company_id,
            self.embedder,
            chunks,
            manifest,
            dry_run=False,
            on_first_write=lambda: self.store.bump_version(chunks_name),
        )
        removed: dict[str, int] = {}
        try:
            for source in sources:
                key = _source_key(source, syncer.known)
                if key is None or key in removed:
                    continue
                count = syncer.remove_source(key)
                if count or key in syncer.known:
                    removed[key] = count
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


def _tags_per_set(known: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """The tags each source set was last ingested with (kept when an ingest names none)."""
    out: dict[str, list[str]] = {}
    for meta in known.values():
        if "source_tags" in meta:
            tags = [t for t in str(meta["source_tags"]).split(",") if t]
            out.setdefault(str(meta.get("source_set", "")), tags)
    return out


class _LegacyKeys:
    """Documents stored under an absolute path (before identities were relative to their
    source root): a re-ingest of the same file takes them over instead of duplicating."""

    def __init__(self, known: dict[str, Any]) -> None:
        self._by_name: dict[str, list[str]] = {}
        for key in known:
            if key.startswith("/") or (len(key) > 2 and key[1:3] in (":\\", ":/")):
                self._by_name.setdefault(PurePath(key).name, []).append(key)
        self.moved: list[tuple[DocumentPlan, str]] = []

    def match(self, source: str) -> str | None:
        if not self._by_name or is_url(source):
            return None
        for key in self._by_name.get(PurePath(source).name, []):
            if key.replace("\\", "/").endswith("/" + source):
                return key
        return None


def _source_key(source: str, known: dict[str, Any]) -> str | None:
    """The stored identity for what a user typed: a known source, a URL or a file path."""
    if source in known:
        return source
    if is_url(source):
        from knowledge.loaders.web import normalize_url

        return normalize_url(source)
    absolute = Path(source).resolve().as_posix()
    # A path names the stored document whose identity is the longest tail of that path.
    tails = [k for k in known if not is_url(k) and (absolute == k or absolute.endswith("/" + k))]
    return max(tails, key=len) if tails else None


def describe(report: IngestReport) -> dict[str, Any]:
    """Totals for logs and the CLI."""
    return {
        status: report.count(status)
        for status in ("added", "changed", "unchanged", "removed", "failed")
    }
