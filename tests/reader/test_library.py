"""GET /library: a book whose run failed shows why until it next succeeds, and books not yet
indexed show as pending. Runs go through Dagster into buckets of their own, so the session's
library keeps its books."""

from __future__ import annotations

import uuid

import dagster as dg
import pytest
from fastapi.testclient import TestClient

from hbi import config
from hbi.api import create_app
from hbi.bundle.failures import clear_failure, failure_key, failures, record_failure
from hbi.index import reads
from hbi.index.db import connect, default_index_path
from hbi_assets.books import OBJECT_KEY_TAG, book_bundle
from hbi_resources.embedder import EmbedderResource
from hbi_resources.object_store import ObjectStoreResource

pytestmark = pytest.mark.integration


@pytest.fixture
def store(object_store: ObjectStoreResource, monkeypatch) -> ObjectStoreResource:
    """Fresh books and backups buckets, which the API reads too."""
    suffix = uuid.uuid4().hex[:12]
    # Built anew, not model_copy'd: Dagster configures a run's resource from its init values.
    fresh = ObjectStoreResource(
        endpoint=object_store.endpoint,
        access_key=object_store.access_key,
        secret_key=object_store.secret_key,
        books_bucket=f"books-{suffix}",
        backups_bucket=f"backups-{suffix}",
    )
    fresh.ensure_buckets()
    monkeypatch.setenv(config.ENV_BOOKS_BUCKET, fresh.books_bucket)
    monkeypatch.setenv(config.ENV_BACKUPS_BUCKET, fresh.backups_bucket)
    return fresh


def run_book(store: ObjectStoreResource, key: str) -> bool:
    """Materialize the key's book_bundle through Dagster (an instance of its own); succeeded?"""
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("books", [key])
        result = dg.materialize(
            [book_bundle],
            partition_key=key,
            instance=instance,
            resources={"object_store": store, "embedder": EmbedderResource()},
            tags={OBJECT_KEY_TAG: key},
            raise_on_error=False,
        )
    return result.success


def library() -> dict:
    response = TestClient(create_app(api_key="")).get("/library")
    assert response.status_code == 200
    return response.json()


def test_failure_records_are_written_listed_and_cleared(store: ObjectStoreResource) -> None:
    record_failure(store, "b.pdf", "b.pdf", "e1", "corrupt file", "bad", "b.pdf: bad")
    record_failure(store, "a.pdf", "a.pdf", None, "empty", "no text", "a.pdf: no text")
    assert [r["book_id"] for r in failures(store)] == ["a.pdf", "b.pdf"]
    assert failures(store)[1]["etag"] == "e1" and failures(store)[1]["failed_at"]
    clear_failure(store, "b.pdf")
    clear_failure(store, "never-failed.pdf")
    assert [r["book_id"] for r in failures(store)] == ["a.pdf"]
    assert failure_key("a.pdf") == "failures/a.pdf.json"


def test_a_book_that_fails_shows_in_the_library_with_why_until_it_succeeds(
    ingested, store: ObjectStoreResource
) -> None:
    key = f"broken-{uuid.uuid4().hex[:8]}.md"
    store.put_bytes(store.books_bucket, key, b"\n\n   \n", "text/markdown")
    assert not run_book(store, key)
    [failed] = library()["failed"]
    assert failed["book_id"] == key and failed["object_key"] == key
    assert failed["kind"] == "empty" and key in failed["message"] and failed["reason"]
    assert set(failed) == {"book_id", "object_key", "kind", "reason", "message", "failed_at"}
    assert library()["pending"] == []

    store.put_bytes(
        store.books_bucket, key, b"# Fixed\n\nNow the book has text.\n", "text/markdown"
    )
    assert run_book(store, key)
    after = library()
    assert after["failed"] == []
    # Its bundle is published, but this home's index has not been refreshed since.
    assert after["pending"] == [{"book_id": key, "object_key": key}]


def test_a_pdf_of_garbage_bytes_fails_as_a_corrupt_file(
    ingested, store: ObjectStoreResource
) -> None:
    key = "garbage.pdf"
    store.put_bytes(store.books_bucket, key, b"%PDF-1.7 not really" * 50, "application/pdf")
    assert not run_book(store, key)
    [failed] = library()["failed"]
    assert failed["book_id"] == key and failed["kind"] == "corrupt file"


def test_the_library_lists_indexed_books_and_objects_not_yet_indexed(
    ingested, store: ObjectStoreResource
) -> None:
    store.put_bytes(store.books_bucket, "waiting.txt", b"Some words.", "text/plain")
    store.put_bytes(store.books_bucket, "README.md", b"not a book", "text/markdown")
    view = library()
    connection = connect(default_index_path(), readonly=True)
    assert view["books"] == reads.book_summaries(connection)
    connection.close()
    assert view["pending"] == [{"book_id": "waiting.txt", "object_key": "waiting.txt"}]
    assert view["failed"] == []


def test_a_failure_whose_object_is_gone_is_not_listed(ingested, store: ObjectStoreResource) -> None:
    record_failure(store, "gone.pdf", "gone.pdf", "e", "corrupt file", "bad", "gone.pdf: bad")
    assert library()["failed"] == []
