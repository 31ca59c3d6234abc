"""PDF text per page (pypdf); page numbers are kept on every block."""

from __future__ import annotations

import io
import re
from pathlib import Path

from knowledge.models import Block, Document

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def _page_blocks(text: str, page: int) -> list[Block]:
    """Paragraphs of one page; single newlines inside a paragraph are layout, not structure."""
    text = text.replace("-\n", "")  # re-join words hyphenated at line ends
    parts = _PARAGRAPH_BREAK.split(text) if _PARAGRAPH_BREAK.search(text) else [text]
    return [Block(" ".join(p.split()), page=page) for p in parts if p.strip()]


def parse_pdf(data: bytes, source: str, fallback_title: str, url: str | None = None) -> Document:
    """Blocks for every page with text, and the document title from metadata if present."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    blocks: list[Block] = []
    for number, page in enumerate(reader.pages, start=1):
        blocks += _page_blocks(page.extract_text() or "", number)
    meta_title = None
    try:
        meta_title = reader.metadata.title if reader.metadata else None
    except Exception:  # broken info dictionaries are common and harmless
        meta_title = None
    title = " ".join(str(meta_title).split()) if meta_title else fallback_title
    return Document(source=source, title=title, blocks=blocks, url=url, kind="pdf")


def load_pdf(path: Path, source: str) -> Document:
    return parse_pdf(path.read_bytes(), source, path.stem)
