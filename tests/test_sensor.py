"""The books-bucket sensor against a real MinIO: add, change, delete, errors, scale, idempotence."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import pytest

from hbi.books.ids import book_id_for_key
from hbi.cli.books import add_books, materialize_books
from hbi_assets.sensors import evaluate_books_bucket
from hbi_assets.sensors import sensor_tick as evaluate_tick
from hbi_resources.object_store import ObjectStoreResource
from tests.conftest import SensorLog, sensor_tick

pytestmark = pytest.mark.integration


def put(store: ObjectStoreResource, key: str, body: bytes) -> str:
    return store.put_bytes(store.books_bucket, key, body, "application/octet-stream")


def ingest_requests(result: dg.SensorResult) -> dict[str, dg.RunRequest]:
    return {r.partition_key: r for r in result.run_requests if r.partition_key}


def removal_requests(result: dg.SensorResult) -> list[str]:
    return [
        book_id
        for r in result.run_requests
        if r.job_name == "remove_books_job"
        for book_id in r.run_config["ops"]["remove_books"]["config"]["book_ids"]
    ]


def test_new_books_add_partitions_and_request_runs(bucket) -> None:
    store = bucket[0]
    put(store, "a.txt", b"CHAPTER I.\nOne\n\nText.")
    put(store, "My Book.md", b"# Title\n\nText.")
    put(store, "cover.jpg", b"\xff\xd8\xff")
    result, log = sensor_tick(bucket)
    requests = ingest_requests(result)
    assert set(requests) == {book_id_for_key("a.txt"), book_id_for_key("My Book.md")}
    assert bucket[1].seen()["My Book.md"].book_id == book_id_for_key("My Book.md")
    [partitions] = result.dynamic_partitions_requests
    assert sorted(partitions.partition_keys) == sorted(requests)
    assert requests["a.txt"].tags["hbi/object_key"] == "a.txt"
    # One run per book builds both of its assets (bundle, ToC graph): one process, not two.
    assert {r.job_name for r in requests.values()} == {"ingest_book"}
    assert json.loads(result.cursor)["ignored"] == 1
    assert any("cover.jpg" in line for line in log.lines)


def test_a_second_tick_requests_nothing(bucket) -> None:
    put(bucket[0], "a.txt", b"text")
    first, _ = sensor_tick(bucket)
    assert len(first.run_requests) == 1
    second, _ = sensor_tick(bucket)
    assert not second.run_requests and not second.dynamic_partitions_requests
    assert "no change" in second.skip_reason.skip_message


def test_a_changed_object_is_requested_again_with_its_new_etag(bucket) -> None:
    store = bucket[0]
    put(store, "a.txt", b"first version")
    first, _ = sensor_tick(bucket)
    etag = put(store, "a.txt", b"second version")
    second, _ = sensor_tick(bucket)
    [request] = second.run_requests
    assert request.partition_key == "a.txt"
    assert etag in request.run_key and request.run_key != first.run_requests[0].run_key


def test_a_deleted_object_requests_a_removal_run(bucket) -> None:
    store = bucket[0]
    put(store, "a.txt", b"text")
    put(store, "b.txt", b"text too")
    sensor_tick(bucket)
    store.client().remove_object(store.books_bucket, "a.txt")
    result, _ = sensor_tick(bucket)
    assert removal_requests(result) == ["a.txt"]
    assert not ingest_requests(result)


def test_a_book_deleted_and_uploaded_again_is_indexed_again(bucket) -> None:
    store = bucket[0]
    put(store, "a.txt", b"same bytes")
    first, _ = sensor_tick(bucket)
    store.client().remove_object(store.books_bucket, "a.txt")
    sensor_tick(bucket)
    put(store, "a.txt", b"same bytes")
    again, _ = sensor_tick(bucket)
    [request] = again.run_requests
    assert request.run_key != first.run_requests[0].run_key


def test_a_listing_error_skips_the_tick_and_deletes_nothing(bucket) -> None:
    store, state = bucket
    put(store, "a.txt", b"text")
    sensor_tick(bucket)
    dead = store.model_copy(update={"endpoint": "127.0.0.1:1", "timeout_s": 2.0})
    result, _ = sensor_tick((dead, state))
    assert isinstance(result, dg.SkipReason)
    assert "listing bucket" in result.skip_message and "nothing changed" in result.skip_message
    after, _ = sensor_tick(bucket)
    assert not after.run_requests


def test_evaluating_the_bucket_records_nothing(bucket) -> None:
    store, state = bucket
    put(store, "a.txt", b"text")
    tick = evaluate_books_bucket(store, state, SensorLog())
    assert [o.object_key for o in tick.upserts] == ["a.txt"] and tick.deleted == []
    assert state.seen() == {}


def test_a_tick_whose_result_is_lost_requests_the_same_books_again(bucket) -> None:
    store, state = bucket
    put(store, "a.txt", b"text")
    committed, _ = sensor_tick(bucket)
    put(store, "b.txt", b"more text")
    # The daemon evaluates a tick but never stores its cursor (it crashed, the write failed).
    lost = evaluate_tick(store, state, SensorLog(), committed.cursor)
    assert set(ingest_requests(lost)) == {"b.txt"}
    again, _ = sensor_tick(bucket)
    assert set(ingest_requests(again)) == {"b.txt"}
    assert again.run_requests[0].run_key == lost.run_requests[0].run_key
    assert [p.partition_keys for p in again.dynamic_partitions_requests] == [["b.txt"]]
    after, _ = sensor_tick(bucket)
    assert not after.run_requests


def test_books_ingested_through_the_cli_are_not_requested_again(
    bucket, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, state = bucket
    monkeypatch.setenv("HBI_BOOKS_BUCKET", store.books_bucket)
    monkeypatch.setenv("HBI_STATE_PATH", state.path)
    book = tmp_path / f"cli-added-{uuid.uuid4().hex[:8]}.txt"
    book.write_text("CHAPTER I.\nOne\n\nText of a book ingested through the CLI.")
    [added] = add_books((book,))
    try:
        [outcome] = materialize_books([added["book_id"]])
        assert outcome["success"], outcome["errors"]
        result, _ = sensor_tick(bucket)
        assert isinstance(result, dg.SensorResult) and not result.run_requests
        assert not result.dynamic_partitions_requests
        assert "no change in 1 objects" in result.skip_reason.skip_message
    finally:
        with dg.DagsterInstance.get() as instance:
            instance.delete_dynamic_partition("books", added["book_id"])


def test_books_only_added_through_the_cli_are_left_to_the_sensor(
    bucket, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, state = bucket
    monkeypatch.setenv("HBI_BOOKS_BUCKET", store.books_bucket)
    monkeypatch.setenv("HBI_STATE_PATH", state.path)
    book = tmp_path / f"cli-added-{uuid.uuid4().hex[:8]}.txt"
    book.write_text("CHAPTER I.\nOne\n\nText.")
    [added] = add_books((book,))
    try:
        result, _ = sensor_tick(bucket)
        assert set(ingest_requests(result)) == {added["book_id"]}
    finally:
        with dg.DagsterInstance.get() as instance:
            instance.delete_dynamic_partition("books", added["book_id"])


def test_ten_thousand_objects_fit_in_a_tick(bucket) -> None:
    store = bucket[0]
    client = store.client()
    keys = [f"shelf/book-{i:05d}.txt" for i in range(10_000)]

    def upload(key: str) -> None:
        import io

        client.put_object(store.books_bucket, key, io.BytesIO(b"x"), 1)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(upload, keys))
    result, _ = sensor_tick(bucket)
    assert len(result.run_requests) == 10_000
    assert len(result.dynamic_partitions_requests[0].partition_keys) == 10_000
    again, _ = sensor_tick(bucket)
    assert not again.run_requests
    assert json.loads(again.cursor)["objects"] == 10_000
