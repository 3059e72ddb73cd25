"""The whole library as a reader sees it: the indexed books, the failed ones and why, and the
ones still waiting to be indexed.

Failed books come from their records in the backups bucket (hbi/bundle/failures.py), pending
ones from the books bucket's listing; both are listed at most once per `ttl_s`, so a library
page that polls does not list the buckets on every request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import apsw

from hbi.books.ids import book_id_for_key, is_book_key
from hbi.bundle.failures import failures
from hbi.index import reads
from hbi.storage.object_store import OBJECT_STORE_ERRORS, ObjectStoreClient

FAILED_FIELDS = ("book_id", "object_key", "kind", "reason", "message", "failed_at")


class LibraryView:
    """Answers `GET /library`: indexed books, plus failed and pending ones from the buckets."""

    def __init__(self, store: Callable[[], ObjectStoreClient | None], ttl_s: float = 5.0):
        self._store = store
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._listed: tuple[float, dict[str, str], list[dict]] | None = None

    def view(self, connection: apsw.Connection) -> dict:
        """Return {"books", "failed", "pending"}; with the buckets out of reach, "errors" too
        and both of those empty."""
        books = reads.book_summaries(connection)
        try:
            listed = self._buckets()
        except OBJECT_STORE_ERRORS as exc:
            return {"books": books, "failed": [], "pending": [], "errors": [f"object store: {exc}"]}
        if listed is None:
            unset = "object store: not configured (HBI_MINIO_*)"
            return {"books": books, "failed": [], "pending": [], "errors": [unset]}
        keys_by_id, failed = listed
        present = set(keys_by_id.values())
        failed = [record for record in failed if record.get("object_key") in present]
        settled = {book["book_id"] for book in books} | {record["book_id"] for record in failed}
        return {
            "books": books,
            "failed": [{field: record.get(field) for field in FAILED_FIELDS} for record in failed],
            "pending": [
                {"book_id": book_id, "object_key": key}
                for book_id, key in sorted(keys_by_id.items())
                if book_id not in settled
            ],
        }

    def _buckets(self) -> tuple[dict[str, str], list[dict]] | None:
        """The books bucket's book objects by id and the failure records, listed at most once
        per ttl_s; None when no object store is configured."""
        with self._lock:
            if self._listed is not None and time.monotonic() - self._listed[0] < self._ttl_s:
                return self._listed[1], self._listed[2]
            store = self._store()
            if store is None:
                return None
            keys_by_id = {
                book_id_for_key(obj.object_name): obj.object_name
                for obj in store.list_objects(store.books_bucket)
                if is_book_key(obj.object_name)
            }
            listed = (time.monotonic(), keys_by_id, failures(store))
            self._listed = listed
            return listed[1], listed[2]
