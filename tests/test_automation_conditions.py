"""Downstream automation is reliable: text changes request each downstream asset exactly once."""

from __future__ import annotations

import dagster as dg

from hbi_assets.definitions import defs

TEXT, EMBEDDINGS, GRAPH, BACKUP, CATALOG = (
    dg.AssetKey(name)
    for name in ("book_text", "book_embeddings", "book_toc_graph", "book_backup", "library_catalog")
)


def materialized(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=partition))


def requested(result, key: dg.AssetKey) -> set[str]:
    return {
        partition
        for partition in (result.get_requested_partitions(key) or [])
        if partition is not None
    }


def test_a_new_book_flows_downstream_once() -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("books", ["war.md"])
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert not requested(first, EMBEDDINGS) and not requested(first, GRAPH)

        materialized(instance, TEXT, "war.md")
        second = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=first.cursor
        )
        assert requested(second, EMBEDDINGS) == {"war.md"}
        assert requested(second, GRAPH) == {"war.md"}
        # The backup's deps are requested in the same tick, so it joins them: one run, in order.
        assert requested(second, BACKUP) == {"war.md"}
        assert second.get_num_requested(CATALOG) == 1

        third = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=second.cursor
        )
        for key in (EMBEDDINGS, GRAPH, BACKUP):
            assert not requested(third, key), key

        for key in (EMBEDDINGS, GRAPH, BACKUP):
            materialized(instance, key, "war.md")
        fourth = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=third.cursor
        )
        for key in (EMBEDDINGS, GRAPH, BACKUP):
            assert not requested(fourth, key), key


def test_a_run_that_built_everything_requests_nothing_more() -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("books", ["war.md"])
        start = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        for key in (TEXT, EMBEDDINGS, GRAPH, BACKUP):
            materialized(instance, key, "war.md")
        after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=start.cursor)
        for key in (EMBEDDINGS, GRAPH, BACKUP):
            assert not requested(after, key), key


def test_a_changed_book_is_carried_downstream_again() -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("books", ["war.md"])
        cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor
        for key in (TEXT, EMBEDDINGS, GRAPH, BACKUP):
            materialized(instance, key, "war.md")
        cursor = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=cursor
        ).cursor
        materialized(instance, TEXT, "war.md")
        again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        assert requested(again, EMBEDDINGS) == {"war.md"}
        assert requested(again, GRAPH) == {"war.md"}


def test_a_restore_reports_books_as_built_and_automation_leaves_them() -> None:
    from hbi.restore import RestoredBook, RestoreReport
    from hbi_assets.restore_events import report_restore

    report = RestoreReport(
        backup_id="20261122T023000Z",
        source="full",
        model_id="m",
        re_embedded=False,
        books=[
            RestoredBook("war.md", "c1", embedded=True, bundle_fingerprint="f1"),
            RestoredBook("alice.txt", "c2", embedded=False, bundle_fingerprint=None),
        ],
    )
    with dg.instance_for_test() as instance:
        cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor
        report_restore(instance, report)
        assert set(instance.get_dynamic_partitions("books")) == {"war.md", "alice.txt"}
        for key in (TEXT, EMBEDDINGS, GRAPH, BACKUP):
            assert "war.md" in instance.get_materialized_partitions(key), key
        assert "alice.txt" not in instance.get_materialized_partitions(EMBEDDINGS)
        after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        for key in (EMBEDDINGS, GRAPH, BACKUP):
            assert "war.md" not in requested(after, key), key
        # A book restored without vectors is embedded by automation, then backed up.
        assert requested(after, EMBEDDINGS) == {"alice.txt"}
