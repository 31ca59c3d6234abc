"""Text-mode answer quality: the share of answers that contain the expected fact.

    python -m scripts.bench_answers [--only acme|lumen]

Ingests the bundled demo docs (`acme`) and the generated docs site of scripts/docs_fixture.py
(`lumen`) into a temporary store, asks every question of `QUESTIONS` the way the local text
engine does (hybrid search, top 4 passages, extractive answer) and prints ONE JSON object:
overall and per-corpus share of answers containing an expected fact, answers that emitted
markup, and the misses.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

# (corpus, question, facts: the answer is right when it contains any of them, case-insensitive)
QUESTIONS: list[tuple[str, str, tuple[str, ...]]] = [
    ("acme", "How much does the Growth plan cost per agent?", ("$69",)),
    ("acme", "What does the Starter plan cost?", ("$29",)),
    ("acme", "How much is the Enterprise plan?", ("$110", "custom pricing")),
    ("acme", "Is there a free trial?", ("14-day", "14 days")),
    ("acme", "Do you offer a free plan?", ("no permanently free plan",)),
    ("acme", "How much does an extra AI resolution cost on Growth?", ("$0.60",)),
    ("acme", "Can we pay by bank transfer?", ("bank transfer",)),
    ("acme", "Do non-profits get a discount?", ("50 percent",)),
    ("acme", "What discount do education customers get?", ("30 percent",)),
    ("acme", "How many agents can use the Starter plan?", ("up to 10 agents",)),
    ("acme", "How long does it take to get started?", ("one to two weeks",)),
    ("acme", "Which languages does the AI agent support?", ("30 languages",)),
    ("acme", "Do you integrate with Salesforce?", ("salesforce",)),
    ("acme", "What is the rate limit of the REST API?", ("600 requests per minute",)),
    ("acme", "How are webhooks signed?", ("hmac-sha256",)),
    ("acme", "Is our data encrypted at rest?", ("aes-256",)),
    ("acme", "Are you SOC 2 audited?", ("soc 2 type ii",)),
    ("acme", "Where is data stored for EU customers?", ("frankfurt",)),
    ("acme", "Do you support single sign-on with Okta?", ("okta",)),
    ("acme", "Can you sign a HIPAA BAA?", ("business associate agreement", "baa")),
    ("acme", "How long are audit logs kept?", ("2 years",)),
    ("acme", "What happens to our data when we close the account?", ("within 30 days",)),
    ("acme", "What uptime SLA do you offer?", ("99.95",)),
    ("acme", "Is our data used to train AI models?", ("never used to train",)),
    ("acme", "Can you help us migrate from Zendesk?", ("zendesk",)),
    ("acme", "How many tickets does the AI agent resolve?", ("35 to 55 percent",)),
    ("acme", "Is there a minimum contract length?", ("cancelled any time", "billed monthly")),
    ("acme", "What happens when the AI agent does not know the answer?", ("human",)),
    ("lumen", "Can I pay by wire transfer?", ("not able to accept wire transfers",)),
    ("lumen", "How much does the Business plan cost per month?", ("$29",)),
    ("lumen", "How many page views does the Scale plan include?", ("1,000,000",)),
    ("lumen", "Does Lumen use cookies?", ("never sets cookies",)),
    ("lumen", "Where is the analytics data stored?", ("germany",)),
    ("lumen", "Can I import data from Google Analytics?", ("google analytics 4",)),
    ("lumen", "What is the Stats API rate limit?", ("600 requests per hour",)),
    ("lumen", "Do non-profits get a discount on Lumen?", ("50 percent",)),
    ("lumen", "Is SSO with Okta available on every plan?", ("business and scale",)),
    ("lumen", "Is SCIM provisioning supported?", ("not supported",)),
    ("lumen", "Can monthly plans be refunded?", ("monthly plans are not refunded",)),
    ("lumen", "Do prices include VAT?", ("exclude vat",)),
    ("lumen", "How long is the free trial?", ("30-day",)),
    ("lumen", "Is Lumen GDPR compliant?", ("gdpr",)),
    ("lumen", "Can Lumen be self-hosted?", ("self-hosted with docker",)),
    ("lumen", "How many team members can I invite?", ("unlimited team members",)),
    ("lumen", "What can viewers do?", ("viewers can see the dashboard",)),
    ("lumen", "How fast does a visit show up in the real-time view?", ("30 seconds",)),
    ("lumen", "Does the WordPress plugin count administrators?", ("excludes logged-in",)),
    ("lumen", "Which payment methods do you accept?", ("paypal",)),
    ("lumen", "Does the bookmarklet send data to your servers?", ("sends nothing",)),
    ("lumen", "Do you sign a data processing agreement?", ("data processing agreement",)),
    ("lumen", "How do I add Lumen to a Shopify store?", ("theme.liquid",)),
    ("lumen", "What happens to passwords once SSO is enforced?", ("no longer sign in",)),
    ("lumen", "How do I avoid ad blockers?", ("own domain",)),
]
MARKUP = re.compile(r"(?m)<[A-Za-z/][^>]*>|:::|^\s*import\s|\{#|```")
BASE_URL = "https://docs.lumen.example/"


def corpora(root: Path) -> dict[str, Path]:
    """The demo docs and a freshly generated docs site."""
    from scripts.docs_fixture import write_docs_site

    acme = Path(__file__).resolve().parents[1] / "widget_api" / "demo_companies" / "acme" / "docs"
    return {"acme": acme, "lumen": write_docs_site(root / "lumen-site")}


def passages(kb: Any, company: str, question: str, top_k: int = 4) -> list[dict[str, Any]]:
    """The hits as the `search_knowledge` tool hands them to the text engine."""
    from knowledge.query import shorten_query

    return [
        {
            "title": h.title,
            "source": h.url or h.source,
            "url": h.url,
            "section": " > ".join(h.heading_path),
            "text": h.text,
        }
        for h in kb.search(company, shorten_query(question), top_k)
    ]


def evaluate(
    kb: Any, encoder: Any, questions: Sequence[tuple[str, str, tuple[str, ...]]]
) -> dict[str, Any]:
    """Ask every question; score answers by the expected facts they contain."""
    from widget_api.local_engine.answers import extract_answer

    per: dict[str, list[int]] = {}
    misses: list[dict[str, Any]] = []
    markup = 0
    for corpus, question, facts in questions:
        answer = extract_answer(question, passages(kb, corpus, question), encoder)
        text = " ".join(answer.lines())
        hit = any(f.lower() in text.lower() for f in facts)
        markup += bool(MARKUP.search(text))
        per.setdefault(corpus, []).append(int(hit))
        if not hit:
            misses.append({"corpus": corpus, "question": question, "answer": text[:300]})
    total = [x for xs in per.values() for x in xs]
    return {
        "questions": len(total),
        "with_expected_fact": sum(total),
        "share": round(sum(total) / len(total), 3) if total else 0.0,
        "by_corpus": {c: round(sum(xs) / len(xs), 3) for c, xs in sorted(per.items())},
        "answers_with_markup": markup,
        "misses": misses,
    }


def build(root: Path, embedder: Any, only: str | None = None) -> Any:
    """A store with each corpus ingested as its own company."""
    from knowledge import KnowledgeBase, KnowledgeConfig

    kb = KnowledgeBase(KnowledgeConfig(chroma_path=root / "chroma"), embedder)
    for company, folder in corpora(root).items():
        if only in (None, company):
            report = kb.ingest(company, [folder], base_url=BASE_URL if company == "lumen" else None)
            if report.failed:
                raise SystemExit(f"{company}: {len(report.failed)} documents failed to ingest")
    return kb


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["acme", "lumen"], help="one corpus only")
    args = parser.parse_args(argv)
    from knowledge.embedding import load_embedder

    embedder = load_embedder()
    questions = [q for q in QUESTIONS if args.only in (None, q[0])]
    with tempfile.TemporaryDirectory(prefix="bench-answers-") as tmp:
        kb = build(Path(tmp), embedder, args.only)
        started = time.perf_counter()
        result = evaluate(kb, embedder, questions)
        result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
