"""Asset checks that keep the indexes consistent; blocking ones stop bad data going downstream."""

import json
import tempfile
from pathlib import Path

import dagster as dg

from hbi.backup_store import pointer_key
from hbi.bundle import BundleError, verify_bundle
from hbi.chunking import MODEL_TOKEN_LIMIT, SPECIAL_TOKENS
from hbi_assets.books import book_backup, book_embeddings, book_text, book_toc_graph
from hbi_assets.library import library_catalog
from hbi_assets.partitions import books_partitions
from hbi_resources.catalog import CatalogResource
from hbi_resources.graph import GraphResource
from hbi_resources.object_store import ObjectStoreResource
from hbi_resources.text_index import TextIndexResource


@dg.asset_check(asset=book_text, blocking=True, partitions_def=books_partitions)
def chunks_fit_the_model(
    context: dg.AssetCheckExecutionContext, text_index: TextIndexResource
) -> dg.AssetCheckResult:
    """No chunk is longer than the model reads (it would lose its tail to truncation)."""
    budget = MODEL_TOKEN_LIMIT - SPECIAL_TOKENS
    counts = [c["token_count"] for c in text_index.chunks(context.partition_key)]
    over = sum(1 for n in counts if n > budget)
    return dg.AssetCheckResult(
        passed=bool(counts) and over == 0,
        metadata={"chunks": len(counts), "over_limit": over, "max_tokens": max(counts, default=0)},
    )


@dg.asset_check(asset=book_embeddings, blocking=True, partitions_def=books_partitions)
def every_chunk_has_one_vector(
    context: dg.AssetCheckExecutionContext, text_index: TextIndexResource
) -> dg.AssetCheckResult:
    """Each of the book's chunks has exactly one vector, and no (sentence) vector lacks its chunk.

    A sentence vector is only ever written with its chunk's vector, so one without a chunk
    vector is an orphan too.
    """
    connection = text_index.connect()
    book_id = context.partition_key
    chunks, with_vector = connection.execute(
        "SELECT count(*), count(v.chunk_id) FROM chunks c "
        "LEFT JOIN chunk_vectors v ON v.chunk_id = c.chunk_id WHERE c.book_id = ?",
        (book_id,),
    ).fetchone()
    sentences, without_chunk_vector = connection.execute(
        "SELECT count(*), count(*) - count(v.chunk_id) FROM chunks c "
        "JOIN sentence_vectors s ON s.chunk_id = c.chunk_id "
        "LEFT JOIN chunk_vectors v ON v.chunk_id = c.chunk_id WHERE c.book_id = ?",
        (book_id,),
    ).fetchone()
    orphans = connection.execute(
        "SELECT count(*) FROM chunk_vectors WHERE chunk_id NOT IN (SELECT chunk_id FROM chunks)"
    ).fetchone()[0]
    without_chunk = connection.execute(
        "SELECT count(*) FROM sentence_vectors WHERE chunk_id NOT IN (SELECT chunk_id FROM chunks)"
    ).fetchone()[0]
    sentence_orphans = without_chunk_vector + without_chunk
    return dg.AssetCheckResult(
        passed=chunks == with_vector and orphans == 0 and sentence_orphans == 0,
        metadata={
            "chunks": chunks,
            "with_vector": with_vector,
            "sentence_vectors": sentences,
            "orphan_vectors": orphans,
            "orphan_sentence_vectors": sentence_orphans,
        },
    )


@dg.asset_check(asset=book_toc_graph, partitions_def=books_partitions)
def toc_graph_matches_index(
    context: dg.AssetCheckExecutionContext, text_index: TextIndexResource, graph: GraphResource
) -> dg.AssetCheckResult:
    """Section nodes equal extracted ToC entries, and every chunk's section is in the graph."""
    book_id = context.partition_key
    book = text_index.book(book_id)
    toc = graph.toc(book_id)
    in_graph = {s["section_id"] for s in toc}
    needed = {c["section_id"] for c in text_index.chunks(book_id) if c["section_id"]}
    missing = sorted(needed - in_graph)
    expected = book["toc_entries"] if book else -1
    return dg.AssetCheckResult(
        passed=len(toc) == expected and not missing,
        metadata={
            "section_nodes": len(toc),
            "toc_entries": expected,
            "chunk_sections_missing": len(missing),
            "first_missing": ", ".join(missing[:5]),
        },
    )


@dg.asset_check(asset=book_backup, partitions_def=books_partitions)
def backup_bundle_verifies(
    context: dg.AssetCheckExecutionContext, object_store: ObjectStoreResource
) -> dg.AssetCheckResult:
    """The book's latest bundle downloads whole and every file matches its SHA-256."""
    bucket = object_store.backups_bucket
    pointer = json.loads(object_store.get_bytes(bucket, pointer_key(context.partition_key)))
    with tempfile.TemporaryDirectory() as tmp:
        for obj in object_store.list_objects(bucket, pointer["prefix"]):
            name = obj.object_name.rsplit("/", 1)[-1]
            object_store.get_file(bucket, obj.object_name, str(Path(tmp) / name))
        try:
            manifest = verify_bundle(Path(tmp))
        except BundleError as exc:
            return dg.AssetCheckResult(passed=False, metadata={"error": str(exc)})
    return dg.AssetCheckResult(
        passed=True,
        metadata={"files": len(manifest["files"]), "fingerprint": pointer["fingerprint"]},
    )


@dg.asset_check(asset=library_catalog)
def catalog_counts_every_indexed_book(
    text_index: TextIndexResource, catalog: CatalogResource
) -> dg.AssetCheckResult:
    """The catalog has exactly one row per book in the text index."""
    indexed = {b["book_id"] for b in text_index.books()}
    catalogued = set(catalog.book_ids())
    return dg.AssetCheckResult(
        passed=indexed == catalogued,
        metadata={
            "indexed": len(indexed),
            "catalogued": len(catalogued),
            "missing": ", ".join(sorted(indexed - catalogued)[:5]),
            "extra": ", ".join(sorted(catalogued - indexed)[:5]),
        },
    )


asset_checks = [
    chunks_fit_the_model,
    every_chunk_has_one_vector,
    toc_graph_matches_index,
    backup_bundle_verifies,
    catalog_counts_every_indexed_book,
]
