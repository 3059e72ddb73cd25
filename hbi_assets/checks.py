"""Asset checks that keep bundles, graph and catalog consistent; blocking ones stop bad data
going downstream."""

import dagster as dg

from hbi.bundle.bucket import BackupError, fetch_bundle, library_pointer
from hbi.chunking import MODEL_TOKEN_LIMIT, SPECIAL_TOKENS
from hbi.index import reads
from hbi_assets.books import book_bundle, book_toc_graph
from hbi_assets.library import library_catalog
from hbi_assets.partitions import books_partitions
from hbi_resources.catalog import CatalogResource
from hbi_resources.graph import GraphResource
from hbi_resources.index import IndexResource
from hbi_resources.object_store import ObjectStoreResource


def _bundle(object_store: ObjectStoreResource, book_id: str):
    """Return the book's bundle in the library, and its pointer."""
    pointer = library_pointer(object_store, book_id)
    if pointer is None:
        raise BackupError(f"{book_id}: not in the library")
    return fetch_bundle(object_store, book_id, pointer["fingerprint"]), pointer


@dg.asset_check(asset=book_bundle, blocking=True, partitions_def=books_partitions)
def bundle_is_whole(
    context: dg.AssetCheckExecutionContext, object_store: ObjectStoreResource
) -> dg.AssetCheckResult:
    """The book's bundle downloads whole, every file matches its SHA-256 and row count, and each
    chunk has exactly one vector (sentence vectors only for chunks that have one)."""
    try:
        bundle, pointer = _bundle(object_store, context.partition_key)
    except BackupError as exc:
        return dg.AssetCheckResult(passed=False, metadata={"error": str(exc)})
    chunk_ids = {c["chunk_id"] for c in bundle.chunks}
    with_vector = set(bundle.chunk_ids)
    orphan_sentences = sum(1 for c in bundle.sentence_vectors if c not in with_vector)
    return dg.AssetCheckResult(
        passed=chunk_ids == with_vector
        and len(bundle.chunk_ids) == len(with_vector)
        and not orphan_sentences,
        metadata={
            "fingerprint": pointer["fingerprint"],
            "chunks": len(chunk_ids),
            "with_vector": len(with_vector & chunk_ids),
            "sentence_vectors": sum(len(v) for v in bundle.sentence_vectors.values()),
            "orphan_sentence_vectors": orphan_sentences,
        },
    )


@dg.asset_check(asset=book_bundle, blocking=True, partitions_def=books_partitions)
def chunks_fit_the_model(
    context: dg.AssetCheckExecutionContext, object_store: ObjectStoreResource
) -> dg.AssetCheckResult:
    """No chunk is longer than the model reads (it would lose its tail to truncation)."""
    try:
        bundle, _ = _bundle(object_store, context.partition_key)
    except BackupError as exc:
        return dg.AssetCheckResult(passed=False, metadata={"error": str(exc)})
    budget = MODEL_TOKEN_LIMIT - SPECIAL_TOKENS
    counts = [c["token_count"] for c in bundle.chunks]
    over = sum(1 for n in counts if n > budget)
    return dg.AssetCheckResult(
        passed=bool(counts) and over == 0,
        metadata={"chunks": len(counts), "over_limit": over, "max_tokens": max(counts, default=0)},
    )


@dg.asset_check(asset=book_toc_graph, partitions_def=books_partitions)
def toc_graph_matches_bundle(
    context: dg.AssetCheckExecutionContext,
    object_store: ObjectStoreResource,
    graph: GraphResource,
) -> dg.AssetCheckResult:
    """Section nodes equal the bundle's ToC entries, and every chunk's section is in the graph."""
    try:
        bundle, _ = _bundle(object_store, context.partition_key)
    except BackupError as exc:
        return dg.AssetCheckResult(passed=False, metadata={"error": str(exc)})
    toc = graph.toc(context.partition_key)
    in_graph = {s["section_id"] for s in toc}
    needed = {c["section_id"] for c in bundle.chunks if c["section_id"]}
    missing = sorted(needed - in_graph)
    expected = bundle.book["toc_entries"]
    return dg.AssetCheckResult(
        passed=len(toc) == expected and not missing,
        metadata={
            "section_nodes": len(toc),
            "toc_entries": expected,
            "chunk_sections_missing": len(missing),
            "first_missing": ", ".join(missing[:5]),
        },
    )


@dg.asset_check(asset=library_catalog)
def catalog_counts_every_indexed_book(
    index: IndexResource, catalog: CatalogResource
) -> dg.AssetCheckResult:
    """The catalog has exactly one row per book in the index."""
    indexed = {b["book_id"] for b in reads.books(index.connect())}
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
    bundle_is_whole,
    chunks_fit_the_model,
    toc_graph_matches_bundle,
    catalog_counts_every_indexed_book,
]
