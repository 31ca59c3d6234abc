"""Fusion must not fall below the better retriever, on paraphrase-heavy and on exact-term data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from knowledge import KnowledgeBase, KnowledgeConfig, load_embedder
from knowledge.models import Block, Document

EVALSETS = Path(__file__).parent / "evalsets"
ACTIONS = [
    "restart the controller and check the fan",
    "replace the filter cartridge",
    "update the firmware from the service menu",
    "call the hotline and keep the device powered",
    "clean the sensor window with a dry cloth",
]


def ndcg10(ranked: list[str], relevant: set[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
    return dcg / ideal


def mean_ndcg(
    kb: KnowledgeBase, queries: dict[str, str], qrels: dict[str, set[str]], mode: str
) -> float:
    total = 0.0
    for qid, text in queries.items():
        ranked = list(dict.fromkeys(h.source for h in kb.search("eval", text, top_k=30, mode=mode)))
        total += ndcg10(ranked, qrels[qid])
    return total / len(queries)


def faq_set() -> tuple[list[Document], dict[str, str], dict[str, set[str]]]:
    """The hand-written FAQ set: visitors paraphrase, so dense retrieval dominates."""
    folder = EVALSETS / "faq"
    docs = [
        Document(row["_id"], row["title"], [Block(row["text"])])
        for row in map(json.loads, (folder / "corpus.jsonl").read_text().splitlines())
    ]
    queries = {
        row["_id"]: row["text"]
        for row in map(json.loads, (folder / "queries.jsonl").read_text().splitlines())
    }
    qrels: dict[str, set[str]] = {}
    for line in (folder / "qrels.tsv").read_text().splitlines()[1:]:
        qid, did, _ = line.split("\t")
        qrels.setdefault(qid, set()).add(did)
    return docs, queries, qrels


def error_code_set() -> tuple[list[Document], dict[str, str], dict[str, set[str]]]:
    """Near-identical manual entries told apart only by their codes: BM25 territory."""
    docs, queries, qrels = [], {}, {}
    for i in range(40):
        code = f"E{4100 + 37 * i}"
        action = ACTIONS[i % len(ACTIONS)]
        docs.append(
            Document(
                f"err-{i}", f"Error {code}", [Block(f"When the display shows {code}, {action}.")]
            )
        )
        queries[f"q{i}"] = f"my unit shows {code}, what should I do?"
        qrels[f"q{i}"] = {f"err-{i}"}
    return docs, queries, qrels


# On the FAQ set BM25 is close to useless (nDCG 0.24) and fusion still costs about 0.011 against
# dense alone with torch's exact vectors (`onnx`: three near-tied queries flip); reciprocal-rank
# fusion would lose 0.38. The default `onnx-int8` passages flip one more near-tie (0.0046 on 81
# questions: hybrid 0.861 vs dense 0.876). The tolerances state those known deficits; anything
# like RRF's collapse fails.
@pytest.mark.parametrize(
    ("dataset", "backend", "tolerance"),
    [(faq_set, "onnx", 0.015), (faq_set, "onnx-int8", 0.02), (error_code_set, "onnx-int8", 0.0)],
    ids=["faq-fp32", "faq-int8", "error-codes"],
)
def test_hybrid_is_at_least_the_better_retriever(
    dataset, backend: str, tolerance: float, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    docs, queries, qrels = dataset()
    kb = KnowledgeBase(KnowledgeConfig(tmp_path / "chroma"), load_embedder(backend=backend))
    kb.ingest_documents("eval", docs)
    scores = {mode: mean_ndcg(kb, queries, qrels, mode) for mode in ("dense", "bm25", "hybrid")}
    assert scores["hybrid"] >= max(scores["dense"], scores["bm25"]) - tolerance, scores
