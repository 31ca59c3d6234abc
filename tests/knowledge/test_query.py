"""Long queries are shortened to what matters, never refused."""

from __future__ import annotations

from knowledge.query import MAX_QUERY_CHARS, shorten_query

CONTEXT = (
    "We are a 40 person support team at a fintech company in Berlin and we currently use "
    "Zendesk for email and Intercom for chat, but our agents keep switching between tools. "
) * 3


def test_a_short_query_is_kept_as_it_is() -> None:
    assert shorten_query("  price of the   Growth plan ") == "price of the Growth plan"


def test_a_long_message_keeps_its_question() -> None:
    short = shorten_query(CONTEXT + "Can we pay the annual Growth plan by bank transfer?")
    assert short == "Can we pay the annual Growth plan by bank transfer?"


def test_a_vague_question_gets_context_terms() -> None:
    short = shorten_query(CONTEXT + "Does it do that?")
    assert short.startswith("Does it do that?") and "Zendesk" in short and "40" in short


def test_without_a_question_the_informative_terms_remain() -> None:
    short = shorten_query(CONTEXT * 4)
    assert len(short) <= MAX_QUERY_CHARS
    assert {"40", "Berlin", "Zendesk", "Intercom"} <= set(short.split())
    assert " the " not in f" {short} " and len(short.split()) == len(set(short.lower().split()))
