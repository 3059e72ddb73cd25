"""Bring an index in step with the library in the object store: the indexes are projections.

The library is the set of pointers under `library/` in the backups bucket, each naming a book's
bundle. A projection lists them (one S3 listing), compares each pointer's ETag with the one the
index recorded, downloads the bundles that changed and applies them in batches through the one
write path (hbi/index/writer.py); books whose pointer is gone are removed. Any number of homes
can project the same bucket; each ends with the same rows. The graph is shared by every home, so
only book runs and restores write it (`GraphClient.project_bundle`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from hbi.bundle.bucket import BackupError, fetch_bundle, library_listing, library_pointer
from hbi.bundle.files import BookBundle
from hbi.index.db import connect
from hbi.index.writer import ProjectedBook, apply_books, note_pointer, projected, remove_books
from hbi.storage.object_store import ObjectStoreClient

DEFAULT_BATCH = 16
Log = Callable[[str], None]


@dataclass
class ProjectionReport:
    """What one projection pass did to an index."""

    applied: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.applied or self.removed)

    def as_dict(self) -> dict:
        return asdict(self)


def project_library(
    store: ObjectStoreClient,
    index_path: Path | str,
    *,
    book_ids: Iterable[str] | None = None,
    batch_size: int = DEFAULT_BATCH,
    model_id: str | None = None,
    log: Log | None = None,
    verify: bool = False,
) -> ProjectionReport:
    """Apply new and changed books from the library to the index and drop removed ones.

    `book_ids` limits the pass to those books. With `verify`, books whose rows in the index are
    not whole are applied again from their bundles (a count per book; the followers leave it
    to the Dagster asset). A bundle from another model than `model_id` is
    applied without its vectors (its text is searchable; its semantic search waits for a
    re-embedded bundle). A bundle that fails to download or verify is reported in `failed` and
    left as it was in the index; the others are applied.
    """
    started = time.perf_counter()
    connection = connect(index_path)
    try:
        listing = library_listing(store)
        held = projected(connection, verify=verify)
        wanted = set(book_ids) if book_ids is not None else None
        in_scope = (lambda b: b in wanted) if wanted is not None else (lambda b: True)
        report = ProjectionReport()
        gone = sorted(b for b in held if b not in listing and in_scope(b))
        if gone:
            report.removed = remove_books(connection, gone)
        pending: list[ProjectedBook] = []
        for book_id in sorted(b for b in listing if in_scope(b)):
            etag = listing[book_id]
            if held.get(book_id, ("", ""))[1] == etag:
                report.unchanged += 1
                continue
            pointer = library_pointer(store, book_id)
            if pointer is None:
                # Removed since the listing: the next pass drops it if this index holds it.
                continue
            if book_id in held and held[book_id][0] == pointer["fingerprint"]:
                report.unchanged += 1
                note_pointer(connection, book_id, etag)
                continue
            try:
                bundle = fetch_bundle(store, book_id, pointer["fingerprint"])
            except BackupError as exc:  # a bad bundle must not stop the rest of the library
                report.failed[book_id] = str(exc)
                if log:
                    log(f"{book_id}: not projected: {exc}")
                continue
            pending.append(projected_book(bundle, pointer, etag, model_id))
            if len(pending) >= batch_size:
                _apply(connection, pending, report, log)
        _apply(connection, pending, report, log)
    finally:
        connection.close()
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def projected_book(
    bundle: BookBundle, pointer: dict, etag: str, model_id: str | None
) -> ProjectedBook:
    """Return the bundle as the index stores it: with the object key and ETag it now has."""
    book = {**bundle.book, "object_key": pointer["object_key"], "etag": pointer["etag"]}
    return ProjectedBook(
        replace(bundle, book=book),
        pointer["fingerprint"],
        etag,
        with_vectors=model_id is None or bundle.model_id == model_id,
    )


def _apply(connection, pending: list[ProjectedBook], report: ProjectionReport, log) -> None:
    if not pending:
        return
    apply_books(connection, pending)
    ids = [book.bundle.book["book_id"] for book in pending]
    report.applied.extend(ids)
    if log:
        log(f"applied {len(ids)} books: {', '.join(ids)}")
    pending.clear()


def follow(
    store: ObjectStoreClient,
    index_path: Path | str,
    *,
    interval_s: float = 2.0,
    model_id: str | None = None,
    log: Log | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Project the library every `interval_s` seconds until `stop()` is true."""
    while not stop():
        try:
            report = project_library(store, index_path, model_id=model_id, log=log)
            if log and (report.changed or report.failed):
                log(
                    f"applied {len(report.applied)}, removed {len(report.removed)}, "
                    f"failed {len(report.failed)} in {report.seconds}s"
                )
        except Exception as exc:  # a server outage: report it and try again next interval
            if log:
                log(f"projection failed, retrying in {interval_s}s: {type(exc).__name__}: {exc}")
        deadline = time.monotonic() + interval_s
        while time.monotonic() < deadline and not stop():
            time.sleep(min(0.2, interval_s))
