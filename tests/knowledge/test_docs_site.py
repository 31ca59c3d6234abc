"""A generated Docusaurus-style docs site: every file stored, no markup indexed, public URLs,
identities that survive moving the folder, named sources and pruning per source."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from knowledge import KnowledgeBase, KnowledgeConfig
from knowledge.models import Block, Document
from knowledge.store import collection_names
from scripts.docs_fixture import FILES, ROUTES, write_docs_site

BASE = "https://docs.example.com/"
LEAKS = {
    "MDX import line": re.compile(r"(?m)^\s*import\s"),
    "MDX export line": re.compile(r"(?m)^\s*export\s"),
    "JSX tag": re.compile(r"</?[A-Z][\w.]*[\s/>]|<img\b|<head\b|<details\b|<summary\b"),
    "::: fence": re.compile(r":::"),
    "{#id} anchor": re.compile(r"\{#[\w-]+\}"),
    "JSON-LD": re.compile(r"ld\+json|\"@context\"|schema\.org"),
    "HTML comment": re.compile(r"<!--|-->"),
    "Hugo shortcode": re.compile(r"\{\{[<%]"),
    "MkDocs fence": re.compile(r"(?m)^\s*(?:!!!|\?\?\?)"),
}


def chunk_records(kb: KnowledgeBase, company: str) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    coll = kb.store.collection(collection_names(company)[0], create=False)
    assert coll is not None
    page = coll.get(include=["documents", "metadatas"])
    return list(zip(page["documents"], page["metadatas"], strict=True))


SMALL = ["faq.mdx", "hugo-page.md", "integrations/wordpress.mdx"]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A few pages of the site: enough for identity, source and prune behaviour."""
    return write_docs_site(tmp_path / "site", SMALL)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, embedder):  # type: ignore[no-untyped-def]
    """One store with the site ingested under its public base URL (read-only tests)."""
    root = tmp_path_factory.mktemp("published")
    kb = KnowledgeBase(KnowledgeConfig(chroma_path=root / "chroma"), embedder)
    report = kb.ingest("docs", [write_docs_site(root / "site")], base_url=BASE)
    return kb, report


def test_every_file_is_stored_and_no_markup_is_indexed(published) -> None:  # type: ignore[no-untyped-def]
    kb, report = published
    assert report.count("failed") == 0
    assert report.count("added") == len(FILES)
    records = chunk_records(kb, "docs")
    assert {m["source"] for _, m in records} == {f"docs/{name}" for name in FILES}
    for text, meta in records:
        for what, pattern in LEAKS.items():
            assert not pattern.search(text), f"{what} in {meta['source']}: {text[:200]}"
        assert not pattern.search(str(meta.get("heading_path")))


def test_front_matter_admonitions_and_tables_are_kept(published) -> None:  # type: ignore[no-untyped-def]
    kb, _ = published
    texts = "\n".join(text for text, _ in chunk_records(kb, "docs"))
    assert "What Lumen costs, which payment methods we accept" in texts  # description
    assert "Caution: Wire transfers. We're not able to accept wire transfers." in texts
    assert "Tip: Roles. Viewers can see the dashboard" in texts  # Hugo shortcode
    assert "Warning: Rate limits." in texts  # MkDocs admonition
    assert "Start a free 30-day trial. No credit card is required" in texts  # JSX prose props
    assert "Plan: Business; Monthly price: $29; Page views per month: 100,000" in texts
    assert "lumen.init({ domain" in texts  # code stays code
    [hit] = kb.search("docs", "monthly price of the Business plan", top_k=1)
    assert "Monthly price: $29" in hit.text and hit.tags == ["billing", "pricing"]


def test_files_link_to_their_public_pages(published) -> None:  # type: ignore[no-untyped-def]
    kb, _ = published
    urls = {d.source: d.url for d in kb.list_documents("docs")}
    assert urls == {f"docs/{name}": BASE + route for name, route in ROUTES.items()}
    [hit] = kb.search("docs", "SSO with Okta", top_k=1)
    assert hit.url == BASE + "integrations/okta-sso"


def test_moving_the_folder_changes_nothing(site: Path, tmp_path: Path, kb: KnowledgeBase) -> None:
    kb.ingest("docs", [site])
    moved = tmp_path / "elsewhere" / "docs"
    shutil.copytree(site, moved)
    shutil.rmtree(site)
    report = kb.ingest("docs", [moved], prune=True)
    assert report.count("unchanged") == len(SMALL)
    assert report.count("added") == report.count("removed") == 0


def test_prune_removes_only_that_sources_vanished_documents(
    site: Path, tmp_path: Path, kb: KnowledgeBase
) -> None:
    blog = tmp_path / "blog"
    blog.mkdir()
    (blog / "launch.md").write_text("# Launch\n\nLumen 2.0 launched in March.\n")
    kb.ingest("docs", [site])
    kb.ingest("docs", [blog], source_name="news")
    (site / "faq.mdx").unlink()
    (blog / "launch.md").unlink()  # gone too, but its source is not being pruned
    report = kb.ingest("docs", [site], prune=True)
    assert [(p.source, p.status) for p in report.documents if p.status == "removed"] == [
        ("docs/faq.mdx", "removed")
    ]
    sets = {d.source: d.source_set for d in kb.list_documents("docs")}
    assert sets["blog/launch.md"] == "news" and set(sets.values()) == {"docs", "news"}


def test_tags_are_kept_per_source(site: Path, tmp_path: Path, kb: KnowledgeBase) -> None:
    other = tmp_path / "handbook"
    other.mkdir()
    (other / "leave.md").write_text("# Leave\n\nStaff get 30 days of leave.\n")
    kb.ingest("docs", [site], tags=["public"])
    kb.ingest("docs", [other], tags=["internal"])
    tags = {d.source: d.tags for d in kb.list_documents("docs")}
    assert tags["handbook/leave.md"] == ["internal"]
    assert all("public" in t for s, t in tags.items() if s.startswith("docs/"))
    assert kb.search("docs", "days of leave", tags=["public"], top_k=3)[0].source != (
        "handbook/leave.md"
    )
    (other / "leave.md").write_text("# Leave\n\nStaff get 32 days of leave.\n")
    assert kb.ingest("docs", [other]).count("changed") == 1  # no --tag: the source keeps its tags
    assert {d.source: d.tags for d in kb.list_documents("docs")}["handbook/leave.md"] == [
        "internal"
    ]
    assert kb.ingest("docs", [other], tags=[]).count("changed") == 1  # --no-tags
    assert {d.source: d.tags for d in kb.list_documents("docs")}["handbook/leave.md"] == []


def test_old_absolute_path_identities_are_taken_over(site: Path, kb: KnowledgeBase) -> None:
    """A store written when identities were absolute paths re-keys on the next ingest:
    the same file is 'changed' (not added twice) and the old record goes."""
    old = str((site / "faq.mdx").resolve())
    legacy = Document(old, "FAQ", [Block("Old text about cookies.")], kind="markdown")
    kb.ingest_documents("docs", [legacy])
    report = kb.ingest("docs", [site])
    statuses = {p.source: p.status for p in report.documents}
    assert statuses["docs/faq.mdx"] == "changed"
    assert old not in {d.source for d in kb.list_documents("docs")}


def test_a_broken_document_does_not_stop_the_others(
    site: Path, kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    from knowledge import sync

    real = sync.chunk_document

    def flaky(doc, embedder):  # type: ignore[no-untyped-def]
        if doc.source.endswith("faq.mdx"):
            raise RecursionError("maximum recursion depth exceeded")
        return real(doc, embedder)

    monkeypatch.setattr(sync, "chunk_document", flaky)
    report = kb.ingest("docs", [site])
    assert [p.source for p in report.failed] == ["docs/faq.mdx"]
    assert report.count("added") == len(SMALL) - 1
