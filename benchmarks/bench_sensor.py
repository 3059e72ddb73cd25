"""The books-bucket sensor at scale, and how long an uploaded book takes to become searchable.

Starts its own MinIO + Neo4j, then:
1. uploads N tiny objects (default 10,000) and times a sensor tick that finds them all new, a
   tick that finds nothing changed, and — as the baseline measured in the same run — a bare
   listing of the bucket with the MinIO client, so the sensor's own cost is a ratio;
2. uploads one real book with a plain S3 put and times `hbi sync` (sensor tick + runs) until a
   search finds it. Under the daemon add up to one sensor interval (30 s) and one automation
   interval (15 s) for the ticks to come round.

    .venv/bin/python benchmarks/bench_sensor.py [--objects 10000]

Prints a table and writes benchmarks/results/sensor.json.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, machine, start_stack, write_results  # noqa: E402


def sensor_scale(objects: int) -> dict:
    from hbi_assets.sensors import sensor_tick
    from hbi_resources.listing_state import ListingStateResource
    from hbi_resources.object_store import ObjectStoreResource

    class Quiet:
        def info(self, message: str) -> None:
            pass

    base = ObjectStoreResource.from_env()
    store = base.model_copy(update={"books_bucket": f"scale-{uuid.uuid4().hex[:8]}"})
    client = store.client()
    client.make_bucket(store.books_bucket)
    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda i: client.put_object(
                    store.books_bucket, f"shelf/book-{i:06d}.txt", io.BytesIO(b"x"), 1
                ),
                range(objects),
            )
        )
    upload_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        state = ListingStateResource(path=f"{tmp}/sensor.sqlite")
        started = time.perf_counter()
        listed = sum(1 for _ in store.list_objects(store.books_bucket))
        listing_s = time.perf_counter() - started
        # As the daemon ticks: each tick starts from the cursor Dagster stored after the last.
        started = time.perf_counter()
        first = sensor_tick(store, state, Quiet(), None)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        second = sensor_tick(store, state, Quiet(), first.cursor)
        second_s = time.perf_counter() - started
    assert listed == objects and len(first.run_requests) == objects and not second.run_requests
    return {
        "objects": objects,
        "upload_s": round(upload_s, 2),
        "bare_listing_s": round(listing_s, 3),
        "tick_all_new_s": round(first_s, 3),
        "tick_unchanged_s": round(second_s, 3),
        "unchanged_tick_over_listing": round(second_s / listing_s, 2),
    }


def upload_to_searchable(book: Path) -> dict:
    from hbi.cli.sync import sync_once
    from hbi_resources.embedder import EmbedderResource
    from hbi_resources.object_store import ObjectStoreResource
    from hbi_resources.search import SearchResource

    EmbedderResource().model()
    store = ObjectStoreResource.from_env()
    data = book.read_bytes()
    started = time.perf_counter()
    store.client().put_object(store.books_bucket, book.name, io.BytesIO(data), len(data))
    report = sync_once()
    hits = SearchResource().search("stratagem", mode="lexical", k=5).hits
    latency = time.perf_counter() - started
    assert any(h.book_id == book.name for h in hits), "uploaded book was not found"
    return {
        "book": book.name,
        "bytes": len(data),
        "upload_to_searchable_s": round(latency, 2),
        "runs": len(report["runs"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument(
        "--book", type=Path, default=REPO.parent / "shared" / "corpus" / "sun-tzu_the-art-of-war.md"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hbi-bench-") as tmp:
        stack = start_stack(Path(tmp) / "home")
        try:
            scale = sensor_scale(args.objects)
            latency = upload_to_searchable(args.book)
        finally:
            stack.down()
    result = {"machine": machine(), "sensor": scale, "latency": latency}
    print(f"{'measure':<44} {'value':>10}")
    for key, value in {**scale, **latency}.items():
        print(f"{key:<44} {value!s:>10}")
    print(f"machine: {result['machine']}")
    print(f"wrote {write_results('sensor', result)}")


if __name__ == "__main__":
    main()
