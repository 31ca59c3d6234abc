"""Where the knowledge base keeps its data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class KnowledgeConfig:
    """Chroma location (embedded folder or server) and the folder for BM25 indexes."""

    chroma_path: Path
    chroma_host: str | None = None
    chroma_port: int = 8000
    index_dir: Path | None = None

    @property
    def bm25_dir(self) -> Path:
        """BM25 indexes live beside the Chroma folder unless configured otherwise."""
        return Path(self.index_dir) if self.index_dir else Path(self.chroma_path).parent / "bm25"
