"""The deployment's search index: a projection of the library's bundles, and its consistency."""

import dagster as dg

from hbi.bundle.bucket import library_listing
from hbi.embedding.model_files import installed_model_id
from hbi.index import reads
from hbi.index.projection import project_library
from hbi_assets.books import book_bundle
from hbi_assets.retries import retry_transient_errors
from hbi_resources.index import IndexResource
from hbi_resources.object_store import ObjectStoreResource


@dg.asset(
    group_name="library",
    kinds={"sqlite"},
    deps=[book_bundle],
    automation_condition=dg.AutomationCondition.any_deps_updated()
    & ~dg.AutomationCondition.in_progress(),
    description="FTS5 (BM25) and sqlite-vec rows of every book in the library, projected from "
    "the bundles: new, changed and damaged books applied, removed ones dropped, each book whole "
    "or absent.",
)
def search_index(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    index: IndexResource,
) -> dg.MaterializeResult:
    with retry_transient_errors():
        report = project_library(
            object_store,
            index.file_path(),
            model_id=installed_model_id(),
            log=context.log.info,
            verify=True,
        )
    if report.failed:
        raise dg.Failure(
            description="bundles that could not be projected: "
            + "; ".join(f"{book}: {why}" for book, why in sorted(report.failed.items())),
            metadata={"applied": len(report.applied), "failed": len(report.failed)},
        )
    figures = reads.consistency(index.connect())
    return dg.MaterializeResult(
        metadata={
            "applied": len(report.applied),
            "removed": len(report.removed),
            "unchanged": report.unchanged,
            "applied_books": dg.MetadataValue.json(report.applied[:100]),
            "removed_books": dg.MetadataValue.json(report.removed[:100]),
            **figures,
            "duration_s": report.seconds,
        }
    )


@dg.asset_check(asset=search_index)
def index_matches_library(
    object_store: ObjectStoreResource, index: IndexResource
) -> dg.AssetCheckResult:
    """Every book in the library is in the index, no other book is, and each is whole: an FTS5
    row and a vector per chunk, no vector without its chunk."""
    library = set(library_listing(object_store))
    connection = index.connect()
    indexed = set(reads.projections(connection))
    figures = reads.consistency(connection)
    whole = (
        figures["fts_rows"] == figures["chunks"]
        and figures["books"] == figures["projected_books"]
        and not figures["books_without_projection"]
        and not figures["chunks_without_vector"]
        and not figures["orphan_vectors"]
        and not figures["orphan_sentence_vectors"]
    )
    return dg.AssetCheckResult(
        passed=library == indexed and whole,
        metadata={
            "library": len(library),
            "indexed": len(indexed),
            "missing": ", ".join(sorted(library - indexed)[:5]),
            "extra": ", ".join(sorted(indexed - library)[:5]),
            **figures,
        },
    )
