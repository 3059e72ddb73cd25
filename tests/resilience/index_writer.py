"""Project the library into an index, announcing each batch: the subject of the SIGKILL drill.

    python -m tests.resilience.index_writer INDEX BACKUPS_BUCKET BATCH_SIZE

Runs `hbi.index.projection.project_library` (MinIO from HBI's environment, the library of
BACKUPS_BUCKET) with batches of BATCH_SIZE bundles. Just before each batch goes to the index
writer (`apply_books`, one write transaction) it prints "applying" and the batch's book ids;
at the end it prints the projection's report as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import sys

from hbi.index import projection
from hbi.storage.object_store import ObjectStore

_apply_books = projection.apply_books


def announced_apply_books(connection, books) -> None:
    """Say which books the batch holds, then apply it as the projection would."""
    print("applying", *(book.bundle.book["book_id"] for book in books), flush=True)
    _apply_books(connection, books)


def main(index: str, backups_bucket: str, batch_size: str) -> None:
    store = dataclasses.replace(ObjectStore.from_env(), backups_bucket=backups_bucket)
    projection.apply_books = announced_apply_books
    report = projection.project_library(store, index, batch_size=int(batch_size))
    print(json.dumps(report.as_dict()), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
