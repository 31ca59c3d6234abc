"""How chunks and documents are laid out as Chroma records (ids, metadata keys)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from knowledge.chunking import embed_text
from knowledge.models import Chunk, Document, SearchHit

TAG_PREFIX = "tag:"


def chunk_id(company_id: str, source: str, text: str) -> str:
    """Stable id from (company, source, content): unchanged chunks keep their id across runs."""
    digest = hashlib.sha256(f"{company_id}\x00{source}\x00{text}".encode()).hexdigest()
    return digest[:32]


def document_key(source: str) -> str:
    """Manifest record id of a document."""
    return hashlib.sha256(source.encode()).hexdigest()[:32]


def normalize_tags(tags: Sequence[str]) -> list[str]:
    """Trimmed, lowercased, de-duplicated, sorted tags (so their order never counts as a change)."""
    return sorted({t.strip().lower() for t in tags if t and t.strip()})


def document_fingerprint(doc: Document, tags: Sequence[str]) -> str:
    """What decides 'unchanged': the content, the tags the chunks carry and the source set."""
    key = f"{doc.content_hash}|{','.join(tags)}|{doc.source_set}"
    return hashlib.sha256(key.encode()).hexdigest()


def chunk_metadata(
    doc: Document, chunk: Chunk, tags: Sequence[str], fingerprint: str
) -> dict[str, Any]:
    """Flat metadata (Chroma accepts scalars only); one boolean key per tag for filtering."""
    meta: dict[str, Any] = {
        "source": doc.source,
        "title": doc.title,
        "kind": doc.kind,
        "heading_path": json.dumps(list(chunk.heading_path)),
        "position": chunk.position,
        "doc_fp": fingerprint,
        "tags": ",".join(tags),
        "source_set": doc.source_set,
    }
    if doc.url:
        meta["url"] = doc.url
    if chunk.page is not None:
        meta["page"] = chunk.page
    for tag in tags:
        meta[TAG_PREFIX + tag] = True
    return meta


def indexed_text(text: str, meta: dict[str, Any]) -> str:
    """The string embedded / BM25-indexed for a stored chunk, rebuilt from its record."""
    return embed_text(str(meta.get("title", "")), json.loads(meta.get("heading_path", "[]")), text)


def hit_from_record(cid: str, text: str, meta: dict[str, Any], score: float) -> SearchHit:
    """A SearchHit from a stored chunk record."""
    page = meta.get("page")
    tags = [t for t in str(meta.get("tags", "")).split(",") if t]
    return SearchHit(
        chunk_id=cid,
        text=text,
        title=str(meta.get("title", "")),
        source=str(meta.get("source", "")),
        url=meta.get("url"),
        page=int(page) if page is not None else None,
        heading_path=list(json.loads(meta.get("heading_path", "[]"))),
        score=float(score),
        tags=tags,
    )


def where_filter(
    tags: Sequence[str] | None, sources: Sequence[str] | None
) -> dict[str, Any] | None:
    """Chroma `where` for 'any of these tags' AND 'one of these sources'."""
    clauses: list[dict[str, Any]] = []
    norm = normalize_tags(tags or [])
    if norm:
        tag_clauses = [{TAG_PREFIX + t: True} for t in norm]
        clauses.append(tag_clauses[0] if len(tag_clauses) == 1 else {"$or": tag_clauses})
    if sources:
        clauses.append({"source": {"$in": list(sources)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def matches(
    meta: dict[str, Any], tags: Sequence[str] | None, sources: Sequence[str] | None
) -> bool:
    """The same filter as `where_filter`, for records held in memory."""
    norm = normalize_tags(tags or [])
    if norm and not any(meta.get(TAG_PREFIX + t) for t in norm):
        return False
    return not (sources and meta.get("source") not in set(sources))
