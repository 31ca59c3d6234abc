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
    """The whole search() call, query embedding included, one query at a time.

    Query vectors are cached per process (repeated questions are common); every query here
    is measured uncached, so the figure includes embedding it.
    """
    for text in queries[:10]:
        kb.search(COMPANY, text, top_k=10)
    kb.searcher.clear_query_cache()
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


def chunk_strings(kb: Any, docs: Sequence[Any], sample: float) -> list[str]:
    """The strings the ingest embedded (every k-th one when sampling)."""
    from knowledge.chunking import chunk_document, embed_text

    texts = list(
        dict.fromkeys(
            embed_text(d.title, c.heading_path, c.text)
            for d in docs
            for c in chunk_document(d, kb.embedder)
        )
    )
    return texts[:: max(1, round(1 / sample))] if sample < 1.0 else texts


def timed_encode(embedder: Any, texts: Sequence[str]) -> tuple[dict[str, float], Any]:
    """One encode() call over `texts`: wall and process CPU seconds, and the vectors.

    CPU seconds are reported beside wall time because on a shared machine the wall-clock
    ratio of two runs minutes apart also measures the neighbours.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    vectors = embedder.encode(texts)
    return {
        "seconds": round(time.perf_counter() - wall, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
    }, vectors


class ReferenceEmbedder:
    """The torch model, reusing the passage vectors its raw-encoder timing computed.

    Lets the benchmark score the torch model's ranking on the same chunks without embedding
    the corpus twice.
    """

    def __init__(self, inner: Any, known: dict[str, Any]) -> None:
        self.inner = inner
        self.known = known
        self.name, self.dimension, self.max_tokens = inner.name, inner.dimension, inner.max_tokens
        self.tokenizer = getattr(inner, "tokenizer", None) or getattr(inner, "_tokenizer", None)

    def encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        if missing:
            self.known.update(zip(missing, self.inner.encode(missing), strict=True))
        return np.stack([self.known[t] for t in texts]).astype(np.float32)

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))

    def count_tokens_many(self, texts: Sequence[str]) -> list[int]:
        return list(self.inner.count_tokens_many(texts))


def reference_quality(
    torch_embedder: Any,
    known: dict[str, Any],
    docs: Sequence[Any],
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
) -> dict[str, Any]:
    """nDCG etc. of the torch model on the same corpus, in a second temporary store."""
    from knowledge import KnowledgeBase, KnowledgeConfig

    with tempfile.TemporaryDirectory(prefix="bench-kb-ref-") as tmp:
        embedder = ReferenceEmbedder(torch_embedder, known)
        kb = KnowledgeBase(KnowledgeConfig(chroma_path=Path(tmp) / "chroma"), embedder)
        kb.ingest_documents(COMPANY, docs)
        return evaluate(kb, queries, qrels)


def first_ingest(
    kb: Any, docs: Sequence[Any], root: Path, sample: float, reference: Any
) -> dict[str, Any]:
    """Ingest into the empty store, then time the raw encoders on the same chunk strings:
    the configured backend's and the torch reference's (today's encoder).

    The figures are saved in the store folder: rerunning with the same `--store` re-evaluates
    search (e.g. after a ranking change) without re-embedding the corpus, and reports the
    figures of the run that did embed it.
    """
    saved = root / "first_ingest.json"
    if saved.exists():
        return dict(json.loads(saved.read_text()))
    start, cpu = time.perf_counter(), time.process_time()
    report = kb.ingest_documents(COMPANY, docs)  # a failing document is reported, not fatal
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    for plan in report.failed:
        print(f"failed: {plan.error or plan.source}", file=sys.stderr)
    texts = chunk_strings(kb, docs, sample)
    backend_raw, _ = timed_encode(kb.embedder, texts)
    figures: dict[str, Any] = {
        "first_seconds": round(seconds, 2),
        "first_cpu_seconds": round(cpu_seconds, 2),
        "chunks": report.chunks_embedded,
        "raw_chunks": len(texts),
        "raw_sample": sample,
        "backend_raw": backend_raw,
        "failed_documents": report.count("failed"),
    }
    if reference is not None:
        figures["torch_raw"], vectors = timed_encode(reference, texts)
        reference_vectors.update(zip(texts, vectors, strict=True))
    saved.write_text(json.dumps(figures))
    return figures


# Passage vectors of the torch reference, filled by its raw-encoder timing (see ReferenceEmbedder).
reference_vectors: dict[str, Any] = {}


def rate(chunks: int, seconds: float) -> float:
    return round(chunks / seconds, 1) if seconds else 0.0


def run(
    dataset: Path,
    queries_file: Path,
    qrels_file: Path,
    store: Path | None,
    sample: float,
    backend: str | None = None,
    reference: bool = True,
) -> dict[str, Any]:
    from knowledge import KnowledgeBase, KnowledgeConfig, load_embedder

    load_start = time.perf_counter()
    # type: ignore below: the CLI restricts --backend to the Backend literals
    embedder = load_embedder(backend=backend) if backend else load_embedder()  # type: ignore[arg-type]
    load_seconds = time.perf_counter() - load_start
    torch_embedder = load_embedder(backend="torch") if reference else None
    tmp = tempfile.TemporaryDirectory(prefix="bench-kb-")
    root = store or Path(tmp.name)
    root.mkdir(parents=True, exist_ok=True)
    kb = KnowledgeBase(KnowledgeConfig(chroma_path=root / "chroma"), embedder)
    docs = read_corpus(dataset / "corpus.jsonl")
    qrels = read_qrels(qrels_file)
    queries = read_queries(queries_file, qrels)

    ingest = first_ingest(kb, docs, root, sample, torch_embedder)
    first, chunks, raw_chunks = ingest["first_seconds"], ingest["chunks"], ingest["raw_chunks"]
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
        "backend": getattr(embedder, "backend", backend),
        "model_load_seconds": round(load_seconds, 2),
    }
    result.update(evaluate(kb, queries, qrels))
    result["search_latency_ms"] = latency(kb, list(queries.values()))
    if torch_embedder is not None and len(reference_vectors) >= raw_chunks and sample >= 1.0:
        torch_quality = reference_quality(torch_embedder, reference_vectors, docs, queries, qrels)
        result["torch_reference"] = {
            mode: {
                **torch_quality[mode],
                "ndcg@10_delta": round(result[mode]["ndcg@10"] - torch_quality[mode]["ndcg@10"], 4),
            }
            for mode in MODES
        }
    ingest_rate = rate(chunks, first)
    torch_raw = ingest.get("torch_raw", {})
    raw_rate = rate(raw_chunks, torch_raw.get("seconds", 0.0))
    result["ingest"] = {
        "first_seconds": round(first, 2),
        "first_cpu_seconds": ingest.get("first_cpu_seconds"),
        "chunks_per_second": ingest_rate,
        "raw_encoder_chunks_per_second": raw_rate,  # torch: today's encoder, same run
        "ratio_to_raw_encoder": round(ingest_rate / raw_rate, 3) if raw_rate else None,
        "backend_raw_chunks_per_second": rate(raw_chunks, ingest["backend_raw"]["seconds"]),
        "raw_cpu_seconds": {
            "torch": torch_raw.get("cpu_seconds"),
            "backend": ingest["backend_raw"]["cpu_seconds"],
        },
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
        help="time the raw encoders on this fraction of the chunks (every k-th; default all)",
    )
    parser.add_argument(
        "--backend",
        choices=("onnx", "onnx-int8", "torch"),
        help="embedding backend for the ingest and search under test (default: the product's, "
        "onnx-int8)",
    )
    parser.add_argument(
        "--no-reference",
        action="store_true",
        help="skip the torch reference (raw-encoder timing; with --raw-sample 1 also its nDCG)",
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
        backend=args.backend,
        reference=not args.no_reference,
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
