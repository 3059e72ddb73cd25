"""This commit against a baseline commit, in one run: corpus ingest, search latency, projection.

Each side runs in its own process from its own source tree (the baseline is checked out into a
temporary git worktree and shares this virtualenv), with its own MinIO + Neo4j: it ingests the
shared corpus through Dagster as `hbi ingest` does, then times every query of a fixed list in
the three search modes. This side also projects the library into an empty index (what a new
replica does). Ratios are this commit over the baseline.

    .venv/bin/python benchmarks/bench_baseline.py [--baseline COMMIT] [--rounds 5]

Prints a table and writes benchmarks/results/baseline.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, machine, write_results  # noqa: E402

QUERIES = [
    "the time traveller's machine",
    "media sanitization purge clear destroy",
    "Alice and the Cheshire Cat",
    "blockchain consensus proof of work",
    "It is a truth universally acknowledged",
    "all warfare is based on deception",
    "a scandal in bohemia",
    "cynic a blackguard whose faulty vision",
]

# Runs inside one source tree: ingest the corpus, time searches, and (where the tree has it)
# project the library into an empty index. Prints one JSON object.
SIDE = r"""
import json, os, statistics, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path.cwd() / "benchmarks"))
from common import start_stack
corpus, queries, rounds = Path(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
out = {}
with tempfile.TemporaryDirectory(prefix="hbi-bench-side-") as tmp:
    stack = start_stack(Path(tmp) / "home")
    try:
        from hbi.cli.books import add_books, materialize_books
        from hbi_resources.embedder import EmbedderResource
        EmbedderResource().model()
        started = time.perf_counter()
        outcomes = materialize_books([a["book_id"] for a in add_books((corpus,))])
        out["ingest_s"] = time.perf_counter() - started
        out["books_ok"] = sum(o["success"] for o in outcomes)
        from hbi_resources.search import SearchResource
        search = SearchResource()
        for mode in ("lexical", "semantic", "hybrid"):
            search.search(queries[0], mode=mode)
            times = []
            for _ in range(rounds):
                for query in queries:
                    started = time.perf_counter()
                    search.search(query, mode=mode, k=10)
                    times.append((time.perf_counter() - started) * 1000)
            out[f"{mode}_p50_ms"] = statistics.median(times)
        try:
            from hbi.index.projection import project_library
            from hbi.storage.object_store import ObjectStore
        except ImportError:
            pass
        else:
            from hbi.embedding.model_files import installed_model_id
            runs = []
            for n in range(3):
                started = time.perf_counter()
                report = project_library(
                    ObjectStore.from_env(), Path(tmp) / f"replica{n}.sqlite",
                    model_id=installed_model_id(),
                )
                runs.append(time.perf_counter() - started)
            out["projection_s"] = statistics.median(runs)
            out["projected_books"] = len(report.applied)
    finally:
        stack.down()
print("RESULT " + json.dumps(out))
"""


def run_side(tree: Path, corpus: Path, rounds: int) -> dict:
    load_before = os.getloadavg()[0]
    env = {**os.environ, "PYTHONPATH": str(tree), "HBI_INGEST_NICENESS": "0"}
    completed = subprocess.run(
        [sys.executable, "-c", SIDE, str(corpus), json.dumps(QUERIES), str(rounds)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode or not lines:
        raise SystemExit(f"{tree}: failed\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return {
        **json.loads(lines[-1][len("RESULT ") :]),
        "load_average_1m_before": round(load_before, 2),
        "load_average_1m_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="903f2e3", help="Commit to compare against.")
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="hbi-baseline-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), args.baseline],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        try:
            baseline = run_side(tree, args.corpus.resolve(), args.rounds)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, check=False
            )
    current = run_side(REPO, args.corpus.resolve(), args.rounds)
    rows = []
    for name in ("ingest_s", "lexical_p50_ms", "semantic_p50_ms", "hybrid_p50_ms"):
        rows.append(
            {
                "measure": name,
                "baseline": round(baseline[name], 2),
                "this_commit": round(current[name], 2),
                "ratio": round(current[name] / baseline[name], 3),
            }
        )
    print(
        f"baseline {args.baseline} vs this commit {head} (books ok: "
        f"{baseline['books_ok']} / {current['books_ok']}; 1-min load before each side: "
        f"{baseline['load_average_1m_before']} / {current['load_average_1m_before']})"
    )
    print(f"{'measure':<18} {'baseline':>10} {'this':>10} {'ratio':>7}")
    for row in rows:
        print(
            f"{row['measure']:<18} {row['baseline']:>10} {row['this_commit']:>10} {row['ratio']:>7}"
        )
    print(
        f"projection of {current['projected_books']} books into an empty index: "
        f"{current['projection_s']:.2f} s"
    )
    write_results(
        "baseline",
        {
            "machine": machine(),
            "baseline_commit": args.baseline,
            "commit": head,
            "rows": rows,
            "projection_s": round(current["projection_s"], 3),
            "projected_books": current["projected_books"],
            "baseline_raw": baseline,
            "this_commit_raw": current,
        },
    )


if __name__ == "__main__":
    main()
