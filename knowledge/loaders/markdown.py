"""Markdown and plain text into structured blocks (headings become heading paths)."""

from __future__ import annotations

import re

from knowledge.models import Block, Document

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^(=+|-+)\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|`)")


def _clean(line: str) -> str:
    """Drop inline markup that carries no meaning for retrieval (keep link text)."""
    return _EMPHASIS.sub("", _LINK.sub(r"\1", line))


def _front_matter(lines: list[str]) -> tuple[str | None, list[str]]:
    """A YAML front-matter `title:` and the remaining lines."""
    if not lines or lines[0].strip() != "---":
        return None, lines
    for i in range(1, min(len(lines), 200)):
        if lines[i].strip() in ("---", "..."):
            title = None
            for meta in lines[1:i]:
                if meta.lower().startswith("title:"):
                    title = meta.split(":", 1)[1].strip().strip("'\"") or None
            return title, lines[i + 1 :]
    return None, lines


def parse_markdown(text: str, source: str, fallback_title: str) -> Document:
    """Blocks per paragraph/list/code fence, each tagged with the headings above it."""
    title, lines = _front_matter(text.splitlines())
    path: list[tuple[int, str]] = []
    blocks: list[Block] = []
    para: list[str] = []
    in_fence = False

    def flush() -> None:
        body = "\n".join(para).strip()
        if body:
            blocks.append(Block(body, tuple(h for _, h in path)))
        para.clear()

    def open_heading(level: int, heading: str) -> None:
        nonlocal title
        flush()
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, heading))
        if title is None and level == 1:
            title = heading

    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            para.append(line)
            continue
        match = _HEADING.match(line)
        if match:
            open_heading(len(match.group(1)), _clean(match.group(2)))
        elif _SETEXT.match(line) and len(para) == 1 and para[0].strip():
            heading = _clean(para.pop().strip())
            open_heading(1 if line.strip().startswith("=") else 2, heading)
        elif not line.strip():
            flush()
        else:
            para.append(_clean(line.rstrip()))
    flush()
    return Document(source=source, title=title or fallback_title, blocks=blocks, kind="markdown")


def parse_text(text: str, source: str, fallback_title: str) -> Document:
    """Plain text: blank lines separate paragraphs; the first short line may be a title."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    title = fallback_title
    if (
        paragraphs
        and "\n" not in paragraphs[0]
        and len(paragraphs[0]) <= 120
        and len(paragraphs) > 1
    ):
        title = paragraphs[0]
        paragraphs = paragraphs[1:]
    return Document(source, title, [Block(p) for p in paragraphs], kind="text")
