"""The ONNX Runtime embedder: the exported model plus the model's own fast tokenizer.

Imports only onnxruntime, tokenizers and numpy, so a process that searches never pays for
torch or transformers (seconds of import time). Two sessions share the model file, so a query
never queues behind an ingest's batch: one for queries (up to two intra-op threads) and one for
batches of passages on every core the process may use, created on the first batch so a
search-only process never loads it. Worker threads do not spin: unlike torch's OpenMP pool,
a second thread then costs nothing measurable when the cores are busy (query p50/p99 with one
and two threads were equal at load average 15 on 2 cores) and helps when they are idle.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

# Up to this many texts go through the query session.
SMALL_BATCH = 4
QUERY_THREADS = 2
# Passages per inference: small batches of similar length keep activations in cache and
# padding low (16 ran ~13 % faster per passage than 64 on SciFact abstracts, int8, AVX2).
BATCH_SIZE = 16


class WordPieceTokenizer:
    """The model's `tokenizer.json` behind the call signature of a transformers fast tokenizer.

    Covers what the chunker uses: `tok(text, add_special_tokens=..., return_offsets_mapping=...,
    truncation=False)` returning `input_ids` (and `offset_mapping`).
    """

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(path))
        self._tok.no_truncation()
        self._tok.no_padding()

    def __call__(
        self,
        text: str | Sequence[str],
        *,
        add_special_tokens: bool = True,
        return_offsets_mapping: bool = False,
        **_: Any,
    ) -> dict[str, Any]:
        single = isinstance(text, str)
        texts = [text] if single else list(text)
        encs = self._tok.encode_batch(texts, add_special_tokens=add_special_tokens)
        out: dict[str, Any] = {"input_ids": [e.ids for e in encs]}
        if return_offsets_mapping:
            out["offset_mapping"] = [e.offsets for e in encs]
        return {k: v[0] for k, v in out.items()} if single else out

    def count(self, text: str) -> int:
        return len(self._tok.encode(text).ids)

    def count_many(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self._tok.encode_batch(list(texts))]


class OnnxEmbedder:
    """An exported sentence-transformers model (mean pooling + normalize inside the graph)."""

    def __init__(
        self,
        model_path: Path,
        onnx_file: Path,
        *,
        backend: str,
        threads: int | None = None,
        query_file: Path | None = None,
    ) -> None:
        """`onnx_file` encodes batches of passages; `query_file` (default: the same) queries."""
        from tokenizers import Tokenizer

        self.backend = backend
        self.name = (
            "all-MiniLM-L6-v2" if "minilm_l6" in str(model_path).lower() else model_path.name
        )
        self.max_tokens = _max_seq_length(model_path)
        self.tokenizer = WordPieceTokenizer(model_path / "tokenizer.json")
        self._encoder = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self._encoder.enable_truncation(self.max_tokens)
        self._encoder.no_padding()  # padding is done per length-sorted batch below
        self._pad_id = self._encoder.token_to_id("[PAD]") or 0
        self._file = onnx_file
        self._threads = threads or len(os.sched_getaffinity(0))
        self._query = self._session(min(QUERY_THREADS, self._threads), query_file or onnx_file)
        self._batch: Any = None
        self._lock = threading.Lock()
        self._inputs = {i.name for i in self._query.get_inputs()}
        self.dimension = int(self._run(self._query, [self._encoder.encode("x")]).shape[1])

    def _session(self, threads: int, file: Path) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # The graph is optimized at export; the runtime's own extended pass is cheap at load.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        # Spinning worker threads win microseconds on an idle machine and burn the cores that
        # the server's other requests need on a busy one.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dimension) unit rows; batches are sorted by length so padding stays small."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # sentence-transformers strips inputs; doing the same keeps the two backends identical
        encodings = self._encoder.encode_batch([t.strip() for t in texts])
        if len(encodings) <= SMALL_BATCH:
            return self._run(self._query, encodings)
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(encodings), self.dimension), dtype=np.float32)
        with self._lock:  # one batch job at a time: two would only fight over the same cores
            if self._batch is None:
                self._batch = self._session(self._threads, self._file)
            for start in range(0, len(order), BATCH_SIZE):
                part = order[start : start + BATCH_SIZE]
                out[part] = self._run(self._batch, [encodings[i] for i in part])
        return out

    def _run(self, session: Any, encodings: Sequence[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        vectors = session.run(None, feed)[0]
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        """Token count including [CLS]/[SEP], without truncation (so overflows are visible)."""
        return self.tokenizer.count(text)

    def count_tokens_many(self, texts: Sequence[str]) -> list[int]:
        """Batch form of `count_tokens` (the Rust tokenizer spreads a list over threads)."""
        return self.tokenizer.count_many(texts) if texts else []


def _max_seq_length(model_path: Path) -> int:
    """sentence-transformers' max_seq_length (256 for MiniLM), as the torch backend uses."""
    try:
        config = json.loads((model_path / "sentence_bert_config.json").read_text())
        return int(config.get("max_seq_length") or 256)
    except (OSError, ValueError):
        return 256
