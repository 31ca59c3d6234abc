"""What an ingest was given (paths, URLs, sitemaps) turned into documents of named source sets.

A source set is the unit of `--prune`: by default each folder, file, URL or sitemap given is
its own set (a folder's set is named after the folder, so moving it changes nothing), or every
input joins the set named by `--source`. File identities are relative to the folder given
(see `knowledge.loaders.file_source`); with a base URL, files get their public docs-site URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.errors import LoadError
from knowledge.loaders import DEFAULT_MAX_TEXT_BYTES
from knowledge.models import Document, DocumentPlan

LoadResult = Document | DocumentPlan  # a loaded document, or a failed one


def is_url(source: str | Path) -> bool:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


@dataclass
class LoadRequest:
    """The inputs of one ingest and how to name and link what they yield."""

    sources: list[str | Path] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    allow_private_hosts: bool = False
    source_name: str | None = None
    base_url: str | None = None
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES

    def set_name(self, source: str | Path) -> str:
        """The source set of one input: `--source`, else derived from the input itself."""
        if self.source_name:
            return self.source_name
        if is_url(source):
            from knowledge.loaders.web import normalize_url

            return normalize_url(str(source))
        from knowledge.loaders import file_source

        path = Path(source)
        return path.resolve().name or "/" if path.is_dir() else file_source(path)

    def source_sets(self) -> set[str]:
        return {self.set_name(s) for s in [*self.sources, *self.sitemaps]}

    def roots(self) -> set[str]:
        """Failure keys meaning "the whole input is missing" (not one page or file)."""
        from knowledge.loaders.web import normalize_url

        missing = {str(s) for s in self.sources if not is_url(s) and not Path(s).exists()}
        return missing | {normalize_url(s) for s in self.sitemaps}


def load_all(request: LoadRequest) -> Iterator[LoadResult]:
    """Every document the request names, in input order; failures as failed plans."""
    urls: dict[str, str] = {}
    for source in request.sources:
        if is_url(source):
            urls[str(source)] = request.set_name(source)
        else:
            yield from load_files(Path(source), request)
    if urls or request.sitemaps:
        from knowledge.loaders.web import load_web

        names = {**urls, **{s: request.set_name(s) for s in request.sitemaps}}
        yield from load_web(
            list(urls),
            request.sitemaps,
            allow_private_hosts=request.allow_private_hosts,
            max_text_bytes=request.max_text_bytes,
            source_sets=names,
        )


def load_files(path: Path, request: LoadRequest) -> Iterator[LoadResult]:
    """A file, or every supported file below a folder, as documents of the path's set."""
    from knowledge.loaders import (
        expand_paths,
        file_source,
        load_path,
        public_url,
        relative_route,
        source_root,
    )

    set_name = request.set_name(path)
    if not path.exists():
        error = f"{path}: no such file or folder"
        yield DocumentPlan(str(path), "failed", error=error, source_set=set_name)
        return
    root = source_root(path)
    for file in expand_paths(path):
        source = file_source(file, root)
        try:
            doc = load_path(file, source, max_text_bytes=request.max_text_bytes)
        except LoadError as exc:
            yield DocumentPlan(source, "failed", error=str(exc), source_set=set_name)
            continue
        doc.source_set = set_name
        if request.base_url:
            doc.url = public_url(request.base_url, relative_route(source), doc.slug)
        yield doc
