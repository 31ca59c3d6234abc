"""Chroma access: one client per KnowledgeBase, one chunk collection per company.

Each company gets two collections: `kb-<slug>-<hash>` holds the chunks with our own embeddings
and `kbdocs-<slug>-<hash>` holds one record per document (the sync manifest). The manifest
record is written after the document's chunks, so an interrupted ingest leaves the old
manifest and the next run redoes that document. chromadb's default embedding function is never
instantiated: every collection is opened with `embedding_function=None`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import uuid
from typing import Any

from knowledge.config import KnowledgeConfig
from knowledge.errors import KnowledgeUnavailable

log = logging.getLogger(__name__)

VERSION_KEY = "kb_version"
_COMPANY_ID = re.compile(r"^[\w.\-@:+ ]{1,128}$", re.UNICODE)
_SLUG_UNSAFE = re.compile(r"[^a-z0-9]+")


def validate_company_id(company_id: str) -> str:
    """Company ids are short printable names; anything else is a caller bug."""
    if not isinstance(company_id, str) or not _COMPANY_ID.match(company_id):
        raise ValueError("company id must be 1-128 letters, digits or . _ - @ : + space")
    return company_id


def collection_names(company_id: str) -> tuple[str, str]:
    """Chroma-safe (3-63 chars, [a-z0-9-], alnum ends) names for chunks and manifest.

    The readable slug may collide for ids differing only in punctuation or case; the hash of
    the exact id keeps tenants apart.
    """
    validate_company_id(company_id)
    slug = _SLUG_UNSAFE.sub("-", company_id.lower()).strip("-")[:32] or "x"
    digest = hashlib.sha256(company_id.encode()).hexdigest()[:10]
    return f"kb-{slug}-{digest}", f"kbdocs-{slug}-{digest}"


def _is_not_found(exc: Exception) -> bool:
    return type(exc).__name__ in ("NotFoundError", "InvalidCollectionException") or (
        "does not exist" in str(exc).lower()
    )


class ChromaStore:
    """Lazily connected Chroma client with cached collection handles."""

    def __init__(self, config: KnowledgeConfig) -> None:
        self._config = config
        self._client: Any = None
        self._lock = threading.Lock()
        self._collections: dict[str, Any] = {}

    def client(self) -> Any:
        """The Chroma client; raises `KnowledgeUnavailable` when it cannot be created."""
        if self._client is not None:
            return self._client
        with self._lock:
            if self._client is None:
                self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        try:
            if self._config.chroma_host:
                return chromadb.HttpClient(
                    host=self._config.chroma_host, port=self._config.chroma_port, settings=settings
                )
            self._config.chroma_path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(self._config.chroma_path), settings=settings)
        except Exception as exc:
            raise KnowledgeUnavailable(f"Chroma is not reachable: {type(exc).__name__}") from exc

    def ping(self) -> None:
        """Raise `KnowledgeUnavailable` unless Chroma answers."""
        try:
            self.client().heartbeat()
        except KnowledgeUnavailable:
            raise
        except Exception as exc:
            raise KnowledgeUnavailable(f"Chroma is not reachable: {type(exc).__name__}") from exc

    def collection(
        self, name: str, *, create: bool, metadata: dict[str, Any] | None = None
    ) -> Any | None:
        """The named collection (created with cosine space when `create`), or None if missing."""
        cached = self._collections.get(name)
        if cached is not None:
            return cached
        client = self.client()
        try:
            if create:
                coll = client.get_or_create_collection(
                    name=name,
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={VERSION_KEY: uuid.uuid4().hex, **(metadata or {})},
                )
            else:
                coll = client.get_collection(name=name, embedding_function=None)
        except Exception as exc:
            if not create and _is_not_found(exc):
                return None
            raise _unavailable(exc) from exc
        self._collections[name] = coll
        return coll

    def list_metadata(self, prefix: str) -> list[dict[str, Any]]:
        """Metadata of every collection whose name starts with `prefix`."""
        try:
            collections = self.client().list_collections()
        except Exception as exc:
            raise _unavailable(exc) from exc
        return [dict(c.metadata or {}) for c in collections if c.name.startswith(prefix)]

    def forget(self, name: str) -> None:
        """Drop a cached handle (after deleting the collection or on errors)."""
        self._collections.pop(name, None)

    def version(self, name: str) -> str | None:
        """The collection's change marker, read fresh from Chroma (another process may write)."""
        try:
            coll = self.client().get_collection(name=name, embedding_function=None)
        except Exception as exc:
            if _is_not_found(exc):
                self.forget(name)
                return None
            raise _unavailable(exc) from exc
        self._collections[name] = coll
        return str((coll.metadata or {}).get(VERSION_KEY, ""))

    def bump_version(self, name: str) -> str:
        """Mark the collection changed so every process rebuilds its BM25 view."""
        coll = self.collection(name, create=True)
        assert coll is not None
        version = uuid.uuid4().hex
        metadata = {k: v for k, v in (coll.metadata or {}).items() if not k.startswith("hnsw:")}
        metadata[VERSION_KEY] = version
        coll.modify(metadata=metadata)
        return version

    def delete_collection(self, name: str) -> None:
        """Remove a collection if it exists."""
        self.forget(name)
        try:
            self.client().delete_collection(name=name)
        except Exception as exc:
            if not _is_not_found(exc):
                raise _unavailable(exc) from exc


def _unavailable(exc: Exception) -> Exception:
    """Connection-type failures become KnowledgeUnavailable; programming errors stay visible."""
    name = type(exc).__name__
    if any(k in name for k in ("Connect", "Timeout", "HTTP", "Network", "Unavailable")):
        return KnowledgeUnavailable(f"Chroma is not reachable: {name}")
    return exc
