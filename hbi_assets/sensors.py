"""The books-bucket sensor and the automation sensor that carries changes downstream."""

import json
import os
import time
from dataclasses import dataclass

import dagster as dg

from hbi.books.ids import BOOK_SUFFIXES, IGNORED_NAMES, book_id_for_key, is_book_key
from hbi.books.listing import IdCollision, SeenObject, diff_listing
from hbi.books.listing_state import ListingStateStore
from hbi.storage.object_store import OBJECT_STORE_ERRORS, ObjectStoreClient
from hbi_assets.books import OBJECT_KEY_TAG, ingest_book_job
from hbi_assets.library import remove_books_job
from hbi_assets.partitions import books_partitions
from hbi_assets.run_logs import with_run_loggers
from hbi_resources.listing_state import ListingStateResource
from hbi_resources.object_store import ObjectStoreResource


def _env_list(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = os.environ.get(name)
    return tuple(v.strip().lower() for v in value.split(",") if v.strip()) if value else default


def book_rule():
    """Return the configured is-a-book test (HBI_BOOK_SUFFIXES, HBI_IGNORED_NAMES)."""
    suffixes = _env_list("HBI_BOOK_SUFFIXES", BOOK_SUFFIXES)
    ignored = _env_list("HBI_IGNORED_NAMES", IGNORED_NAMES)
    return lambda key: is_book_key(key, suffixes, ignored)


@dataclass
class BucketTick:
    """What one look at the books bucket decided: the sensor's result and the state to record."""

    result: dg.SensorResult | dg.SkipReason
    upserts: list[SeenObject]
    deleted: list[str]


def evaluate_books_bucket(
    object_store: ObjectStoreClient, listing_state: ListingStateStore, log
) -> BucketTick:
    """List the books bucket, diff it with the recorded listing, and return what must run.

    Nothing is recorded here: the caller records `upserts` and `deleted` in the way that matches
    how the requests are carried out (`books_bucket_sensor`, `hbi sync`).
    """
    started = time.perf_counter()
    bucket = object_store.books_bucket
    try:
        listing = {o.object_name: o.etag for o in object_store.list_objects(bucket)}
    except OBJECT_STORE_ERRORS as exc:
        # Never read a failed listing as an empty bucket: that would delete every book.
        return BucketTick(
            dg.SkipReason(f"listing bucket {bucket!r} failed, nothing changed: {exc}"), [], []
        )
    listed_s = time.perf_counter() - started
    diff = diff_listing(listing, listing_state.seen(), book_rule())
    if diff.ignored:
        shown = ", ".join(diff.ignored[:20]) + (" …" if len(diff.ignored) > 20 else "")
        log.info(f"ignored {len(diff.ignored)} objects that are not books: {shown}")
    for collision in diff.collisions:
        log.info(f"book id collision: {collision}")
    changed = diff.added + diff.changed
    generations = listing_state.generations([key for key, _ in changed])
    upserts = [
        SeenObject(key, etag, book_id_for_key(key), generations.get(key, 0) + 1)
        for key, etag in changed
    ]
    run_requests = [
        dg.RunRequest(
            job_name=ingest_book_job.name,
            partition_key=obj.book_id,
            run_key=f"{obj.object_key}@{obj.etag}#{obj.generation}",
            tags={OBJECT_KEY_TAG: obj.object_key},
            run_config=with_run_loggers(),
        )
        for obj in upserts
    ]
    if diff.removals:
        run_requests.append(
            dg.RunRequest(
                job_name=remove_books_job.name,
                run_key="delete:"
                + ",".join(f"{o.object_key}@{o.etag}#{o.generation}" for o in diff.removals),
                run_config=with_run_loggers(
                    {
                        "ops": {
                            "remove_books": {
                                "config": {"book_ids": [o.book_id for o in diff.removals]}
                            }
                        }
                    }
                ),
            )
        )
    summary = {
        "objects": len(listing),
        "books": len(listing) - len(diff.ignored),
        "ignored": len(diff.ignored),
        "added": len(diff.added),
        "changed": len(diff.changed),
        "deleted": len(diff.deleted),
        "collisions": len(diff.collisions),
        "listed_s": round(listed_s, 3),
        "tick_s": round(time.perf_counter() - started, 3),
    }
    new_ids = sorted({o.book_id for o in upserts})
    result = dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[dg.AddDynamicPartitionsRequest(books_partitions.name, new_ids)]
        if new_ids
        else [],
        cursor=json.dumps(summary),
        skip_reason=None if run_requests else _skip_reason(len(listing), diff.collisions),
    )
    return BucketTick(result, upserts, [o.object_key for o in diff.deleted])


def sensor_tick(
    object_store: ObjectStoreClient, listing_state: ListingStateStore, log, cursor: str | None
) -> dg.SensorResult | dg.SkipReason:
    """Evaluate one sensor tick: its listing rows count once Dagster stores the returned cursor.

    The cursor carries the tick number; a tick whose result Dagster lost left rows under a
    number past the stored cursor's, which `begin_tick` forgets, so those objects are requested
    again instead of counting as seen and never running.
    """
    committed = json.loads(cursor).get("tick", 0) if cursor else 0
    tick = listing_state.begin_tick(committed)
    evaluated = evaluate_books_bucket(object_store, listing_state, log)
    if isinstance(evaluated.result, dg.SkipReason):
        return evaluated.result
    listing_state.record(evaluated.upserts, evaluated.deleted, tick=tick)
    result = evaluated.result
    return dg.SensorResult(
        run_requests=result.run_requests,
        dynamic_partitions_requests=result.dynamic_partitions_requests,
        cursor=json.dumps({"tick": tick, **json.loads(result.cursor or "{}")}),
        skip_reason=result.skip_reason,
    )


def _skip_reason(objects: int, collisions: list[IdCollision]) -> str:
    """Why a tick requests nothing: no change, or only objects that collide on a book id."""
    if not collisions:
        return f"no change in {objects} objects"
    return f"no change in {objects} objects; not indexed: " + "; ".join(map(str, collisions))


@dg.sensor(
    jobs=[ingest_book_job, remove_books_job],
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds, re-indexes and removes books as objects appear, change and disappear.",
)
def books_bucket_sensor(
    context: dg.SensorEvaluationContext,
    object_store: ObjectStoreResource,
    listing_state: ListingStateResource,
) -> dg.SensorResult | dg.SkipReason:
    return sensor_tick(object_store, listing_state, context.log, context.cursor)


automation_sensor = dg.AutomationConditionSensorDefinition(
    "hbi_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=15,
    description="Projects changed bundles into the graph, the search index and the catalog.",
)
