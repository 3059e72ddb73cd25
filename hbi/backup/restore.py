"""Bring the library back from the backups bucket: point it at saved bundles, then project them.

A restore is a projection: it checks every bundle it will use (size, SHA-256, rows, model)
before changing anything, points the library at those bundles (`library/` in the backups
bucket), writes each book's subgraph, and projects the index through the one write path
(hbi/index/projection.py). Nothing is extracted. A bundle embedded by another model than this
installation's is refused unless `re_embed`: then its chunks' texts are embedded again and a new
bundle is published, so the index never mixes two models.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hbi.books.listing import SeenObject
from hbi.books.listing_state import ListingState, ListingStateStore
from hbi.bundle.bucket import (
    BackupError,
    bundle_prefix,
    download_bundle,
    download_full_backup,
    full_backup_ids,
    latest_pointer,
    library_listing,
    point_library_at,
    publish_bundle,
    read_full_manifest,
    withdraw_from_library,
)
from hbi.bundle.build import bundle_rows
from hbi.bundle.files import BookBundle, bundle_fingerprint
from hbi.bundle.rows import BookRow, BookRows, ChunkRow, ChunkVectors, SectionRow, TermRow
from hbi.catalog import Catalog, CatalogStore
from hbi.graph.store import Graph, GraphClient
from hbi.index.db import default_index_path
from hbi.index.projection import project_library
from hbi.storage.object_store import ObjectStore, ObjectStoreClient

Embed = Callable[[list[str]], list[ChunkVectors]]


class ModelMismatchError(BackupError):
    """The backup's vectors come from another embedding model than the configured one."""


@dataclass(frozen=True)
class RestoredBook:
    """One restored book, and the bundle the library now points at."""

    book_id: str
    content_hash: str
    embedded: bool
    bundle_fingerprint: str


@dataclass
class RestoreReport:
    """What a restore did: from where, which books, and how long it took."""

    backup_id: str | None
    source: str  # "full" | "bundles"
    model_id: str
    re_embedded: bool
    books: list[RestoredBook] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Services:
    """The stores a restore writes: the bucket, this home's index, the graph, catalog, state."""

    store: ObjectStoreClient
    index_path: str
    graph: GraphClient
    catalog: CatalogStore
    listing_state: ListingStateStore

    @classmethod
    def from_env(cls) -> Services:
        """Return the stores of the current HBI_HOME and stack environment."""
        return cls(
            store=ObjectStore.from_env(),
            index_path=default_index_path(),
            graph=Graph.from_env(),
            catalog=Catalog(),
            listing_state=ListingState(),
        )


def choose_backup(store: ObjectStoreClient, backup_id: str | None) -> str:
    """Return the backup to restore: the one named, or the newest complete one."""
    if backup_id:
        return backup_id
    ids = full_backup_ids(store)
    if not ids:
        raise BackupError(f"no full backup in s3://{store.backups_bucket}/full/ to restore")
    return ids[0]


def check_model(backup_model: str, configured_model: str, what: str, re_embed: bool) -> bool:
    """Return whether vectors must be recomputed; raise ModelMismatchError if not allowed to."""
    if backup_model == configured_model or not backup_model:
        return False
    if re_embed:
        return True
    raise ModelMismatchError(
        f"{what} holds vectors from {backup_model!r}, but this installation embeds with "
        f"{configured_model!r}; restoring them would mix two models in one index. Restore "
        "with --re-embed to keep the text and ToC graph and compute new vectors instead."
    )


def restore_full(
    services: Services,
    backup_id: str | None,
    model_id: str,
    workdir: Path,
    re_embed: bool = False,
    embed: Embed | None = None,
) -> RestoreReport:
    """Make the library what a full backup (newest when backup_id is None) recorded."""
    started = time.perf_counter()
    backup = choose_backup(services.store, backup_id)
    manifest = download_full_backup(services.store, backup, workdir / "full")
    fingerprints = {b: entry["fingerprint"] for b, entry in manifest["books"].items()}
    bundles = _verified_bundles(services.store, fingerprints, workdir)
    report = _restore(services, bundles, fingerprints, backup, "full", model_id, re_embed, embed)
    for book_id in sorted(set(library_listing(services.store)) - set(bundles)):
        withdraw_from_library(services.store, book_id)
    services.graph.delete_orphans(set(bundles))
    project_library(services.store, services.index_path, model_id=model_id)
    services.catalog.restore_parquet(workdir / "full" / "catalog.parquet")
    report.counts = manifest["counts"]
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def restore_books(
    services: Services,
    book_ids: list[str],
    backup_id: str | None,
    model_id: str,
    workdir: Path,
    re_embed: bool = False,
    embed: Embed | None = None,
) -> RestoreReport:
    """Put books back in the library from their bundles: the ones a full backup references when
    backup_id is given, otherwise each book's newest bundle."""
    started = time.perf_counter()
    fingerprints = _bundle_choice(services.store, book_ids, backup_id)
    bundles = _verified_bundles(services.store, fingerprints, workdir)
    report = _restore(
        services, bundles, fingerprints, backup_id, "bundles", model_id, re_embed, embed
    )
    project_library(services.store, services.index_path, book_ids=book_ids, model_id=model_id)
    report.counts = {
        "books": len(bundles),
        "chunks": sum(len(b.chunks) for b in bundles.values()),
        "vectors": sum(len(b.chunk_ids) for b in bundles.values()),
    }
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _verified_bundles(
    store: ObjectStoreClient, fingerprints: dict[str, str], workdir: Path
) -> dict[str, BookBundle]:
    """Download and verify every bundle before anything is changed; BackupError names the bad."""
    return {
        book_id: download_bundle(store, book_id, fingerprint, workdir / "bundles" / book_id)
        for book_id, fingerprint in sorted(fingerprints.items())
    }


def _restore(
    services: Services,
    bundles: dict[str, BookBundle],
    fingerprints: dict[str, str],
    backup_id: str | None,
    source: str,
    model_id: str,
    re_embed: bool,
    embed: Embed | None,
) -> RestoreReport:
    """Check models, re-embed where asked, point the library at the bundles, write the graph."""
    recompute = {
        book_id: check_model(bundle.model_id, model_id, f"{book_id}'s bundle", re_embed)
        for book_id, bundle in bundles.items()
    }
    if any(recompute.values()) and embed is None:
        raise BackupError("re-embedding needs the embedding model; none was given")
    report = RestoreReport(backup_id, source, model_id, re_embedded=any(recompute.values()))
    for book_id, bundle in bundles.items():
        fingerprint = fingerprints[book_id]
        book = bundle.book
        if recompute[book_id]:
            bundle, _ = bundle_rows(_rows_of(bundle), embed, model_id, {})
            fingerprint = bundle_fingerprint(bundle)
            publish_bundle(
                services.store,
                bundle,
                fingerprint,
                object_key=book["object_key"],
                etag=book["etag"] or "",
            )
        else:
            point_library_at(
                services.store,
                {
                    "book_id": book_id,
                    "fingerprint": fingerprint,
                    "prefix": bundle_prefix(book_id, fingerprint),
                    "content_hash": book["content_hash"],
                    "model_id": bundle.model_id,
                    "object_key": book["object_key"],
                    "etag": book["etag"] or "",
                },
            )
        services.graph.project_bundle(bundle)
        report.books.append(
            RestoredBook(
                book_id,
                book["content_hash"],
                embedded=len(bundle.chunk_ids) == len(bundle.chunks),
                bundle_fingerprint=fingerprint,
            )
        )
    seed_listing_state(services.listing_state, [b.book for b in bundles.values()])
    return report


def _rows_of(bundle: BookBundle) -> BookRows:
    """Return a bundle's rows in the shapes a bundle is built from."""

    def build(cls, row: dict):
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    return BookRows(
        book=build(BookRow, bundle.book),
        sections=[build(SectionRow, s) for s in bundle.sections],
        chunks=[build(ChunkRow, c) for c in bundle.chunks],
        terms=[build(TermRow, t) for t in bundle.terms],
    )


def _bundle_choice(
    store: ObjectStoreClient, book_ids: list[str], backup_id: str | None
) -> dict[str, str]:
    """Return the bundle fingerprint to restore for each book, or raise naming the missing."""
    if backup_id:
        books = read_full_manifest(store, backup_id)["books"]
        chosen = {b: (books.get(b) or {}).get("fingerprint") for b in book_ids}
        where = f"full backup {backup_id}"
    else:
        chosen = {b: (latest_pointer(store, b) or {}).get("fingerprint") for b in book_ids}
        where = "the backups bucket"
    missing = sorted(b for b, fingerprint in chosen.items() if not fingerprint)
    if missing:
        raise BackupError(f"no bundle in {where} for: {', '.join(missing)}")
    return chosen


def seed_listing_state(state: ListingStateStore, books: list[dict]) -> None:
    """Record each restored book's object as seen by the books sensor, with its ETag.

    The sensor then treats an object that still has that ETag as unchanged (no re-ingest),
    re-ingests one that changed since the backup, and removes a book whose object is gone.
    """
    keys = [b["object_key"] for b in books]
    generations = state.generations(keys)
    seen = [
        SeenObject(key, b["etag"] or "", b["book_id"], generations.get(key, 1))
        for key, b in zip(keys, books, strict=True)
    ]
    state.record(seen, [])
