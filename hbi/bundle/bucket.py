"""The backups bucket as HBI lays it out, read and pruned through the object store resource.

```
books/<book id>/<fingerprint>/*.parquet, manifest.json     (per-book bundles, the source of truth)
books/<book id>/LATEST.json                                 (the book's newest bundle, kept after
                                                             the book leaves the library)
library/<book id>.json                                      (the books in the library now, each
                                                             naming its bundle)
sources/<file SHA-256>.json                                 (the newest bundle of that file, so a
                                                             renamed file reuses its vectors)
full/<backup id>/catalog.parquet, manifest.json             (a dated list of the library's bundles)
failures/<book id>.json                                     (why the book's last run failed, until
                                                             it next succeeds: failures.py)
```

A folder counts only once its manifest.json is there: uploads write it last. The indexes are
projections of `library/`: a replica lists it, compares each pointer's ETag with what it holds,
and applies the bundles that changed (hbi/index/projection.py).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hbi.backup.retention import backup_time
from hbi.bundle.files import BookBundle, BundleError, read_bundle, sha256_file, write_bundle
from hbi.storage.object_store import ObjectStoreClient

FULL_PREFIX = "full/"
BOOKS_PREFIX = "books/"
LIBRARY_PREFIX = "library/"
SOURCES_PREFIX = "sources/"


class BackupError(RuntimeError):
    """A backup is missing, incomplete, or does not match its manifest."""


def full_prefix(backup_id: str) -> str:
    return f"{FULL_PREFIX}{backup_id}/"


def bundle_prefix(book_id: str, fingerprint: str) -> str:
    """Return where a book's bundle of that fingerprint lives in the backups bucket."""
    return f"{BOOKS_PREFIX}{book_id}/{fingerprint}/"


def pointer_key(book_id: str) -> str:
    """Return the key of the book's newest-bundle pointer (kept when the book is removed)."""
    return f"{BOOKS_PREFIX}{book_id}/LATEST.json"


def source_key(content_hash: str) -> str:
    """Return the key that names the newest bundle made from a book file with that SHA-256."""
    return f"{SOURCES_PREFIX}{content_hash}.json"


def bundle_of_source(store: ObjectStoreClient, content_hash: str) -> dict | None:
    """Return {book_id, fingerprint} of the newest bundle made from that file, if any."""
    key = source_key(content_hash)
    if not store.exists(store.backups_bucket, key):
        return None
    return json.loads(store.get_bytes(store.backups_bucket, key))


def library_key(book_id: str) -> str:
    """Return the key of the pointer that puts the book in the library."""
    return f"{LIBRARY_PREFIX}{book_id}.json"


@dataclass(frozen=True)
class PublishedBundle:
    """Where a book's bundle lives, and whether this call wrote it or found it there."""

    pointer: dict
    reused: bool
    bytes_written: int


def publish_bundle(
    store: ObjectStoreClient, bundle: BookBundle, fingerprint: str, *, object_key: str, etag: str
) -> PublishedBundle:
    """Store the bundle (unless that fingerprint is there) and point the library at it.

    The bundle's files go first, then its manifest, then LATEST.json, then the library pointer,
    so a replica never sees a pointer to a bundle that is not whole.
    """
    book_id = bundle.book["book_id"]
    prefix = bundle_prefix(book_id, fingerprint)
    bucket = store.backups_bucket
    reused = store.exists(bucket, prefix + "manifest.json")
    size = 0
    if not reused:
        with tempfile.TemporaryDirectory(prefix="hbi-bundle-") as tmp:
            folder = Path(tmp)
            manifest = write_bundle(folder, bundle)
            size = store.upload_with_manifest(bucket, prefix, folder, list(manifest["files"]))
    pointer = {
        "book_id": book_id,
        "fingerprint": fingerprint,
        "prefix": prefix,
        "content_hash": bundle.book["content_hash"],
        "model_id": bundle.model_id,
        "object_key": object_key,
        "etag": etag,
    }
    point_library_at(store, pointer)
    store.put_bytes(
        store.backups_bucket,
        source_key(pointer["content_hash"]),
        json.dumps({"book_id": book_id, "fingerprint": fingerprint}).encode(),
        "application/json",
    )
    return PublishedBundle(pointer, reused, size)


def point_library_at(store: ObjectStoreClient, pointer: dict) -> str:
    """Make the pointer the book's newest bundle and its place in the library; return its ETag."""
    data = json.dumps(pointer, sort_keys=True).encode()
    store.put_bytes(store.backups_bucket, pointer_key(pointer["book_id"]), data, "application/json")
    return store.put_bytes(
        store.backups_bucket, library_key(pointer["book_id"]), data, "application/json"
    )


def withdraw_from_library(store: ObjectStoreClient, book_id: str) -> None:
    """Take the book out of the library; its bundles and LATEST.json stay for restores."""
    store.delete_prefix(store.backups_bucket, library_key(book_id))


def library_listing(store: ObjectStoreClient) -> dict[str, str]:
    """Return the books in the library with the ETag of each one's pointer (one listing)."""
    found = {}
    for obj in store.list_objects(store.backups_bucket, LIBRARY_PREFIX):
        name = obj.object_name[len(LIBRARY_PREFIX) :]
        if name.endswith(".json") and "/" not in name:
            found[name[: -len(".json")]] = obj.etag
    return found


def library_pointer(store: ObjectStoreClient, book_id: str) -> dict | None:
    """Return the book's library pointer, or None when the book is not in the library."""
    key = library_key(book_id)
    if not store.exists(store.backups_bucket, key):
        return None
    return json.loads(store.get_bytes(store.backups_bucket, key))


def fetch_bundle(store: ObjectStoreClient, book_id: str, fingerprint: str) -> BookBundle:
    """Download and verify one bundle into a scratch folder that is gone on return."""
    with tempfile.TemporaryDirectory(prefix="hbi-bundle-") as tmp:
        return download_bundle(store, book_id, fingerprint, Path(tmp))


def full_backup_ids(store: ObjectStoreClient) -> list[str]:
    """Return the ids of complete full backups (those with a manifest), newest first."""
    ids = []
    for obj in store.list_objects(store.backups_bucket, FULL_PREFIX):
        parts = obj.object_name[len(FULL_PREFIX) :].split("/")
        if len(parts) == 2 and parts[1] == "manifest.json":
            ids.append(parts[0])
    return sorted(ids, key=lambda b: (backup_time(b), b), reverse=True)


def read_full_manifest(store: ObjectStoreClient, backup_id: str) -> dict:
    """Return a full backup's manifest; BackupError when there is no such complete backup."""
    key = full_prefix(backup_id) + "manifest.json"
    if not store.exists(store.backups_bucket, key):
        raise BackupError(f"no full backup {backup_id!r} in s3://{store.backups_bucket}/")
    return json.loads(store.get_bytes(store.backups_bucket, key))


def describe_full_backups(store: ObjectStoreClient) -> list[dict]:
    """Return a summary of every complete full backup, newest first."""
    summaries = []
    for backup_id in full_backup_ids(store):
        manifest = read_full_manifest(store, backup_id)
        summaries.append(
            {
                "backup_id": backup_id,
                "created_at": manifest["created_at"],
                "hbi_version": manifest["hbi_version"],
                "model_id": manifest["model_id"],
                "books": len(manifest["books"]),
                "bytes": sum(f["bytes"] for f in manifest["files"].values()),
                "counts": manifest["counts"],
                "location": f"s3://{store.backups_bucket}/{full_prefix(backup_id)}",
            }
        )
    return summaries


def download_full_backup(store: ObjectStoreClient, backup_id: str, folder: Path) -> dict:
    """Download a full backup into folder, verify every file against the manifest, return it."""
    manifest = read_full_manifest(store, backup_id)
    folder.mkdir(parents=True, exist_ok=True)
    for name in manifest["files"]:
        key = full_prefix(backup_id) + name
        if not store.exists(store.backups_bucket, key):
            raise BackupError(f"full backup {backup_id}: {name} is missing from the bucket")
        store.get_file(store.backups_bucket, key, str(folder / name))
    verify_files(folder, manifest, f"full backup {backup_id}")
    return manifest


def verify_files(folder: Path, manifest: dict, what: str) -> None:
    """Raise BackupError unless every file in the manifest has its size and SHA-256."""
    for name, expected in manifest["files"].items():
        path = folder / name
        if path.stat().st_size != expected["bytes"]:
            raise BackupError(
                f"{what}: {name} has {path.stat().st_size} bytes, manifest says {expected['bytes']}"
            )
        if sha256_file(path) != expected["sha256"]:
            raise BackupError(f"{what}: {name} does not match its SHA-256 in the manifest")


def delete_full_backup(store: ObjectStoreClient, backup_id: str) -> int:
    """Delete a full backup, manifest first so it never looks complete; return objects deleted."""
    prefix = full_prefix(backup_id)
    deleted = store.delete_prefix(store.backups_bucket, prefix + "manifest.json")
    return deleted + store.delete_prefix(store.backups_bucket, prefix)


def latest_pointer(store: ObjectStoreClient, book_id: str) -> dict | None:
    """Return the book's LATEST.json pointer, or None when it was never backed up."""
    key = pointer_key(book_id)
    if not store.exists(store.backups_bucket, key):
        return None
    return json.loads(store.get_bytes(store.backups_bucket, key))


def download_bundle(
    store: ObjectStoreClient, book_id: str, fingerprint: str, folder: Path
) -> BookBundle:
    """Download and verify one per-book bundle; return its rows (BookBundle)."""
    prefix = bundle_prefix(book_id, fingerprint)
    folder.mkdir(parents=True, exist_ok=True)
    names = [
        obj.object_name[len(prefix) :] for obj in store.list_objects(store.backups_bucket, prefix)
    ]
    if "manifest.json" not in names:
        raise BackupError(f"{book_id}: no complete bundle at s3://{store.backups_bucket}/{prefix}")
    for name in names:
        store.get_file(store.backups_bucket, prefix + name, str(folder / name))
    try:
        return read_bundle(folder)
    except BundleError as exc:
        raise BackupError(f"{book_id}: bundle {fingerprint[:12]}: {exc}") from exc


def bundle_fingerprints(store: ObjectStoreClient) -> dict[str, set[str]]:
    """Return every complete per-book bundle in the bucket, as book id → fingerprints."""
    found: dict[str, set[str]] = {}
    for obj in store.list_objects(store.backups_bucket, BOOKS_PREFIX):
        parts = obj.object_name[len(BOOKS_PREFIX) :].split("/")
        if len(parts) == 3 and parts[2] == "manifest.json":
            found.setdefault(parts[0], set()).add(parts[1])
    return found


def unreferenced_bundles(
    bundles: dict[str, set[str]], library: set[str], kept_manifests: list[dict]
) -> dict[str, set[str]]:
    """Return the bundles retention may delete: those of books no longer in the library that no
    kept full backup references. Bundles of books still in the library are never returned."""
    referenced: dict[str, set[str]] = {}
    for manifest in kept_manifests:
        for book_id, entry in manifest["books"].items():
            referenced.setdefault(book_id, set()).add(entry["fingerprint"])
    return {
        book_id: stale
        for book_id, fingerprints in bundles.items()
        if book_id not in library and (stale := fingerprints - referenced.get(book_id, set()))
    }
