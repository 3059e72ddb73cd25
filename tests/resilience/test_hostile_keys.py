"""Object keys with spaces, Unicode, dots, great length, and keys that share a book id.

The id rule (hbi/books/ids.py) suffixes unclean keys with 40 bits of their SHA-256, so two keys
can share an id, rarely but for real: COLLIDING_KEYS were found by hashing 4 million spellings
of one title. The sensor keeps such an id for one object and reports the other every tick
instead of letting one book overwrite the other.
"""

from __future__ import annotations

import json

import dagster as dg
import pytest
from minio.error import S3Error

from hbi.books.ids import book_id_for_key
from hbi.books.listing import IdCollision, SeenObject, diff_listing
from hbi.cli.sync import sync_once
from hbi.index import reads
from hbi.index.db import connect, default_index_path
from hbi_resources.object_store import ObjectStoreResource
from hbi_resources.search import SearchResource
from tests.conftest import sensor_tick
from tests.resilience.conftest import upload

# Found by brute force: the same title in different capitals, one book id.
COLLIDING_KEYS = (
    "SuN tzU - thE arT of WAr (lioNEl giles).md",
    "Sun TzU - ThE Art of wAR (liOnEl giles).md",
)
HOLDER, LATECOMER = COLLIDING_KEYS
SHARED_ID = "sun-tzu-the-art-of-war-lionel-giles-.md-2263e889eb"
# A key of 1,000 bytes: MinIO refuses a path segment over 255 bytes, so it has folders.
LONG_KEY = "/".join(["v" * 199] * 5)[:997] + ".md"


def is_book(key: str) -> bool:
    return key.endswith(".md")


def test_two_different_keys_can_share_a_book_id() -> None:
    assert HOLDER != LATECOMER
    assert book_id_for_key(HOLDER) == book_id_for_key(LATECOMER) == SHARED_ID


def test_the_second_key_with_an_id_is_reported_not_indexed() -> None:
    diff = diff_listing({HOLDER: "e1", LATECOMER: "e2"}, {}, is_book)
    assert diff.added == [(HOLDER, "e1")]
    assert diff.collisions == [IdCollision(LATECOMER, SHARED_ID, HOLDER)]


def test_a_key_seen_before_keeps_its_id_against_a_new_one() -> None:
    seen = {LATECOMER: SeenObject(LATECOMER, "e2", SHARED_ID, 1)}
    diff = diff_listing({HOLDER: "e1", LATECOMER: "e2"}, seen, is_book)
    assert not diff.added and not diff.changed
    assert diff.collisions == [IdCollision(HOLDER, SHARED_ID, LATECOMER)]


def test_when_the_holder_goes_the_other_key_takes_its_id_over() -> None:
    seen = {HOLDER: SeenObject(HOLDER, "e1", SHARED_ID, 1)}
    diff = diff_listing({LATECOMER: "e2"}, seen, is_book)
    assert diff.added == [(LATECOMER, "e2")]
    assert [obj.object_key for obj in diff.deleted] == [HOLDER]
    assert diff.removals == []


def test_two_keys_indexed_under_one_id_before_leave_the_remaining_one_reindexed() -> None:
    seen = {key: SeenObject(key, "e", SHARED_ID, 1) for key in COLLIDING_KEYS}
    diff = diff_listing({HOLDER: "e"}, seen, is_book)
    assert diff.changed == [(HOLDER, "e")]
    assert diff.removals == []


def test_a_collision_names_both_keys_and_the_way_out() -> None:
    message = str(IdCollision(LATECOMER, SHARED_ID, HOLDER))
    assert LATECOMER in message and HOLDER in message and SHARED_ID in message
    assert "not indexed" in message and "rename one" in message


@pytest.mark.integration
@pytest.mark.parametrize(
    "key",
    ["a/../b.md", "../b.md", "x" * 1000 + ".md", "k" * 1030 + ".md", "a//b.md"],
    ids=[
        "dot-dot-segment",
        "leading-dot-dot",
        "1000-byte-segment",
        "over-1024-bytes",
        "empty-segment",
    ],
)
def test_keys_minio_refuses_never_reach_the_bucket(bucket, key: str) -> None:
    store = bucket[0]
    with pytest.raises((ValueError, S3Error)):
        upload(store, key, b"# T\n\nText.")
    assert not list(store.list_objects(store.books_bucket))


@pytest.mark.integration
def test_colliding_keys_through_the_sensor_keep_one_book_and_report_the_other(bucket) -> None:
    store, state = bucket
    upload(store, HOLDER, b"# Holder\n\nThe first book.")
    upload(store, LATECOMER, b"# Latecomer\n\nThe second book.")
    result, log = sensor_tick(bucket)
    [request] = result.run_requests
    assert request.partition_key == SHARED_ID and request.tags["hbi/object_key"] == HOLDER
    assert [o.object_key for o in state.seen().values() if o.book_id == SHARED_ID] == [HOLDER]
    assert json.loads(result.cursor)["collisions"] == 1
    assert any("book id collision" in line and LATECOMER in line for line in log.lines)

    again, _ = sensor_tick(bucket)
    assert not again.run_requests
    assert LATECOMER in again.skip_reason.skip_message

    store.client().remove_object(store.books_bucket, HOLDER)
    takeover, _ = sensor_tick(bucket)
    [request] = takeover.run_requests
    assert request.partition_key == SHARED_ID and request.tags["hbi/object_key"] == LATECOMER


UNUSUAL_KEYS = {
    "With Spaces/My Book (2nd ed.).md": "quillwort",
    "Ünïcödé/Émile Zola – L’Assommoir.md": "gallimaufry",
    "dots..in..the..name.md": "sesquipedal",
    LONG_KEY: "tatterdemalion",
    HOLDER: "borborygmus",
    LATECOMER: "collywobbles",
}


@pytest.mark.integration
def test_unusual_keys_are_indexed_under_their_ids_through_dagster(stack, synced_bucket) -> None:
    for key, word in UNUSUAL_KEYS.items():
        upload(synced_bucket, key, f"# {word.title()}\n\nThe word {word} is here.\n".encode())
    report = sync_once()
    assert report["tick"]["added"] == len(UNUSUAL_KEYS) - 1
    assert report["tick"]["collisions"] == 1
    assert all(run["success"] for run in report["runs"]), report["runs"]
    search, index = SearchResource(), connect(default_index_path())
    for key, word in UNUSUAL_KEYS.items():
        hits = {hit.book_id for hit in search.search(word, mode="lexical", k=10).hits}
        if key == LATECOMER:
            assert not hits
        else:
            assert hits == {book_id_for_key(key)}
            assert reads.book(index, book_id_for_key(key))["object_key"] == key


def test_hbi_add_refuses_a_key_whose_id_another_book_holds(stack, tmp_path) -> None:
    import click

    from hbi.cli.books import add_books

    book = tmp_path / "book.md"
    book.write_text("# A book\n\nSome text.")
    store = ObjectStoreResource.from_env()
    [added] = add_books((book,), key=HOLDER)
    try:
        with pytest.raises(click.ClickException, match="already belongs to"):
            add_books((book,), key=LATECOMER)
        assert not store.exists(store.books_bucket, LATECOMER)
        assert add_books((book,), key=HOLDER)[0]["book_id"] == SHARED_ID
    finally:
        store.client().remove_object(store.books_bucket, added["object_key"])
        with dg.DagsterInstance.get() as instance:
            instance.delete_dynamic_partition("books", SHARED_ID)
