"""Library-wide assets: the DuckDB catalog, index maintenance, and removing deleted books."""

import os
import time

import dagster as dg

from hbi import config
from hbi.bundle.bucket import library_listing, withdraw_from_library
from hbi.index import reads
from hbi.index.maintenance import maintain
from hbi.index.projection import project_library
from hbi.search.query_log import summarise
from hbi_assets.books import book_bundle, book_toc_graph
from hbi_assets.index import search_index
from hbi_assets.partitions import books_partitions
from hbi_assets.retries import retry_transient_errors
from hbi_assets.run_logs import with_run_loggers
from hbi_resources.catalog import CatalogResource
from hbi_resources.graph import GraphResource
from hbi_resources.index import IndexResource
from hbi_resources.object_store import ObjectStoreResource


def _latest_metadata(instance: dg.DagsterInstance, asset: dg.AssetsDefinition) -> dict[str, dict]:
    """Return the metadata of each partition's latest materialization of asset.

    Two event-log queries for the whole library, whatever its size.
    """
    latest = instance.get_latest_storage_id_by_partition(
        asset.key, dg.DagsterEventType.ASSET_MATERIALIZATION
    )
    if not latest:
        return {}
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset.key, storage_ids=list(latest.values())),
        limit=len(latest),
    ).records
    return {
        record.partition_key: {k: v.value for k, v in record.asset_materialization.metadata.items()}
        for record in records
        if record.partition_key is not None and record.asset_materialization is not None
    }


@dg.asset(
    group_name="library",
    kinds={"duckdb"},
    deps=[book_bundle, book_toc_graph, search_index],
    automation_condition=dg.AutomationCondition.any_deps_updated()
    & ~dg.AutomationCondition.in_progress(),
    description="One row per indexed book: metadata, counts, sizes, timings, bundle and model.",
)
def library_catalog(
    context: dg.AssetExecutionContext, index: IndexResource, catalog: CatalogResource
) -> dg.MaterializeResult:
    bundle_meta = _latest_metadata(context.instance, book_bundle)
    connection = index.connect()
    vectors = reads.vector_counts(connection)
    projections = reads.projections(connection)
    rows = []
    for book in reads.books(connection):
        book_id = book["book_id"]
        projection = projections.get(book_id, {})
        meta = bundle_meta.get(book_id, {})
        rows.append(
            {
                **book,
                "pages": book["page_count"],
                "chunks": book["chunk_count"],
                "tokens": book["token_count"],
                "vectors": vectors.get(book_id, 0),
                "extract_s": meta.get("extract_s"),
                "embed_s": meta.get("embed_s"),
                "embedded_at": projection.get("projected_at"),
                "backed_up": book_id in projections,
                "model_id": projection.get("model_id"),
            }
        )
    count = catalog.replace_books(rows)
    return dg.MaterializeResult(
        metadata={
            "books": count,
            "chunks": sum(r["chunks"] for r in rows),
            "tokens": sum(r["tokens"] for r in rows),
            "backed_up": sum(1 for r in rows if r["backed_up"]),
            "catalog_bytes": catalog.file_size(),
        }
    )


@dg.asset(
    group_name="library",
    kinds={"sqlite", "neo4j"},
    pool="neo4j_graph",
    description="FTS5 optimize, vec0 compaction, ANALYZE, VACUUM, Neo4j books not in the library.",
)
def index_maintenance(
    index: IndexResource, graph: GraphResource, object_store: ObjectStoreResource
) -> dg.MaterializeResult:
    with retry_transient_errors():
        started = time.perf_counter()
        sizes = maintain(index.connect(), index.file_path())
        before, after = sizes["before"], sizes["after"]
        orphans = graph.delete_orphans(set(library_listing(object_store)))
    return dg.MaterializeResult(
        metadata={
            "index_bytes_before": before["file_bytes"],
            "index_bytes_after": after["file_bytes"],
            "vector_slots_before": before["vector_slots"],
            "vector_slots_after": after["vector_slots"],
            "vectors": after["vectors"],
            "sentence_vectors": after["sentence_vectors"],
            "vec0_rebuilt": sizes["vec0_rebuilt"],
            "neo4j_orphans_deleted": orphans,
            "duration_s": round(time.perf_counter() - started, 3),
        }
    )


def _markdown_table(rows: list[tuple], header: str) -> str:
    lines = [f"| {header} | searches |", "| --- | --- |"]
    lines += [f"| {query} | {count} |" for query, count in rows]
    return "\n".join(lines) if rows else "_(none)_"


@dg.asset(
    group_name="library",
    kinds={"duckdb"},
    automation_condition=dg.AutomationCondition.on_cron("0 * * * *"),
    description="Hourly summary of the search log: top and zero-hit queries, latency.",
)
def search_analytics() -> dg.MaterializeResult:
    summary = summarise(config.layout().query_log)
    latency = summary["latency_ms"]
    return dg.MaterializeResult(
        metadata={
            "searches": summary["searches"],
            "by_mode": dg.MetadataValue.json(summary["by_mode"]),
            "by_source": dg.MetadataValue.json(summary["by_source"]),
            "latency_p50_ms": round(latency.get("p50") or 0.0, 2),
            "latency_p95_ms": round(latency.get("p95") or 0.0, 2),
            "latency_p99_ms": round(latency.get("p99") or 0.0, 2),
            "top_queries": dg.MetadataValue.md(_markdown_table(summary["top_queries"], "query")),
            "zero_hit_queries": dg.MetadataValue.md(
                _markdown_table(summary["zero_hit_queries"], "query without hits")
            ),
        }
    )


class RemoveBooksConfig(dg.Config):
    book_ids: list[str]


@dg.op(
    description="Take books out of the library, the graph, this index and the catalog; drop "
    "their partitions. Their bundles stay in the backups bucket for restores."
)
def remove_books(
    context: dg.OpExecutionContext,
    config: RemoveBooksConfig,
    object_store: ObjectStoreResource,
    index: IndexResource,
    graph: GraphResource,
    catalog: CatalogResource,
) -> None:
    with retry_transient_errors():
        for book_id in config.book_ids:
            withdraw_from_library(object_store, book_id)
            nodes = graph.delete_book(book_id)
            catalog.delete_book(book_id)
            context.log.info(f"removed {book_id} from the library; graph nodes={nodes}")
        report = project_library(object_store, index.file_path(), book_ids=config.book_ids)
        # Only once the stores have forgotten a book does its partition go.
        for book_id in config.book_ids:
            if context.instance.has_dynamic_partition(books_partitions.name, book_id):
                context.instance.delete_dynamic_partition(books_partitions.name, book_id)
        context.log.info(f"dropped from this index: {', '.join(report.removed) or 'none'}")


@dg.job(description="Remove books whose objects were deleted from the books bucket.")
def remove_books_job() -> None:
    remove_books()


refresh_index_job = dg.define_asset_job(
    "refresh_index",
    selection=dg.AssetSelection.assets(search_index, library_catalog),
    description="Project the library into this deployment's index, then rebuild the catalog "
    "(what automation does under the daemon; the CLI runs it after its book runs).",
)
index_maintenance_job = dg.define_asset_job("index_maintenance_job", selection=[index_maintenance])
weekly_maintenance = dg.ScheduleDefinition(
    name="weekly_index_maintenance",
    job=index_maintenance_job,
    cron_schedule="0 3 * * 0",
    execution_timezone=os.environ.get("HBI_TIMEZONE", "UTC"),
    run_config=with_run_loggers(),
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
