"""A book run reuses the vectors of text it has embedded before, without any local index
(real MinIO and Neo4j)."""

from __future__ import annotations

import uuid
from pathlib import Path

import dagster as dg
import pytest

from hbi.cli.books import add_books, materialize_books

pytestmark = pytest.mark.integration


def bundle_metadata(book_id: str) -> dict:
    with dg.DagsterInstance.get() as instance:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("book_bundle"), asset_partitions=[book_id]),
            limit=1,
        ).records
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def test_a_renamed_book_file_reuses_every_vector_of_its_first_name(stack, tmp_path: Path) -> None:
    word = f"renamed{uuid.uuid4().hex[:8]}"
    text = "\n\n".join(
        f"# Part {n}\n\nThe {word} paragraph number {n} of a book." for n in range(5)
    )
    first, second = tmp_path / f"{word}-first.md", tmp_path / f"{word}-second.md"
    first.write_text(text)
    second.write_text(text)
    [one] = add_books((first,))
    assert materialize_books([one["book_id"]])[0]["success"]
    assert bundle_metadata(one["book_id"])["texts_embedded"] > 0

    [two] = add_books((second,))
    assert materialize_books([two["book_id"]])[0]["success"]

    renamed = bundle_metadata(two["book_id"])
    assert renamed["texts_embedded"] == 0
    assert renamed["chunks_reused_from_previous_bundle"] == renamed["chunks"] > 0
