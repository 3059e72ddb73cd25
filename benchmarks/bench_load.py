"""Search under load: the HTTP API answering concurrent clients while books are being ingested.

Starts its own MinIO + Neo4j, ingests the whole corpus (8 books), starts `hbi serve` on a free
loopback port and runs a load generator (asyncio + httpx, bounded in requests and time) over a
mix of queries and modes, in three phases measured in the same run:
1. idle: one client sending searches back to back, nothing else running — a search on its own;
2. concurrent: N clients (default 20), no ingest — what the clients alone cost;
3. loaded: N clients while `hbi ingest` materializes more books (default 24 synthetic Markdown
   books of 20–50 kB, benchmarks/synthetic_library.py, through the real model) in another
   process. They grow the library by about a third (5,988 to 8,257 passages), so all phases
   search libraries of comparable size and the loaded phase measures the ingest's
   interference rather than a bigger index.
Each phase reports throughput, p50/p95/p99 and the errors by kind (targets: no errors, loaded
p95 within 3x of the idle p95; the concurrent phase separates queueing from ingest).

The N clients wait `--think-ms` (default 1,000) between a response and their next search, as
people at a search box do. With `--think-ms 0` they send back to back and the run measures
capacity instead: N requests always in flight on two cores queue for N / throughput seconds
(Little's law), whatever the server, so their latency is no longer comparable with idle.

    .venv/bin/python benchmarks/bench_load.py [--clients 20] [--duration 60] [--think-ms 1000]

Prints a table and writes benchmarks/results/load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, machine, percentile, start_stack, write_results  # noqa: E402
from synthetic_library import SyntheticLibrary  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
# Queries about every corpus book, so the books being ingested join the answers as they land.
QUERIES = (
    "all warfare is based on deception",
    "down the rabbit hole",
    "the Cheshire cat grin",
    "time traveller and the Morlocks",
    "Sherlock Holmes deduction from small details",
    "proud Mr. Darcy at the ball",
    "cynic definition",
    "purge media sanitization techniques",
    "blockchain consensus model proof of work",
    "moving the army through difficult ground",
)
MODES = ("hybrid", "hybrid", "lexical", "semantic")
EXTRAS = ({}, {"k": 20}, {"per_book": "true"}, {"offset": 10})


@dataclass
class Phase:
    """The samples of one load phase: (latency s, error kind or None) per request, and wall s."""

    samples: list[tuple[float, str | None]] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self) -> dict:
        """Return requests, throughput, latency percentiles (ms) and errors by kind."""
        latencies = [s for s, error in self.samples if error is None]
        errors = Counter(error for _, error in self.samples if error is not None)

        def ms(share: float) -> float | None:
            return round(percentile(latencies, share) * 1000, 1) if latencies else None

        return {
            "requests": len(self.samples),
            "errors": sum(errors.values()),
            "errors_by_kind": dict(errors),
            "throughput_rps": round(len(self.samples) / self.wall_s, 1) if self.wall_s else 0.0,
            "p50_ms": ms(0.50),
            "p95_ms": ms(0.95),
            "p99_ms": ms(0.99),
            "max_ms": ms(1.0),
        }


def request_mix() -> list[dict]:
    """Return the search parameters the clients cycle through: queries x modes x options."""
    return [
        {"q": query, "mode": MODES[i % len(MODES)], **EXTRAS[(i // len(MODES)) % len(EXTRAS)]}
        for i, query in enumerate(QUERIES * len(MODES) * len(EXTRAS))
    ]


@dataclass(frozen=True)
class LoadShape:
    """How a phase loads the API: clients, for how long, at most how many requests, think time."""

    clients: int
    duration_s: float
    max_requests: int
    think_s: float = 0.0


async def _client(
    http: httpx.AsyncClient, number: int, shape: LoadShape, budget: list[int], phase: Phase
) -> None:
    mix = request_mix()
    turn = number * 7
    deadline = time.perf_counter() + shape.duration_s
    # Clients start spread over one think time, so they do not search in lockstep.
    await asyncio.sleep(shape.think_s * number / shape.clients)
    while time.perf_counter() < deadline and budget[0] > 0:
        budget[0] -= 1
        params = mix[turn % len(mix)]
        turn += 1
        started = time.perf_counter()
        try:
            response = await http.get("/search", params=params)
            error = None if response.status_code == 200 else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        phase.samples.append((time.perf_counter() - started, error))
        await asyncio.sleep(max(0.0, min(shape.think_s, deadline - time.perf_counter())))


async def _load(url: str, shape: LoadShape) -> Phase:
    phase = Phase()
    budget = [shape.max_requests]
    limits = httpx.Limits(max_connections=shape.clients, max_keepalive_connections=shape.clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as http:
        started = time.perf_counter()
        await asyncio.gather(
            *(_client(http, i, shape, budget, phase) for i in range(shape.clients))
        )
        phase.wall_s = time.perf_counter() - started
    return phase


def run_phase(url: str, shape: LoadShape) -> dict:
    """Run the phase's clients until its time or request budget is spent; summarise it."""
    print(
        f"  {shape.clients} clients for {shape.duration_s:.0f} s, "
        f"{shape.think_s * 1000:.0f} ms between searches…",
        flush=True,
    )
    return {**asyncio.run(_load(url, shape)).summary(), "clients": shape.clients}


def hbi_command(*args: str) -> list[str]:
    """Return the command line of `hbi args…` from this virtualenv."""
    return [str(Path(sys.executable).with_name("hbi")), *args]


class ApiServer:
    """`hbi serve` on a free loopback port, as a separate process, started on enter."""

    def __init__(self, log: Path) -> None:
        from hbi.stack.process import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> ApiServer:
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                hbi_command("serve", "--port", str(self.port)),
                env=os.environ.copy(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_healthy()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)

    def _wait_healthy(self, timeout_s: float = 120.0) -> None:
        started = time.perf_counter()
        while time.perf_counter() - started < timeout_s:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"hbi serve exited; see {self.log}")
            try:
                if httpx.get(f"{self.url}/health", timeout=10.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"hbi serve was not healthy within {timeout_s} s; see {self.log}")

    def warm_up(self) -> None:
        """Send one search per mode, so model loading and vector caches are not measured."""
        for mode in ("lexical", "semantic", "hybrid"):
            response = httpx.get(
                f"{self.url}/search", params={"q": QUERIES[0], "mode": mode}, timeout=300.0
            )
            response.raise_for_status()


def start_ingest(folder: Path, log: Path) -> subprocess.Popen:
    """Start `hbi ingest` of the books in folder in another process and return it.

    Not in this process: an ingest lowers the CPU priority of the process it runs in, and the
    API server started from here would inherit it.
    """
    with log.open("wb") as out:
        return subprocess.Popen(
            hbi_command("ingest", str(folder), "--json"),
            env=os.environ.copy(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def corpus_folder(corpus: Path, folder: Path) -> list[str]:
    """Link every corpus book into folder; return their names."""
    from hbi.books.ids import is_book_key

    folder.mkdir(parents=True)
    books = sorted(p for p in corpus.iterdir() if p.is_file() and is_book_key(p.name))
    for book in books:
        (folder / book.name).symlink_to(book)
    return [book.name for book in books]


def synthetic_folder(count: int, folder: Path) -> int:
    """Write count synthetic Markdown books into folder; return their total size in bytes."""
    folder.mkdir(parents=True)
    library = SyntheticLibrary(seed=7)
    size = 0
    for number in range(count):
        book = library.book(number)
        path = folder / Path(book.object_key).name
        path.write_text(book.text, encoding="utf-8")
        size += path.stat().st_size
    return size


def measure(args: argparse.Namespace, home: Path) -> dict:
    """Seed, start the API, run the three phases; return their figures and the ingest's."""
    seeded = corpus_folder(args.corpus, home / "corpus")
    print(f"ingesting the corpus ({len(seeded)} books)…", flush=True)
    if start_ingest(home / "corpus", home / "seed.log").wait() != 0:
        raise SystemExit(f"seeding failed; see {home / 'seed.log'}")
    chunks_before = chunk_count()
    to_ingest = home / "to-ingest"
    ingest_bytes = synthetic_folder(args.ingest_books, to_ingest)
    think_s = args.think_ms / 1000
    with ApiServer(home / "api.log") as api:
        api.warm_up()
        print("idle baseline:", flush=True)
        idle = run_phase(api.url, LoadShape(1, args.idle_duration, args.max_requests))
        print("concurrent, no ingest:", flush=True)
        shape = LoadShape(args.clients, args.idle_duration, args.max_requests, think_s)
        concurrent = run_phase(api.url, shape)
        print(f"loaded, ingesting {args.ingest_books} synthetic books:", flush=True)
        ingest_started = time.perf_counter()
        ingest = start_ingest(to_ingest, home / "ingest.log")
        shape = LoadShape(args.clients, args.duration, args.max_requests, think_s)
        loaded = run_phase(api.url, shape)
        ingest_running_at_end = ingest.poll() is None
        ingest_rc = ingest.wait()
        ingest_s = time.perf_counter() - ingest_started
    if ingest_rc != 0:
        raise SystemExit(f"hbi ingest failed ({ingest_rc}); see {home / 'ingest.log'}")
    return {
        "idle": idle,
        "concurrent": concurrent,
        "loaded": loaded,
        "library": {
            "corpus_books": seeded,
            "corpus_bytes": _size(args.corpus, seeded),
            "chunks_before_ingest": chunks_before,
            "chunks_after_ingest": chunk_count(),
        },
        "ingest": {
            "books": args.ingest_books,
            "bytes": ingest_bytes,
            "seconds": round(ingest_s, 1),
            "still_running_when_load_ended": ingest_running_at_end,
        },
        "p95_loaded_over_idle": _ratio(loaded["p95_ms"], idle["p95_ms"]),
        "p95_loaded_over_concurrent": _ratio(loaded["p95_ms"], concurrent["p95_ms"]),
    }


def chunk_count() -> int:
    """Return how many passages the stack's index holds."""
    from hbi.index.db import connect, default_index_path

    return connect(default_index_path()).execute("SELECT count(*) FROM chunks").fetchone()[0]


def _size(folder: Path, names: list[str]) -> int:
    return sum((folder / name).stat().st_size for name in names)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 2) if numerator and denominator else None


def print_table(figures: dict) -> None:
    """Print one row per phase and the ratios."""
    print(
        f"{'phase':<11} {'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>7} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    for name in ("idle", "concurrent", "loaded"):
        row = figures[name]
        print(
            f"{name:<11} {row['clients']:>7} {row['requests']:>8} {row['errors']:>6} "
            f"{row['throughput_rps']:>7} {row['p50_ms']!s:>8} {row['p95_ms']!s:>8} "
            f"{row['p99_ms']!s:>8} {row['max_ms']!s:>8}"
        )
    print(
        f"p95 loaded / idle {figures['p95_loaded_over_idle']} (target <= 3) | "
        f"loaded / concurrent {figures['p95_loaded_over_concurrent']} | ingest of "
        f"{figures['ingest']['books']} books {figures['ingest']['seconds']} s, running to the "
        "end of the load: "
        f"{figures['ingest']['still_running_when_load_ended']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds under ingest.")
    parser.add_argument(
        "--idle-duration", type=float, default=30.0, help="Seconds of each baseline phase."
    )
    parser.add_argument("--max-requests", type=int, default=50_000, help="Per phase.")
    parser.add_argument(
        "--think-ms", type=float, default=1000.0, help="Each client's pause between searches."
    )
    parser.add_argument(
        "--ingest-books", type=int, default=24, help="Synthetic books ingested under load."
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    host = machine()
    with tempfile.TemporaryDirectory(prefix="hbi-bench-") as tmp:
        home = Path(tmp) / "home"
        stack = start_stack(home)
        try:
            figures = measure(args, home)
        finally:
            stack.down()
    result = {"machine": host, "duration_s": args.duration, "think_ms": args.think_ms, **figures}
    print_table(figures)
    print(f"machine: {host}")
    print(f"wrote {write_results('load', result)}")


if __name__ == "__main__":
    main()
