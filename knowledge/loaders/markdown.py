"""Markdown and its docs-site dialects (MDX/Docusaurus, MkDocs, Hugo) into structured blocks.

Parsing is markdown-it-py (CommonMark plus GFM tables) with the mdit-py-plugins front-matter,
container (Docusaurus `:::tip`) and admonition (MkDocs `!!! note`) rules: a real parser gets
nesting, code fences, tables and inline markup right where line regexes did not. What
CommonMark cannot see is MDX's JavaScript side, so a short pre-pass over the text outside code
(fences and inline code are protected) removes ESM `import`/`export` blocks, HTML and MDX
comments, `<head>`/`<script>`/`<style>` blocks (JSON-LD), JSX tags (keeping their text
children and prose props such as `title=`), Hugo shortcodes (admonition shortcodes become
containers) and `{#id}` heading anchors.

Headings become heading paths; tables become one "column: value; ..." line per row so a fact
in a table stays findable; code blocks stay code. Front matter keeps title, description
(stored as the first block), tags and slug.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from knowledge.models import Block, Document

_FENCE_LINE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1)[\s\S])+?\1")
_DROP_BLOCKS = re.compile(
    r"<!--[\s\S]*?(?:-->|$)"  # HTML comments (an unclosed one runs to the end)
    r"|\{/\*[\s\S]*?\*/\}"  # MDX comments
    r"|<(head|script|style)\b[^>]*>[\s\S]*?</\1\s*>",  # JSON-LD, <Head> metadata, code
    re.IGNORECASE,
)
# MDX ESM: a paragraph opening with import/export runs to the next blank line.
_ESM = re.compile(
    r"^(?:import\s+(?:[\w*{}\s,$]+\s+from\s+)?['\"]|import\s*\{|export\s+(?:default|const|let|var"
    r"|function|class|async|\{|\*))[^\n]*(?:\n(?![ \t]*\n)[^\n]*)*",
    re.MULTILINE,
)
# A JSX/HTML tag: name, then attributes whose values may be strings or {expressions} nested
# two deep (style={{...}}); tags may span lines.
_BRACED = r"\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}"
_VALUE = rf"(?:\"[^\"]*\"|'[^']*'|{_BRACED}|[^\s\"'<>{{}}]+)"
_ATTRS = rf"(?:\s+(?:[^\s\"'{{}}<>/=]+(?:\s*=\s*{_VALUE})?|{_BRACED}))*"
_TAG = re.compile(rf"<(/?)([A-Za-z][\w.-]*(?::[\w.-]+)?)({_ATTRS})\s*(/?)>")
_PROP = re.compile(r"\b(title|label|description|alt|caption|summary|heading|subtitle|text)"
                   r"\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")  # fmt: skip
_SHORTCODE = re.compile(r"\{\{([<%])\s*(/?)\s*([\w.-]+)([^}]*?)\s*[>%]\}\}")
_ADMONITION_SHORTCODES = {"notice", "hint", "alert", "admonition", "callout", "note", "tip",
                          "warning", "info", "danger", "caution", "important"}  # fmt: skip
_ANCHOR = re.compile(r"[ \t]*\{#[^}\s]*\}")
_JSX_EXPRESSION = re.compile(r"\{[A-Za-z_$][\w.$]*(?:\([^{}()]*\))?\}")
_DATA_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*data:[^)]*\)")
_CONTAINER = re.compile(
    r"^\s*([A-Za-z][\w-]*)\s*(?:\[(.*)\]|\{.*?title=[\"']([^\"']*)[\"'].*\}|(.*))$"
)
_BARE_FENCE = re.compile(r"^\s*:{3,}\s*[\w-]*\s*$")

LABELS = {"danger": "Warning", "abstract": "Summary", "tldr": "Summary", "hint": "Tip"}


# --- pre-pass ------------------------------------------------------------------------------
def _outside_code(text: str, transform: Any) -> str:
    """Apply `transform` to everything except fenced code blocks and inline code spans."""
    out: list[str] = []
    prose: list[str] = []
    fence: str | None = None

    def flush() -> None:
        if prose:
            out.append(_outside_inline_code("".join(prose), transform))
            prose.clear()

    for line in text.splitlines(keepends=True):
        match = _FENCE_LINE.match(line)
        if fence is None and match:
            flush()
            fence = match.group(1)[0] * 3
            out.append(line)
        elif fence is not None:
            out.append(line)
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
        else:
            prose.append(line)
    flush()
    return "".join(out)


def _outside_inline_code(text: str, transform: Any) -> str:
    parts: list[str] = []
    last = 0
    for match in _INLINE_CODE.finditer(text):
        parts.append(transform(text[last : match.start()]))
        parts.append(match.group())
        last = match.end()
    parts.append(transform(text[last:]))
    return "".join(parts)


def _tag_text(match: re.Match[str]) -> str:
    """A JSX/HTML tag becomes its prose props (`title=`, `alt=`...), or nothing."""
    props = [a or b for _, a, b in _PROP.findall(match.group(3) or "")]
    props = [" ".join(p.split()) for p in props if p.strip()]
    if not props:
        return " " if match.group(2).lower() in ("br", "p", "div", "li", "td") else ""
    text = ". ".join(p.rstrip(".") for p in props) + "."
    before = match.string[: match.start()].rsplit("\n", 1)[-1]
    return f"\n\n{text}\n\n" if not before.strip() else f" {text} "


def _shortcode(match: re.Match[str]) -> str:
    closing, name, params = match.group(2), match.group(3).lower(), match.group(4).strip()
    if name not in _ADMONITION_SHORTCODES:
        return ""
    if closing:
        return "\n:::\n"
    words = [w.strip("\"'") for w in re.findall(r"\"[^\"]*\"|'[^']*'|\S+", params)]
    kind = name if name not in ("notice", "hint", "alert", "admonition", "callout") else ""
    kind = kind or (words.pop(0) if words else "note")
    title = " ".join(w for w in words if "=" not in w)
    return f"\n:::{kind} {title}".rstrip() + "\n"


def _mdx_prose(text: str) -> str:
    text = _DROP_BLOCKS.sub("", text)
    text = _ESM.sub("", text)
    text = _SHORTCODE.sub(_shortcode, text)
    text = _DATA_IMAGE.sub(r"\1", text)
    text = _TAG.sub(_tag_text, text)
    text = _ANCHOR.sub("", text)
    return _JSX_EXPRESSION.sub("", text)


def preprocess(text: str) -> str:
    """The text with MDX/Hugo/HTML-only constructs removed, code left untouched."""
    return _outside_code(text.replace("\r\n", "\n").replace("\r", "\n"), _mdx_prose)


# --- front matter --------------------------------------------------------------------------
@dataclass
class FrontMatter:
    title: str | None = None
    description: str | None = None
    slug: str | None = None
    tags: list[str] = field(default_factory=list)


def _toml_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Hugo's `+++` TOML front matter (markdown-it's plugin reads only YAML `---`)."""
    if not text.startswith("+++"):
        return {}, text
    end = text.find("\n+++", 3)
    if end < 0:
        return {}, text
    try:
        data = tomllib.loads(text[3:end])
    except tomllib.TOMLDecodeError:
        data = {}
    return data, text[end + 4 :].lstrip("\n")


def _yaml(content: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def front_matter(data: dict[str, Any]) -> FrontMatter:
    """The keys a docs site uses that matter for search and links."""

    def text(key: str) -> str | None:
        value = data.get(key)
        return " ".join(str(value).split()) or None if isinstance(value, str | int) else None

    tags = data.get("tags") or data.get("keywords") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    names = [
        str(t.get("label") if isinstance(t, dict) else t)
        for t in tags
        if isinstance(t, str | int | dict)
    ]
    return FrontMatter(
        title=text("title"),
        description=text("description"),
        slug=text("slug"),
        tags=[n for n in names if n and n != "None"],
    )


# --- parsing -------------------------------------------------------------------------------
def _parser() -> Any:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.admon import admon_plugin
    from mdit_py_plugins.container import container_plugin
    from mdit_py_plugins.front_matter import front_matter_plugin

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.disable("code")  # MDX has no indented code; MkDocs bodies are indented
    # Keep javascript:/data: links as their link text instead of literal Markdown.
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    front_matter_plugin(md)
    admon_plugin(md)
    container_plugin(md, "admonition", validate=lambda params, *a: bool(_CONTAINER.match(params)))
    return md


_MD: Any = None


def _markdown_it() -> Any:
    global _MD
    if _MD is None:
        _MD = _parser()
    return _MD


def _label(kind: str, title: str) -> str:
    kind = kind.strip().lower() or "note"
    name = LABELS.get(kind, kind.replace("-", " ").capitalize())
    title = title.strip().strip("\"'")
    if title and title.lower() != kind:
        return f"{name}: {title}."
    return f"{name}:"


def _inline(children: Sequence[Any] | None) -> str:
    """Plain text of an inline token: link and image text kept, markup and tags dropped."""
    parts: list[str] = []
    for child in children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(_inline(child.children) or child.content)
        elif child.type == "html_inline":
            parts.append(_TAG.sub(_tag_text, child.content).strip())
    return " ".join("".join(parts).split())


class _Walker:
    """Turns the markdown-it token stream into blocks with heading paths."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.path: list[tuple[int, str]] = []
        self.first_h1: str | None = None
        self.meta: dict[str, Any] = {}
        self.labels: list[str] = []  # admonition labels waiting for their first block
        self.list_depth = 0
        self.heading_level = 0
        self.table: list[list[str]] | None = None
        self.title_open = False

    def emit(self, text: str, kind: str = "text") -> None:
        text = text.strip() if kind == "text" else text.rstrip()
        if kind == "text" and _BARE_FENCE.match(text):
            return
        if not text.strip():
            return
        if self.labels and kind == "text":
            text = f"{' '.join(self.labels)} {text}"
            self.labels = []
        elif self.labels:
            self.blocks.append(Block(" ".join(self.labels), self.heading_path))
            self.labels = []
        self.blocks.append(Block(text, self.heading_path, kind=kind))

    @property
    def heading_path(self) -> tuple[str, ...]:
        return tuple(h for _, h in self.path)

    def heading(self, level: int, text: str) -> None:
        text = _ANCHOR.sub("", text).strip()
        if not text:
            return
        while self.path and self.path[-1][0] >= level:
            self.path.pop()
        self.path.append((level, text))
        if level == 1 and self.first_h1 is None:
            self.first_h1 = text

    def walk(self, tokens: Sequence[Any]) -> None:
        for token in tokens:
            self.token(token)
        if self.labels:
            self.blocks.append(Block(" ".join(self.labels), self.heading_path))

    def token(self, token: Any) -> None:  # noqa: C901 - one flat dispatch over token types
        kind = token.type
        if kind == "front_matter":
            self.meta = _yaml(token.content)
        elif kind == "heading_open":
            self.heading_level = int(token.tag[1])
        elif kind == "heading_close":
            self.heading_level = 0
        elif kind in ("bullet_list_open", "ordered_list_open"):
            self.list_depth += 1
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.list_depth -= 1
        elif kind == "container_admonition_open":
            match = _CONTAINER.match(token.info)
            assert match is not None  # the container rule validated it
            title = next((g for g in match.groups()[1:] if g), "")
            self.labels.append(_label(match.group(1), title))
        elif kind == "admonition_open":
            self.labels.append(_label(str(token.meta.get("tag", "note")), ""))
        elif kind == "admonition_title_open":
            self.title_open = True
        elif kind == "admonition_title_close":
            self.title_open = False
        elif kind == "table_open":
            self.table = []
        elif kind == "tr_open" and self.table is not None:
            self.table.append([])
        elif kind == "table_close":
            self.emit(_table_text(self.table or []), kind="table")
            self.table = None
        elif kind in ("fence", "code_block"):
            self.emit(token.content, kind="code")
        elif kind == "html_block":
            self.emit(" ".join(_TAG.sub(_tag_text, token.content).split()))
        elif kind == "inline":
            self.inline(token)

    def inline(self, token: Any) -> None:
        text = _inline(token.children)
        if self.heading_level:
            self.heading(self.heading_level, text)
        elif self.title_open and self.labels:
            kind = self.labels[-1].rstrip(":").split(":")[0]
            self.labels[-1] = _label(kind, text if text.lower() != kind.lower() else "")
        elif self.table is not None:
            if self.table:
                self.table[-1].append(text)
        else:
            self.emit(f"- {text}" if self.list_depth and text else text)


def _table_text(rows: list[list[str]]) -> str:
    """One line per body row: "Header: value; Header: value" (header row first)."""
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    if not body:
        return "; ".join(c for c in header if c)
    lines = []
    for row in body:
        cells = [
            f"{header[i]}: {value}" if i < len(header) and header[i] else value
            for i, value in enumerate(row)
            if value
        ]
        if cells:
            lines.append("; ".join(cells))
    return "\n".join(lines)


def parse_markdown(text: str, source: str, fallback_title: str) -> Document:
    """Blocks per paragraph, list item, table and code block, each with its heading path."""
    toml_meta, text = _toml_front_matter(text.lstrip("\ufeff"))
    walker = _Walker()
    walker.walk(_markdown_it().parse(preprocess(text)))
    meta = front_matter({**toml_meta, **walker.meta})
    blocks = walker.blocks
    if meta.description:
        blocks.insert(0, Block(meta.description))
    return Document(
        source=source,
        title=meta.title or walker.first_h1 or fallback_title,
        blocks=blocks,
        kind="markdown",
        description=meta.description,
        slug=meta.slug,
        tags=meta.tags,
    )


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
