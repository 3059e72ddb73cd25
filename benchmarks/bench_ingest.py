"""End-to-end ingest of the shared corpus through Dagster: throughput and the share of the model.

Starts its own MinIO + Neo4j (free loopback ports, a temporary HBI_HOME, an empty embedding
cache), ingests every book of the corpus with the same code path as `hbi ingest`, and reads the
per-step timings each book_bundle materialization records. The model's share is the time spent
inside the embedder divided by the whole wall time, measured in the same run.

    .venv/bin/python benchmarks/bench_ingest.py [--corpus ../shared/corpus]

Prints a table and writes benchmarks/results/ingest.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, machine, start_stack, write_results  # noqa: E402


def metadata_of(instance, asset: str, book_id: str) -> dict:
    import dagster as dg

    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[book_id]), limit=1
    ).records
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hbi-bench-") as tmp:
        home = Path(tmp) / "home"
        stack = start_stack(home)
        try:
            run(args.corpus)
        finally:
            stack.down()


def run(corpus: Path) -> None:
    import dagster as dg

    from hbi.cli.books import add_books, materialize_books
    from hbi_resources.embedder import EmbedderResource

    load_started = time.perf_counter()
    EmbedderResource().model()
    model_load_s = time.perf_counter() - load_started
    started = time.perf_counter()
    added = add_books((corpus,))
    outcomes = materialize_books([a["book_id"] for a in added])
    wall_s = time.perf_counter() - started
    rows = []
    with dg.DagsterInstance.get() as instance:
        for outcome in outcomes:
            if not outcome["success"]:
                raise SystemExit(f"{outcome['book_id']} failed: {outcome['errors']}")
            bundle = metadata_of(instance, "book_bundle", outcome["book_id"])
            rows.append(
                {
                    "book_id": outcome["book_id"],
                    "pages": bundle["pages"],
                    "chunks": bundle["chunks"],
                    "tokens": bundle["tokens"],
                    "extract_s": bundle["extract_s"],
                    "chunk_s": bundle["chunk_s"],
                    "publish_s": bundle["publish_s"],
                    "embed_s": bundle["embed_s"],
                    "run_s": outcome["seconds"],
                }
            )
    model_s = sum(r["embed_s"] for r in rows)
    tokens = sum(r["tokens"] for r in rows)
    pages = sum(r["pages"] for r in rows)
    summary = {
        "machine": machine(),
        "books": len(rows),
        "wall_s": round(wall_s, 2),
        "model_load_s": round(model_load_s, 2),
        "model_s": round(model_s, 2),
        "model_share": round(model_s / wall_s, 3),
        "non_model_s": round(wall_s - model_s, 2),
        "pages_per_s": round(pages / wall_s, 2),
        "tokens_per_s": round(tokens / wall_s, 1),
        "model_tokens_per_s": round(tokens / model_s, 1),
        "chunks_per_s": round(sum(r["chunks"] for r in rows) / wall_s, 2),
        "per_book": rows,
    }
    print(
        f"{'book':<58} {'pages':>5} {'chunks':>6} {'tokens':>7} {'extract':>7} "
        f"{'embed':>6} {'run':>6}"
    )
    for r in rows:
        print(
            f"{r['book_id']:<58} {r['pages']:>5} {r['chunks']:>6} {r['tokens']:>7} "
            f"{r['extract_s']:>7.2f} {r['embed_s']:>6.2f} {r['run_s']:>6.2f}"
        )
    print(
        f"\nwall {summary['wall_s']} s | model {summary['model_s']} s "
        f"({summary['model_share']:.0%} of wall; target >= 85%) | "
        f"{summary['pages_per_s']} pages/s | {summary['tokens_per_s']} tokens/s | "
        f"model alone {summary['model_tokens_per_s']} tokens/s | {summary['machine']['cpu']}"
    )
    print(f"wrote {write_results('ingest', summary)}")


if __name__ == "__main__":
    main()
