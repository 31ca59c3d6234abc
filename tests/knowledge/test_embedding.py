"""The ONNX Runtime embedder: torch's vectors and ranking, exported once offline, torch fallback."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from knowledge import onnx_export
from knowledge.embedding import default_model_path, load_embedder
from knowledge.onnx_embedder import OnnxEmbedder

SAMPLES = [
    "How much does the professional plan cost per month?",
    "We're not able to accept wire transfers; pay by card or invoice instead.",
    "SSO with Okta",
    "Do you offer a discount for non-profits?",
    "The enterprise tier includes a dedicated account manager and a 99.9 % uptime SLA. " * 8,
    "Réinitialisez le contrôleur, puis maintenez le bouton pendant dix secondes.",
    "x",
    "",
]
PASSAGES = {
    "billing": "Invoices are sent on the first day of each month; we accept cards and PayPal.",
    "wire": "We're not able to accept wire transfers.",
    "sso": "Single sign-on works with Okta, Azure AD and any SAML 2.0 identity provider.",
    "refund": "You can cancel within 30 days for a full refund, no questions asked.",
    "api": "The REST API is rate limited to 600 requests per minute per key.",
    "export": "Export your data as CSV or JSON from the settings page at any time.",
}
QUESTIONS = {
    "can I pay by bank transfer": "wire",
    "do you support okta login": "sso",
    "money back guarantee?": "refund",
    "how many API calls can I make": "api",
    "download all my data": "export",
    "when do I get my bill": "billing",
}


@pytest.fixture(scope="module")
def torch_embedder() -> Any:
    return load_embedder(backend="torch")


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


@pytest.fixture(scope="module")
def fp32_embedder() -> Any:
    return load_embedder(backend="onnx")


def test_onnx_int8_is_the_default_backend(embedder: Any) -> None:
    assert embedder.backend == "onnx-int8"
    assert isinstance(embedder, OnnxEmbedder)


def test_onnx_vectors_equal_torch_vectors(fp32_embedder: Any, torch_embedder: Any) -> None:
    onnx, torch = fp32_embedder.encode(SAMPLES), torch_embedder.encode(SAMPLES)
    assert onnx.shape == torch.shape == (len(SAMPLES), 384)
    assert onnx.dtype == np.float32
    assert cosines(onnx, torch).min() >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)


def test_query_path_and_batch_path_agree(fp32_embedder: Any) -> None:
    """One to four texts take the single-thread session, more the batch session (the same graph
    for `onnx`; for `onnx-int8` see test_int8_encodes_queries_on_the_exact_graph)."""
    one_by_one = np.stack([fp32_embedder.encode([text])[0] for text in SAMPLES])
    assert cosines(one_by_one, fp32_embedder.encode(SAMPLES)).min() >= 0.9999


def test_int8_vectors_stay_close_to_torch(torch_embedder: Any) -> None:
    int8 = load_embedder(backend="onnx-int8")
    assert int8.backend == "onnx-int8"
    similar = cosines(int8.encode(SAMPLES), torch_embedder.encode(SAMPLES))
    # measured 0.992-0.9995 with per-token activation scales; the empty text drifts the most
    assert similar.min() >= 0.99
    assert similar.mean() >= 0.997


def test_int8_encodes_queries_on_the_exact_graph(fp32_embedder: Any) -> None:
    """Only passages (batches) carry int8 error: a query's vector is the fp32 model's."""
    int8 = load_embedder(backend="onnx-int8")
    for text in SAMPLES[:4]:
        np.testing.assert_allclose(int8.encode([text]), fp32_embedder.encode([text]), atol=1e-6)
    batch = cosines(int8.encode(SAMPLES), fp32_embedder.encode(SAMPLES))
    assert batch.min() < 0.99999  # the batch path is the quantized graph, not the exact one


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_onnx_ranks_passages_like_torch(backend: str, torch_embedder: Any) -> None:
    model = load_embedder(backend=backend)  # type: ignore[arg-type]
    passages, questions = list(PASSAGES.values()), list(QUESTIONS)
    theirs = torch_embedder.encode(questions) @ torch_embedder.encode(passages).T
    ours = model.encode(questions) @ model.encode(passages).T
    assert (ours.argmax(axis=1) == theirs.argmax(axis=1)).all()
    assert [list(PASSAGES)[i] for i in ours.argmax(axis=1)] == list(QUESTIONS.values())
    if backend == "onnx":
        assert (np.argsort(-ours, axis=1) == np.argsort(-theirs, axis=1)).all()


def test_token_counts_and_word_piece_offsets_match_torch(
    embedder: Any, torch_embedder: Any
) -> None:
    texts = [*SAMPLES, "https://example.com/" + "aZ9" * 700, "naïve café — ünïcödé 🙂"]
    assert embedder.count_tokens_many(texts) == torch_embedder.count_tokens_many(texts)
    assert [embedder.count_tokens(t) for t in texts] == [
        torch_embedder.count_tokens(t) for t in texts
    ]
    word = "supercalifragilisticexpialidocious" * 20
    ours = embedder.tokenizer(word, add_special_tokens=False, return_offsets_mapping=True)
    theirs = torch_embedder._tokenizer(
        word, add_special_tokens=False, return_offsets_mapping=True, verbose=False
    )
    assert ours["input_ids"] == theirs["input_ids"]
    assert [tuple(o) for o in ours["offset_mapping"]] == [
        tuple(o) for o in theirs["offset_mapping"]
    ]


# --- export: a tiny randomly initialised BERT made here, so the whole recipe runs in seconds --
def make_tiny_model(folder: Path, *, normalize: bool = True) -> Path:
    """A sentence-transformers folder: 2-layer BERT, MiniLM's tokenizer, mean pooling."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    source = default_model_path()
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(str(folder))
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(source / name, folder / name)
    (folder / "sentence_bert_config.json").write_text('{"max_seq_length": 128}')
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True})
    )
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
    ]
    if normalize:
        modules.append(
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            }
        )
    (folder / "modules.json").write_text(json.dumps(modules))
    return folder


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection beyond loopback fails the test (a hub download would be one)."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else ""
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in (
            "127.0.0.1",
            "::1",
            "localhost",
        ):
            raise AssertionError(f"network access to {host}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


def test_export_runs_offline_once_and_is_reused(
    tmp_path: Path, no_network: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = make_tiny_model(tmp_path / "tiny")
    cache = tmp_path / "cache"
    fp32 = onnx_export.exported_model(model, cache, "fp32")
    int8 = onnx_export.exported_model(model, cache, "int8")
    assert fp32.parent == int8.parent and fp32.is_file() and int8.is_file()
    manifest = json.loads((fp32.parent / "manifest.json").read_text())
    assert manifest["cosine"]["fp32"] >= 0.9999
    stamp = fp32.stat().st_mtime_ns

    def refuse(*_: Any) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_export, "_export_into", refuse)
    assert onnx_export.exported_model(model, cache, "fp32") == fp32
    assert fp32.stat().st_mtime_ns == stamp
    embedder = OnnxEmbedder(model, fp32, backend="onnx")  # a second construction, no export
    assert embedder.encode(["hello", "world", "a", "b", "c"]).shape == (5, 32)
    assert embedder.max_tokens == 128


def test_row_scaling_leaves_the_float_model_unchanged(tmp_path: Path) -> None:
    """The per-token rescaling the int8 recipe wraps around each MatMul is exact in fp32."""
    import onnx

    model = make_tiny_model(tmp_path / "tiny")
    fp32 = onnx_export.exported_model(model, tmp_path / "cache", "fp32")
    graph = onnx.load(str(fp32))
    wrapped = onnx_export._scale_rows(graph)
    assert len(wrapped) == sum(n.op_type == "MatMul" for n in onnx.load(str(fp32)).graph.node)
    onnx.save(graph, str(tmp_path / "row-scaled.onnx"))
    texts = ["hello world", "a much longer sentence about pricing plans and invoices", "x"] * 2
    plain = OnnxEmbedder(model, fp32, backend="onnx").encode(texts)
    scaled = OnnxEmbedder(model, tmp_path / "row-scaled.onnx", backend="onnx").encode(texts)
    np.testing.assert_allclose(scaled, plain, atol=1e-5)


def test_int8_export_quantizes_the_row_scaled_matmuls_only(tmp_path: Path) -> None:
    """The attention's fused QKV projection stays fp32; every other weight MatMul is int8."""
    import onnx

    model = make_tiny_model(tmp_path / "tiny")
    int8 = onnx.load(str(onnx_export.exported_model(model, tmp_path / "cache", "int8")))
    ops = [n.op_type for n in int8.graph.node]
    assert "MatMul" not in ops
    assert ops.count("DynamicQuantizeMatMul") + ops.count("MatMulInteger") == 6  # 3 per layer
    assert "Attention" in ops and "QAttention" not in ops


def test_changed_weights_get_a_new_export(tmp_path: Path) -> None:
    model = make_tiny_model(tmp_path / "tiny")
    before = onnx_export.export_dir(model, tmp_path / "cache")
    weights = model / "model.safetensors"
    stat = weights.stat()  # same bytes, newer file: a reinstalled or re-trained model
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert onnx_export.export_dir(model, tmp_path / "cache") != before


def test_unsupported_model_falls_back_to_torch(tmp_path: Path) -> None:
    model = make_tiny_model(tmp_path / "tiny", normalize=False)
    embedder = load_embedder(model, backend="onnx", cache_dir=tmp_path / "cache")
    assert embedder.backend == "torch"
    assert embedder.encode(["still works"]).shape == (1, 32)
    assert not list((tmp_path / "cache").glob("tiny-*"))


def test_ingest_and_search_never_reach_the_network(kb: Any, no_network: None) -> None:
    from knowledge.models import Block, Document

    kb.ingest_documents(
        "offline", [Document(key, key, [Block(text)]) for key, text in PASSAGES.items()]
    )
    hits = kb.search("offline", "can I pay by bank transfer", top_k=1)
    assert [h.source for h in hits] == ["wire"]


def test_searching_process_never_imports_torch(embedder: Any) -> None:
    """The default (ONNX) backend loads with onnxruntime and tokenizers only (the CLI's start-up)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from knowledge.embedding import load_embedder\n"
        "e = load_embedder()\n"
        "e.encode(['how much does it cost'])\n"
        "heavy = ('torch', 'transformers', 'sentence_transformers')\n"
        "print(e.backend, sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=240
    )
    assert out.stdout.split("\n")[-2] == "onnx-int8 []"
