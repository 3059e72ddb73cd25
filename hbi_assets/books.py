"""Per-book assets: a book object becomes its bundle in the object store, then its ToC graph.

A book run needs MinIO and Neo4j and no local disk beyond scratch space, so it can execute on
any worker. The local search index follows the bundles (hbi_assets/index.py).
"""

import hashlib
import os
import time

import dagster as dg

from hbi.books.ids import book_id_for_key
from hbi.bundle.bucket import (
    bundle_of_source,
    fetch_bundle,
    latest_pointer,
    library_pointer,
    publish_bundle,
)
from hbi.bundle.build import bundle_rows, known_vectors, prepare_book, toc_markdown
from hbi.bundle.failures import clear_failure, record_failure
from hbi.bundle.files import BookBundle, BundleError, bundle_fingerprint
from hbi.errors import BookError
from hbi_assets.partitions import books_partitions
from hbi_assets.retries import retry_transient_errors
from hbi_resources.embedder import EmbedderResource
from hbi_resources.graph import GraphResource
from hbi_resources.object_store import ObjectStoreResource

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


def _object_key(context: dg.AssetExecutionContext, object_store: ObjectStoreResource) -> str:
    book_id = context.partition_key
    key = context.run.tags.get(OBJECT_KEY_TAG)
    if key:
        return key
    # A partition materialized from the UI: find its object by applying the id rule.
    for obj in object_store.list_objects(object_store.books_bucket):
        if book_id_for_key(obj.object_name) == book_id:
            return obj.object_name
    raise dg.Failure(
        description=f"{book_id}: no object in bucket {object_store.books_bucket!r} has this id",
        allow_retries=False,
    )


def _previous_bundle(
    object_store: ObjectStoreResource, book_id: str, data: bytes
) -> BookBundle | None:
    """Return the bundle whose vectors unchanged text reuses: the book's newest, else the newest
    made from the same file under another key (a renamed object); None if there is none."""
    pointer = latest_pointer(object_store, book_id) or bundle_of_source(
        object_store, hashlib.sha256(data).hexdigest()
    )
    if pointer is None:
        return None
    try:
        return fetch_bundle(object_store, pointer["book_id"], pointer["fingerprint"])
    except (BundleError, RuntimeError):
        # A damaged or deleted old bundle only costs the model time it would have saved.
        return None


@dg.asset(
    partitions_def=books_partitions,
    group_name="books",
    kinds={"s3", "parquet"},
    description="The book extracted, chunked along its ToC and embedded (MiniLM, per chunk and "
    "sentence), as a checksummed Parquet bundle in the object store: the book's source of truth.",
)
def book_bundle(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    embedder: EmbedderResource,
) -> dg.MaterializeResult:
    yield_cpu_to_queries()
    with retry_transient_errors():
        book_id = context.partition_key
        key = _object_key(context, object_store)
        started = time.perf_counter()
        etag = object_store.etag(object_store.books_bucket, key)
        data = object_store.get_bytes(object_store.books_bucket, key)
        read_s = time.perf_counter() - started
        model = embedder.model()
        try:
            prepared = prepare_book(
                data, book_id=book_id, object_key=key, etag=etag, tokenizer=model
            )
        except BookError as exc:
            record_failure(object_store, book_id, key, etag, exc.kind, exc.reason, str(exc))
            raise dg.Failure(
                description=str(exc),
                metadata={"object_key": key, "error": exc.kind, "reason": exc.reason},
                allow_retries=False,
            ) from exc
        known = known_vectors(_previous_bundle(object_store, book_id, data), model.model_id)
        bundle, embedding = bundle_rows(
            prepared.rows,
            lambda texts: model.embed_chunks(texts, batch_size=embedder.batch_size),
            model.model_id,
            known,
        )
        write_started = time.perf_counter()
        fingerprint = bundle_fingerprint(bundle)
        published = publish_bundle(object_store, bundle, fingerprint, object_key=key, etag=etag)
        clear_failure(object_store, book_id)
        book = prepared.rows.book
        sections = [vars(s) for s in prepared.rows.sections]
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
                "index_terms_resolved": sum(1 for t in prepared.rows.terms if t.section_ids),
                "warnings": dg.MetadataValue.json(book.warnings),
                # Pages read by Tesseract (no text layer) and its mean word confidence, 0-100.
                "ocr_pages": dg.MetadataValue.json(prepared.book.ocr_pages),
                "ocr_mean_confidence": prepared.book.ocr_confidence or 0.0,
                "model": model.model_id,
                "texts_embedded": embedding.computed,
                "chunks_reused_from_previous_bundle": embedding.reused,
                "chunks_repeating_a_text_of_this_book": embedding.repeated,
                "sentence_vectors": sum(len(v) for v in bundle.sentence_vectors.values()),
                "chunks_per_s": round(embedding.computed / embedding.embed_s, 1)
                if embedding.computed and embedding.embed_s
                else 0.0,
                "read_s": round(read_s, 3),
                **{k: round(v, 3) for k, v in prepared.timings.items()},
                "embed_s": embedding.embed_s,
                "publish_s": round(time.perf_counter() - write_started, 3),
                "bundle": f"s3://{object_store.backups_bucket}/{published.pointer['prefix']}",
                "fingerprint": fingerprint,
                "reused_existing_bundle": published.reused,
                "bytes_written": published.bytes_written,
                "toc": dg.MetadataValue.md(toc_markdown(sections)),
            },
            data_version=dg.DataVersion(fingerprint),
        )


@dg.asset(
    partitions_def=books_partitions,
    group_name="books",
    kinds={"neo4j"},
    deps=[book_bundle],
    automation_condition=dg.AutomationCondition.eager(),
    pool="neo4j_graph",
    description="The ToC as (:Book)-[:HAS_SECTION]->(:Section) with NEXT links, plus index terms, "
    "projected from the book's bundle.",
)
def book_toc_graph(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    graph: GraphResource,
) -> dg.MaterializeResult:
    with retry_transient_errors():
        book_id = context.partition_key
        pointer = library_pointer(object_store, book_id)
        if pointer is None:
            raise dg.Failure(description=f"{book_id}: not in the library", allow_retries=False)
        started = time.perf_counter()
        bundle = fetch_bundle(object_store, book_id, pointer["fingerprint"])
        stats = graph.project_bundle(bundle)
        return dg.MaterializeResult(
            metadata={
                "sections": stats.sections,
                "next_links": stats.next_links,
                "toc_depth": bundle.book["toc_depth"],
                "index_terms": stats.terms,
                "index_terms_resolved": sum(1 for t in bundle.terms if t["section_ids"]),
                "term_section_links": stats.term_links,
                "fingerprint": pointer["fingerprint"],
                "duration_s": round(time.perf_counter() - started, 3),
            },
            data_version=dg.DataVersion(pointer["fingerprint"]),
        )


book_assets = [book_bundle, book_toc_graph]
ingest_book_job = dg.define_asset_job(
    "ingest_book",
    selection=dg.AssetSelection.assets(*book_assets),
    description="Make one book's bundle (text, vectors, ToC) and project it into the graph.",
)
