"""DOCX (python-docx): Heading styles become heading paths; tables become rows, in order."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from knowledge.models import Block, Document

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.I)


def _table_rows(table: Any) -> list[str]:
    rows = []
    for row in table.rows:
        cells = [" ".join(c.text.split()) for c in row.cells]
        # Merged cells repeat their text once per grid column; keep each value once.
        line = " | ".join(dict.fromkeys(c for c in cells if c))
        if line:
            rows.append(line)
    return rows


def load_docx(path: Path, source: str) -> Document:
    """Paragraphs and table rows in document order, each under the headings above it."""
    import docx
    from docx.table import Table

    document = docx.Document(str(path))
    title = (document.core_properties.title or "").strip() or None
    stack: list[tuple[int, str]] = []
    blocks: list[Block] = []
    for item in document.iter_inner_content():
        heading_path = tuple(h for _, h in stack)
        if isinstance(item, Table):
            blocks += [Block(row, heading_path) for row in _table_rows(item)]
            continue
        text = " ".join(item.text.split())
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        match = _HEADING_STYLE.match(style)
        if style.lower() == "title":
            title = title or text
        elif match:
            level = int(match.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, text))
            if title is None and level == 1:
                title = text
        else:
            blocks.append(Block(text, heading_path))
    return Document(source=source, title=title or path.stem, blocks=blocks, kind="docx")
