"""Turn files and web pages into `Document`s.

`load_path` dispatches on the file suffix; web loading lives in `knowledge.loaders.web`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from knowledge.errors import LoadError
from knowledge.models import Document

MAX_FILE_BYTES = 50 * 1024 * 1024
# Text per document: a 20 MB log saved as .md would become tens of thousands of chunks.
DEFAULT_MAX_TEXT_BYTES = 5 * 1024 * 1024
# Share of undecodable bytes (as UTF-8) above which "text" is really binary.
MAX_INVALID_SHARE = 0.10
_MB = 1024 * 1024
_NUMERIC_PREFIX = re.compile(r"^\d+[-_.]")
_DOC_SUFFIXES = (".md", ".mdx", ".markdown", ".html", ".htm", ".txt")


def binary_reason(data: bytes) -> str | None:
    """Why `data` is not text (NUL bytes, mostly invalid UTF-8), or None when it is text."""
    if b"\x00" in data:
        return "binary content (NUL bytes), not a text file"
    sample = data[: 1024 * 1024]
    if not sample:
        return None
    decoded = sample.decode("utf-8", errors="replace")
    invalid = decoded.count("\ufffd") - sample.decode("utf-8", errors="ignore").count("\ufffd")
    controls = sum(1 for ch in decoded if ch < " " and ch not in "\t\n\r\f")
    if (invalid + controls) / max(1, len(decoded)) > MAX_INVALID_SHARE:
        return "binary content (mostly invalid UTF-8), not a text file"
    return None


def check_size(where: str, size: int, max_text_bytes: int) -> None:
    """One-line refusal of a document with more text than the configured limit."""
    if size > max_text_bytes:
        raise LoadError(
            f"{where}: {size / _MB:.1f} MB of text is over the {max_text_bytes / _MB:g} MB limit"
            " (raise it with --max-text-mb)"
        )


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    reason = binary_reason(data)
    if reason:
        raise LoadError(f"{path}: {reason}")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _markdown(path: Path, source: str) -> Document:
    from knowledge.loaders.markdown import parse_markdown

    return parse_markdown(_read_text(path), source, path.stem)


def _text(path: Path, source: str) -> Document:
    from knowledge.loaders.markdown import parse_text

    return parse_text(_read_text(path), source, path.stem)


def _html(path: Path, source: str) -> Document:
    from knowledge.loaders.html import parse_html

    data = path.read_bytes()
    reason = binary_reason(data)
    if reason:
        raise LoadError(f"{path}: {reason}")
    return parse_html(data, source, path.stem, url=None)


def _pdf(path: Path, source: str) -> Document:
    from knowledge.loaders.pdf import load_pdf

    return load_pdf(path, source)


def _docx(path: Path, source: str) -> Document:
    from knowledge.loaders.docx import load_docx

    return load_docx(path, source)


LOADERS: dict[str, Callable[[Path, str], Document]] = {
    ".md": _markdown,
    ".markdown": _markdown,
    ".mdx": _markdown,
    ".txt": _text,
    ".text": _text,
    ".rst": _text,
    ".html": _html,
    ".htm": _html,
    ".pdf": _pdf,
    ".docx": _docx,
}


def source_root(path: Path) -> Path:
    """The folder identities are taken relative to: the folder given, or a file's parent."""
    resolved = path.resolve()
    return resolved if resolved.is_dir() else resolved.parent


def file_source(path: Path, root: Path | None = None) -> str:
    """The stable identity of a file: its path below the source root, prefixed by the root's
    own name (`docs/guides/setup.md`). Moving the folder elsewhere changes nothing; a file
    given alone has the same identity as when its folder is ingested."""
    resolved = path.resolve()
    base = (root or resolved.parent).resolve()
    try:
        rel = resolved.relative_to(base).as_posix()
    except ValueError:  # not below the root: fall back to the file's own folder
        base, rel = resolved.parent, resolved.name
    return f"{base.name}/{rel}" if base.name else rel


def relative_route(source: str) -> str:
    """The identity without its root folder name (what a docs site routes)."""
    return source.split("/", 1)[1] if "/" in source else source


def public_url(base_url: str, rel_path: str, slug: str | None = None) -> str:
    """The page URL of a docs-site file, following Docusaurus routing: `index.md` and
    `README.md` are their folder, numeric prefixes (`01-intro`) are dropped, `.md`/`.mdx`
    go, and a front-matter `slug` wins (absolute from the site root, else relative)."""
    base = base_url.rstrip("/")
    parts = [_NUMERIC_PREFIX.sub("", p) for p in PurePosixPath(rel_path).parts]
    if parts:
        last = parts[-1]
        for suffix in _DOC_SUFFIXES:
            if last.lower().endswith(suffix):
                last = last[: -len(suffix)]
                break
        parts[-1] = last
        folder = parts[-2] if len(parts) > 1 else None
        if last.lower() in ("index", "readme") or (folder and last == folder):
            parts.pop()
    if slug:
        if slug.startswith("/"):
            return base + "/" + slug.strip("/")
        parts = [*parts[:-1], slug.strip("/")] if parts else [slug.strip("/")]
    route = "/".join(p for p in parts if p)
    return f"{base}/{route}" if route else base + "/"


def load_path(
    path: Path,
    source: str | None = None,
    *,
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES,
) -> Document:
    """Load one file; raise `LoadError` with a one-line reason when it cannot be read."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoadError(f"{path}: unsupported file type {path.suffix or '(none)'}")
    if not path.is_file():
        raise LoadError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise LoadError(f"{path}: larger than {MAX_FILE_BYTES // _MB} MB")
    if loader in (_markdown, _text, _html):
        check_size(str(path), size, max_text_bytes)
    try:
        doc = loader(path, source or file_source(path))
    except LoadError:
        raise
    except Exception as exc:  # a broken file must not stop the rest of the ingest
        raise LoadError(
            f"{path}: cannot read {path.suffix[1:].upper()} ({type(exc).__name__}: {exc})"
        ) from exc
    check_size(str(path), sum(len(b.text.encode()) for b in doc.blocks), max_text_bytes)
    if not doc.blocks:
        raise LoadError(f"{path}: no text found")
    return doc


def expand_paths(path: Path) -> Iterator[Path]:
    """A file itself, or every supported file below a folder (sorted, hidden files skipped)."""
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            rel = child.relative_to(path)
            if any(part.startswith(".") for part in rel.parts):
                continue
            if child.is_file() and child.suffix.lower() in LOADERS:
                yield child
    else:
        yield path
