"""Per-book assets: a book object becomes text (FTS5), embeddings, a ToC graph and a backup."""

import json
import os
import tempfile
import time
from pathlib import Path

import dagster as dg

from hbi.backup_store import bundle_prefix, pointer_key
from hbi.book_id import book_id_for_key
from hbi.bundle import BookBundle, bundle_fingerprint, write_bundle
from hbi.errors import BookError
from hbi.pipeline import embed_pending, prepare_book, toc_markdown
from hbi_assets.partitions import books_partitions
from hbi_assets.retries import retry_transient_errors
from hbi_resources.embedder import EmbedderResource
from hbi_resources.graph import GraphResource
from hbi_resources.object_store import ObjectStoreResource
from hbi_resources.text_index import TextIndexResource
from hbi_resources.vector_index import VectorIndexResource

OBJECT_KEY_TAG = "hbi/object_key"
ENV_INGEST_NICENESS = "HBI_INGEST_NICENESS"


def yield_cpu_to_queries() -> None:
    """Lower this run's CPU priority (nice 10 by default, HBI_INGEST_NICENESS; 0 leaves it).

    Extraction and the model take every core they get; searches served on the same machine
    then wait behind them. At a lower priority the ingest still gets all the idle CPU.
    """
    wanted = int(os.environ.get(ENV_INGEST_NICENESS, "10"))
    current = os.nice(0)
    if current < wanted:
        os.nice(wanted - current)


def _object_key(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    text_index: TextIndexResource,
) -> str:
    book_id = context.partition_key
    key = context.run.tags.get(OBJECT_KEY_TAG) or text_index.source_key(book_id)
    if key:
        return key
    # A partition added by hand in the UI: find its object by applying the id rule.
    for obj in object_store.list_objects(object_store.books_bucket):
        if book_id_for_key(obj.object_name) == book_id:
            return obj.object_name
    raise dg.Failure(
        description=f"{book_id}: no object in bucket {object_store.books_bucket!r} has this id",
        allow_retries=False,
    )


@dg.asset(
    partitions_def=books_partitions,
    group_name="books",
    kinds={"sqlite"},
    description="The book's text, extracted by format, chunked along its ToC, in SQLite FTS5.",
)
def book_text(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    text_index: TextIndexResource,
    embedder: EmbedderResource,
) -> dg.MaterializeResult:
    yield_cpu_to_queries()
    with retry_transient_errors():
        book_id = context.partition_key
        key = _object_key(context, object_store, text_index)
        started = time.perf_counter()
        etag = object_store.etag(object_store.books_bucket, key)
        data = object_store.get_bytes(object_store.books_bucket, key)
        read_s = time.perf_counter() - started
        try:
            prepared = prepare_book(
                data, book_id=book_id, object_key=key, etag=etag, tokenizer=embedder.model()
            )
        except BookError as exc:
            raise dg.Failure(
                description=str(exc),
                metadata={"object_key": key, "error": exc.kind, "reason": exc.reason},
                allow_retries=False,
            ) from exc
        write_started = time.perf_counter()
        stats = text_index.replace_book(prepared.rows, etag)
        book = prepared.rows.book
        sections = [vars(s) for s in prepared.rows.sections]
        resolved = sum(1 for t in prepared.rows.terms if t.section_ids)
        return dg.MaterializeResult(
            metadata={
                "title": book.title,
                "authors": ", ".join(book.authors),
                "format": book.format,
                "object_key": key,
                "etag": etag,
                "pages": book.page_count or 0,
                "chunks": book.chunk_count,
                "tokens": book.token_count,
                "chunks_over_model_limit": prepared.over_limit_chunks,
                "toc_entries": book.toc_entries,
                "toc_depth": book.toc_depth,
                "toc_derived": book.toc_derived,
                "index_terms": book.index_terms,
                "index_terms_resolved": resolved,
                "vectors_kept": stats.vectors_kept,
                "vectors_invalidated": stats.vectors_dropped,
                "warnings": dg.MetadataValue.json(book.warnings),
                "read_s": round(read_s, 3),
                **{k: round(v, 3) for k, v in prepared.timings.items()},
                "write_s": round(time.perf_counter() - write_started, 3),
                "toc": dg.MetadataValue.md(toc_markdown(sections)),
            },
            data_version=dg.DataVersion(book.content_hash),
        )


@dg.asset(
    partitions_def=books_partitions,
    group_name="books",
    kinds={"sqlite"},
    deps=[book_text],
    automation_condition=dg.AutomationCondition.eager(),
    description="A MiniLM vector per chunk and per sentence in sqlite-vec; reused by model + text.",
)
def book_embeddings(
    context: dg.AssetExecutionContext,
    vector_index: VectorIndexResource,
    embedder: EmbedderResource,
) -> dg.MaterializeResult:
    yield_cpu_to_queries()
    with retry_transient_errors():
        book_id = context.partition_key
        model = embedder.model()
        started = time.perf_counter()
        pending = vector_index.pending_chunks(book_id, model.model_id)
        hashes = [p.content_hash for p in pending]
        cached = vector_index.cached(model.model_id, hashes)
        computed = len({h for h in hashes if h not in cached})
        embed_started = time.perf_counter()
        vectors = embed_pending(
            [p.text for p in pending],
            hashes,
            cached,
            lambda texts: model.embed_chunks(texts, batch_size=embedder.batch_size),
        )
        embed_s = time.perf_counter() - embed_started
        total = vector_index.write_vectors(
            book_id,
            model.model_id,
            {p.chunk_id: vectors[i] for i, p in enumerate(pending)},
        )
        return dg.MaterializeResult(
            metadata={
                "model": model.model_id,
                "vectors": total,
                "sentence_vectors": vector_index.sentence_vector_count(book_id),
                "computed": computed,
                "reused_from_cache": len(pending) - sum(1 for h in hashes if h not in cached),
                "already_current": total - len(pending),
                "embed_s": round(embed_s, 3),
                "chunks_per_s": round(computed / embed_s, 1) if computed and embed_s else 0.0,
                "duration_s": round(time.perf_counter() - started, 3),
            }
        )


@dg.asset(
    partitions_def=books_partitions,
    group_name="books",
    kinds={"neo4j"},
    deps=[book_text],
    automation_condition=dg.AutomationCondition.eager(),
    pool="neo4j_graph",
    description="The ToC as (:Book)-[:HAS_SECTION]->(:Section) with NEXT links, plus index terms.",
)
def book_toc_graph(
    context: dg.AssetExecutionContext, text_index: TextIndexResource, graph: GraphResource
) -> dg.MaterializeResult:
    with retry_transient_errors():
        book_id = context.partition_key
        book = text_index.book(book_id)
        if book is None:
            raise dg.Failure(description=f"{book_id}: not in the text index", allow_retries=False)
        started = time.perf_counter()
        stats = graph.replace_book_from_index(text_index, book_id)
        terms = text_index.terms(book_id)
        return dg.MaterializeResult(
            metadata={
                "sections": stats.sections,
                "next_links": stats.next_links,
                "toc_depth": book["toc_depth"],
                "index_terms": stats.terms,
                "index_terms_resolved": sum(1 for t in terms if t["section_ids"]),
                "term_section_links": stats.term_links,
                "duration_s": round(time.perf_counter() - started, 3),
            }
        )


def book_bundle(
    book_id: str, text_index: TextIndexResource, vector_index: VectorIndexResource
) -> BookBundle:
    """Return the book's rows from the index as a backup bundle."""
    book = text_index.book(book_id)
    if book is None:
        raise dg.Failure(description=f"{book_id}: not in the text index", allow_retries=False)
    chunks = text_index.chunks(book_id)
    chunk_ids, vectors = vector_index.vectors(book_id)
    if len(chunk_ids) != len(chunks):
        raise dg.Failure(
            description=f"{book_id}: {len(chunks) - len(chunk_ids)} chunks have no vector yet",
        )
    hashes = {c["chunk_id"]: c["content_hash"] for c in chunks}
    return BookBundle(
        book=book,
        sections=text_index.sections(book_id),
        chunks=chunks,
        chunk_ids=chunk_ids,
        vectors=vectors,
        content_hashes=[hashes[c] for c in chunk_ids],
        terms=text_index.terms(book_id),
        model_id=vector_index.model_of(book_id) or "",
        sentence_vectors=vector_index.sentence_vectors(book_id),
    )


@dg.asset(
    partitions_def=books_partitions,
    group_name="books",
    kinds={"s3", "parquet"},
    deps=[book_text, book_embeddings, book_toc_graph],
    automation_condition=dg.AutomationCondition.eager(),
    description="A checksummed Parquet bundle in the backups bucket that rebuilds this book.",
)
def book_backup(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    text_index: TextIndexResource,
    vector_index: VectorIndexResource,
) -> dg.MaterializeResult:
    with retry_transient_errors():
        book_id = context.partition_key
        started = time.perf_counter()
        bundle = book_bundle(book_id, text_index, vector_index)
        fingerprint = bundle_fingerprint(bundle)
        prefix = bundle_prefix(book_id, fingerprint)
        bucket = object_store.backups_bucket
        reused = object_store.exists(bucket, prefix + "manifest.json")
        size = 0
        if not reused:
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                manifest = write_bundle(folder, bundle)
                size = object_store.upload_with_manifest(
                    bucket, prefix, folder, list(manifest["files"])
                )
        pointer = {
            "book_id": book_id,
            "fingerprint": fingerprint,
            "prefix": prefix,
            "content_hash": bundle.book["content_hash"],
        }
        object_store.put_bytes(
            bucket, pointer_key(book_id), json.dumps(pointer).encode(), "application/json"
        )
        return dg.MaterializeResult(
            metadata={
                "bundle": f"s3://{bucket}/{prefix}",
                "fingerprint": fingerprint,
                "reused_existing_bundle": reused,
                "bytes_written": size,
                "chunks": len(bundle.chunks),
                "vectors": len(bundle.chunk_ids),
                "sentence_vectors": sum(len(v) for v in bundle.sentence_vectors.values()),
                "sections": len(bundle.sections),
                "model": bundle.model_id,
                "duration_s": round(time.perf_counter() - started, 3),
            },
            data_version=dg.DataVersion(fingerprint),
        )


book_assets = [book_text, book_embeddings, book_toc_graph, book_backup]
ingest_book_job = dg.define_asset_job(
    "ingest_book",
    selection=dg.AssetSelection.assets(*book_assets),
    description="Materialize one book end to end: text, embeddings, ToC graph, backup.",
)
