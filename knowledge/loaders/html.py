"""HTML to structured blocks: main content only, headings kept as heading paths.

BeautifulSoup + lxml with explicit rules rather than trafilatura: trafilatura's heuristics drop
the headings we need for heading paths and can discard most of a short product page, while
these rules are deterministic and cheap. Boilerplate goes first (nav, header, footer, aside,
forms, cookie/consent banners by role, id or class), then `<main>` / `<article>` /
`[role=main]` is preferred when present.
"""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup
from bs4.element import NavigableString, Tag

from knowledge.models import Block, Document

_DROP_TAGS = [
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "iframe",
    "form",
    "button",
    "nav",
    "aside",
    "dialog",
    "select",
    "input",
    "canvas",
]
_DROP_ROLES = {"navigation", "banner", "contentinfo", "complementary", "dialog", "alert", "search"}
# Class/id tokens that mark page chrome. Matched per token (not as substrings), so content
# such as `card-header` or `menu-prices` survives.
_BOILERPLATE_TOKENS = {
    "nav",
    "navbar",
    "navigation",
    "menu",
    "breadcrumb",
    "breadcrumbs",
    "sidebar",
    "footer",
    "header",
    "masthead",
    "banner",
    "newsletter",
    "social",
    "share",
    "popup",
    "modal",
    "site-header",
    "site-footer",
    "site-nav",
    "main-nav",
    "global-nav",
    "skip-link",
}
_BOILERPLATE_PREFIXES = ("cookie", "consent", "gdpr")
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = {"p", "li", "pre", "blockquote", "tr", "dt", "dd", "figcaption", "caption", "address"}
_INLINE = {
    "a",
    "span",
    "strong",
    "em",
    "b",
    "i",
    "u",
    "code",
    "small",
    "sup",
    "sub",
    "mark",
    "abbr",
    "time",
    "label",
    "q",
    "cite",
    "s",
    "del",
    "ins",
    "kbd",
    "var",
    "br",
    "img",
}


def _is_boilerplate(tag: Tag) -> bool:
    if tag.get("role") in _DROP_ROLES or tag.get("aria-hidden") == "true":
        return True
    if tag.has_attr("hidden"):
        return True
    if tag.name in ("main", "article", "body", "html"):
        return False
    tokens = [str(t).lower() for t in (tag.get("class") or [])]
    tokens.append(str(tag.get("id") or "").lower())
    return any(t in _BOILERPLATE_TOKENS or t.startswith(_BOILERPLATE_PREFIXES) for t in tokens if t)


def _main_root(soup: BeautifulSoup) -> Tag:
    for selector in ("main", "article", "[role=main]"):
        found = soup.select(selector)
        if found:
            return max(found, key=lambda t: len(t.get_text()))
    return soup.body or soup


class _Walker:
    """Emits blocks in document order, tracking the heading path."""

    def __init__(self) -> None:
        self.path: list[tuple[int, str]] = []
        self.blocks: list[Block] = []
        self.inline: list[str] = []
        self.first_h1: str | None = None

    def emit(self, text: str) -> None:
        text = " ".join(text.split())
        if text:
            self.blocks.append(Block(text, tuple(h for _, h in self.path)))

    def flush(self) -> None:
        self.emit(" ".join(self.inline))
        self.inline.clear()

    def heading(self, level: int, text: str) -> None:
        self.flush()
        text = " ".join(text.split())
        if not text:
            return
        while self.path and self.path[-1][0] >= level:
            self.path.pop()
        self.path.append((level, text))
        if level == 1 and self.first_h1 is None:
            self.first_h1 = text

    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString and child.strip():
                    self.inline.append(str(child))
            elif isinstance(child, Tag):
                self.visit(child)

    def visit(self, tag: Tag) -> None:
        name = tag.name
        if name in _HEADINGS:
            self.heading(_HEADINGS[name], tag.get_text(" "))
        elif name in _BLOCKS:
            self.flush()
            sep = " | " if name == "tr" else " "
            cells = tag.find_all(["td", "th"]) if name == "tr" else None
            text = sep.join(c.get_text(" ") for c in cells) if cells else tag.get_text(" ")
            self.emit(text)
        elif name in _INLINE:
            self.inline.append(tag.get_text(" "))
        else:
            self.flush()
            self.walk(tag)
            self.flush()


def _title(soup: BeautifulSoup, first_h1: str | None, fallback: str) -> str:
    og = soup.find("meta", attrs={"property": "og:title"})
    if isinstance(og, Tag) and og.get("content"):
        return " ".join(str(og["content"]).split())
    if first_h1:
        return first_h1
    if soup.title and soup.title.string:
        return " ".join(soup.title.string.split())
    return fallback


def parse_html(content: bytes | str, source: str, fallback_title: str, url: str | None) -> Document:
    """Main-content blocks of an HTML page."""
    soup = BeautifulSoup(content, "lxml")
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    # Page headers and footers are chrome; an article's own <header> holds its title.
    for tag in soup.find_all(["header", "footer"]):
        if not tag.decomposed and tag.find_parent(["main", "article"]) is None:
            tag.decompose()
    for tag in list(soup.find_all(True)):
        if not getattr(tag, "decomposed", False) and tag.attrs is not None and _is_boilerplate(tag):
            tag.decompose()
    walker = _Walker()
    root: Any = _main_root(soup)
    walker.walk(root)
    walker.flush()
    title = _title(soup, walker.first_h1, fallback_title)
    return Document(source=source, title=title, blocks=walker.blocks, url=url, kind="html")
