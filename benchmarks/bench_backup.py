"""Backup and restore of the shared corpus: time and size, and restore against a full re-ingest.

Starts its own MinIO + Neo4j (free loopback ports, a temporary HBI_HOME, an empty embedding
cache) and, in one run:

1. ingests the corpus through Dagster (the baseline: extraction, chunking, embedding into
   bundles, graph, the index projected from the bundles);
2. takes a full backup through Dagster (`hbi backup`), verification included;
3. wipes the index, catalog and graph and restores the full backup (`hbi restore --latest`);
4. wipes again and restores every book from its per-book bundle (`hbi restore --books ...`).

Each restore is checked against the ingested library (counts per table, a fixed search). Speed
is reported as ratios to the re-ingest measured in the same run.

    .venv/bin/python benchmarks/bench_backup.py [--corpus ../shared/corpus]

Prints a table and writes benchmarks/results/backup.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, machine, start_stack, write_results  # noqa: E402

PROBE = "what the sensor reads when a book changes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hbi-bench-") as tmp:
        stack = start_stack(Path(tmp) / "home")
        try:
            run(args.corpus, Path(tmp))
        finally:
            stack.down()


def library_fingerprint() -> dict:
    """Return the index's row counts (hbi.index.reads.consistency, sections, index terms) and
    the ids of a probe search's hits."""
    from hbi.index import reads
    from hbi.index.db import connect, default_index_path
    from hbi_resources.search import SearchResource

    connection = connect(default_index_path(), readonly=True)
    try:
        counts = reads.consistency(connection)
        for table in ("sections", "index_terms"):
            counts[table] = connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        connection.close()
    hits = SearchResource().search(PROBE, k=10).hits
    return {**counts, "probe": [h.chunk_id for h in hits]}


def wipe() -> None:
    from click.testing import CliRunner

    from hbi.cli import cli

    result = CliRunner().invoke(cli, ["wipe", "--indexes", "--yes"])
    if result.exit_code:
        raise SystemExit(result.output)


def timed(step):
    started = time.perf_counter()
    value = step()
    return value, round(time.perf_counter() - started, 2)


def run(corpus: Path, tmp: Path) -> None:
    import dagster as dg

    from hbi.backup.restore import Services, restore_books, restore_full
    from hbi.cli.backup import run_full_backup
    from hbi.cli.books import add_books, materialize_books
    from hbi_assets.restore_events import report_restore
    from hbi_resources.embedder import EmbedderResource

    model_id = EmbedderResource().model().model_id
    added = add_books((corpus,))
    book_ids = [a["book_id"] for a in added]
    outcomes, ingest_s = timed(lambda: materialize_books(book_ids))
    if not all(o["success"] for o in outcomes):
        raise SystemExit(f"ingest failed: {[o for o in outcomes if not o['success']]}")
    reference = library_fingerprint()

    backup, backup_s = timed(lambda: run_full_backup(keep_daily=7, keep_weekly=4))
    if not backup["verified"]:
        raise SystemExit(f"backup did not verify: {backup['verification']}")

    def restore_everything():
        report = restore_full(Services.from_env(), None, model_id, tmp / "full")
        with dg.DagsterInstance.get() as instance:
            report_restore(instance, report)
        return report

    def restore_each_book():
        report = restore_books(Services.from_env(), book_ids, None, model_id, tmp / "bundles")
        with dg.DagsterInstance.get() as instance:
            report_restore(instance, report)
        return report

    results = {}
    for name, step in (("full", restore_everything), ("bundles", restore_each_book)):
        wipe()
        _, seconds = timed(step)
        same = library_fingerprint() == reference
        if not same:
            raise SystemExit(f"restore from {name} does not match the ingested library")
        results[name] = seconds
    store = Services.from_env().store
    bundle_bytes = sum(
        o.size
        for o in store.list_objects(store.backups_bucket, "books/")
        if not o.object_name.endswith("LATEST.json")
    )
    summary = {
        "machine": machine(),
        "books": len(book_ids),
        "chunks": reference["chunks"],
        "ingest_s": ingest_s,
        "backup_s": backup_s,
        "backup_bytes": backup["bytes"],
        "bundle_bytes": bundle_bytes,
        "verify_included_in_backup": True,
        "restore_full_s": results["full"],
        "restore_bundles_s": results["bundles"],
        "ingest_over_restore_full": round(ingest_s / results["full"], 1),
        "ingest_over_restore_bundles": round(ingest_s / results["bundles"], 1),
    }
    print(f"{'step':<34} {'seconds':>8} {'MB':>8} {'vs re-ingest':>13}")
    print(f"{'ingest (extract + embed + graph)':<34} {ingest_s:>8.2f} {'':>8} {'1.0x':>13}")
    print(
        f"{'full backup (+ verification)':<34} {backup_s:>8.2f} "
        f"{backup['bytes'] / 1e6:>8.1f} {ingest_s / backup_s:>12.1f}x"
    )
    print(f"{'per-book bundles (all books)':<34} {'':>8} {bundle_bytes / 1e6:>8.1f}")
    for name, label in (("full", "restore --latest"), ("bundles", "restore --books (all)")):
        print(f"{label:<34} {results[name]:>8.2f} {'':>8} {ingest_s / results[name]:>12.1f}x")
    print(f"\ntarget: restore >= 10x faster than re-ingest | {summary['machine']['cpu']}")
    print(f"wrote {write_results('backup', summary)}")


if __name__ == "__main__":
    main()
