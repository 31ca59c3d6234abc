"""DOCX (python-docx): Heading styles become heading paths; tables become rows."""

from __future__ import annotations

import re
from pathlib import Path

from knowledge.models import Block, Document

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.I)


def load_docx(path: Path, source: str) -> Document:
    """Paragraphs and table rows in order, each under the headings above it."""
    import docx

    document = docx.Document(str(path))
    title = (document.core_properties.title or "").strip() or None
    path_stack: list[tuple[int, str]] = []
    blocks: list[Block] = []
    for para in document.paragraphs:
        text = " ".join(para.text.split())
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        match = _HEADING_STYLE.match(style)
        if style.lower() == "title":
            title = title or text
        elif match:
            level = int(match.group(1))
            while path_stack and path_stack[-1][0] >= level:
                path_stack.pop()
            path_stack.append((level, text))
            if title is None and level == 1:
                title = text
        else:
            blocks.append(Block(text, tuple(h for _, h in path_stack)))
    for table in document.tables:
        for row in table.rows:
            cells = [" ".join(c.text.split()) for c in row.cells]
            line = " | ".join(dict.fromkeys(c for c in cells if c))
            if line:
                blocks.append(Block(line, tuple(h for _, h in path_stack)))
    return Document(source=source, title=title or path.stem, blocks=blocks, kind="docx")
