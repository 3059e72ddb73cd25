"""Tell Dagster about a restore: partitions for the restored books, materializations for them."""

import dagster as dg

from hbi.backup.restore import RestoreReport
from hbi_assets.books import book_bundle, book_toc_graph
from hbi_assets.index import search_index
from hbi_assets.library import library_catalog
from hbi_assets.partitions import books_partitions

DATA_VERSION_TAG = "dagster/data_version"


def _event(asset: dg.AssetsDefinition, report: RestoreReport, **kwargs) -> dg.AssetMaterialization:
    version = kwargs.pop("data_version", None)
    return dg.AssetMaterialization(
        asset_key=asset.key,
        description=f"restored from backup {report.backup_id or 'bundles'} (no model run)",
        metadata={"restored_from": report.backup_id or "per-book bundle", "source": report.source},
        tags={DATA_VERSION_TAG: version} if version else None,
        **kwargs,
    )


def report_restore(instance: dg.DagsterInstance, report: RestoreReport) -> int:
    """Register every restored book's partition and report the assets the restore made current.

    Per book: its bundle (with the bundle's fingerprint as data version) and its ToC graph; then
    the search index, and the catalog after a full restore. Upstream events come first, so eager
    automation sees the downstream assets as already handled. Returns the events reported.
    """
    instance.add_dynamic_partitions(books_partitions.name, [b.book_id for b in report.books])
    events = []
    for book in report.books:
        events.append(
            _event(
                book_bundle, report, partition=book.book_id, data_version=book.bundle_fingerprint
            )
        )
        events.append(_event(book_toc_graph, report, partition=book.book_id))
    events.append(_event(search_index, report))
    if report.source == "full":
        events.append(_event(library_catalog, report))
    for event in events:
        instance.report_runless_asset_event(event)
    return len(events)
