"""Downstream automation is reliable: a book's bundle requests each downstream asset exactly once.

The chain is book_bundle -> book_toc_graph (eager, per book) and book_bundle -> search_index ->
library_catalog (unpartitioned, any dependency updated). Runs are stand-ins with the real asset
keys, executed as the daemon launches them (one run per request, its asset selection recorded),
so `any_deps_updated` can tell an update made by the run that also built the asset.
"""

from __future__ import annotations

import dagster as dg

from hbi_assets.definitions import defs
from hbi_assets.partitions import books_partitions

BUNDLE, GRAPH, INDEX, CATALOG = (
    dg.AssetKey(name)
    for name in ("book_bundle", "book_toc_graph", "search_index", "library_catalog")
)
DOWNSTREAM = (GRAPH, INDEX, CATALOG)


def run(instance: dg.DagsterInstance, *keys: dg.AssetKey, partition: str | None = None) -> None:
    """Materialize keys in one run, as a run the daemon launches for them (bodies stubbed)."""
    parents = defs.resolve_asset_graph()
    stubs = [
        dg.asset(
            key=key,
            deps=[p for p in parents.get(key).parent_keys if p in keys],
            partitions_def=books_partitions if partition else None,
        )(lambda: None)
        for key in keys
    ]
    job = dg.Definitions(
        assets=stubs, jobs=[dg.define_asset_job("stand_in", selection=list(keys))]
    ).resolve_job_def("stand_in")
    job.execute_in_process(instance=instance, partition_key=partition, asset_selection=list(keys))


def requested(result, key: dg.AssetKey) -> set[str | None]:
    return set(result.get_requested_partitions(key) or [])


def evaluate(instance: dg.DagsterInstance, previous=None):
    return dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=previous.cursor if previous else None
    )


def test_a_book_run_requests_the_index_and_catalog_once() -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("books", ["war.md"])
        first = evaluate(instance)
        assert not any(requested(first, key) for key in DOWNSTREAM)

        run(instance, BUNDLE, GRAPH, partition="war.md")  # the sensor's ingest_book run
        second = evaluate(instance, first)
        assert not requested(second, GRAPH)  # built by the same run as its bundle
        assert requested(second, INDEX) == {None} and requested(second, CATALOG) == {None}

        third = evaluate(instance, second)
        assert not any(requested(third, key) for key in DOWNSTREAM)

        run(instance, INDEX, CATALOG)  # automation's run of what the second tick requested
        fourth = evaluate(instance, third)
        assert not any(requested(fourth, key) for key in DOWNSTREAM)


def test_a_bundle_made_alone_is_carried_into_its_graph() -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("books", ["war.md"])
        first = evaluate(instance)
        run(instance, BUNDLE, partition="war.md")  # e.g. materialized alone from the UI
        second = evaluate(instance, first)
        assert requested(second, GRAPH) == {"war.md"}
        assert requested(second, INDEX) == {None} and requested(second, CATALOG) == {None}

        run(instance, GRAPH, partition="war.md")
        third = evaluate(instance, second)
        assert not requested(third, GRAPH)


def test_many_book_runs_request_one_index_projection() -> None:
    books = ["war.md", "alice.txt", "time.pdf"]
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("books", books)
        first = evaluate(instance)
        for book in books:
            run(instance, BUNDLE, GRAPH, partition=book)
        second = evaluate(instance, first)
        assert second.get_num_requested(INDEX) == 1
        assert second.get_num_requested(CATALOG) == 1


def test_a_changed_book_is_carried_downstream_again() -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("books", ["war.md"])
        first = evaluate(instance)
        run(instance, BUNDLE, GRAPH, partition="war.md")
        second = evaluate(instance, first)
        run(instance, INDEX, CATALOG)
        third = evaluate(instance, second)

        run(instance, BUNDLE, partition="war.md")  # a new bundle of the same book
        again = evaluate(instance, third)
        assert requested(again, GRAPH) == {"war.md"}
        assert requested(again, INDEX) == {None} and requested(again, CATALOG) == {None}


def test_a_restore_reports_books_as_built_and_automation_leaves_their_graphs() -> None:
    from hbi.backup.restore import RestoredBook, RestoreReport
    from hbi_assets.restore_events import report_restore

    report = RestoreReport(
        backup_id="20261122T023000Z",
        source="full",
        model_id="m",
        re_embedded=False,
        books=[
            RestoredBook("war.md", "c1", embedded=True, bundle_fingerprint="f1"),
            RestoredBook("alice.txt", "c2", embedded=True, bundle_fingerprint="f2"),
        ],
    )
    with dg.instance_for_test() as instance:
        first = evaluate(instance)
        report_restore(instance, report)
        assert set(instance.get_dynamic_partitions("books")) == {"war.md", "alice.txt"}
        for key in (BUNDLE, GRAPH):
            assert instance.get_materialized_partitions(key) == {"war.md", "alice.txt"}, key
        for key in (INDEX, CATALOG):
            assert instance.get_latest_materialization_event(key) is not None, key
        after = evaluate(instance, first)
        assert not requested(after, GRAPH)
