"""How `knowledge ingest` shows itself on a terminal: a progress display and the summary table.

rich is imported only when a display is built, so commands that print nothing pay nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from knowledge import IngestReport

STATUS_STYLE = {
    "added": "green",
    "changed": "yellow",
    "unchanged": "dim",
    "removed": "magenta",
    "failed": "bold red",
}


class ProgressDisplay:
    """A rich progress display (documents planned, chunks embedded, with totals and time
    left) on a terminal; nothing otherwise."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("time left"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Callable[[str, int, int], None]:
        self.bar.__enter__()
        labels = {"document": "documents planned", "embed": "chunks embedded"}

        def on_progress(phase: str, advance: int, total: int) -> None:
            task = self.tasks.get(phase)
            if task is None:
                task = self.tasks[phase] = self.bar.add_task(labels.get(phase, phase), total=None)
            if total:
                self.bar.update(task, total=total)
            if advance:
                self.bar.advance(task, advance)

        return on_progress

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)  # type: ignore[arg-type]


def summary_table(report: IngestReport) -> Table:
    """Changed documents only; unchanged ones are just counted."""
    from rich.table import Table

    what = "Plan (dry run, nothing written)" if report.dry_run else "Ingest"
    table = Table(title=f"{what} for {report.company_id}")
    for column in ("document", "source", "status", "new", "removed", "kept"):
        left = column in ("document", "source", "status")
        table.add_column(column, justify="left" if left else "right")
    for plan in report.documents:
        if plan.status == "unchanged":
            continue
        style = STATUS_STYLE.get(plan.status, "")
        table.add_row(
            plan.source,
            plan.source_set,
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
