"""A synthetic library of N books (default 1,000) through the real sensor, partitions and runs.

Starts its own MinIO + Neo4j, uploads N generated Markdown books (benchmarks/synthetic_library.py:
20–50 kB, two-level ToC), then measures what grows with the library:
1. the books-bucket sensor: the tick that finds all N new and an unchanged tick, plus adding
   the N dynamic partitions;
2. ingest: each book's `ingest_book` run through Dagster (as `hbi sync` runs them), in batches,
   with each run's overhead (wall time minus the time inside its steps) early and late;
3. the automation conditions over the 2 x N partitions evaluated twice, cold and with the
   cursor (the daemon's automation tick), and the refresh_index job (projection + catalog);
4. the Dagster UI: dagster-webserver on a free loopback port, timing the GraphQL query of the
   asset's Partitions tab with N partitions;
5. index sizes, search latency (SearchResource, per mode) and a full backup (`full_backup`).

EMBEDDINGS COME FROM A STAND-IN (benchmarks/standin_embedder.py, a hashed bag of words), not
all-MiniLM-L6-v2: 1,000 books are ~7M word pieces, half an hour of model time on two cores
(bench_ingest.py) that would hide what the orchestration and the stores cost as the library
grows. The JSON and the table say so; semantic latencies exclude the model embedding the query.

    .venv/bin/python benchmarks/bench_scale.py [--books 1000] [--batch 50]

Prints a table and writes benchmarks/results/scale.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import standin_embedder  # noqa: E402
from common import REPO, machine, percentile, start_stack, write_results  # noqa: E402
from dagster_ui import PARTITION_HEALTH, PARTITION_STATS, DagsterWebserver  # noqa: E402
from synthetic_library import SyntheticLibrary  # noqa: E402

BOOK_ASSETS = ("book_bundle", "book_toc_graph")
MODES = ("hybrid", "lexical", "semantic")


class QuietLog:
    """The sensor's log, discarded."""

    def info(self, message: str) -> None:
        pass


def upload_library(library: SyntheticLibrary, books: int) -> dict:
    """Generate and upload the books to the books bucket; return the count, bytes and seconds."""
    from hbi_resources.object_store import ObjectStoreResource

    store = ObjectStoreResource.from_env()
    started = time.perf_counter()

    def upload(number: int) -> int:
        book = library.book(number)
        data = book.text.encode()
        store.put_bytes(store.books_bucket, book.object_key, data, "text/markdown")
        return len(data)

    with ThreadPoolExecutor(8) as pool:
        sizes = list(pool.map(upload, range(books)))
    return {
        "books": books,
        "bytes": sum(sizes),
        "mean_kb": round(sum(sizes) / len(sizes) / 1024, 1),
        "upload_s": round(time.perf_counter() - started, 2),
    }


def prepare_instance() -> None:
    """Create the Dagster instance's storage, as a running deployment already has it."""
    import dagster as dg

    from hbi_assets.partitions import books_partitions

    with dg.DagsterInstance.get() as instance:
        instance.get_dynamic_partitions(books_partitions.name)


def sensor_tick(cursor: str | None = None):
    """Evaluate the books-bucket sensor once from the cursor Dagster would have stored (None:
    the first tick); return (its result, seconds)."""
    from hbi_assets.sensors import sensor_tick as evaluate_tick
    from hbi_resources.listing_state import ListingStateResource
    from hbi_resources.object_store import ObjectStoreResource

    started = time.perf_counter()
    result = evaluate_tick(
        ObjectStoreResource.from_env(), ListingStateResource(), QuietLog(), cursor
    )
    return result, time.perf_counter() - started


def add_partitions(result) -> float:
    """Apply the tick's dynamic-partition requests as the daemon does; return the seconds."""
    import dagster as dg

    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys)
            )
    return time.perf_counter() - started


def run_overheads(outcomes: list[dict]) -> list[dict]:
    """Return each run's wall seconds and the part spent outside its steps (Dagster's own)."""
    import dagster as dg

    rows = []
    with dg.DagsterInstance.get() as instance:
        for outcome in outcomes:
            steps = instance.get_run_step_stats(outcome["run_id"])
            inside = sum((s.end_time or 0) - (s.start_time or 0) for s in steps)
            rows.append(
                {
                    "run_s": outcome["seconds"],
                    "steps_s": round(inside, 3),
                    "overhead_s": round(outcome["seconds"] - inside, 3),
                }
            )
    return rows


def ingest(book_ids: list[str], batch: int) -> dict:
    """Run every book's ingest job in batches (printing progress); return the run figures."""
    from hbi.cli.books import materialize_books

    started = time.perf_counter()
    runs: list[dict] = []
    failed: list[str] = []
    # materialize_books runs refresh_index after its runs (the library projected into the
    # index, the catalog rebuilt): the rest of a batch's wall time.
    refresh_s: list[float] = []
    for first in range(0, len(book_ids), batch):
        batch_started = time.perf_counter()
        outcomes = materialize_books(book_ids[first : first + batch])
        batch_s = time.perf_counter() - batch_started
        refresh_s.append(round(batch_s - sum(o["seconds"] for o in outcomes), 2))
        failed += [f"{o['book_id']}: {o['errors']}" for o in outcomes if not o["success"]]
        runs += run_overheads(outcomes)
        elapsed = time.perf_counter() - started
        done = len(runs)
        print(
            f"  ingested {done}/{len(book_ids)} in {elapsed:.0f} s "
            f"(~{elapsed / done * (len(book_ids) - done):.0f} s left; "
            f"index projection + catalog {refresh_s[-1]} s)",
            flush=True,
        )
    if failed:
        raise SystemExit(f"{len(failed)} runs failed, first: {failed[0]}")
    wall = time.perf_counter() - started
    early, late = runs[: max(1, batch)], runs[-max(1, batch) :]
    return {
        "runs": len(runs),
        "wall_s": round(wall, 1),
        "runs_per_hour": round(len(runs) / wall * 3600),
        "run_s_median": _median(runs, "run_s"),
        "run_s_p95": round(percentile([r["run_s"] for r in runs], 0.95), 3),
        "overhead_s_median": _median(runs, "overhead_s"),
        # Steps stand for the work; if only the overhead grows, Dagster's side does not scale.
        "first_batch": {key: _median(early, key) for key in ("run_s", "steps_s", "overhead_s")},
        "last_batch": {key: _median(late, key) for key in ("run_s", "steps_s", "overhead_s")},
        "refresh_index_s_per_batch": refresh_s,
    }


def _median(rows: list[dict], key: str) -> float:
    return round(statistics.median(row[key] for row in rows), 3)


def automation_and_catalog() -> dict:
    """Time two automation evaluations (cold, then with its cursor) and a refresh_index run
    (an unchanged library projected, the catalog rebuilt)."""
    import dagster as dg

    from hbi.cli.books import refresh_catalog
    from hbi_assets.definitions import defs

    timings = {}
    with dg.DagsterInstance.get() as instance:
        started = time.perf_counter()
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        timings["automation_tick_cold_s"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        timings["automation_tick_s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    if not refresh_catalog():
        raise SystemExit("the refresh_index run failed")
    timings["refresh_index_s"] = round(time.perf_counter() - started, 2)
    return timings


def dagster_ui(home: Path) -> dict:
    """Start dagster-webserver and time the Partitions tab's GraphQL query per book asset."""
    from hbi.stack.process import free_port

    server = DagsterWebserver(REPO / "workspace.yaml", free_port(), home / "webserver.log")
    with server:
        figures: dict = {"webserver_load_s": round(server.wait_until_loaded("book_bundle"), 1)}
        for asset in BOOK_ASSETS:
            figures[f"partition_page_{asset}"] = server.time_query(PARTITION_HEALTH, asset)
        figures["partition_stats_book_bundle"] = server.time_query(PARTITION_STATS, "book_bundle")
    return figures


def folder_size(path: Path) -> dict:
    """Return the bytes and files under path."""
    files = [p for p in path.rglob("*") if p.is_file()]
    return {"bytes": sum(p.stat().st_size for p in files), "files": len(files)}


def sizes(stack) -> dict:
    """Return the index's sizes and the on-disk size of each store."""
    from hbi.config import layout
    from hbi.index.db import connect, default_index_path
    from hbi.index.maintenance import index_sizes

    path = default_index_path()
    connection = connect(path, readonly=True)
    try:
        found: dict = {"index": index_sizes(connection, path)}
        tables = connection.execute(
            "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 6"
        ).fetchall()
        found["index_largest_tables_bytes"] = dict(tables)
    finally:
        connection.close()
    if not found["index"]["vectors"]:
        # The projection keeps vectors of the installed model only: the stand-in's hooks missed.
        raise SystemExit("the index holds no vectors: the stand-in's model id never reached it")
    found["catalog_bytes"] = layout().catalog_db.stat().st_size
    found["dagster_home"] = folder_size(layout().dagster_home)
    for state in stack.status(with_versions=False):
        if state.data_dir:
            found[state.name] = folder_size(Path(state.data_dir))
    return found


def search_latency(queries: list[str]) -> dict:
    """Return p50/p95/p99 ms of SearchResource.search per mode over the queries (k = 10)."""
    from hbi_resources.search import SearchResource

    search = SearchResource.from_env()
    figures = {}
    for mode in MODES:
        search.search(queries[0], mode=mode)
        took = []
        for query in queries:
            started = time.perf_counter()
            search.search(query, mode=mode)
            took.append((time.perf_counter() - started) * 1000)
        figures[mode] = {
            "queries": len(took),
            "p50_ms": round(percentile(took, 0.5), 1),
            "p95_ms": round(percentile(took, 0.95), 1),
            "p99_ms": round(percentile(took, 0.99), 1),
        }
    return figures


def full_backup() -> dict:
    """Run the full_backup job; return its seconds and size."""
    from hbi.cli.backup import run_full_backup

    started = time.perf_counter()
    outcome = run_full_backup(keep_daily=7, keep_weekly=4)
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "verified": outcome["verified"],
        **{k: v for k, v in outcome.items() if k.endswith(("bytes", "_s"))},
    }


def measure(args: argparse.Namespace, home: Path, stack) -> dict:
    """Run every stage of the benchmark against the started stack; return the figures."""
    library = SyntheticLibrary(seed=args.seed)
    print(f"uploading {args.books} synthetic books…", flush=True)
    upload = upload_library(library, args.books)
    prepare_instance()
    first, first_s = sensor_tick()
    partitions_s = add_partitions(first)
    book_ids = [r.partition_key for r in first.run_requests if r.partition_key]
    sensor = {"tick_all_new_s": round(first_s, 3), "add_partitions_s": round(partitions_s, 3)}
    print(f"sensor found {len(book_ids)} new books in {first_s:.2f} s; ingesting…", flush=True)
    runs = ingest(book_ids, args.batch)
    unchanged, unchanged_s = sensor_tick(first.cursor)
    assert not unchanged.run_requests, "an unchanged bucket requested runs"
    sensor["tick_unchanged_s"] = round(unchanged_s, 3)
    return {
        "upload": upload,
        "sensor": sensor,
        "ingest": runs,
        "automation": automation_and_catalog(),
        "dagster_ui": dagster_ui(home),
        "sizes": sizes(stack),
        "search": search_latency(library.queries(args.searches)),
        "full_backup": full_backup(),
    }


def print_table(figures: dict) -> None:
    """Print every figure as `section.name  value`."""

    def rows(prefix: str, value) -> list[tuple[str, object]]:
        if isinstance(value, dict):
            return [row for key, item in value.items() for row in rows(f"{prefix}.{key}", item)]
        return [(prefix, value)]

    print(f"{'measure':<58} {'value':>14}")
    for section in ("upload", "sensor", "ingest", "automation", "dagster_ui", "sizes", "search"):
        for name, value in rows(section, figures[section]):
            print(f"{name:<58} {value!s:>14}")
    for name, value in rows("full_backup", figures["full_backup"]):
        print(f"{name:<58} {value!s:>14}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50, help="Runs between progress reports.")
    parser.add_argument("--searches", type=int, default=200, help="Queries per search mode.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    host = machine()
    with tempfile.TemporaryDirectory(prefix="hbi-bench-") as tmp:
        home = Path(tmp) / "home"
        stack = start_stack(home)
        standin = standin_embedder.install()
        try:
            figures = measure(args, home, stack)
        finally:
            stack.down()
    result = {
        "machine": host,
        "embedder": {
            "model_id": standin.model_id,
            "note": "STAND-IN hashed bag of words, not all-MiniLM-L6-v2 (scale benchmark only)",
        },
        "books": args.books,
        "wall_s": round(time.perf_counter() - started, 1),
        **figures,
    }
    print_table(figures)
    print(f"embedder: {result['embedder']['note']}")
    print(f"wall {result['wall_s']} s | machine: {result['machine']}")
    print(f"wrote {write_results('scale', result)}")


if __name__ == "__main__":
    main()
