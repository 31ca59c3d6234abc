"""Turn files and web pages into `Document`s.

`load_path` dispatches on the file suffix; web loading lives in `knowledge.loaders.web`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from knowledge.errors import LoadError
from knowledge.models import Document

MAX_FILE_BYTES = 50 * 1024 * 1024


def _read_text(path: Path) -> str:
    data = path.read_bytes()
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

    return parse_html(path.read_bytes(), source, path.stem, url=None)


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


def file_source(path: Path) -> str:
    """The stable identity of a file: its absolute path."""
    return str(path.resolve())


def load_path(path: Path) -> Document:
    """Load one file; raise `LoadError` with a one-line reason when it cannot be read."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoadError(f"{path}: unsupported file type {path.suffix or '(none)'}")
    if not path.is_file():
        raise LoadError(f"{path}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise LoadError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        doc = loader(path, file_source(path))
    except LoadError:
        raise
    except Exception as exc:  # a broken file must not stop the rest of the ingest
        raise LoadError(
            f"{path}: cannot read {path.suffix[1:].upper()} ({type(exc).__name__}: {exc})"
        ) from exc
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
