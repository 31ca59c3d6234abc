"""Plain data passed between loaders, chunker, store and search."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Block:
    """One structural unit of a document: a paragraph, list, table row group or code block.

    `kind` "code" and "table" blocks keep their lines: a code line or a "column: value" table
    row is a unit of its own, so chunking never glues them into one long line.
    """

    text: str
    heading_path: tuple[str, ...] = ()
    page: int | None = None
    kind: str = "text"  # text | code | table


@dataclass
class Document:
    """A loaded source: its identity (`source`), title and structured text."""

    source: str
    title: str
    blocks: list[Block]
    url: str | None = None
    kind: str = "text"
    # Front matter a docs site declares: kept for search (description is also a block), for
    # the public URL (slug) and as document tags.
    description: str | None = None
    slug: str | None = None
    tags: list[str] = field(default_factory=list)
    # The named source set this document was ingested with (`--source`, or derived from the
    # folder, file, URL or sitemap given); `--prune` only ever looks inside one set.
    source_set: str = ""

    @property
    def content_hash(self) -> str:
        """Changes whenever anything that ends up in a chunk changes."""
        h = hashlib.sha256()
        h.update(self.title.encode())
        h.update(b"\x00" + (self.url or "").encode())
        h.update(b"\x05" + "\x02".join(self.tags).encode())
        for b in self.blocks:
            h.update(b"\x01" + "\x02".join(b.heading_path).encode() + b.kind.encode())
            h.update(b"\x03" + str(b.page).encode() + b"\x04" + b.text.encode())
        return h.hexdigest()


@dataclass(frozen=True)
class Chunk:
    """A piece of a document sized to fit the embedding model."""

    text: str
    heading_path: tuple[str, ...]
    page: int | None
    position: int


@dataclass(frozen=True)
class SearchHit:
    """One ranked passage with where it came from."""

    chunk_id: str
    text: str
    title: str
    source: str
    url: str | None
    page: int | None
    heading_path: list[str]
    score: float
    tags: list[str]


@dataclass(frozen=True)
class DocumentInfo:
    """A document as the store knows it (for `list`)."""

    source: str
    title: str
    url: str | None
    kind: str
    chunks: int
    tags: list[str]
    content_hash: str
    updated_at: str
    source_set: str = ""


@dataclass
class DocumentPlan:
    """What an ingest does (or would do) to one document."""

    source: str
    status: str  # added | changed | unchanged | removed | failed
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_kept: int = 0
    error: str | None = None
    source_set: str = ""


@dataclass
class IngestReport:
    """Per-document outcome of an ingest, plus totals for the CLI summary."""

    company_id: str
    dry_run: bool
    documents: list[DocumentPlan] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for d in self.documents if d.status == status)

    @property
    def failed(self) -> list[DocumentPlan]:
        return [d for d in self.documents if d.status == "failed"]

    @property
    def chunks_embedded(self) -> int:
        return sum(d.chunks_added for d in self.documents)
