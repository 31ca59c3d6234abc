"""`knowledge`: the marketer's command line for a company's knowledge base.

    knowledge ingest --company acme docs/ --base-url https://docs.acme.example/
    knowledge ingest --company acme --sitemap https://acme.example/sitemap.xml https://acme.example/pricing
    knowledge ingest --company acme docs/ --prune --dry-run
    knowledge list [--company acme]
    knowledge remove --company acme docs/old.md
    knowledge search --company acme "how much is premium?"

Configuration comes from the server's `WIDGET_*` environment / `.env` (see
`knowledge.settings`). Exit codes: 0 success, 1 some source failed, nothing to remove or the
store is unreachable, 2 bad usage (including an unknown company without `--create`).
Heavy libraries (torch, chromadb, rich's tables) load only when a command needs them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from rich.console import Console

    from knowledge import Embedder, KnowledgeBase
    from knowledge.settings import KnowledgeSettings

from knowledge.cli_display import ProgressDisplay, summary_table

MB = 1024 * 1024


class UsageError(Exception):
    """Bad input the user can fix; the message says how (exit code 2)."""


INGEST_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("--sitemap",), {"action": "append", "default": [], "metavar": "URL",
                      "help": "sitemap.xml URL (nested sitemaps are followed); repeatable"}),
    (("--tag",), {"action": "append", "default": None, "metavar": "T",
                  "help": "tag the source's documents (filterable in search); repeatable;"
                          " without it the source keeps the tags it had"}),
    (("--no-tags",), {"action": "store_true", "help": "remove the source's tags"}),
    (("--source",), {"metavar": "NAME", "help": "name of the source set these inputs form"
                     " (default: one set per folder, file, URL or sitemap given)"}),
    (("--base-url",), {"metavar": "URL",
                       "help": "public docs-site URL of the folder: files link to their pages"}),
    (("--dry-run",), {"action": "store_true", "help": "print the plan, write nothing"}),
    (("--prune",), {"action": "store_true",
                    "help": "remove this source set's documents that are no longer there"}),
    (("--create",), {"action": "store_true",
                     "help": "allow a company that has no config and no knowledge base yet"}),
    (("--max-text-mb",), {"type": float, "default": 5.0, "metavar": "MB",
                          "help": "refuse documents with more text than this (default 5)"}),
    (("--allow-private-hosts",), {"action": "store_true",
                                  "help": "allow private/loopback addresses (intranet, tests)"}),
]  # fmt: skip


def _ingest_parser() -> argparse.ArgumentParser:
    ingest = argparse.ArgumentParser(
        prog="knowledge ingest", description="Load files, folders, web pages and sitemaps."
    )
    ingest.add_argument("--company", required=True, help="company id, e.g. acme")
    ingest.add_argument("sources", nargs="*", metavar="PATH_OR_URL", help="file, folder or URL")
    for names, options in INGEST_OPTIONS:
        ingest.add_argument(*names, **options)
    return ingest


def _other_parsers() -> dict[str, argparse.ArgumentParser]:
    listing = argparse.ArgumentParser(prog="knowledge list", description="Documents and chunks.")
    listing.add_argument("--company", help="only this company (default: every company)")

    remove = argparse.ArgumentParser(prog="knowledge remove", description="Remove documents.")
    remove.add_argument("--company", required=True)
    remove.add_argument("sources", nargs="*", metavar="PATH_OR_URL")
    remove.add_argument("--source", metavar="NAME", help="remove every document of a source set")
    remove.add_argument("--all", action="store_true", help="remove every document of the company")

    search = argparse.ArgumentParser(prog="knowledge search", description="Ask a question.")
    search.add_argument("--company", required=True)
    search.add_argument("query")
    search.add_argument("-k", "--top-k", type=int, default=5)
    search.add_argument("--tag", action="append", default=None)
    search.add_argument("--document", action="append", default=None, metavar="SOURCE",
                        help="only passages of this document (as `list` names it)")  # fmt: skip
    search.add_argument("--json", action="store_true", help="machine-readable output")
    return {"list": listing, "remove": remove, "search": search}


def parsers() -> dict[str, argparse.ArgumentParser]:
    out = {"ingest": _ingest_parser(), **_other_parsers()}
    for parser in out.values():
        parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    return out


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Command, then its options and positionals in any order (`--sitemap URL` then URLs)."""
    argv = list(argv)
    verbose = any(a in ("-v", "--verbose") for a in argv)
    commands = parsers()
    words = [a for a in argv if a not in ("-v", "--verbose")]
    if not words or words[0] not in commands:
        usage = "usage: knowledge [-v] {" + ",".join(commands) + "} ..."
        print(usage, file=sys.stderr)
        if words and words[0] not in ("-h", "--help"):
            print(f"knowledge: error: unknown command {words[0]!r}", file=sys.stderr)
        raise SystemExit(2 if words[:1] != ["-h"] and words[:1] != ["--help"] else 0)
    # Intermixed parsing: argparse's plain parser rejects positionals after an option that
    # takes a value once the positional list has been matched (empty) before it.
    args = commands[words[0]].parse_intermixed_args(words[1:])
    args.command, args.verbose = words[0], verbose or args.verbose
    return args


def open_knowledge_base(settings: KnowledgeSettings) -> KnowledgeBase:
    """KnowledgeBase configured like the server (same variables), model loaded on first use."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    from knowledge import KnowledgeBase, KnowledgeConfig

    config = KnowledgeConfig(
        chroma_path=settings.effective_chroma_path,
        chroma_host=settings.chroma_host,
        chroma_port=settings.chroma_port,
    )
    return KnowledgeBase(config, LazyEmbedder(lambda: _load_model(settings)))


def _load_model(settings: KnowledgeSettings) -> Embedder:
    from knowledge.embedding import load_embedder

    return load_embedder(
        settings.embedding_model_path,
        backend=settings.embedding_backend,
        cache_dir=settings.model_cache_dir or settings.data_dir / "models",
    )


class LazyEmbedder:
    """Loads the model on first use, so `list` and `remove` start instantly."""

    def __init__(self, load: Callable[[], Embedder]) -> None:
        self._load = load
        self._inner: Embedder | None = None
        self._loading: threading.Thread | None = None
        self._lock = threading.Lock()

    def prefetch(self) -> None:
        """Start loading the model in the background (a search also opens Chroma: on two
        cores the two loads overlap instead of queueing)."""
        with self._lock:
            if self._inner is None and self._loading is None:
                self._loading = threading.Thread(target=self._model, daemon=True)
                self._loading.start()

    def _model(self) -> Embedder:
        with self._lock:
            if self._inner is None:
                self._inner = self._load()
            return self._inner

    @property
    def name(self) -> str:
        return self._model().name

    @property
    def dimension(self) -> int:
        return self._model().dimension

    @property
    def max_tokens(self) -> int:
        return self._model().max_tokens

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer (word-piece offsets for splitting over-long tokens)."""
        inner = self._model()
        return getattr(inner, "tokenizer", None) or getattr(inner, "_tokenizer", None)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._model().encode(texts)

    def count_tokens(self, text: str) -> int:
        return self._model().count_tokens(text)

    def count_tokens_many(self, texts: Sequence[str]) -> list[int]:
        from knowledge.embedding import count_tokens_many

        return count_tokens_many(self._model(), texts)


class Context:
    """What every command gets: settings, the knowledge base, stdout and stderr consoles."""

    def __init__(self, settings: KnowledgeSettings, kb: KnowledgeBase) -> None:
        from rich.console import Console

        self.settings = settings
        self.kb = kb
        self.out: Console = Console()
        self.err: Console = Console(stderr=True)

    def require_company(self, company: str, *, create: bool = False) -> None:
        """Unknown companies are typos until proven otherwise."""
        from knowledge.store import validate_company_id

        try:
            validate_company_id(company)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if create or company in self.settings.configured_companies():
            return
        if company in self.kb.companies():
            return
        known = sorted(self.settings.configured_companies() | set(self.kb.companies()))
        hint = f"known: {', '.join(known)}" if known else "no companies yet"
        raise UsageError(
            f"no such company {company!r} ({hint}); pass --create to start a knowledge base"
            " for a new company"
        )


def cmd_ingest(args: argparse.Namespace, ctx: Context) -> int:
    if not args.sources and not args.sitemap:
        raise UsageError("give at least one PATH_OR_URL or --sitemap")
    if args.max_text_mb <= 0:
        raise UsageError("--max-text-mb must be positive")
    ctx.require_company(args.company, create=args.create)
    with ProgressDisplay(ctx.err) as on_progress:
        report = ctx.kb.ingest(
            args.company,
            args.sources,
            tags=[] if args.no_tags else args.tag,
            prune=args.prune,
            dry_run=args.dry_run,
            sitemaps=args.sitemap,
            allow_private_hosts=args.allow_private_hosts,
            progress=on_progress,
            source_name=args.source,
            base_url=args.base_url,
            max_text_bytes=int(args.max_text_mb * MB),
        )
    for plan in report.failed:
        ctx.err.print(
            f"[red]failed:[/red] {plan.error or plan.source}", highlight=False, soft_wrap=True
        )
    ctx.out.print(summary_table(report), soft_wrap=True)
    return 1 if report.failed else 0


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    from rich.table import Table

    if args.company:
        ctx.require_company(args.company)
    companies = [args.company] if args.company else ctx.kb.companies()
    if not companies:
        ctx.out.print("no documents yet")
    for company in companies:
        table = Table(title=f"Knowledge base of {company}")
        for column in ("document", "source", "title", "chunks", "tags", "updated"):
            table.add_column(column, justify="right" if column == "chunks" else "left")
        docs = ctx.kb.list_documents(company)
        for doc in docs:
            shown = doc.source if doc.url is None else f"{doc.source}\n{doc.url}"
            table.add_row(
                shown, doc.source_set, doc.title, str(doc.chunks), ",".join(doc.tags),
                doc.updated_at,
            )  # fmt: skip
        table.caption = f"{len(docs)} documents, {sum(d.chunks for d in docs)} chunks"
        ctx.out.print(table, soft_wrap=True)
    return 0


def cmd_remove(args: argparse.Namespace, ctx: Context) -> int:
    ctx.require_company(args.company)
    docs = ctx.kb.list_documents(args.company)
    if args.all:
        sources = [d.source for d in docs]
    elif args.source:
        sources = [d.source for d in docs if d.source_set == args.source]
        if not sources:
            ctx.err.print(f"error: no such source {args.source!r} in {args.company}")
            return 1
        sources += args.sources
    else:
        sources = args.sources
    if not sources and not args.all:
        raise UsageError("give PATH_OR_URL to remove, --source NAME or --all")
    removed = ctx.kb.remove_documents(args.company, sources)
    found = set(removed)
    missing = [s for s in args.sources if not _matched(s, found)]
    for source in missing:
        ctx.err.print(f"error: no such document: {source}", highlight=False)
    total = sum(removed.values())
    ctx.out.print(f"removed {total} chunks from {len(removed)} document(s) of {args.company}")
    return 1 if missing or (not removed and not args.all) else 0


def _matched(typed: str, found: set[str]) -> bool:
    from pathlib import Path

    if typed in found:
        return True
    if typed.lower().startswith(("http://", "https://")):
        from knowledge.loaders.web import normalize_url

        return normalize_url(typed) in found
    absolute = Path(typed).resolve().as_posix()
    return any(absolute.endswith("/" + f) for f in found)


def cmd_search(args: argparse.Namespace, ctx: Context) -> int:
    prefetch = getattr(ctx.kb.embedder, "prefetch", None)
    if callable(prefetch):
        prefetch()
    ctx.require_company(args.company)
    hits = ctx.kb.search(args.company, args.query, args.top_k, tags=args.tag, sources=args.document)
    if args.json:
        ctx.out.print_json(json.dumps([hit_dict(h) for h in hits]))
        return 0
    if not hits:
        ctx.out.print("no matching passages")
    for rank, hit in enumerate(hits, start=1):
        where = hit.url or hit.source
        if hit.page is not None:
            where += f" (page {hit.page})"
        heading = " > ".join(hit.heading_path)
        ctx.out.print(
            f"[bold]{rank}. {hit.title}[/bold]  [dim]{hit.score:.3f}[/dim]", highlight=False
        )
        ctx.out.print(
            f"   [cyan]{where}[/cyan]" + (f"  § {heading}" if heading else ""), highlight=False
        )
        ctx.out.print(f"   {hit.text}", highlight=False, soft_wrap=True)
    return 0


def hit_dict(hit: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(hit)


COMMANDS: dict[str, Callable[[argparse.Namespace, Context], int]] = {
    "ingest": cmd_ingest,
    "list": cmd_list,
    "remove": cmd_remove,
    "search": cmd_search,
}


def configure_logging(verbose: bool) -> None:
    """WARNING and up unless -v. The level goes on the handler too: bm25s sets its own
    logger to DEBUG on import, and records propagate to root handlers whatever the root
    logger's level is."""
    level = logging.INFO if verbose else logging.WARNING
    fmt = "%(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, stream=sys.stderr, format=fmt)
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)
    logging.getLogger("bm25s").setLevel(logging.INFO if verbose else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `knowledge` console script."""
    try:
        args = parse(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # argparse already printed the usage error
        return int(exc.code or 0)
    configure_logging(args.verbose)
    from knowledge.errors import KnowledgeUnavailable
    from knowledge.settings import KnowledgeSettings

    settings = KnowledgeSettings()
    ctx = Context(settings, open_knowledge_base(settings))
    try:
        return COMMANDS[args.command](args, ctx)
    except UsageError as exc:
        ctx.err.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    except KnowledgeUnavailable as exc:
        ctx.err.print(f"[red]error:[/red] {exc}", highlight=False)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
