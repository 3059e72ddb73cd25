"""A scanned book through the whole stack: added to MinIO, run by Dagster, OCR'd, projected,
listed with its language and OCR pages, and searched page by page (real MinIO and Neo4j)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from hbi.cli import cli
from hbi.cli.books import add_books, materialize_books
from hbi.embedding import MiniLMEmbedder
from hbi.index.db import default_index_path
from hbi.search import LibrarySearch, SearchFilters
from tests.conftest import shared_dir
from tests.extract.ocr_samples import TIME_MACHINE, page_sentence, scan_pages

pytestmark = pytest.mark.integration

PAGES = list(range(1, 13))


def test_a_twelve_page_scan_ingests_and_each_page_is_found_by_its_sentence(
    stack, tmp_path: Path
) -> None:
    source = shared_dir() / "corpus" / TIME_MACHINE
    scan = tmp_path / f"scanned-{uuid.uuid4().hex[:8]}.pdf"
    scan.write_bytes(scan_pages(source, PAGES))
    [added] = add_books((scan,))
    book_id = added["book_id"]
    [outcome] = materialize_books([book_id])
    assert outcome["success"], outcome

    with dg.DagsterInstance.get() as instance:
        [record] = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("book_bundle"), asset_partitions=[book_id]),
            limit=1,
        ).records
    metadata = {k: v.value for k, v in record.asset_materialization.metadata.items()}
    assert metadata["ocr_pages"] == PAGES and metadata["ocr_mean_confidence"] > 80

    listed = json.loads(CliRunner().invoke(cli, ["books", "--json"]).output)
    row = next(b for b in listed if b["book_id"] == book_id)
    # The scan has no metadata: its language is read from the OCR'd text.
    assert row["language"] == "en"
    assert row["ocr"]["pages"] == 12 and row["ocr"]["page_ranges"] == "1-12"
    assert row["ocr"]["mean_confidence"] > 80

    # The same pages are in the library as text (the corpus PDF): the scan is searched alone.
    search = LibrarySearch(str(default_index_path()), embed=MiniLMEmbedder().embed)
    try:
        for number in PAGES:
            sentence = page_sentence(source, number)
            result = search.search(
                sentence, mode="hybrid", k=1, filters=SearchFilters(book_ids=(book_id,))
            )
            top = result.hits[0]
            assert top.page_start <= number <= top.page_end, (number, sentence, top)
            assert top.ocr, top
    finally:
        search.close()
