"""Incremental sync: add, change, remove, prune, dry-run, and an interrupted ingest converging."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from knowledge import KnowledgeBase, KnowledgeConfig
from knowledge import sync as sync_module

PRICING = (
    "# Pricing\n\n## Starter\nStarter costs 29 euros a month.\n\n"
    "## Premium\nPremium costs 99 euros.\n"
)
SHIPPING = "# Shipping\n\nWe ship to every EU country within three days.\n"
RETURNS = "# Returns\n\nReturns are free for 30 days after delivery.\n"


class CountingEmbedder:
    """The real model, counting what it embeds and optionally failing on the Nth batch."""

    def __init__(self, inner, fail_on_call: int | None = None) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.name, self.dimension, self.max_tokens = inner.name, inner.dimension, inner.max_tokens
        self.encoded: list[str] = []
        self.calls = 0
        self.fail_on_call = fail_on_call

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if self.fail_on_call is not None and self.calls >= self.fail_on_call:
            raise RuntimeError("killed mid-ingest")
        self.encoded += list(texts)
        return self.inner.encode(texts)  # type: ignore[no-any-return]

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)  # type: ignore[no-any-return]


def write(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)


def statuses(report) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {Path(p.source).name: p.status for p in report.documents}


def stored_ids(kb: KnowledgeBase, company: str) -> set[str]:
    from knowledge.store import collection_names

    coll = kb.store.collection(collection_names(company)[0], create=False)
    return set(coll.get(include=[])["ids"]) if coll is not None else set()


def test_reingest_of_unchanged_folder_embeds_nothing(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    write(docs, {"pricing.md": PRICING, "shipping.md": SHIPPING})
    counting = CountingEmbedder(embedder)
    kb = KnowledgeBase(KnowledgeConfig(tmp_path / "chroma"), counting)
    first = kb.ingest("acme", [docs])
    assert statuses(first) == {"pricing.md": "added", "shipping.md": "added"}
    embedded = len(counting.encoded)
    second = kb.ingest("acme", [docs])
    assert statuses(second) == {"pricing.md": "unchanged", "shipping.md": "unchanged"}
    assert len(counting.encoded) == embedded


def test_change_embeds_only_new_chunks_and_drops_stale_ones(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    write(docs, {"pricing.md": PRICING})
    counting = CountingEmbedder(embedder)
    kb = KnowledgeBase(KnowledgeConfig(tmp_path / "chroma"), counting)
    kb.ingest("acme", [docs])
    counting.encoded.clear()
    write(docs, {"pricing.md": PRICING.replace("99 euros", "119 euros")})
    report = kb.ingest("acme", [docs])
    [plan] = report.documents
    assert (plan.status, plan.chunks_added, plan.chunks_removed, plan.chunks_kept) == (
        "changed",
        1,
        1,
        1,
    )
    assert len(counting.encoded) == 1 and "119 euros" in counting.encoded[0]
    texts = [h.text for h in kb.search("acme", "How much is Premium?", top_k=5)]
    assert any("119 euros" in t for t in texts) and not any("99 euros." in t for t in texts)


def test_dry_run_prints_plan_and_writes_nothing(tmp_path: Path, kb: KnowledgeBase) -> None:
    docs = tmp_path / "docs"
    write(docs, {"pricing.md": PRICING, "shipping.md": SHIPPING})
    kb.ingest("acme", [docs])
    before = stored_ids(kb, "acme")
    write(docs, {"pricing.md": PRICING + "\n## Enterprise\nAsk sales.\n", "returns.md": RETURNS})
    (docs / "shipping.md").unlink()
    plan = kb.ingest("acme", [docs], prune=True, dry_run=True)
    assert plan.dry_run
    assert statuses(plan) == {
        "pricing.md": "changed",
        "returns.md": "added",
        "shipping.md": "removed",
    }
    assert stored_ids(kb, "acme") == before
    assert {Path(d.source).name for d in kb.list_documents("acme")} == {"pricing.md", "shipping.md"}
    assert kb.ingest("other", [docs], dry_run=True).count("added") == 2
    assert kb.companies() == ["acme"]  # a dry run creates no collections


def test_prune_removes_documents_no_longer_in_the_source_set(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    docs = tmp_path / "docs"
    write(docs, {"pricing.md": PRICING, "shipping.md": SHIPPING})
    kb.ingest("acme", [docs])
    (docs / "shipping.md").unlink()
    kept = kb.ingest("acme", [docs])  # without --prune the old document stays
    assert {Path(d.source).name for d in kb.list_documents("acme")} == {"pricing.md", "shipping.md"}
    assert statuses(kept) == {"pricing.md": "unchanged"}
    pruned = kb.ingest("acme", [docs], prune=True)
    assert statuses(pruned) == {"pricing.md": "unchanged", "shipping.md": "removed"}
    assert {Path(d.source).name for d in kb.list_documents("acme")} == {"pricing.md"}
    assert not any("ship" in h.text for h in kb.search("acme", "Do you ship to the EU?", top_k=5))


def test_remove_deletes_a_document(tmp_path: Path, kb: KnowledgeBase) -> None:
    docs = tmp_path / "docs"
    write(docs, {"pricing.md": PRICING, "shipping.md": SHIPPING})
    kb.ingest("acme", [docs])
    assert kb.remove("acme", [str(docs / "shipping.md")]) == 1
    assert [Path(d.source).name for d in kb.list_documents("acme")] == ["pricing.md"]
    assert kb.remove("nobody", ["x"]) == 0


def test_interrupted_ingest_converges_on_the_next_run(
    tmp_path: Path,
    embedder,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    docs = tmp_path / "docs"
    files = {
        f"topic{i}.md": f"# Topic {i}\n\n"
        + f"Paragraph about subject {i}, part A.\n\n" * 1
        + "\n".join(f"## Part {j}\nDetail {j} of topic {i} is important.\n" for j in range(3))
        for i in range(6)
    }
    write(docs, files)
    monkeypatch.setattr(sync_module, "EMBED_BATCH", 2)  # many small flushes to die between
    config = KnowledgeConfig(tmp_path / "chroma")
    dying = CountingEmbedder(embedder, fail_on_call=3)
    with pytest.raises(RuntimeError, match="killed"):
        KnowledgeBase(config, dying).ingest("acme", [docs])
    partial = KnowledgeBase(config, embedder)
    half_written = stored_ids(partial, "acme")
    assert 0 < len(half_written) < 24
    assert len(partial.list_documents("acme")) < 6

    resumed = CountingEmbedder(embedder)
    report = KnowledgeBase(config, resumed).ingest("acme", [docs])
    assert report.count("failed") == 0
    assert len(resumed.encoded) == 24 - len(half_written)  # only what was missing

    reference = KnowledgeBase(KnowledgeConfig(tmp_path / "fresh"), embedder)
    reference.ingest("acme", [docs])
    final = KnowledgeBase(config, embedder)
    assert stored_ids(final, "acme") == stored_ids(reference, "acme")
    assert len(final.list_documents("acme")) == 6
    assert final.ingest("acme", [docs]).count("unchanged") == 6
    assert final.search("acme", "Detail 2 of topic 4", top_k=1)[0].heading_path == [
        "Topic 4",
        "Part 2",
    ]
