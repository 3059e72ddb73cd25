"""Rebuild the local indexes from the backups bucket, without extracting or embedding anything.

A full restore copies a full backup's index snapshot into the index file (SQLite's backup API,
so processes that have the index open see the restored content), replaces the DuckDB catalog
with the backup's rows, and rebuilds every book's Neo4j subgraph from the restored index rows,
as the ToC-graph asset builds it. A per-book restore writes one book from its bundle.

Both refuse a backup whose checksums fail, or whose vectors come from another embedding model
than the configured one unless `re_embed` is set: then text and graph are restored, the old
vectors are dropped, and the caller runs the embedding step.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import apsw

from hbi.backup_store import (
    BackupError,
    download_bundle,
    download_full_backup,
    full_backup_ids,
    latest_pointer,
    read_full_manifest,
)
from hbi.bundle import BookBundle
from hbi.index_db import connect, delete_book_vectors, write_transaction
from hbi.listing import SeenObject
from hbi.records import BookRow, BookRows, ChunkRow, SectionRow, TermRow
from hbi.snapshot import indexed_books
from hbi_resources.catalog import CatalogResource
from hbi_resources.graph import GraphResource
from hbi_resources.listing_state import ListingStateResource
from hbi_resources.object_store import ObjectStoreResource
from hbi_resources.text_index import TextIndexResource
from hbi_resources.vector_index import VectorIndexResource


class ModelMismatchError(BackupError):
    """The backup's vectors come from another embedding model than the configured one."""


@dataclass(frozen=True)
class RestoredBook:
    """One restored book, and which of its per-book assets are now current."""

    book_id: str
    content_hash: str
    embedded: bool
    bundle_fingerprint: str | None


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
    """The resources a restore writes through."""

    store: ObjectStoreResource
    text_index: TextIndexResource
    vector_index: VectorIndexResource
    graph: GraphResource
    catalog: CatalogResource
    listing_state: ListingStateResource

    @classmethod
    def from_env(cls) -> Services:
        """Return the resources of the current HBI_HOME and stack environment."""
        return cls(
            store=ObjectStoreResource.from_env(),
            text_index=TextIndexResource(),
            vector_index=VectorIndexResource(),
            graph=GraphResource.from_env(),
            catalog=CatalogResource(),
            listing_state=ListingStateResource(),
        )


def choose_backup(store: ObjectStoreResource, backup_id: str | None) -> str:
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
) -> RestoreReport:
    """Restore index, catalog and graph from a full backup (newest when backup_id is None)."""
    started = time.perf_counter()
    backup = choose_backup(services.store, backup_id)
    manifest = download_full_backup(services.store, backup, workdir)
    snapshot = connect(workdir / "index.sqlite", readonly=True)
    in_backup = indexed_books(snapshot)
    snapshot.close()
    # Checked before anything local is touched: a refused restore changes nothing.
    other_models = {b["model_id"] for b in in_backup if b["model_id"]} - {model_id}
    if other_models:
        check_model(", ".join(sorted(other_models)), model_id, f"full backup {backup}", re_embed)
    copy_index(workdir / "index.sqlite", Path(services.text_index.file_path()))
    connection = services.text_index.connect()
    stale = [b["book_id"] for b in in_backup if b["model_id"] in other_models]
    for book_id in stale:
        drop_book_vectors(connection, book_id)
    books = indexed_books(connection)
    services.catalog.restore_parquet(workdir / "catalog.parquet")
    services.graph.delete_orphans(set())
    for book in books:
        services.graph.replace_book_from_index(services.text_index, book["book_id"])
    seed_listing_state(services.listing_state, books)
    restored = [
        RestoredBook(
            book["book_id"],
            book["content_hash"],
            embedded=book["chunk_count"] == book["vectors"] and book["model_id"] == model_id,
            bundle_fingerprint=(manifest["books"].get(book["book_id"]) or {}).get("fingerprint"),
        )
        for book in books
    ]
    return RestoreReport(
        backup_id=backup,
        source="full",
        model_id=manifest["model_id"],
        re_embedded=bool(stale),
        books=restored,
        counts=manifest["counts"],
        seconds=round(time.perf_counter() - started, 3),
    )


def restore_books(
    services: Services,
    book_ids: list[str],
    backup_id: str | None,
    model_id: str,
    workdir: Path,
    re_embed: bool = False,
) -> RestoreReport:
    """Restore books from their per-book bundles: the ones a full backup references when
    backup_id is given, otherwise each book's newest bundle."""
    started = time.perf_counter()
    fingerprints = _bundle_choice(services.store, book_ids, backup_id)
    bundles = {
        book_id: download_bundle(services.store, book_id, fingerprint, workdir / book_id)
        for book_id, fingerprint in fingerprints.items()
    }
    recompute = {
        book_id: check_model(bundle.model_id, model_id, f"{book_id}'s bundle", re_embed)
        for book_id, bundle in bundles.items()
    }
    restored = []
    for book_id, bundle in bundles.items():
        write_bundle_rows(services, bundle, with_vectors=not recompute[book_id])
        restored.append(
            RestoredBook(
                book_id,
                bundle.book["content_hash"],
                embedded=not recompute[book_id] and len(bundle.chunk_ids) == len(bundle.chunks),
                bundle_fingerprint=fingerprints[book_id],
            )
        )
    seed_listing_state(services.listing_state, [b.book for b in bundles.values()])
    return RestoreReport(
        backup_id=backup_id,
        source="bundles",
        model_id=model_id,
        re_embedded=any(recompute.values()),
        books=restored,
        counts={
            "books": len(bundles),
            "chunks": sum(len(b.chunks) for b in bundles.values()),
            "vectors": sum(len(b.chunk_ids) for i, b in bundles.items() if not recompute[i]),
        },
        seconds=round(time.perf_counter() - started, 3),
    )


def _bundle_choice(
    store: ObjectStoreResource, book_ids: list[str], backup_id: str | None
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


def copy_index(snapshot: Path, index_path: Path) -> None:
    """Copy a verified index snapshot over the index with SQLite's backup API.

    The copy is one write transaction on the target, so other connections see the old index
    or the restored one. A target too damaged to open is reported with what to do about it.
    """
    source = apsw.Connection(str(snapshot), flags=apsw.SQLITE_OPEN_READONLY)
    result = source.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise BackupError(f"{snapshot.name}: the snapshot fails integrity_check: {result}")
    try:
        target = connect(index_path)
        with target.backup("main", source, "main") as backup:
            backup.step(-1)
    except apsw.Error as exc:
        raise BackupError(
            f"{index_path}: cannot write the index ({exc}); if it is damaged, run "
            "`hbi wipe --indexes --yes` and restore again"
        ) from exc
    finally:
        source.close()
    target.close()


def drop_book_vectors(connection: apsw.Connection, book_id: str) -> None:
    """Delete one book's vectors and embedding record (its text stays)."""
    with write_transaction(connection):
        delete_book_vectors(connection, book_id)
        connection.execute("DELETE FROM book_embeddings WHERE book_id = ?", (book_id,))


def bundle_rows(bundle: BookBundle) -> BookRows:
    """Return a bundle's rows in the shapes the text index is written from."""

    def build(cls, row: dict):
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    return BookRows(
        book=build(BookRow, bundle.book),
        sections=[build(SectionRow, s) for s in bundle.sections],
        chunks=[build(ChunkRow, c) for c in bundle.chunks],
        terms=[build(TermRow, t) for t in bundle.terms],
    )


def write_bundle_rows(services: Services, bundle: BookBundle, with_vectors: bool) -> None:
    """Write one book's bundle into the text index, the vectors and the graph."""
    book_id = bundle.book["book_id"]
    services.text_index.replace_book(bundle_rows(bundle), bundle.book["etag"])
    if with_vectors:
        services.vector_index.write_vectors(book_id, bundle.model_id, bundle.chunk_vectors())
    else:
        drop_book_vectors(services.text_index.connect(), book_id)
    services.graph.replace_book_from_index(services.text_index, book_id)


def seed_listing_state(state: ListingStateResource, books: list[dict]) -> None:
    """Record each restored book's object as seen by the books sensor, with its indexed ETag.

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
