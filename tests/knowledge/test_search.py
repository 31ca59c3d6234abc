"""Search behaviour: tenant isolation, filters, hit shape, empty stores, other processes' writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge import KnowledgeBase, KnowledgeConfig, SearchHit
from knowledge import search as search_module
from knowledge.store import collection_names


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_company_a_never_sees_company_b(tmp_path: Path, kb: KnowledgeBase) -> None:
    a = write(
        tmp_path / "a", "refunds.md", "# Refunds\n\nAcme refunds annual plans within 30 days.\n"
    )
    b = write(
        tmp_path / "b", "refunds.md", "# Refunds\n\nGlobex never refunds, all sales are final.\n"
    )
    kb.ingest("acme", [a])
    kb.ingest("globex", [b])
    for company, own, other, path in (
        ("acme", "Acme", "Globex", a),
        ("globex", "Globex", "Acme", b),
    ):
        hits = kb.search(company, "can I get a refund?", top_k=10)
        assert hits and all(own in h.text and other not in h.text for h in hits)
        assert all(h.source == f"{path.parent.name}/{path.name}" for h in hits)


@pytest.mark.parametrize("company", ["Acme Corp", "acme.corp", "ACME-corp", "acme_corp"])
def test_similar_company_ids_get_distinct_collections(company: str) -> None:
    names = collection_names(company)
    assert names != collection_names("acme-corp")
    assert all(3 <= len(n) <= 63 and n[0].isalnum() and n[-1].isalnum() for n in names)


@pytest.mark.parametrize("bad", ["", "a/../b", "x" * 200, "tab\there"])
def test_invalid_company_ids_are_rejected(bad: str, kb: KnowledgeBase) -> None:
    with pytest.raises(ValueError):
        kb.search(bad, "hello")


def test_missing_or_empty_collection_gives_no_hits(kb: KnowledgeBase, tmp_path: Path) -> None:
    assert kb.search("nobody", "anything at all") == []
    assert kb.list_documents("nobody") == []
    doc = write(tmp_path, "a.md", "# A\n\nSome text.\n")
    kb.ingest("acme", [doc])
    kb.remove("acme", [str(doc)])
    assert kb.search("acme", "Some text") == []
    assert kb.search("acme", "   ") == []


def test_hits_carry_title_heading_page_url_and_score(tmp_path: Path, kb: KnowledgeBase) -> None:
    doc = write(tmp_path, "plans.md", "# Plans\n\n## Premium\nPremium costs 99 euros with SSO.\n")
    kb.ingest("acme", [doc], tags=["Pricing"])
    [hit, *_] = kb.search("acme", "price of premium", top_k=3)
    assert isinstance(hit, SearchHit)
    assert (hit.title, hit.heading_path, hit.page, hit.url) == (
        "Plans",
        ["Plans", "Premium"],
        None,
        None,
    )
    assert (
        hit.text == "Premium costs 99 euros with SSO." and hit.score > 0 and hit.tags == ["pricing"]
    )


def test_filter_by_tag_and_by_source(tmp_path: Path, kb: KnowledgeBase) -> None:
    pricing = write(tmp_path / "p", "pricing.md", "# Pricing\n\nThe Pro plan costs 49 euros.\n")
    legal = write(tmp_path / "l", "terms.md", "# Terms\n\nThe Pro plan can be cancelled monthly.\n")
    kb.ingest("acme", [pricing], tags=["pricing"])
    kb.ingest("acme", [legal], tags=["legal"])
    assert {h.source for h in kb.search("acme", "Pro plan", top_k=5)} == {
        f"{pricing.parent.name}/{pricing.name}",
        f"{legal.parent.name}/{legal.name}",
    }
    assert {h.title for h in kb.search("acme", "Pro plan", top_k=5, tags=["legal"])} == {"Terms"}
    only = kb.search("acme", "Pro plan", top_k=5, sources=[f"{pricing.parent.name}/{pricing.name}"])
    assert {h.title for h in only} == {"Pricing"}
    assert kb.search("acme", "Pro plan", tags=["nothing-tagged-so"]) == []


def test_another_process_ingest_is_seen_without_restart(
    tmp_path: Path,
    embedder,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setattr(search_module, "VERSION_TTL", 0.0)
    config = KnowledgeConfig(tmp_path / "chroma")
    server = KnowledgeBase(config, embedder)  # a long-lived reader with its own caches
    first = write(tmp_path / "docs", "a.md", "# Alpha\n\nThe alpha widget is blue.\n")
    KnowledgeBase(config, embedder).ingest("acme", [first])
    assert server.search("acme", "alpha widget colour")[0].title == "Alpha"
    second = write(tmp_path / "docs", "b.md", "# Zebra\n\nZebra licences renew every March.\n")
    KnowledgeBase(config, embedder).ingest("acme", [second])
    assert server.search("acme", "when do zebra licences renew", top_k=1)[0].title == "Zebra"


def test_bm25_index_is_persisted_and_reused(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    config = KnowledgeConfig(tmp_path / "chroma", index_dir=tmp_path / "bm25")
    doc = write(tmp_path / "docs", "a.md", "# Alpha\n\nThe alpha widget is blue.\n")
    KnowledgeBase(config, embedder).ingest("acme", [doc])
    [folder] = [p for p in (tmp_path / "bm25").iterdir() if p.name.startswith("kb-")]
    version = (folder / "version").read_text()
    fresh = KnowledgeBase(config, embedder)
    assert fresh.search("acme", "alpha widget")[0].title == "Alpha"
    assert (folder / "version").read_text() == version  # loaded, not rebuilt


FACTS = [
    ("pricing", "Plans", "The Pro plan costs 49 euros per seat and month."),
    ("pricing", "Discounts", "Non-profits get half off every plan."),
    ("security", "SSO", "Single sign-on works with Okta and Azure AD on Enterprise."),
    ("security", "Backups", "Backups run nightly and are kept for 35 days."),
    ("support", "Hours", "Support answers from 8 to 18 CET on weekdays."),
    ("support", "Phone", "Phone support is included from the Business plan."),
]


@pytest.mark.parametrize("tags", [None, ["security"]], ids=["all", "filtered"])
def test_exact_scan_and_chroma_index_give_the_same_dense_ranking(
    tmp_path: Path, kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, tags: list[str] | None
) -> None:
    for i, (tag, title, text) in enumerate(FACTS):
        kb.ingest("acme", [write(tmp_path / tag, f"{i}.md", f"# {title}\n\n{text}\n")], tags=[tag])
    query = "how long do you keep backups and do you support SSO?"
    scanned = [h.chunk_id for h in kb.search("acme", query, top_k=6, tags=tags, mode="dense")]
    monkeypatch.setattr(search_module, "EXACT_SCAN_LIMIT", 0)  # through Chroma's HNSW index
    indexed = [h.chunk_id for h in kb.search("acme", query, top_k=6, tags=tags, mode="dense")]
    assert scanned == indexed
    assert len(scanned) == (2 if tags else len(FACTS))


def test_a_repeated_question_is_embedded_once(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    calls: list[int] = []

    class Counting:
        name, dimension, max_tokens = embedder.name, embedder.dimension, embedder.max_tokens
        tokenizer = getattr(embedder, "tokenizer", None)

        def encode(self, texts):  # type: ignore[no-untyped-def]
            calls.append(len(texts))
            return embedder.encode(texts)

        def count_tokens(self, text):  # type: ignore[no-untyped-def]
            return embedder.count_tokens(text)

    kb = KnowledgeBase(KnowledgeConfig(tmp_path / "chroma"), Counting())
    kb.ingest("acme", [write(tmp_path / "d", "a.md", "# Alpha\n\nThe alpha widget is blue.\n")])
    calls.clear()
    first = kb.search("acme", "what colour is the alpha widget?")
    second = kb.search("acme", "what colour is the alpha widget?")
    assert calls == [1] and first == second and first[0].title == "Alpha"


def test_hybrid_search_is_deterministic(tmp_path: Path, kb: KnowledgeBase) -> None:
    for i, (tag, title, text) in enumerate(FACTS):
        kb.ingest("acme", [write(tmp_path / tag, f"{i}.md", f"# {title}\n\n{text}\n")])
    query = "phone support on which plan?"
    runs = [kb.search("acme", query, top_k=6) for _ in range(3)]
    kb.searcher.clear_query_cache()
    runs.append(kb.search("acme", query, top_k=6))
    assert all(r == runs[0] for r in runs) and runs[0][0].title == "Phone"


def test_a_searching_process_runs_blas_on_one_thread(kb: KnowledgeBase) -> None:
    """OpenBLAS's spinning workers would take a core from the encoder of the next query."""
    from threadpoolctl import threadpool_info

    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas, "numpy's BLAS should be visible to threadpoolctl"
    # numpy's own (the one the search path uses); a BLAS another library loads later is not
    numpy_blas = [pool for pool in blas if "numpy" in pool["filepath"]] or blas
    assert {pool["num_threads"] for pool in numpy_blas} == {1}, blas
