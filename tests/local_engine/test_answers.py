"""Extractive text answers: the decisive sentence survives, no duplicates, no markup, every
sentence cited; and the share of right answers on a slice of the question set."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from widget_api.local_engine.answers import extract_answer

BILLING = (
    "Lumen is billed monthly or yearly; yearly billing gives two months free.\n"
    "Caution: Wire transfers. We're not able to accept wire transfers. Pay by credit card or"
    " PayPal instead.\n"
    "We accept Visa, Mastercard, American Express and PayPal. Invoices are sent by email after"
    " each payment."
)


def hit(text: str, title: str = "Plans and billing", url: str | None = None) -> dict[str, Any]:
    return {"title": title, "source": url or title, "url": url, "section": title, "text": text}


def test_the_decisive_negation_survives(embedder) -> None:  # type: ignore[no-untyped-def]
    answer = extract_answer("Can I pay by wire transfer?", [hit(BILLING)], embedder)
    assert "We're not able to accept wire transfers." in answer.sentences


def test_duplicates_are_dropped(embedder) -> None:  # type: ignore[no-untyped-def]
    same = "The Growth plan costs $69 per agent per month billed annually."
    hits = [hit(same, "Pricing"), hit(same + " It is our most popular plan.", "Plans"), hit(same)]
    answer = extract_answer("How much is the Growth plan?", hits, embedder)
    assert sum("$69" in s for s in answer.sentences) == 1


def test_markup_is_never_emitted(embedder) -> None:  # type: ignore[no-untyped-def]
    text = (
        "import CtaBox from '@site/src/components/CtaBox';\n"
        '<CtaBox title="Pricing" link={useBaseUrl("/pricing")} />\n'
        ":::tip\nThe Business plan costs $29 per month.\n:::\n"
        "const price = plans.find((p) => p.id === 'business');"
    )
    answer = extract_answer("What does the Business plan cost?", [hit(text)], embedder)
    said = " ".join(answer.lines())
    assert "$29" in said
    assert not re.search(r"<|:::|import |=>|\{", said)


def test_each_sentence_cites_its_source(embedder) -> None:  # type: ignore[no-untyped-def]
    hits = [
        hit("Single sign-on with Okta is available on the Business plan.", "SSO",
            "https://docs.example.com/sso"),
        hit("Okta SCIM provisioning is not supported yet.", "Provisioning",
            "https://docs.example.com/scim"),
    ]  # fmt: skip
    answer = extract_answer("Does Okta single sign-on and SCIM work?", hits, embedder)
    assert len(answer.sources) == 2 and answer.sources[0].url == "https://docs.example.com/sso"
    lines = answer.lines()
    assert all(re.search(r"\[\d\]$", line) for line in lines[:-1])
    assert lines[-1] == "(Sources: [1] SSO; [2] Provisioning.)"


def test_share_of_right_answers_on_a_question_slice(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    """Every fifth question of scripts/bench_answers.py (the full set runs there)."""
    from scripts.bench_answers import QUESTIONS, build, evaluate

    kb = build(tmp_path, embedder)
    result = evaluate(kb, embedder, QUESTIONS[::5])
    assert result["answers_with_markup"] == 0
    assert result["share"] >= 0.8, result["misses"]
