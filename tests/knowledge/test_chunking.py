"""Chunks fit the model window (counted with the model's own tokenizer) and keep structure."""

from __future__ import annotations

from knowledge.chunking import chunk_document, embed_text, fit_document
from knowledge.models import Block, Document

SENTENCE = "The Acme router forwards encrypted packets between branch offices reliably. "


def test_every_chunk_fits_the_model_window(embedder) -> None:  # type: ignore[no-untyped-def]
    long_paragraph = SENTENCE * 120
    unbroken = "supercalifragilistic" * 400  # one 'word' far beyond the budget
    doc = Document(
        "manual.md",
        "Acme Router Manual " * 10,  # a long title eats into every chunk's budget
        [
            Block(long_paragraph, ("Networking", "Routing " * 20)),
            Block(unbroken, ("Edge cases",)),
            Block("Short closing words.", ("Support",)),
        ],
    )
    chunks = chunk_document(doc, embedder)
    assert len(chunks) > 5
    title = fit_document(doc, embedder).title  # the indexed title: cut to leave room for text
    assert title and doc.title.startswith(title)
    for chunk in chunks:
        assert embedder.count_tokens(embed_text(title, chunk.heading_path, chunk.text)) <= (
            embedder.max_tokens
        )
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_sections_are_not_mixed_and_neighbours_overlap(embedder) -> None:  # type: ignore[no-untyped-def]
    sentences = [f"Fact number {i} about the warranty policy of Acme devices." for i in range(60)]
    doc = Document(
        "w.md",
        "Warranty",
        [Block(" ".join(sentences), ("Warranty", "Terms")), Block("Call us.", ("Contact",))],
    )
    chunks = chunk_document(doc, embedder)
    terms = [c for c in chunks if c.heading_path == ("Warranty", "Terms")]
    assert len(terms) >= 2
    assert chunks[-1].heading_path == ("Contact",) and chunks[-1].text == "Call us."
    first_tail = terms[0].text.split(". ")[-1]
    assert terms[1].text.startswith(first_tail.rstrip("."))


def test_pages_are_kept_per_chunk(embedder) -> None:  # type: ignore[no-untyped-def]
    doc = Document(
        "h.pdf", "Handbook", [Block("Page one text.", page=1), Block("Page two.", page=2)]
    )
    assert [(c.page, c.text) for c in chunk_document(doc, embedder)] == [
        (1, "Page one text."),
        (2, "Page two."),
    ]
