"""Retrieval quality, latency and ingest throughput of the knowledge base on a BEIR folder.

    python -m scripts.bench_knowledge --dataset /work/shared/evalsets/scifact

Ingests `corpus.jsonl` into a fresh temporary store, evaluates dense, BM25 and hybrid search
on `queries.jsonl` / `qrels.tsv` (document level: a document's rank is that of its best chunk)
and prints ONE JSON object. Runs unchanged on any BEIR-format folder.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

COMPANY = "bench"
MODES = ("dense", "bm25", "hybrid")


def read_corpus(path: Path) -> list[Any]:
    """BEIR corpus rows as one-block Documents (source = the BEIR doc id)."""
    from knowledge.models import Block, Document

    docs = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                text = str(row.get("text") or "")
                docs.append(
                    Document(
                        str(row["_id"]), str(row.get("title") or ""), [Block(text)], kind="beir"
                    )
                )
    return docs


def read_queries(path: Path, qrels: dict[str, dict[str, int]]) -> dict[str, str]:
    out = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                if str(row["_id"]) in qrels:
                    out[str(row["_id"])] = str(row["text"])
    return out


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and not parts[-1].strip().lstrip("-").isdigit():
                continue  # header
            if len(parts) >= 3 and int(parts[2]) > 0:
                qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels


def ndcg_at(ranked: Sequence[str], rels: dict[str, int], k: int) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: Sequence[str], rels: dict[str, int], k: int) -> float:
    return len(set(ranked[:k]) & set(rels)) / len(rels) if rels else 0.0


def doc_ranking(hits: Sequence[Any]) -> list[str]:
    """Documents in the order of their best chunk."""
    seen: dict[str, None] = {}
    for hit in hits:
        seen.setdefault(hit.source, None)
    return list(seen)


def evaluate(kb: Any, queries: dict[str, str], qrels: dict[str, dict[str, int]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in MODES:
        n10, r10, r100 = [], [], []
        for qid, text in queries.items():
            ranked = doc_ranking(kb.search(COMPANY, text, top_k=300, mode=mode))
            n10.append(ndcg_at(ranked, qrels[qid], 10))
            r10.append(recall_at(ranked, qrels[qid], 10))
            r100.append(recall_at(ranked, qrels[qid], 100))
        out[mode] = {
            "ndcg@10": round(statistics.fmean(n10), 4),
            "recall@10": round(statistics.fmean(r10), 4),
            "recall@100": round(statistics.fmean(r100), 4),
        }
    return out


def latency(kb: Any, queries: Sequence[str]) -> dict[str, float]:
    """The whole search() call, query embedding included, one query at a time."""
    for text in queries[:10]:
        kb.search(COMPANY, text, top_k=10)
    times = []
    for text in queries:
        start = time.perf_counter()
        kb.search(COMPANY, text, top_k=10)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "p50": round(times[len(times) // 2], 2),
        "p99": round(times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)], 2),
        "queries": len(times),
    }


def raw_encoder_seconds(kb: Any, docs: Sequence[Any], sample: float) -> tuple[float, int]:
    """Encode the chunk strings the ingest embedded (every k-th one when sampling), timed alone."""
    from knowledge.chunking import chunk_document, embed_text

    texts = list(
        dict.fromkeys(
            embed_text(d.title, c.heading_path, c.text)
            for d in docs
            for c in chunk_document(d, kb.embedder)
        )
    )
    if sample < 1.0:
        texts = texts[:: max(1, round(1 / sample))]
    start = time.perf_counter()
    kb.embedder.encode(texts)
    return time.perf_counter() - start, len(texts)


def first_ingest(kb: Any, docs: Sequence[Any], root: Path, sample: float) -> dict[str, Any]:
    """Ingest into the empty store and time the raw encoder on the same chunks.

    The figures are saved in the store folder: rerunning with the same `--store` re-evaluates
    search (e.g. after a ranking change) without re-embedding the corpus, and reports the
    figures of the run that did embed it.
    """
    saved = root / "first_ingest.json"
    if saved.exists():
        return dict(json.loads(saved.read_text()))
    start = time.perf_counter()
    report = kb.ingest_documents(COMPANY, docs)  # a failing document is reported, not fatal
    seconds = time.perf_counter() - start
    for plan in report.failed:
        print(f"failed: {plan.error or plan.source}", file=sys.stderr)
    raw_seconds, raw_chunks = raw_encoder_seconds(kb, docs, sample)
    figures = {
        "first_seconds": round(seconds, 2),
        "chunks": report.chunks_embedded,
        "raw_seconds": round(raw_seconds, 2),
        "raw_chunks": raw_chunks,
        "raw_sample": sample,
        "failed_documents": report.count("failed"),
    }
    saved.write_text(json.dumps(figures))
    return figures


def run(
    dataset: Path, queries_file: Path, qrels_file: Path, store: Path | None, sample: float
) -> dict[str, Any]:
    from knowledge import KnowledgeBase, KnowledgeConfig, load_embedder

    embedder = load_embedder()
    tmp = tempfile.TemporaryDirectory(prefix="bench-kb-")
    root = store or Path(tmp.name)
    root.mkdir(parents=True, exist_ok=True)
    kb = KnowledgeBase(KnowledgeConfig(chroma_path=root / "chroma"), embedder)
    docs = read_corpus(dataset / "corpus.jsonl")
    qrels = read_qrels(qrels_file)
    queries = read_queries(queries_file, qrels)

    ingest = first_ingest(kb, docs, root, sample)
    first, chunks = ingest["first_seconds"], ingest["chunks"]
    raw_seconds, raw_chunks = ingest["raw_seconds"], ingest["raw_chunks"]
    kb.search(COMPANY, "warm up", top_k=1)  # open the store as a first ingest's process had
    start = time.perf_counter()
    second = kb.ingest_documents(COMPANY, docs)
    again = time.perf_counter() - start

    result: dict[str, Any] = {
        "dataset": dataset.name,
        "documents": len(docs),
        "chunks": chunks,
        "queries": len(queries),
        "model": embedder.name,
    }
    result.update(evaluate(kb, queries, qrels))
    result["search_latency_ms"] = latency(kb, list(queries.values()))
    ingest_rate = chunks / first if first else 0.0
    raw_rate = raw_chunks / raw_seconds if raw_seconds else 0.0
    result["ingest"] = {
        "first_seconds": round(first, 2),
        "chunks_per_second": round(ingest_rate, 1),
        "raw_encoder_chunks_per_second": round(raw_rate, 1),
        "ratio_to_raw_encoder": round(ingest_rate / raw_rate, 3) if raw_rate else None,
        "second_unchanged_seconds": round(again, 3),
        "second_over_first": round(again / first, 4) if first else None,
        "second_unchanged_documents": second.count("unchanged"),
        "failed_documents": ingest.get("failed_documents", 0),
        "raw_encoder_sample": raw_chunks,
    }
    tmp.cleanup()
    return result


def docs_site(folder: Path | None) -> dict[str, Any]:
    """Ingest a docs folder (default: the generated Docusaurus-style fixture) into a fresh
    store and report files stored and chunks with leaked markup (scripts/docs_audit.py)."""
    from knowledge import KnowledgeBase, KnowledgeConfig, load_embedder
    from scripts.docs_audit import audit
    from scripts.docs_fixture import write_docs_site

    with tempfile.TemporaryDirectory(prefix="bench-docs-") as tmp:
        root = Path(tmp)
        target = folder or write_docs_site(root / "fixture")
        kb = KnowledgeBase(KnowledgeConfig(chroma_path=root / "chroma"), load_embedder())
        return audit(kb, COMPANY, target, base_url="https://docs.example.com/")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, help="BEIR-format folder")
    parser.add_argument(
        "--docs", type=Path, help="instead: audit a docs folder (files stored, leaked markup)"
    )
    parser.add_argument(
        "--fixture", action="store_true", help="instead: audit the generated docs-site fixture"
    )
    parser.add_argument("--queries", type=Path, help="queries file (default DATASET/queries.jsonl)")
    parser.add_argument("--qrels", type=Path, help="qrels file (default DATASET/qrels.tsv)")
    parser.add_argument(
        "--store",
        type=Path,
        help="keep the store here instead of a temp dir; rerunning with it re-evaluates search",
    )
    parser.add_argument(
        "--raw-sample",
        type=float,
        default=1.0,
        help="time the raw encoder on this fraction of the chunks (every k-th; default all)",
    )
    args = parser.parse_args(argv)
    if args.docs or args.fixture:
        print(json.dumps(docs_site(args.docs)))
        return 0
    if args.dataset is None:
        parser.error("--dataset, --docs or --fixture is required")
    dataset: Path = args.dataset
    if not (dataset / "corpus.jsonl").is_file():
        print(f"error: {dataset}/corpus.jsonl not found", file=sys.stderr)
        return 2
    result = run(
        dataset,
        args.queries or dataset / "queries.jsonl",
        args.qrels or dataset / "qrels.tsv",
        args.store,
        args.raw_sample,
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
