"""Property-based chunking: any text terminates, never raises, and every chunk fits the model.

Arbitrary Unicode (lone surrogates and control characters included), giant unbroken tokens
(bookmarklet URLs, base64, minified code), empty input, binary-like text and huge headings.
The Markdown parser gets the same treatment. Example counts are kept small so the module stays
quick on a busy machine; `HYPOTHESIS_PROFILE=full` runs ten times as many.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.chunking import chunk_document, embed_text, fit_document
from knowledge.loaders.markdown import parse_markdown
from knowledge.models import Block, Document

EXAMPLES = 300 if os.environ.get("HYPOTHESIS_PROFILE") == "full" else 30
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

unicode_text = st.text(max_size=2000)
giant_token = st.text(
    alphabet=st.characters(blacklist_categories=("Zs", "Zl", "Zp", "Cc")), min_size=300,
    max_size=6000,
)  # fmt: skip
binary_like = st.binary(max_size=3000).map(lambda b: b.decode("latin-1"))
url_like = st.integers(min_value=200, max_value=3000).map(
    lambda n: "javascript:" + ("%7Bvar%20x%3D1%3B" * n)[:n]
)
any_text = st.one_of(unicode_text, giant_token, binary_like, url_like, st.just(""))
heading = st.one_of(st.text(max_size=40), giant_token, binary_like)


def assert_fits(doc: Document, embedder) -> None:  # type: ignore[no-untyped-def]
    chunks = chunk_document(doc, embedder)
    title = fit_document(doc, embedder).title
    counts = embedder.count_tokens_many([embed_text(title, c.heading_path, c.text) for c in chunks])
    assert all(n <= embedder.max_tokens for n in counts)
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert all(c.text.strip() for c in chunks)


@SETTINGS
@given(
    title=heading,
    blocks=st.lists(
        st.tuples(
            any_text, st.lists(heading, max_size=4), st.sampled_from(["text", "code", "table"])
        ),
        max_size=4,
    ),
)
def test_any_document_chunks_within_the_window(embedder, title, blocks) -> None:  # type: ignore[no-untyped-def]
    doc = Document(
        "doc.md", title, [Block(text, tuple(path), kind=kind) for text, path, kind in blocks]
    )
    assert_fits(doc, embedder)


@SETTINGS
@given(text=any_text)
def test_any_markdown_parses_and_chunks(embedder, text: str) -> None:  # type: ignore[no-untyped-def]
    doc = parse_markdown(text, "docs/x.mdx", "x")
    assert_fits(doc, embedder)


def test_a_huge_single_token_is_split_on_word_pieces(embedder) -> None:  # type: ignore[no-untyped-def]
    token = "".join(f"segment{i}" for i in range(400))  # no spaces, far over the window
    chunks = chunk_document(Document("a.md", "A", [Block(token)]), embedder)
    assert len(chunks) > 1
    assert "".join(c.text.replace(" ", "") for c in chunks) == token  # nothing lost
