"""Books whose last run failed on the book itself, recorded in the backups bucket.

`failures/<book id>.json` holds the object key and ETag that failed, the error's kind and
reason, and when; the book's next successful run removes it. The library view lists these
beside the indexed books, so a book that cannot be read says why instead of going missing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from minio.error import S3Error

from hbi.storage.object_store import ObjectStoreClient

FAILURES_PREFIX = "failures/"


def failure_key(book_id: str) -> str:
    """Return the key of the book's failure record in the backups bucket."""
    return f"{FAILURES_PREFIX}{book_id}.json"


def record_failure(
    store: ObjectStoreClient,
    book_id: str,
    object_key: str,
    etag: str | None,
    kind: str,
    reason: str,
    message: str,
) -> dict:
    """Write (or overwrite) the book's failure record; return it."""
    record = {
        "book_id": book_id,
        "object_key": object_key,
        "etag": etag,
        "kind": kind,
        "reason": reason,
        "message": message,
        "failed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    data = json.dumps(record, ensure_ascii=False, sort_keys=True).encode()
    store.put_bytes(store.backups_bucket, failure_key(book_id), data, "application/json")
    return record


def clear_failure(store: ObjectStoreClient, book_id: str) -> None:
    """Remove the book's failure record; nothing happens when it has none."""
    # One key, not a prefix: "failures/a.json" is a prefix of another book's "a.json.pdf.json".
    store.client().remove_object(store.backups_bucket, failure_key(book_id))


def failures(store: ObjectStoreClient) -> list[dict]:
    """Return every failure record, ordered by book id (records gone or unreadable skipped)."""
    records = []
    for obj in store.list_objects(store.backups_bucket, FAILURES_PREFIX):
        try:
            record = json.loads(store.get_bytes(store.backups_bucket, obj.object_name))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                continue  # cleared between the listing and the read
            raise
        except ValueError:
            continue  # not a record HBI wrote
        if isinstance(record, dict) and "book_id" in record:
            records.append(record)
    return sorted(records, key=lambda record: record["book_id"])
