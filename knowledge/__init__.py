"""Flask-free RAG: loaders, chunking, embedding, Chroma store, hybrid search.

Importing this package is cheap: chromadb, torch and bm25s load on first use.
"""

from knowledge.base import KnowledgeBase
from knowledge.config import KnowledgeConfig
from knowledge.embedding import Embedder, load_embedder
from knowledge.errors import KnowledgeUnavailable, LoadError
from knowledge.models import DocumentInfo, DocumentPlan, IngestReport, SearchHit

__all__ = [
    "DocumentInfo",
    "DocumentPlan",
    "Embedder",
    "IngestReport",
    "KnowledgeBase",
    "KnowledgeConfig",
    "KnowledgeUnavailable",
    "LoadError",
    "SearchHit",
    "load_embedder",
]
