"""The indexed version of a book's file, fetched once from the books bucket and kept on disk.

A page view needs the PDF itself; downloading it for every page would cost the whole file each
time. A file is kept under the home's reader cache, named by its object key and ETag, so a
replaced object is fetched afresh, and only the version the index holds is fetched at all (the
download asks for that ETag). The least recently used files go when the cache passes
`max_bytes`.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from pathlib import Path

from minio.error import S3Error

from hbi.reader.errors import SourceChangedError, SourceUnavailableError
from hbi.storage.object_store import OBJECT_STORE_ERRORS, ObjectStoreClient

DEFAULT_MAX_BYTES = 2 * 1024 * 1024 * 1024


class BookFiles:
    """Fetches books' files from the books bucket into a folder and finds them there again."""

    def __init__(self, store: ObjectStoreClient, folder: Path, max_bytes: int = DEFAULT_MAX_BYTES):
        self.store = store
        self.folder = folder
        self.max_bytes = max_bytes
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def path(self, book: dict) -> Path:
        """The local copy of the indexed book's file (its row: book_id, object_key, etag)."""
        key = f"{book['object_key']}\0{book['etag'] or ''}"
        path = self.folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.book"
        with self._lock_for(path.name):
            if path.exists():
                os.utime(path)  # recently used: kept longest
                return path
            self._download(book, path)
        self._trim(keep=path)
        return path

    def _lock_for(self, name: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(name, threading.Lock())

    def _download(self, book: dict, path: Path) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{uuid.uuid4().hex}.part")
        # Only the version the index was built from: its pages are the ones the index cites.
        headers = {"If-Match": book["etag"]} if book["etag"] else None
        try:
            self.store.client().fget_object(
                self.store.books_bucket,
                book["object_key"],
                str(partial),
                request_headers=headers,
                tmp_file_path=str(partial) + ".minio",
            )
        except S3Error as exc:
            partial.unlink(missing_ok=True)
            if exc.code == "PreconditionFailed":
                raise SourceChangedError(
                    book["book_id"], "the book's file changed since it was indexed"
                ) from exc
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                raise SourceUnavailableError(
                    book["book_id"], "the book's file is no longer in the books bucket"
                ) from exc
            raise SourceUnavailableError(book["book_id"], f"the object store: {exc}") from exc
        except OBJECT_STORE_ERRORS as exc:
            partial.unlink(missing_ok=True)
            raise SourceUnavailableError(book["book_id"], f"the object store: {exc}") from exc
        os.replace(partial, path)

    def _trim(self, keep: Path) -> None:
        """Delete the least recently used files until the folder fits max_bytes."""
        files = []
        for entry in self.folder.glob("*.book"):
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            files.append((stat.st_mtime, stat.st_size, entry))
        total = sum(size for _, size, _ in files)
        for _, size, entry in sorted(files):
            if total <= self.max_bytes:
                break
            if entry != keep:
                entry.unlink(missing_ok=True)
                total -= size
