"""`knowledge`: the marketer's command line for a company's knowledge base.

    knowledge ingest --company acme docs/ https://acme.example/pricing --sitemap https://acme.example/sitemap.xml
    knowledge ingest --company acme docs/ --prune --dry-run
    knowledge list [--company acme]
    knowledge remove --company acme docs/old.md
    knowledge search --company acme "how much is premium?"

Configuration comes from `widget_api.settings.Settings` (environment / .env), like the server.
Exit codes: 0 success, 1 some source failed or the store is unreachable, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    import numpy as np

    from knowledge import Embedder, IngestReport, KnowledgeBase

STATUS_STYLE = {
    "added": "green",
    "changed": "yellow",
    "unchanged": "dim",
    "removed": "magenta",
    "failed": "bold red",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="knowledge", description="Manage a company's knowledge base."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="load files, folders, web pages and sitemaps")
    ingest.add_argument("--company", required=True, help="company id, e.g. acme")
    ingest.add_argument("sources", nargs="*", metavar="PATH_OR_URL", help="file, folder or URL")
    ingest.add_argument(
        "--sitemap",
        action="append",
        default=[],
        metavar="URL",
        help="sitemap.xml URL (nested sitemaps are followed); repeatable",
    )
    ingest.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="T",
        help="tag every ingested chunk (filterable in search); repeatable",
    )
    ingest.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    ingest.add_argument(
        "--prune", action="store_true", help="remove documents that are not among the given sources"
    )
    ingest.add_argument(
        "--allow-private-hosts",
        action="store_true",
        help="allow fetching from private/loopback addresses (intranet, tests)",
    )

    listing = sub.add_parser("list", help="documents and chunk counts")
    listing.add_argument("--company", help="only this company (default: every company)")

    remove = sub.add_parser("remove", help="remove documents by path or URL")
    remove.add_argument("--company", required=True)
    remove.add_argument("sources", nargs="*", metavar="PATH_OR_URL")
    remove.add_argument("--all", action="store_true", help="remove every document of the company")

    search = sub.add_parser("search", help="ask a question, see ranked passages")
    search.add_argument("--company", required=True)
    search.add_argument("query")
    search.add_argument("-k", "--top-k", type=int, default=5)
    search.add_argument("--tag", action="append", default=None)
    search.add_argument("--source", action="append", default=None)
    search.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def open_knowledge_base() -> KnowledgeBase:
    """KnowledgeBase configured exactly like the server (one Settings object)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    from knowledge import KnowledgeBase, KnowledgeConfig, load_embedder
    from widget_api.settings import Settings

    settings = Settings()
    config = KnowledgeConfig(
        chroma_path=settings.effective_chroma_path,
        chroma_host=settings.chroma_host,
        chroma_port=settings.chroma_port,
    )
    return KnowledgeBase(config, LazyEmbedder(lambda: load_embedder(settings.embedding_model_path)))


class LazyEmbedder:
    """Loads the model on first use, so `list` and `remove` start instantly."""

    def __init__(self, load: Callable[[], Embedder]) -> None:
        self._load = load
        self._inner: Embedder | None = None

    def _model(self) -> Embedder:
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

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._model().encode(texts)

    def count_tokens(self, text: str) -> int:
        return self._model().count_tokens(text)

    def count_tokens_many(self, texts: Sequence[str]) -> list[int]:
        from knowledge.embedding import count_tokens_many

        return count_tokens_many(self._model(), texts)


def cmd_ingest(args: argparse.Namespace, kb: KnowledgeBase, out: Console, err: Console) -> int:
    if not args.sources and not args.sitemap:
        err.print("error: give at least one PATH_OR_URL or --sitemap")
        return 2
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} done"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        docs = progress.add_task("documents", total=None)
        chunks = progress.add_task("chunks embedded", total=None)

        def on_progress(phase: str, advance: int, total: int) -> None:
            progress.advance(docs if phase == "document" else chunks, advance)

        report = kb.ingest(
            args.company,
            args.sources,
            tags=args.tag,
            prune=args.prune,
            dry_run=args.dry_run,
            sitemaps=args.sitemap,
            allow_private_hosts=args.allow_private_hosts,
            progress=on_progress,
        )
    for plan in report.failed:
        err.print(
            f"[red]failed:[/red] {plan.error or plan.source}", highlight=False, soft_wrap=True
        )
    out.print(summary_table(report))
    return 1 if report.failed else 0


def summary_table(report: IngestReport) -> Table:
    what = "Plan (dry run, nothing written)" if report.dry_run else "Ingest"
    table = Table(title=f"{what} for {report.company_id}")
    for column in ("document", "status", "new", "removed", "kept"):
        table.add_column(column, justify="left" if column in ("document", "status") else "right")
    for plan in report.documents:
        style = STATUS_STYLE.get(plan.status, "")
        table.add_row(
            plan.source,
            f"[{style}]{plan.status}[/{style}]" if style else plan.status,
            str(plan.chunks_added),
            str(plan.chunks_removed),
            str(plan.chunks_kept),
        )
    totals = (
        ", ".join(f"{report.count(s)} {s}" for s in STATUS_STYLE if report.count(s))
        or "nothing to do"
    )
    table.caption = (
        f"{totals}; {report.chunks_embedded} chunks {'to embed' if report.dry_run else 'embedded'}"
    )
    return table


def cmd_list(args: argparse.Namespace, kb: KnowledgeBase, out: Console, err: Console) -> int:
    companies = [args.company] if args.company else kb.companies()
    if not companies:
        out.print("no documents yet")
    for company in companies:
        table = Table(title=f"Knowledge base of {company}")
        for column in ("document", "title", "chunks", "tags", "updated"):
            table.add_column(column, justify="right" if column == "chunks" else "left")
        docs = kb.list_documents(company)
        for doc in docs:
            table.add_row(
                doc.url or doc.source,
                doc.title,
                str(doc.chunks),
                ",".join(doc.tags),
                doc.updated_at,
            )
        table.caption = f"{len(docs)} documents, {sum(d.chunks for d in docs)} chunks"
        out.print(table)
    return 0


def cmd_remove(args: argparse.Namespace, kb: KnowledgeBase, out: Console, err: Console) -> int:
    sources = [d.source for d in kb.list_documents(args.company)] if args.all else args.sources
    if not sources:
        err.print("error: give PATH_OR_URL to remove, or --all")
        return 2
    removed = kb.remove(args.company, sources)
    out.print(f"removed {removed} chunks from {len(sources)} document(s) of {args.company}")
    return 0


def cmd_search(args: argparse.Namespace, kb: KnowledgeBase, out: Console, err: Console) -> int:
    hits = kb.search(args.company, args.query, args.top_k, tags=args.tag, sources=args.source)
    if args.json:
        out.print_json(json.dumps([hit_dict(h) for h in hits]))
        return 0
    if not hits:
        out.print("no matching passages")
    for rank, hit in enumerate(hits, start=1):
        where = hit.url or hit.source
        if hit.page is not None:
            where += f" (page {hit.page})"
        heading = " > ".join(hit.heading_path)
        out.print(f"[bold]{rank}. {hit.title}[/bold]  [dim]{hit.score:.3f}[/dim]", highlight=False)
        out.print(
            f"   [cyan]{where}[/cyan]" + (f"  § {heading}" if heading else ""), highlight=False
        )
        out.print(f"   {hit.text}", highlight=False, soft_wrap=True)
    return 0


def hit_dict(hit: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(hit)


COMMANDS = {"ingest": cmd_ingest, "list": cmd_list, "remove": cmd_remove, "search": cmd_search}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `knowledge` console script."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage error
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    out, err = Console(), Console(stderr=True)
    from knowledge import KnowledgeUnavailable

    try:
        kb = open_knowledge_base()
        return COMMANDS[args.command](args, kb, out, err)
    except KnowledgeUnavailable as exc:
        err.print(f"[red]error:[/red] {exc}")
        return 1
    except ValueError as exc:  # e.g. an invalid company id
        err.print(f"[red]error:[/red] {exc}")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
