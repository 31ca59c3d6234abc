"""Each loader on files the tests make, and the web loader against a loopback server."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.errors import LoadError
from knowledge.loaders import load_path
from knowledge.loaders.web import load_web
from knowledge.models import Document, DocumentPlan
from tests.knowledge.conftest import make_pdf

HTML_PAGE = """<!doctype html><html><head><title>Pricing | Acme</title></head><body>
<header><a href="/">Acme</a><nav><ul><li>Home</li><li>Careers at Acme</li></ul></nav></header>
<div id="cookie-banner">We use cookies to improve your experience. Accept all?</div>
<main>
  <h1>Acme pricing</h1>
  <p>Acme Starter costs <strong>29 dollars</strong> a month.</p>
  <h2>Enterprise</h2>
  <p>Enterprise includes single sign-on and a dedicated manager.</p>
  <ul><li>Unlimited seats</li><li>Audit log</li></ul>
</main>
<aside class="sidebar">Related: our blog</aside>
<footer>Copyright Acme Corp. Imprint. Privacy policy.</footer>
</body></html>"""


def all_text(doc: Document) -> str:
    return " ".join(b.text for b in doc.blocks)


def test_markdown_keeps_heading_paths(tmp_path: Path) -> None:
    md = tmp_path / "guide.md"
    md.write_text(
        "---\ntitle: Setup guide\n---\n# Install\nRun the installer.\n\n## Linux\n"
        "Use the **deb** package.\n\n```\napt install acme\n```\n\n# Support\nMail us.\n"
    )
    doc = load_path(md)
    assert doc.title == "Setup guide"
    paths = {b.text: b.heading_path for b in doc.blocks}
    assert paths["Run the installer."] == ("Install",)
    assert paths["Use the deb package."] == ("Install", "Linux")
    assert paths["apt install acme"] == ("Install", "Linux")
    assert paths["Mail us."] == ("Support",)


def test_plain_text_paragraphs(tmp_path: Path) -> None:
    txt = tmp_path / "notes.txt"
    txt.write_text("Shipping notes\n\nWe ship worldwide.\n\nReturns take 5 days.\n")
    doc = load_path(txt)
    assert doc.title == "Shipping notes"
    assert [b.text for b in doc.blocks] == ["We ship worldwide.", "Returns take 5 days."]


def test_html_keeps_main_content_and_drops_boilerplate(tmp_path: Path) -> None:
    page = tmp_path / "pricing.html"
    page.write_text(HTML_PAGE)
    doc = load_path(page)
    text = all_text(doc)
    assert "Acme Starter costs 29 dollars a month." in text
    assert "Unlimited seats" in text
    for boilerplate in ("Careers", "cookies", "Copyright", "Related: our blog"):
        assert boilerplate not in text
    by_text = {b.text: b.heading_path for b in doc.blocks}
    assert by_text["Enterprise includes single sign-on and a dedicated manager."] == (
        "Acme pricing",
        "Enterprise",
    )
    assert doc.title == "Acme pricing"


def test_html_keeps_article_header_and_content_named_like_chrome(tmp_path: Path) -> None:
    page = tmp_path / "post.html"
    page.write_text(
        "<html><body><header class='site-header'>Logo Menu</header><article>"
        "<header><h1>Release notes</h1></header>"
        "<div class='card-header'><h2>Version 2</h2></div><p>Adds dark mode.</p>"
        "<footer class='site-footer'>Share this</footer></article>"
        "<div class='cookie-consent'>Accept cookies</div></body></html>"
    )
    doc = load_path(page)
    assert doc.title == "Release notes"
    assert [(b.text, b.heading_path) for b in doc.blocks] == [
        ("Adds dark mode.", ("Release notes", "Version 2"))
    ]


def test_pdf_text_keeps_page_numbers(tmp_path: Path) -> None:
    pdf = make_pdf(
        tmp_path / "handbook.pdf",
        ["Warranty terms\nThe warranty lasts two years.", "Returns are free within 30 days."],
        title="Acme Handbook",
    )
    doc = load_path(pdf)
    assert doc.title == "Acme Handbook"
    pages = {b.page for b in doc.blocks}
    assert pages == {1, 2}
    assert any("Returns are free" in b.text and b.page == 2 for b in doc.blocks)


def test_docx_headings_and_tables(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Onboarding", level=1)
    document.add_paragraph("Your account manager calls you within a day.")
    document.add_heading("Training", level=2)
    document.add_paragraph("Webinars run every Tuesday.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Plan"
    table.rows[0].cells[1].text = "Seats"
    path = tmp_path / "onboarding.docx"
    document.save(str(path))
    doc = load_path(path)
    assert doc.title == "Onboarding"
    paths = {b.text: b.heading_path for b in doc.blocks}
    assert paths["Webinars run every Tuesday."] == ("Onboarding", "Training")
    assert paths["Plan | Seats"] == ("Onboarding", "Training")


@pytest.mark.parametrize(
    ("name", "content"),
    [("broken.pdf", b"%PDF-1.4 not really"), ("empty.md", b"   \n"), ("image.png", b"\x89PNG")],
)
def test_unreadable_files_raise_load_error(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoadError) as info:
        load_path(path)
    assert name in str(info.value) and "\n" not in str(info.value)


def test_sitemap_with_nested_sitemap(site: tuple[str, Path]) -> None:
    base, root = site
    (root / "pricing.html").write_text(HTML_PAGE)
    (root / "faq.html").write_text(
        "<html><body><main><h1>FAQ</h1><p>We ship fast.</p></main></body></html>"
    )
    (root / "sitemap.xml").write_text(
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{base}/pages.xml</loc></sitemap></sitemapindex>"
    )
    (root / "pages.xml").write_text(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{base}/pricing.html</loc></url><url><loc>{base}/faq.html</loc></url>"
        "<url><loc>https://elsewhere.example/offsite.html</loc></url></urlset>"
    )
    loaded = list(load_web([], [f"{base}/sitemap.xml"], allow_private_hosts=True))
    docs = [d for d in loaded if isinstance(d, Document)]
    assert sorted(d.source for d in docs) == [f"{base}/faq.html", f"{base}/pricing.html"]
    assert all(d.url == d.source for d in docs)
    assert not [d for d in loaded if isinstance(d, DocumentPlan)]


def test_web_refuses_loopback_unless_allowed(site: tuple[str, Path]) -> None:
    base, root = site
    (root / "a.html").write_text("<html><body><p>Hello there.</p></body></html>")
    [refused] = list(load_web([f"{base}/a.html"], []))
    assert isinstance(refused, DocumentPlan) and refused.status == "failed"
    assert "private or local" in (refused.error or "")
    [allowed] = list(load_web([f"{base}/a.html"], [], allow_private_hosts=True))
    assert isinstance(allowed, Document)


def test_web_missing_page_is_one_failed_plan(site: tuple[str, Path]) -> None:
    base, _ = site
    [plan] = list(load_web([f"{base}/missing.html"], [], allow_private_hosts=True))
    assert isinstance(plan, DocumentPlan) and plan.status == "failed"
    assert "404" in (plan.error or "")
