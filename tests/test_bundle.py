"""A book's bundle carries its sentence vectors, so a restore needs no model to rebuild them."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hbi.bundle.build import bundle_rows, prepare_book
from hbi.bundle.files import (
    BookBundle,
    BundleError,
    bundle_fingerprint,
    read_bundle,
    sha256_file,
    write_bundle,
)
from hbi.bundle.rows import ChunkVectors

BOOK = b"# Part 0\n\nalpha beta gamma.\n\n# Part 1\n\ndelta epsilon.\n\n# Part 2\n\nzeta eta.\n"


class Words:
    """A tokenizer stand-in: one word piece per whitespace-separated word."""

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        return [match.span() for match in re.finditer(r"\S+", text)]


def embed(texts: list[str]) -> list[ChunkVectors]:
    """Random unit vectors: one for each chunk and two sentence vectors each."""
    rng = np.random.default_rng(len(texts))
    rows = rng.standard_normal((len(texts), 3, 384)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=2, keepdims=True)
    return [ChunkVectors.from_stacked(r) for r in rows]


@pytest.fixture
def bundle() -> BookBundle:
    """A three-chunk book bundled as the book_bundle asset does it (prepare_book, bundle_rows)."""
    prepared = prepare_book(BOOK, book_id="book", object_key="book.md", etag="e", tokenizer=Words())
    made, _ = bundle_rows(prepared.rows, embed, "test-model", {})
    assert len(made.chunk_ids) == 3
    return made


def test_sentence_vectors_survive_a_bundle_round_trip(bundle: BookBundle, tmp_path) -> None:
    manifest = write_bundle(tmp_path / "bundle", bundle)
    assert manifest["files"]["sentence_embeddings.parquet"]["rows"] == 6
    restored = read_bundle(tmp_path / "bundle")
    assert restored.sentence_vectors.keys() == bundle.sentence_vectors.keys()
    for chunk_id, vectors in bundle.sentence_vectors.items():
        np.testing.assert_array_equal(restored.sentence_vectors[chunk_id], vectors)
    for chunk_id, vectors in restored.chunk_vectors().items():
        assert vectors.sentences.shape == (2, 384)
        np.testing.assert_array_equal(
            vectors.chunk, bundle.vectors[bundle.chunk_ids.index(chunk_id)]
        )


def test_a_changed_sentence_vector_changes_the_fingerprint(bundle: BookBundle) -> None:
    chunk_id = bundle.chunk_ids[0]
    changed = dict(bundle.sentence_vectors)
    changed[chunk_id] = changed[chunk_id][::-1].copy()
    assert bundle_fingerprint(replace(bundle, sentence_vectors=changed)) != bundle_fingerprint(
        bundle
    )


def test_a_bundle_missing_a_file_is_refused_naming_it(bundle: BookBundle, tmp_path) -> None:
    folder = tmp_path / "bundle"
    write_bundle(folder, bundle)
    (folder / "sentence_embeddings.parquet").unlink()
    with pytest.raises(BundleError, match="sentence_embeddings.parquet is missing"):
        read_bundle(folder)


def test_every_bundle_file_is_in_the_manifest(bundle: BookBundle, tmp_path) -> None:
    manifest = write_bundle(tmp_path / "bundle", bundle)
    for name, entry in manifest["files"].items():
        assert sha256_file(Path(tmp_path / "bundle" / name)) == entry["sha256"]
    assert "sentence_embeddings.parquet" in manifest["files"]
